#!/usr/bin/env python3
"""stress_py.py - the stress test through the Python extension.

Threads fire probes (Probe.fire holds the GIL: the extension does not release
it around a fire, which costs less than a GIL hand-over) while other threads
unload, reload and recreate providers, with bpftrace attached by path; then
hostile values (objects whose __str__ raises or returns 10 MB, str with NUL,
ints out of range). No crash; fds, mappings and RSS flat after a warm-up.
Run through scripts/with-python; STRESS_SECONDS (default 10). Prints one
PASS/FAIL/SKIP line per part and a "STRESS-PY ..." figures line on stderr.
"""
import gc
import os
import shutil
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))
import usdt  # noqa: E402
from tracing import Bpftrace  # noqa: E402

SECONDS = float(os.environ.get("STRESS_SECONDS", "10"))
NAME = "stress_py.py"


def fds():
    return len(os.listdir("/proc/self/fd"))


def maps():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def define(name):
    p = usdt.Provider(name)
    p.probe("ev", int, str)
    p.probe("n", usdt.int32)
    return p


class Stress:
    def __init__(self, shared):
        self.shared = shared
        self.stop = False
        self.fires = self.cycles = self.private = self.not_loaded = 0
        self.errors = []

    def fire(self):
        evs = [p.probes[0] for p in self.shared]
        ns = [p.probes[1] for p in self.shared]
        n = 0
        while not self.stop:
            for ev, nn in zip(evs, ns):
                try:
                    ev.fire(n, "stress")
                    nn.fire(n & 0x7fffffff)
                except usdt.ProbeError:
                    self.not_loaded += 1  # unloaded by another thread: documented
                except Exception as e:  # anything else is a bug
                    self.errors.append(repr(e))
            n += 1
        self.fires += n * 2 * len(evs)

    def life(self, k):
        p = self.shared[k]
        c = 0
        while not self.stop:
            try:
                p.unload()
                if c % 256 == 255:
                    time.sleep(0.11)  # past the grace period: a real re-map
                p.load()
                if c % 4 == 0:
                    q = define("stresspy_priv%d_%d" % (k, (c // 4) % 16))
                    with q:
                        q.probes[0].fire(1, "x")
                    q.load()
                    q.probes[1].fire(2)
                    del q  # collected: unloaded and freed
                    self.private += 1
            except Exception as e:
                self.errors.append(repr(e))
            c += 1
        self.cycles += c

    def run(self, seconds):
        self.stop = False
        ts = [threading.Thread(target=self.fire) for _ in range(3)]
        ts += [threading.Thread(target=self.life, args=(k,)) for k in range(len(self.shared))]
        for t in ts:
            t.start()
        time.sleep(seconds)
        self.stop = True
        for t in ts:
            t.join()
        gc.collect()
        time.sleep(0.15)
        for p in self.shared:  # one more cycle past the grace period reaps
            p.unload()
        time.sleep(0.11)
        for p in self.shared:
            p.load()


def hostile(p):
    """Hostile values: a documented exception, never a crash."""
    ev = p.probes[0]

    class BadStr:
        def __str__(self):
            raise RuntimeError("no")

    class HugeStr:
        def __str__(self):
            return "x" * (10 << 20)

    big = "y" * (10 << 20)
    cases = [((1, BadStr()), TypeError), ((1, HugeStr()), TypeError),
             ((1, "a\0b"), ValueError), ((1 << 64, "x"), OverflowError),
             ((1, big), None), ((1, b"raw\0bytes"), None), ((1,), TypeError),
             ((1, "x", 3), TypeError)]
    bad = []
    for args, want in cases:
        try:
            ev.check(*args)
            got = None
        except Exception as e:  # noqa: BLE001 - the type is what is checked
            got = type(e)
        if want is None and got is not None or want is not None and (
                got is None or not issubclass(got, want)):
            bad.append("check%r: %s, expected %s" % (tuple(
                repr(a)[:20] for a in args), got, want))
    return bad


def main():
    if not shutil.which("bpftrace") or os.geteuid() != 0:
        tag = "FAIL" if os.environ.get("CI") == "true" else "SKIP"
        print("%s %s:fire_while_reloading: tracer bpftrace unavailable" % (tag, NAME))
        return
    if not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        subprocess.call(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
    shared = [define("stresspy%d" % k) for k in range(2)]
    for p in shared:
        p.load()
    prog = " ".join("usdt:%s:stresspy%d:ev { @h%d = count(); }" % (p.path, k, k)
                    for k, p in enumerate(shared))
    bt = Bpftrace(prog)
    bt.wait_ready()
    s = Stress(shared)
    s.run(1 if SECONDS < 10 else 3)  # warm-up
    c0, f0 = s.cycles, s.fires
    fd0, m0, r0 = fds(), maps(), rss_kb()
    t0 = time.monotonic()
    s.run(SECONDS)
    took = time.monotonic() - t0
    fd1, m1, r1 = fds(), maps(), rss_kb()
    lines = bt.stop()
    hits = sum(int(l.split(":")[1]) for l in lines if l.startswith("@h"))
    sys.stderr.write("STRESS-PY seconds %.1f threads 3 fire + 2 lifecycle, reload cycles %d, "
                     "private provider lifecycles %d, fires %d (%d on an unloaded provider), "
                     "traced hits %d, fds %d -> %d, mappings %d -> %d, rss %d -> %d KiB\n"
                     % (took, s.cycles - c0, s.private, s.fires - f0, s.not_loaded, hits,
                        fd0, fd1, m0, m1, r0, r1))
    asan = "asan" in os.environ.get("LD_PRELOAD", "")
    why = []
    if s.errors:
        why.append("errors: %s" % s.errors[:3])
    if s.cycles - c0 < 1000:
        why.append("only %d cycles" % (s.cycles - c0))
    if hits <= 0:
        why.append("bpftrace counted nothing: %s" % lines[-5:])
    if fd1 != fd0:
        why.append("fds %d -> %d" % (fd0, fd1))
    if not asan and m1 > m0 + 4:
        why.append("mappings %d -> %d" % (m0, m1))
    if not asan and r1 > r0 + 4096:
        why.append("rss %d -> %d KiB" % (r0, r1))
    print(("FAIL %s:fire_while_reloading: %s" % (NAME, "; ".join(why))) if why
          else "PASS %s:fire_while_reloading" % NAME)
    bad = hostile(shared[0])
    print(("FAIL %s:hostile_values: %s" % (NAME, "; ".join(bad))) if bad
          else "PASS %s:hostile_values" % NAME)


if __name__ == "__main__":
    main()
