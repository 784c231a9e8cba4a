"""CPython's three-argument call_stack case (Lib/test/dtracedata as of 3.15:
function__entry/return(filename, funcname, lineno), printed as
probe:file:function:line from the entry of the outer function to its return)
gives the same output from whatever serves function__entry here: a real
3.15's own probes (Debian's dtrace build), Debian 3.11's own probes, or our
provider on 3.8-3.14. The tracer attaches the way a CPython user would, by
pid with a wildcard path, so it never chooses between two providers; only
arguments 0-2 are read. The workload is rt_calls_prog.py's calls() section:
positional, keyword, unpacked calls and an early return."""
import os
import re
import subprocess
import sys
import time
import unittest

from tracing import Bpftrace, need_bpftrace
from test_runtime_attach import L, Setup


def expected():
    """CPython's call_stack semantics: entry at the def line, return at the
    line that returns."""
    e, r = "function__entry:p.py:%s:%d", "function__return:p.py:%s:%d"
    seq = [e % ("calls", L["calls"])]
    leaf = [e % ("leaf", L["leaf"]), r % ("leaf", L["leaf_ret"])]
    seq += leaf
    kw = [e % ("kw", L["kw"])] + leaf + [r % ("kw", L["kw_ret"])]
    seq += kw
    seq += [e % ("star", L["star"])] + kw + [r % ("star", L["star_ret"])]
    seq += [e % ("early", L["early"]), r % ("early", L["early_ret1"])]
    seq += [e % ("early", L["early"]), r % ("early", L["early_ret2"])]
    seq += [r % ("calls", L["calls_ret"])]
    return seq


class CallStackThreeArguments(unittest.TestCase):
    def test_call_stack_as_cpython_expects(self):
        need_bpftrace(self)
        s = Setup()
        try:
            p = subprocess.Popen([sys.executable, "-u", "-m", "usdt", s.prog, "wait"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=s.env)
            try:
                self.assertEqual(p.stdout.readline().strip(), "WAITING")
                prog = " ".join(
                    'usdt:*:python:%s /str(arg0) == "%s"/ { printf("CS %%llu %s:%%s:%%s:%%d\\n",'
                    ' nsecs, str(arg0), str(arg1), arg2); }' % (probe, s.prog, probe)
                    for probe in ("function__entry", "function__return"))
                bt = Bpftrace(prog, pid=p.pid, strlen=64)
                bt.wait_ready()
                p.stdin.write("go\n")
                p.stdin.flush()
                p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            time.sleep(0.3)
            lines = bt.stop()
        finally:
            s.close()
        evs = []
        for l in lines:
            m = re.match(r"^CS (\d+) (function__\w+):(.*):(\w+):(\d+)$", l)
            if m:
                evs.append((int(m.group(1)), "%s:%s:%s:%s" % (
                    m.group(2), os.path.basename(m.group(3)), m.group(4), m.group(5))))
        evs = [x for _, x in sorted(evs)]  # per-CPU buffers: time order
        start = evs.index("function__entry:p.py:calls:%d" % L["calls"])
        end = evs.index("function__return:p.py:calls:%d" % L["calls_ret"])
        self.assertEqual(evs[start:end + 1], expected(), "\n".join(lines[-100:]))
