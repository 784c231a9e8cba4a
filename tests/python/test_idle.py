"""Untraced means asleep: an idle process with @fbt, or with the runtime
probes, wakes about once a second (libusdt's fallback poll), not every 5 ms;
and a tracer attaching right after still gets the first event."""
import os
import subprocess
import sys
import unittest

from tracing import Bpftrace, need_bpftrace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import idle_cost  # noqa: E402

MAX_WAKEUPS_PER_S = 3  # the fallback poll is 1 a second


class Idle(unittest.TestCase):
    def run_idle(self, mode, probe):
        need_bpftrace(self)
        p = subprocess.Popen([sys.executable, "-u", os.path.join(HERE, "idle_prog.py"), mode],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline().split()
            self.assertEqual(line[0], "READY", line)
            # Where the interpreter declares function__entry itself (3.15),
            # path is the interpreter's file: its probe, watched by libusdt,
            # must leave the process asleep as well and fire once attached.
            path = line[1]
            wakeups, cpu_ms, threads = idle_cost.measure(p.pid, 4)
            self.assertLessEqual(wakeups, MAX_WAKEUPS_PER_S,
                                 "%s: %.1f wakeups/s idle" % (mode, wakeups))
            # Right after the silence, a tracer by path: the first call seen.
            with Bpftrace('usdt:%s:python:%s /str(arg1) == "idle_leaf" || str(arg2) == "idle_leaf"/'
                          ' { printf("HIT\\n"); }' % (path, probe) if mode == "runtime" else
                          'usdt:%s:*:%s { printf("HIT\\n"); }' % (path, probe)) as bt:
                bt.wait_ready()
                p.stdin.write("go\n")
                p.stdin.flush()
                bt.wait_for(lambda l: l == "HIT", timeout=10)
        finally:
            p.kill()
            p.wait()

    def test_fbt_process_sleeps_while_untraced_and_attach_still_works(self):
        self.run_idle("fbt", "idle_leaf__entry")

    def test_runtime_probes_process_sleeps_while_untraced_and_attach_still_works(self):
        self.run_idle("runtime", "function__entry")


if __name__ == "__main__":
    unittest.main()
