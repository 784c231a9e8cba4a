"""A workload of known shape for usdt top's tests and demo:
  one_ms   takes ~1 ms (a sleep), called 100 times a second   (@fbt pair)
  ten_ms   takes ~10 ms, called 10 times a second             (@fbt pair)
  work:tick fired 5,000 times a second                         (a plain probe)
each from its own thread, paced against the clock. It measures its own calls
and writes the medians it saw (ns) and its rates to --stats FILE every
second, the truth the tests compare usdt top with.

    workload.py [--stats FILE] [--seconds N] [--plain]
--plain: no @fbt (for `python -m usdt workload.py --plain`: the python
runtime provider's function rows are then the only latency rows).
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

import usdt

ap = argparse.ArgumentParser()
ap.add_argument("--stats")
ap.add_argument("--seconds", type=float, default=0)
ap.add_argument("--plain", action="store_true")
ap.add_argument("--tick-rate", type=int, default=5000)
opts = ap.parse_args()

work = usdt.Provider("work")
tick = work.probe("tick", int)
work.load()
deco = (lambda f: f) if opts.plain else usdt.fbt(provider="work")


@deco
def one_ms():
    time.sleep(0.001)


@deco
def ten_ms():
    time.sleep(0.010)


lock = threading.Lock()
seen = {"one_ms": [], "ten_ms": []}
counts = {"one_ms": 0, "ten_ms": 0, "tick": 0}
stop = threading.Event()


def paced(name, func, rate):
    start, i = time.monotonic(), 0
    while not stop.is_set():
        i += 1
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter_ns()
        func()
        dt = time.perf_counter_ns() - t0
        with lock:
            seen[name].append(dt)
            del seen[name][:-2000]
            counts[name] += 1


def ticks(rate):
    batch = max(1, rate // 100)  # 100 batches a second
    start, i = time.monotonic(), 0
    while not stop.is_set():
        i += 1
        delay = start + i / 100 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for k in range(batch):
            tick.fire(k)
        with lock:
            counts["tick"] += batch


threads = [threading.Thread(target=paced, args=("one_ms", one_ms, 100), daemon=True),
           threading.Thread(target=paced, args=("ten_ms", ten_ms, 10), daemon=True),
           threading.Thread(target=ticks, args=(opts.tick_rate,), daemon=True)]
for t in threads:
    t.start()
print("workload: pid %d ready" % os.getpid(), flush=True)
began = time.monotonic()
try:
    while not opts.seconds or time.monotonic() - began < opts.seconds:
        time.sleep(1)
        if opts.stats:
            with lock:
                out = {"median_ns": {k: statistics.median(v) for k, v in seen.items() if v},
                       "counts": dict(counts), "elapsed": time.monotonic() - began}
            with open(opts.stats + ".tmp", "w") as f:
                json.dump(out, f)
            os.replace(opts.stats + ".tmp", opts.stats)
except KeyboardInterrupt:
    pass
stop.set()
sys.exit(0)
