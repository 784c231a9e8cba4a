"""A provider wider than libbpf's 256 USDT argument specs per BPF object
(bpftrace 0.25+): provider `wide`, N probes p000..p(N-1), each with three
arguments whose integer types (int8 ... uint64) spell the probe's number
in base 8, so no two probes have the same argument spec string.

Once every probe is traced (each one's semaphore up), it fires probe i
exactly i % 7 + 1 times, once, and writes the counts it fired to --stats
FILE: the exact truth a test compares a tracer's counts with.

    wide.py --stats FILE [--probes N] [--same]
--same: every probe gets the same spec (three int64) instead.
"""
import argparse
import json
import os
import time

import usdt

ap = argparse.ArgumentParser()
ap.add_argument("--stats", required=True)
ap.add_argument("--probes", type=int, default=300)
ap.add_argument("--same", action="store_true")
opts = ap.parse_args()
if not 0 < opts.probes <= 512:
    ap.error("--probes: 1 to 512 (three base-8 digits)")

TYPES = (usdt.int8, usdt.uint8, usdt.int16, usdt.uint16, usdt.int32, usdt.uint32, usdt.int64, usdt.uint64)

wide = usdt.Provider("wide")
probes = []
for i in range(opts.probes):
    digits = (0o666,) * 3 if opts.same else (i // 64, i // 8 % 8, i % 8)
    types = [usdt.int64] * 3 if opts.same else [TYPES[d] for d in digits]
    probes.append(wide.probe("p%03d" % i, *types))
wide.load()


def write(state, fired):
    with open(opts.stats + ".tmp", "w") as f:
        json.dump({"state": state, "fired": fired, "path": wide.path}, f)
    os.replace(opts.stats + ".tmp", opts.stats)


write("waiting", {})
print("workload: pid %d ready" % os.getpid(), flush=True)
while not all(p.enabled for p in probes):
    time.sleep(0.05)
fired = {}
for i, p in enumerate(probes):
    for _ in range(i % 7 + 1):
        p.fire(1, 2, 3)
    fired["wide:p%03d" % i] = i % 7 + 1
write("fired", fired)
while True:
    time.sleep(1)
