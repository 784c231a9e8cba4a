"""Python stacks read by BPF (view/usdt_view/pystacks.py) against the
interpreter's own view: stacks_prog.py prints, at each known point, the stack
its sys._getframe walk sees, then triggers a kernel tracepoint (lseek on a
marker fd) or a uprobe (an app probe) carrying the point id. One bpftrace
session walks the stack at each of those events; the stacks must be equal,
frame for frame (function, file, line). Also: threads each at their own
point at once, a 1000-deep recursion (truncated at the walk's bound, the
innermost frames exact), a generator, a coroutine and an asyncio task, a sort
key called from C, except/finally while an exception unwinds, a thread
Python never ran on (no thread state: the fixed hash), and a profile timer
whose samples during a CPU-bound hot() show hot() innermost.
"""
import json
import os
import subprocess
import sys
import time
import unittest

from tracing import Bpftrace, need_bpftrace


here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.join(root, "view"))
from usdt_view import pystacks  # noqa: E402
from usdt_view.errors import ViewError  # noqa: E402

PROG = os.path.join(here, "stacks_prog.py")
HOT_ON, HOT_OFF = 1000, 1001
POINTS = [1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27]
UPROBE_POINTS = {27}
MAX_FRAMES = 128
# Under emulation (the arm64 VM: tests/aarch64/guest_stacks.sh) tracers start
# tens of times slower: every wait scales.
SCALE = float(os.environ.get("USDT_TEST_TIME_SCALE") or 1)


def usdt_bin():
    b = os.path.join(root, os.environ.get("BUILD", "build"), "bin", "usdt")
    return b if os.path.exists(b) else "usdt"


def program(pid, fd, app_path, layout):
    walk, emit = pystacks.walk(layout, MAX_FRAMES), pystacks.emit(layout)
    once = "if (@seen[$pyh] == 0) { @seen[$pyh] = 1;\n%s}\n" % emit
    if app_path.startswith("/") and not app_path.startswith("/proc/"):
        app_path = "/proc/%d/root%s" % (pid, app_path)
    return (
        "tracepoint:syscalls:sys_enter_lseek /pid == %d && args->fd == %d/ {\n"
        "if (args->offset == %d) { @hot = 1; }\n"
        "if (args->offset == %d) { @hot = 0; }\n"
        "if (args->offset < %d) {\n%s"
        'printf("PT %%d %%lx\\n", args->offset, $pyh);\n%s}\n}\n'
        "usdt:%s:stk:point /pid == %d/ {\n%s"
        'printf("PT %%d %%lx\\n", arg0, $pyh);\n%s}\n'
        "tracepoint:syscalls:sys_enter_getppid /pid == %d/ {\n%s"
        'printf("PN %%lx\\n", $pyh);\n}\n'
        "profile:hz:99 /pid == %d && @hot == 1/ {\n%s"
        'printf("PP %%lx\\n", $pyh);\n%s}\n'
        % (pid, fd, HOT_ON, HOT_OFF, HOT_ON, walk, once, app_path, pid, walk, once,
           pid, walk, pid, walk, once))


class StacksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_bpftrace(cls)
        os.environ.setdefault("USDT_BIN", usdt_bin())

    def start(self, env=None):
        p = subprocess.Popen([sys.executable, "-m", "usdt", PROG], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, **(env or {})))
        self.addCleanup(self.finish, p)
        line = p.stdout.readline().split()
        self.assertEqual(line[:1], ["READY"], "workload did not start")
        return p, int(line[1]), line[2]

    def finish(self, p):
        if p.poll() is None:
            try:
                p.stdin.write("exit\n")
                p.stdin.flush()
            except OSError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdin.close()
        p.stdout.close()

    def test_stacks_equal_the_interpreters(self):
        t0 = time.monotonic()
        p, fd, app_path = self.start()
        layout = pystacks.discover(p.pid, 5 * SCALE)
        self.assertEqual(layout.py_version >> 16, sys.hexversion >> 16)
        bt = Bpftrace(program(p.pid, fd, app_path, layout))
        try:
            bt.wait_ready(60 * SCALE)
            t_ready = time.monotonic()
            p.stdin.write("go\n")
            p.stdin.flush()
            expected = {}
            while True:
                line = p.stdout.readline()
                self.assertTrue(line, "workload ended early")
                if line.startswith("EXP "):
                    _, i, js = line.split(" ", 2)
                    expected[int(i)] = [pystacks.Frame(*f) for f in json.loads(js)]
                elif line.strip() == "DONE":
                    break
            self.assertEqual(sorted(expected), POINTS)
            # Every point's event and the closing line of its stack.
            pt = {}
            for i in POINTS:
                got = bt.wait_for(lambda l, i=i: l.startswith("PT %d " % i), 20 * SCALE)
                pt[i] = int(got.split()[2], 16)
            pn = bt.wait_for(lambda l: l.startswith("PN "), 20 * SCALE)
            for h in set(pt.values()):
                bt.wait_for(lambda l, h=h: l.startswith("PYE %x " % h), 20 * SCALE)
            lines = list(bt.lines)
        finally:
            bt.stop()
        # The workload still runs (waiting for "exit"): its code objects are
        # read as the lines are fed.
        res = pystacks.Resolver(p.pid, layout)
        for l in lines:
            if l:
                res.feed(l)
        for i in POINTS:
            st = res.stack(pt[i])
            exp = expected[i]
            with self.subTest(point=i):
                if i == 20:
                    # 1000 deep: the walk's bound, truncated, innermost exact
                    self.assertTrue(st.truncated, st)
                    self.assertEqual(len(st.frames), MAX_FRAMES)
                    self.assertEqual(st.frames, exp[:MAX_FRAMES])
                    self.assertGreater(len(exp), 1000)
                else:
                    self.assertEqual(st.note, "")
                    self.assertFalse(st.truncated)
                    self.assertEqual(st.frames, exp)
        # A code address that is no code object any more, or a code object
        # whose first line is not what BPF read (freed, the address reused):
        # "[freed code object]", never another function's name.
        code = next(l.split()[3] for l in lines if l and l.startswith("PYF "))
        first = next(int(l.split()[5]) for l in lines if l and l.startswith("PYF "))
        for bogus in ("PYF 77 0 %x 0 %d" % (layout.address, first),
                      "PYF 77 1 %s 0 %d" % (code, first + 1)):
            self.assertTrue(res.feed(bogus))
        self.assertTrue(res.feed("PYE 77 2 0"))
        self.assertEqual(res.stack(0x77).frames, [pystacks.Frame(res.FREED, "?", None)] * 2)
        self.assertFalse(res.feed("PYF 77 x"))
        self.assertFalse(res.feed("something else"))
        # A thread with no Python thread state: the fixed hash, its note.
        self.assertEqual(int(pn.split()[1], 16), pystacks.PYH_NO_THREAD)
        self.assertEqual(res.stack(pystacks.PYH_NO_THREAD),
                         pystacks.Stack([], False, "no Python thread state"))
        # Threads at once: each its own stack.
        self.assertEqual(len({pt[i] for i in (10, 11, 12, 13)}), 4)
        # Profile samples during hot(): hot() innermost in at least 90 %.
        samples = [int(l.split()[1], 16) for l in lines if l and l.startswith("PP ")]
        self.assertGreaterEqual(len(samples), 20, "profile samples during hot()")
        inner = [res.stack(h).frames[:1] for h in samples]
        hot = sum(1 for f in inner if f and f[0].func == "hot" and f[0].file == PROG)
        self.assertGreaterEqual(hot / len(samples), 0.9, inner[:5])
        sys.stderr.write("test_stacks: %d points, %d samples (%d%% in hot), %.1f s in all, "
                         "%.1f s to bpftrace ready\n"
                         % (len(POINTS), len(samples), 100 * hot // len(samples),
                            time.monotonic() - t0, t_ready - t0))

    def test_discover_errors(self):
        # A pid that is gone, a non-Python pid, a Python without the runtime provider.
        p = subprocess.Popen(["sleep", "30"])
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        with self.assertRaises(ViewError) as cm:
            pystacks.discover(p.pid, timeout=5)
        self.assertIn("python -m usdt", str(cm.exception))
        self.assertIn(str(p.pid), str(cm.exception))
        q = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"],
                             stdin=subprocess.PIPE)
        self.addCleanup(q.wait)
        self.addCleanup(q.stdin.close)
        with self.assertRaises(ViewError) as cm:
            pystacks.discover(q.pid, timeout=5)
        self.assertIn("USDT_RUNTIME_PROBES=1", str(cm.exception))
        gone = subprocess.Popen(["true"])
        gone.wait()
        with self.assertRaises(ViewError) as cm:
            pystacks.discover(gone.pid)
        self.assertIn("no process %d" % gone.pid, str(cm.exception))

    def test_discover_after_enable_runtime_probes(self):
        """usdt.enable_runtime_probes() in the program turns the layout probe
        on as `python -m usdt` does."""
        q = subprocess.Popen([sys.executable, "-c", "import sys, usdt; "
                              "usdt.enable_runtime_probes(); print('READY', flush=True); "
                              "sys.stdin.readline()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(q.wait)
        self.addCleanup(q.stdout.close)
        self.addCleanup(q.stdin.close)
        self.assertEqual(q.stdout.readline().strip(), "READY")
        layout = pystacks.discover(q.pid, 5 * SCALE)
        self.assertEqual(layout.py_version >> 16, sys.hexversion >> 16)
        self.assertEqual(layout.size, 8 * len(pystacks.FIELDS))

    def test_layout_silent_untraced(self):
        """The stack family hooks nothing and fires nothing while untraced:
        on while discover()'s bpftrace is attached (it fires every ~100 ms
        then), off after it detached, and the process asleep again: no more
        wakeups than libusdt's once-a-second fallback poll (test_idle)."""
        p, fd, app_path = self.start()
        self.assertFalse(self.traced(p.pid))
        pystacks.discover(p.pid, 5 * SCALE)
        deadline = time.monotonic() + 5 * SCALE
        while self.traced(p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(self.traced(p.pid))
        # Our thread (named usdt-runtime) sleeps: no wakeup in a second.
        # (libusdt's watcher polls for 3 s after a tracer or `usdt list`
        # opened the image: test_idle measures it once that is over.)
        time.sleep(0.2)
        tid = self.runtime_thread(p.pid)
        before = self.switches(p.pid, tid)
        time.sleep(1.0)
        self.assertEqual(self.switches(p.pid, tid), before,
                         "the usdt-runtime thread woke while untraced")

    def runtime_thread(self, pid):
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == "usdt-runtime":
                    return tid
        raise AssertionError("no usdt-runtime thread in %d" % pid)

    def switches(self, pid, tid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            return sum(int(l.split()[1]) for l in f
                       if l.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))

    def traced(self, pid):
        """Whether process pid's python:stack__layout semaphore is raised."""
        recs = json.loads(subprocess.check_output([os.environ["USDT_BIN"], "list", "--json",
                                                   str(pid)], text=True))
        for r in recs:
            if r["provider"] == "python" and r["name"] == "stack__layout":
                return r["state"] != "untraced"
        raise AssertionError("no stack__layout probe in %d" % pid)


if __name__ == "__main__":
    unittest.main()
