#!/usr/bin/env python3
"""Runtime probes (usdt.runtime, CPython's `python` provider): BENCH lines per
interpreter, prefix py3.X. (pydeb. for Debian's /usr/bin/python3).

Run by scripts/bench with plain python3: re-runs itself through
scripts/with-python for each interpreter in $USDT_BENCH_PYTHONS.
  runtime_idle_ratio_calls   a loop calling an empty function, with the runtime
                             probes enabled but untraced / not enabled (best
                             times, the two in turns in one process; median
                             over 3 processes; target <= 1.01)
  runtime_idle_ratio_alloc   the same for a loop creating instances of a class
  function_traced_overhead_ns  extra cost per call while function__entry is
                             traced (its semaphore held up by the benchmark, so
                             the hook and fire are measured without the kernel
                             trap); on Debian's 3.11 the interpreter's own probe
                             made to fire by the no-op profile function
  runtime_enable_latency_ms  semaphore up -> function hook installed (median;
                             issue 5 calls it enable_latency_ms, a name the
                             @fbt benchmark already prints for its own)
Loop figures are the minimum of many short runs.
"""
import os
import subprocess
import sys
import time

from each_python import py_tag, run_each

MODE = "USDT_RT_BENCH"
N = 100000


def parent():
    return run_each(__file__, MODE, "main")


def f():
    pass


class Obj:
    def __init__(self):
        self.a = 1


def loop_calls(n):
    for _ in range(n):
        f()


def loop_alloc(n):
    for _ in range(n):
        Obj()


def best_ns(fn, reps=15, n=N):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e9


def loop_child(kind):
    """Print the best ns per iteration with the runtime probes off, then on
    (enabled, untraced), measured in turns in this one process: separate
    processes differ by more than the 1 % sought (memory layout, hashing)."""
    import usdt.runtime
    loop = loop_calls if kind == "calls" else loop_alloc
    best = [float("inf"), float("inf")]
    for _ in range(40):
        for on in (0, 1):
            if on:
                usdt.runtime.enable_runtime_probes()
            time.sleep(0.02)  # the watcher's first scan; both turns alike
            best[on] = min(best[on], best_ns(loop, reps=3))
            if on:
                usdt.runtime.disable_runtime_probes()
    print("%.4f %.4f" % tuple(best))


def installed(st):
    return st["function"] or st["native_entry"]


def main_child():
    tag = py_tag()

    def bench(name, value, unit):
        print("BENCH %s.%s %.*f %s" % (tag, name, 3 if unit == "ratio" else 2 if unit == "ms" else 1,
                                        value, unit))
        sys.stdout.flush()

    # Even in one process a loop's best time moves by a few % with where its
    # objects happen to sit; the median over processes keeps that out.
    for kind in ("calls", "alloc"):
        ratios = []
        for _ in range(3):
            env = dict(os.environ, **{MODE: "loop", "RT_KIND": kind})
            out = subprocess.run([sys.executable, os.path.abspath(__file__)], env=env,
                                 stdout=subprocess.PIPE, universal_newlines=True, check=True)
            off, on = map(float, out.stdout.split()[-2:])
            ratios.append(on / off)
        bench("runtime_idle_ratio_" + kind, sorted(ratios)[len(ratios) // 2], "ratio")

    import usdt.runtime
    from usdt import _usdt
    usdt.runtime.enable_runtime_probes()
    time.sleep(0.05)
    # Untraced and traced in turns, so both meet the VM's fast phases.
    base = traced = float("inf")
    lat = []
    for _ in range(8):
        base = min(base, best_ns(loop_calls, reps=3))
        t = time.perf_counter()
        _usdt._rt_force("function__entry", 1)
        while not installed(_usdt._rt_state()):
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t) * 1e3)
        traced = min(traced, best_ns(loop_calls, reps=3))
        _usdt._rt_force("function__entry", -1)
        while installed(_usdt._rt_state()):
            time.sleep(0.0005)
    bench("function_traced_overhead_ns", traced - base, "ns")
    bench("runtime_enable_latency_ms", sorted(lat)[len(lat) // 2], "ms")


if __name__ == "__main__":
    mode = os.environ.get(MODE)
    if mode == "main":
        main_child()
    elif mode == "loop":
        loop_child(os.environ["RT_KIND"])
    else:
        sys.exit(parent())
