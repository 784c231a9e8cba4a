"""The `python` provider's exact event sequences, with bpftrace attached by
path BEFORE the program starts (nothing may be lost: the hooks of traced
families go in before enable_runtime_probes() returns), and by pid after
start. rt_calls_prog.py runs one section per family: a call stack
(positional, keyword and unpacked calls, an early return), a loop's lines,
C function calls (len, math.sqrt, sum), one collection per generation, names
that cannot be encoded (NULL, the exception intact) and cProfile running
while cfunction is traced. The cases of CPython's Lib/test/dtracedata
(call_stack, line, gc, cfunction, unencodable names), as CPython main (3.16)
declares the probes: function and cfunction probes carry the module as a
fourth argument (test_dtracedata3 checks the three-argument form of 3.8-3.15
releases)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from tracing import Bpftrace, need_bpftrace

here = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(here, "rt_calls_prog.py")


def tags():
    """{tag: line} for the `# @tag` comments of rt_calls_prog.py."""
    out = {}
    for i, l in enumerate(open(SRC).read().splitlines(), 1):
        m = re.search(r"# @(\w+)", l)
        if m:
            out[m.group(1)] = i
    return out


L = tags()
OLD = sys.version_info < (3, 12)  # per-thread profile slots, not sys.monitoring


class Setup:
    """The program copied to a short path (four strings of 64 bytes fit the
    BPF stack), a private image directory, and where each probe lives: our
    image (defined before the program starts: same definition, same file) or
    the interpreter itself (a dtrace build)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="u", dir="/tmp")
        self.prog = os.path.join(self.dir, "p.py")
        shutil.copy(SRC, self.prog)
        self.env = dict(os.environ, USDT_DIR=os.path.join(self.dir, "img"))
        os.mkdir(self.env["USDT_DIR"], 0o700)
        out = subprocess.check_output(
            [sys.executable, "-c", "import json, usdt.runtime as r; r.enable_runtime_probes(); "
             "print(json.dumps(r.runtime_probes_state()))"], env=self.env, text=True)
        self.state = json.loads(out)
        self.exe = os.path.realpath(sys.executable)

    def ours(self, probe):
        return probe in self.state["probes"]

    def at(self, probe):
        return "usdt:%s:python:%s" % (self.state["path"] if self.ours(probe) else self.exe, probe)

    def script(self):
        f = '/arg0 == 0 || str(arg0) == "%s"/' % self.prog
        code = []
        for kind, probe in (("E", "function__entry"), ("R", "function__return"),
                            ("CE", "cfunction__entry"), ("CR", "cfunction__return")):
            # The interpreter's own function probes (Debian 3.11) have three.
            mod = "str(arg3)" if self.ours(probe) else '"-"'
            code.append('%s %s { printf("%s %%d %%llu %%s|%%s|%%d|%%s|%%d%%d\\n", pid, nsecs, '
                        'str(arg0), str(arg1), arg2, %s, arg0 == 0, arg1 == 0); }'
                        % (self.at(probe), f, kind, mod))
        code.append('%s %s { printf("L %%d %%llu %%s|%%s|%%d\\n", pid, nsecs, str(arg0), '
                    'str(arg1), arg2); }' % (self.at("line"), f))
        code.append('%s { printf("GS %%d %%llu %%d\\n", pid, nsecs, arg0); }' % self.at("gc__start"))
        code.append('%s { printf("GD %%d %%llu %%ld\\n", pid, nsecs, arg0); }' % self.at("gc__done"))
        if self.ours("import__find__load__start"):
            code.append('%s /arg0 == 0/ { printf("IS %%d %%llu %%d\\n", pid, nsecs, arg0 == 0); }'
                        % self.at("import__find__load__start"))
        return " ".join(code)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def events(lines, pid):
    """[(kind, fields...)] of one process in time order."""
    out = []
    for l in lines:
        m = re.match(r"^(E|R|CE|CR|L|GS|GD|IS) (\d+) (\d+) (.*)$", l)
        if m and int(m.group(2)) == pid:
            out.append((int(m.group(3)), m.group(1), m.group(4).split("|")))
    out.sort(key=lambda e: e[0])
    return [(k, f) for _, k, f in out]


def section(evs, name):
    """Events from function name's entry to its return."""
    start = next(i for i, (k, f) in enumerate(evs) if k == "E" and f[1] == name)
    end = next(i for i, (k, f) in enumerate(evs) if i > start and k == "R" and f[1] == name)
    return evs[start:end + 1]


class AttachBeforeStart(unittest.TestCase):
    def run_prog(self, by_pid):
        need_bpftrace(self)
        s = Setup()
        try:
            cmd = [sys.executable, "-u", "-m", "usdt", s.prog] + (["wait"] if by_pid else [])
            if by_pid:
                p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=s.env)
                self.assertEqual(p.stdout.readline().strip(), "WAITING")
                bt = Bpftrace(s.script(), pid=p.pid, strlen=64)
                bt.wait_ready()
                p.stdin.write("go\n")
                p.stdin.flush()
            else:
                bt = Bpftrace(s.script(), strlen=64)
                bt.wait_ready()
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     text=True, env=s.env)
            try:
                out, _ = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            time.sleep(0.3)
            lines = bt.stop()
            return s, events(lines, p.pid), out.splitlines(), lines
        finally:
            s.close()

    def check(self, s, evs, out, raw, first_line):
        prog, mod = s.prog, "__main__" if s.ours("function__entry") else "-"
        msg = "\n".join(raw[-200:])
        native = not s.ours("function__entry")
        # every exception arrived as raised
        self.assertIn("UNENC native" if native else "UNENC True", out)

        def fn(kind, name, tag, file=prog, module=mod, nulls="00"):
            return (kind, [file, name, str(L[tag]), module, nulls])

        # A call stack: names, file, lines, module, nesting.
        got = [(k, f) for k, f in section(evs, "calls") if k in ("E", "R")]
        self.assertEqual(got, [
            fn("E", "calls", "calls"),
            fn("E", "leaf", "leaf"), fn("R", "leaf", "leaf_ret"),
            fn("E", "kw", "kw"), fn("E", "leaf", "leaf"), fn("R", "leaf", "leaf_ret"),
            fn("R", "kw", "kw_ret"),
            fn("E", "star", "star"), fn("E", "kw", "kw"), fn("E", "leaf", "leaf"),
            fn("R", "leaf", "leaf_ret"), fn("R", "kw", "kw_ret"), fn("R", "star", "star_ret"),
            fn("E", "early", "early"), fn("R", "early", "early_ret1"),
            fn("E", "early", "early"), fn("R", "early", "early_ret2"),
            fn("R", "calls", "calls_ret")], msg)
        # Python functions are never reported as C functions.
        self.assertEqual([e for e in section(evs, "calls") if e[0] in ("CE", "CR")], [], msg)

        # A loop's lines, in order.
        got = [int(f[2]) for k, f in section(evs, "loop") if k == "L"]
        self.assertEqual(got, [L["loop_1"]] + [L["loop_for"], L["loop_body"]] * 3 +
                         [L["loop_for"], L["loop_ret"]], msg)

        # C functions: the caller's file and line, the C function's name and module.
        def cf(kind, name, tag, module, file=prog, nulls="00"):
            return (kind, [file, name, str(L[tag]), module, nulls])
        got = [e for e in section(evs, "cfuncs") if e[0] in ("CE", "CR")]
        self.assertEqual(got, [cf("CE", "len", "cf_len", "builtins"),
                               cf("CR", "len", "cf_len", "builtins"),
                               cf("CE", "sqrt", "cf_sqrt", "math"),
                               cf("CR", "sqrt", "cf_sqrt", "math"),
                               cf("CE", "sum", "cf_sum", "builtins"),
                               cf("CR", "sum", "cf_sum", "builtins")], msg)

        # One collection of each generation, each freeing the 20 objects made for it.
        got = [(k, f[0]) for k, f in section(evs, "collections") if k in ("GS", "GD")]
        self.assertEqual([k for k, _ in got], ["GS", "GD"] * 3, msg)
        self.assertEqual([int(v) for k, v in got if k == "GS"], [0, 1, 2], msg)
        self.assertTrue(all(int(v) >= 20 for k, v in got if k == "GD"), got)
        # (list.append: a method of a built-in type, module builtins)
        self.assertEqual([(f[1], f[3]) for k, f in section(evs, "collections") if k == "CE"],
                         ([("append", "builtins")] * 20 + [("collect", "gc")]) * 3, msg)

        # Names with no UTF-8 arrive as NULL; the file of exec'd code too.
        if not native:
            got = [(k, f) for k, f in section(evs, "unencodable") if k in ("E", "R")]
            self.assertEqual([(k, f[1], f[4]) for k, f in got], [
                ("E", "unencodable", "00"), ("E", "", "01"), ("R", "", "01"),
                ("E", "", "01"), ("R", "", "01"), ("E", "infile", "10"),
                ("R", "infile", "10"), ("R", "unencodable", "00")], msg)
            got = [(f[1], f[3], f[4]) for k, f in section(evs, "unencodable") if k == "CE"]
            self.assertEqual(got, [("exc_info", "sys", "00"), ("len", "builtins", "10"),
                                   ("__import__", "builtins", "00")], msg)
            if s.ours("import__find__load__start"):
                self.assertEqual([f for k, f in section(evs, "unencodable") if k == "IS"],
                                 [["1"]], msg)

        # cProfile keeps working while cfunction is traced (it counted its len
        # call); before 3.12 its thread reports no C calls while cProfile holds
        # the profile slot, and again once it is free.
        self.assertIn("CPROFILE 1", out)
        got = [int(f[2]) for k, f in section(evs, "profiled") if k == "CE" and f[1] == "len"]
        self.assertEqual(got, ([] if OLD else [L["prof_len"]]) + [L["after_len"]], msg)

        if first_line:
            # The program's first line and first C call are seen.
            lines = [int(f[2]) for k, f in evs if k == "L"]
            self.assertEqual(lines[:2], [1, L["first"] - 1], msg)  # the docstring, then import gc
            ce = [(f[1], f[2], f[3]) for k, f in evs if k == "CE"]
            self.assertEqual(ce[0], ("disable", str(L["first"]), "gc"), msg)

    def test_attached_by_path_before_start_loses_nothing(self):
        s, evs, out, raw = self.run_prog(by_pid=False)
        self.check(s, evs, out, raw, first_line=True)

    def test_attached_by_pid_after_start(self):
        s, evs, out, raw = self.run_prog(by_pid=True)
        self.check(s, evs, out, raw, first_line=False)


if __name__ == "__main__":
    unittest.main()
