"""Helpers for tests that run a real tracer (bpftrace) against this process."""
import os
import re
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
            # With -p, bpftrace 0.25+ attaches an explicit path once for the
            # path and once for the process (every event twice); a path seen
            # through the process's root is one attachment on 0.17 and 0.27.
            prog = re.sub(r"\busdt:/", "usdt:/proc/%d/root/" % pid, prog)
            cmd = ["bpftrace", "-p", str(pid), "-e", prog]
        # default 64; 2 strings of 100 fit the BPF stack (4 strings: use 64)
        env = dict(os.environ, BPFTRACE_STRLEN=str(strlen))
        # stderr apart: what bpftrace says about itself ("Attaching N
        # probes...", "Attached N probes", WARNING lines) is never an event.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, text=True,
                                     encoding="utf-8", errors="replace")
        self.lines = []   # READY, then the program's own output lines
        self.errs = []    # stderr, and stdout before READY: for messages only
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read(self):
        # Events are what our program prints after its READY marker; the
        # empty lines bpftrace 0.27 prints at exit are not ours.
        ready = False
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self.cond:
                if ready and line:
                    self.lines.append(line)
                elif line == "READY":
                    ready = True
                    self.lines.append(line)
                elif not ready:
                    self.errs.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            with self.cond:
                self.errs.append(line.rstrip("\n"))

    def said(self):
        return "\n".join(l for l in self.errs + self.lines if l)

    def wait_for(self, pred, timeout=30):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if l is not None and pred(l):
                        return l
                if None in self.lines:
                    raise AssertionError("bpftrace exited: %s" % self.said())
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timeout waiting; bpftrace said: %s" % self.said())
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
        """Stop bpftrace; return the lines its program printed after READY."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        self.err_reader.join(5)
        return [l for l in self.lines if l is not None and l != "READY"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
