"""Helpers for tests that run a real tracer (bpftrace) against this process."""
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest


def need_bpftrace(test):
    if not shutil.which("bpftrace") or os.geteuid() != 0:
        raise unittest.SkipTest("tracer bpftrace unavailable (needs root and bpftrace)")
    if not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        subprocess.call(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"],
                        stderr=subprocess.DEVNULL)


class Bpftrace:
    """bpftrace -e PROGRAM with BEGIN printing READY; collects its lines."""

    def __init__(self, program, pid=None, strlen=100):
        prog = 'BEGIN { printf("READY\\n"); } ' + program
        cmd = ["bpftrace", "-e", prog]
        if pid:
            cmd[1:1] = ["-p", str(pid)]
        # default 64; 2 strings of 100 fit the BPF stack (4 strings: use 64)
        env = dict(os.environ, BPFTRACE_STRLEN=str(strlen))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, text=True,
                                     encoding="utf-8", errors="replace")
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_for(self, pred, timeout=30):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if l is not None and pred(l):
                        return l
                if None in self.lines:
                    raise AssertionError("bpftrace exited: %s" % "\n".join(
                        l for l in self.lines if l))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timeout waiting; bpftrace said: %s" % "\n".join(
                        l for l in self.lines if l))
                self.cond.wait(left)

    def wait_count(self, pred, n, timeout=30):
        """Wait until n lines satisfy pred (events print asynchronously)."""
        end = time.monotonic() + timeout
        with self.cond:
            while sum(1 for l in self.lines if l is not None and pred(l)) < n:
                left = end - time.monotonic()
                if left <= 0 or None in self.lines:
                    return False
                self.cond.wait(left)
            return True

    def wait_ready(self, timeout=30):
        self.wait_for(lambda l: l == "READY", timeout)

    def stop(self):
        """Stop bpftrace; return its output lines (READY and noise removed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        return [l for l in self.lines if l is not None and l != "READY"
                and "RLIMIT_MEMLOCK" not in l and not l.startswith("Attaching")]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
