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
  cfunction_traced_overhead_ns the same per call of a C function (len) while
                             cfunction__entry is traced
  runtime_overhead_control_ns  the same measurement with nothing traced in
                             either variant: the noise floor of the two above
                             (0 within the VM's noise)
The overheads are the minimum of 150 short interleaved turns of each variant
(untraced, traced, untraced again), hooks put in and taken out between turns:
each minimum meets the VM's fast phases, so the difference is the hook's.
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


def loop_ccalls(n, s="abc"):
    for _ in range(n):
        len(s)


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

    def until(probe, family, up):
        while bool(family(_usdt._rt_state())) != up:
            time.sleep(0.0002)

    def overhead(probe, family, loop, turns=150, n=3000):
        """min(traced) - min(untraced), and the control min(untraced again) -
        min(untraced), over short interleaved turns; the latency of each
        semaphore rise to the hook being in."""
        base = traced = again = float("inf")
        lat = []
        for _ in range(turns):
            base = min(base, best_ns(loop, reps=1, n=n))
            t = time.perf_counter()
            _usdt._rt_force(probe, 1)
            until(probe, family, True)
            lat.append((time.perf_counter() - t) * 1e3)
            traced = min(traced, best_ns(loop, reps=1, n=n))
            _usdt._rt_force(probe, -1)
            until(probe, family, False)
            again = min(again, best_ns(loop, reps=1, n=n))
        return traced - base, again - base, sorted(lat)[len(lat) // 2]

    # Debian's 3.15 fires its own function probes with no hook of ours (3.11's
    # need our profile function, which is measured): nothing of ours to time.
    ours_fn = not ("function__entry" in _usdt._rt_state()["native"]
                   and sys.version_info >= (3, 12))
    cf, control2, clat = overhead("cfunction__entry", lambda st: st["cfunction"], loop_ccalls)
    if ours_fn:
        fn, control, lat = overhead("function__entry", installed, loop_calls)
        bench("function_traced_overhead_ns", fn, "ns")
    else:
        control, lat = control2, clat
        sys.stderr.write("%s: function__entry is the interpreter's own: no overhead of ours; "
                         "runtime_enable_latency_ms is cfunction's\n" % tag)
    bench("cfunction_traced_overhead_ns", cf, "ns")
    bench("runtime_overhead_control_ns", max(control, control2, key=abs), "ns")
    bench("runtime_enable_latency_ms", lat, "ms")


if __name__ == "__main__":
    mode = os.environ.get(MODE)
    if mode == "main":
        main_child()
    elif mode == "loop":
        loop_child(os.environ["RT_KIND"])
    else:
        sys.exit(parent())
