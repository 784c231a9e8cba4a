"""The workload of bench/view_bench.py: a loop of equal units of work, each
between a req__start and a req__done probe (a pair usdt top times: two
traced events per unit), as fast as it can go. Every 0.25 s it prints
"<monotonic s> <units done>", from which the bench reads its throughput.
Argument: the units of work per event pair (sized for ~10,000 events/s)."""
import os
import sys
import time

import usdt

work = int(sys.argv[1]) if len(sys.argv) > 1 else 400
p = usdt.Provider("bench")
start, done = p.probe("req__start", int), p.probe("req__done", int)
p.load()
print("pid %d" % os.getpid(), flush=True)
n, acc, nxt = 0, 0, time.monotonic() + 0.25
while True:
    start.fire(n)
    for i in range(work):
        acc += i
    done.fire(n)
    n += 1
    if not n & 63:
        t = time.monotonic()
        if t >= nxt:
            print("%.4f %d" % (t, n), flush=True)
            nxt = t + 0.25
