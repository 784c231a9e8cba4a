"""A stand-in for node's `node` provider (as node's provider declares it and
usdt/runtime fires it): http__server__request(req, conn, remote, port,
method, url, fd) and http__server__response(conn, remote, port, fd), from
one thread, an event loop with two requests open at once: every 10 ms
connection 0xA0 asks and connection 0xB0 asks; A is answered 2 ms later, B
6 ms later (after A). Matching by thread and depth would pair A's response
with B's request; matched by connection, the latencies are 2 and 6 ms.
Prints "workload: pid N ready"; writes {} to --stats FILE."""
import os
import sys
import time

import usdt

node = usdt.Provider("node")
req = node.probe("http__server__request", usdt.uint64, usdt.uint64, str, usdt.int32, str, str, usdt.int32)
resp = node.probe("http__server__response", usdt.uint64, str, usdt.int32, usdt.int32)
node.load()
if "--stats" in sys.argv:
    open(sys.argv[sys.argv.index("--stats") + 1], "w").write("{}")
print("workload: pid %d ready" % os.getpid(), flush=True)
start, n = time.monotonic(), 0
while True:
    n += 1
    req.fire(n, 0xA0, "127.0.0.1", 4000, "GET", "/a", 10)
    req.fire(n, 0xB0, "127.0.0.1", 4001, "GET", "/b", 11)
    time.sleep(0.002)
    resp.fire(0xA0, "127.0.0.1", 4000, 10)
    time.sleep(0.004)
    resp.fire(0xB0, "127.0.0.1", 4001, 11)
    delay = start + n * 0.010 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:  # late (a tracer attaching): no burst to catch up
        start -= delay
