#!/usr/bin/env bash
# buckets_test.sh - the latency bucket that usdt top's BPF program computes
# (program.BUCKET, run by a real bpftrace) is the one the viewer, the page
# and the SVG read back (stats.bucket_of / bucket_bounds), for values from
# 0 ns to 2^63 and on every bucket edge; each value lies inside its bucket's
# bounds. About 3 s.
T=buckets_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace bpf_bucket_equals_viewer_bucket || exit 0
out=$(python3 - "$BUILD/libexec/usdt" <<'PY' 2>&1
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from usdt_view.program import BUCKET
from usdt_view.stats import bucket_of, bucket_bounds, SUB
vals = [0, 1, 2, 3, 4, 5, 7, 8, 999, 1000, 1023, 1024, 1279, 1280, 10**6, 1048575, 1048576,
        1310719, 1310720, 10**7, 10**9, 2**40 + 12345, 2**62, 2**63 - 1]
# every edge of the buckets from 1 us to 16 s, and a value just below it
for b in range(bucket_of(1000), bucket_of(16e9)):
    lo = int(bucket_bounds(b)[0])
    vals += [lo, lo - 1]
body = []
for n, v in enumerate(vals):
    body.append("\t$v0 = (uint64)%d;" % v)
    body.append(BUCKET.format(i=0, sub=SUB).rstrip("\n"))
    body.append('\tprintf("%%d %%d\\n", %d, $b0);' % n)
prog = "BEGIN {\n%s\n\texit();\n}\n" % "\n".join(body)
p = subprocess.run(["bpftrace", "-e", prog], capture_output=True, text=True)
got = {}
for line in p.stdout.splitlines():
    parts = line.split()
    if len(parts) == 2 and parts[0].isdigit():
        got[int(parts[0])] = int(parts[1])
bad = []
if len(got) != len(vals):
    bad.append("bpftrace printed %d of %d: %s" % (len(got), len(vals), p.stderr.strip()[-300:]))
for n, v in enumerate(vals):
    if n in got and got[n] != bucket_of(v):
        bad.append("%d: bpf %d, viewer %d" % (v, got[n], bucket_of(v)))
    lo, hi = bucket_bounds(bucket_of(v))
    if v and not (lo <= v < hi):
        bad.append("%d outside its bucket [%g, %g)" % (v, lo, hi))
print("; ".join(bad[:8]) or "ok %d" % len(vals))
PY
)
if [ "${out%% *}" = ok ]; then pass "bpf_bucket_equals_viewer_bucket (${out#ok } values)"
else fail bpf_bucket_equals_viewer_bucket "$out"; fi
