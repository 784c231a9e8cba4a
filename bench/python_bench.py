#!/usr/bin/env python3
"""Python extension benchmarks: BENCH lines per interpreter.

Run by scripts/bench with plain python3: it re-runs itself through
scripts/with-python for each interpreter in $USDT_BENCH_PYTHONS (default:
3.8 ... 3.13 and Debian's python3), which builds the extension for it. Each
child prints, with the prefix py3.X. (pydeb. for Debian's /usr/bin/python3):
  fire_untraced_ns   probe.fire(42, s) on a loaded, untraced probe
  call_cmethod_ns    {}.get(42, s): the interpreter's C-method call, fire's floor
  enabled_ns         probe.enabled
  call_plain_ns      f() for an empty def f(): pass
  call_fbt_idle_ns   the same function decorated with @usdt.fbt, untraced
  fbt_idle_ratio     call_fbt_idle_ns / call_plain_ns (target <= 1.02)
  fbt_traced_hit_ns  the decorated call while bpftrace is attached to its
                     entry and return probes (two uprobe hits per call)
  enable_latency_ms  from the entry probe's semaphore going up (the tracer
                     attached) to the hook for that function being installed
  enable_latency_busy_ms  the same while the main thread is busy calling it
Every figure is per operation, with the cost of an empty loop iteration
measured in the same run subtracted; the minimum of interleaved repeats.
"""
import os
import sys
import time
import timeit

from each_python import ROOT, py_tag, run_each

CHILD = "USDT_BENCH_CHILD"


def parent():
    return run_each(__file__, CHILD, "1")


def per_op(stmts, env, number, repeat):
    """{stmt: min ns per op minus an empty iteration}, repeats interleaved.
    Each name a statement uses is bound to a local of the timing loop, so
    every statement pays the same (LOAD_FAST) to reach its object."""
    def timer(stmt):
        names = sorted(n for n in env if n in stmt)
        setup = "; ".join("%s = env_[%r]" % (n, n) for n in names) or "pass"
        return timeit.Timer(stmt, setup=setup, globals={"env_": env})
    timers = {s: timer(s) for s in stmts + ["pass"]}
    best = {s: float("inf") for s in timers}
    for _ in range(repeat):
        for s, t in timers.items():
            best[s] = min(best[s], t.timeit(number) / number * 1e9)
    return {s: max(best[s] - best["pass"], 0.0) for s in stmts}


def child():
    import threading
    import usdt
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    from tracing import Bpftrace

    tag = py_tag()
    out = []

    def bench(name, value, unit):
        out.append("BENCH %s.%s %.*f %s" % (tag, name, {"ratio": 3, "ms": 2}.get(unit, 1), value, unit))
        print(out[-1])
        sys.stdout.flush()

    app = usdt.Provider("pybench")
    probe = app.probe("req", int, str)
    app.load()

    def plain():
        pass

    @usdt.fbt
    def traced():
        pass

    env = {"p": probe, "s": "/index", "f": plain, "g": traced, "d": {}}
    # Many short runs, minimum kept: a run preempted by other work is discarded.
    r = per_op(["p.fire(42, s)", "p.enabled", "f()", "g()", "d.get(42, s)"], env, 20000, 150)
    bench("fire_untraced_ns", r["p.fire(42, s)"], "ns")
    # The floor under it: the interpreter's own call of a C method with the
    # same two arguments.
    bench("call_cmethod_ns", r["d.get(42, s)"], "ns")
    bench("enabled_ns", r["p.enabled"], "ns")
    # Plain and decorated calls again, interleaved many times: their ratio is
    # what matters, and the two differ only by noise when the design is right.
    r2 = per_op(["f()", "g()"], env, 20000, 300)
    plain_ns = min(r["f()"], r2["f()"])
    idle_ns = min(r["g()"], r2["g()"])
    bench("call_plain_ns", plain_ns, "ns")
    bench("call_fbt_idle_ns", idle_ns, "ns")
    bench("fbt_idle_ratio", idle_ns / plain_ns if plain_ns else 0.0, "ratio")

    # Traced: bpftrace on the decorated function's entry and return probes.
    entry, ret = usdt.fbt_probes(traced)
    prov = usdt.fbt_provider(traced)
    times = {}

    def watch():  # started before bpftrace: sees the semaphore go up
        while not entry.enabled:
            time.sleep(0.0001)
        t0 = time.monotonic()
        while not usdt.fbt_traced(traced):
            time.sleep(0.0001)
        times["latency"] = time.monotonic() - t0

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    prog = ("usdt:{p}:{n}:{e} {{ @e = count(); }} usdt:{p}:{n}:{r} {{ @r = count(); }}"
            .format(p=prov.path, n=prov.name, e=entry.name, r=ret.name))
    with Bpftrace(prog, os.getpid()) as bt:
        bt.wait_ready()
        w.join(10)
        hit = per_op(["g()"], env, 2000, 40)["g()"]
    bench("fbt_traced_hit_ns", hit, "ns")
    if "latency" in times:
        bench("enable_latency_ms", times["latency"] * 1e3, "ms")
    else:
        sys.stderr.write("python_bench: hook never installed\n")
        return 1

    # Again with the main thread busy calling the function: the watcher must
    # win the GIL from a CPU-bound thread (switch interval 5 ms).
    end = time.monotonic() + 10
    while usdt.fbt_traced(traced) and time.monotonic() < end:
        time.sleep(0.001)  # the last tracer left: hook removed
    t0 = t1 = None
    with Bpftrace(prog, os.getpid()):
        end = time.monotonic() + 20
        while time.monotonic() < end:
            traced()
            if t0 is None:
                if entry.enabled:
                    t0 = time.monotonic()
            elif usdt.fbt_traced(traced):
                t1 = time.monotonic()
                break
    if t1 is None:
        sys.stderr.write("python_bench: hook never installed while busy\n")
        return 1
    bench("enable_latency_busy_ms", (t1 - t0) * 1e3, "ms")
    app.unload()
    return 0


if __name__ == "__main__":
    sys.exit(child() if os.environ.get(CHILD) else parent())
