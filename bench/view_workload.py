"""The workload of bench/view_bench.py: a loop of equal units of work, each
between a req__start and a req__done probe (a pair usdt top times: two
traced events per unit), paced to RATE units a second (0: as fast as it
can go). Every 0.25 s it prints "<monotonic s> <units done>"; the bench
reads its throughput per second of its own CPU time.
Arguments: WORK (loop iterations per unit), RATE."""
import os
import sys
import time

import usdt

work = int(sys.argv[1]) if len(sys.argv) > 1 else 400
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0  # units a second; 0: flat out
p = usdt.Provider("bench")
start, done = p.probe("req__start", int), p.probe("req__done", int)
p.load()
print("pid %d" % os.getpid(), flush=True)
n, acc, t0 = 0, 0, time.monotonic()
nxt = t0 + 0.25
while True:
    start.fire(n)
    for i in range(work):
        acc += i
    done.fire(n)
    n += 1
    if not n & 63:
        t = time.monotonic()
        if rate and t0 + n / rate > t:  # ahead of the schedule: wait for it
            time.sleep(t0 + n / rate - t)
            t = time.monotonic()
        if t >= nxt:
            print("%.4f %d" % (t, n), flush=True)
            nxt = t + 0.25
