#!/usr/bin/env bash
# split_test.sh - how usdt top shares probes between bpftrace programs
# (view/usdt_view/split.py), without a tracer: no program over 256 probe
# addresses (libbpf's USDT spec limit), a pair's two probes always in one
# program, every probe in exactly one, indices kept; a pair too big for any
# program is a one-line error naming it. Under a second.
T=split_test.sh
source "$(dirname "$0")/common.sh"
out=$(python3 - "$BUILD/libexec/usdt" <<'PY' 2>&1
import sys
sys.path.insert(0, sys.argv[1])
from usdt_view import discover, split
from usdt_view.errors import ViewError

bad = []
# 200 single probes of 1 address, 60 pairs (entry of 1 address, return of
# 2: a return inlined twice), and one probe at 40 addresses.
recs = [{"path": "/a", "provider": "p", "name": "s%03d" % i} for i in range(200)]
for i in range(60):
    recs.append({"path": "/a", "provider": "p", "name": "f%02d__entry" % i})
    recs += [{"path": "/a", "provider": "p", "name": "f%02d__return" % i}] * 2
recs += [{"path": "/b", "provider": "q", "name": "many"}] * 40
probes, pairs = discover.build(recs)
progs = split.split(probes, pairs)
seen = [p.idx for ps, _ in progs for p in ps]
if sorted(seen) != [p.idx for p in probes]:
    bad.append("probes not each in one program")
for ps, prs in progs:
    cost = sum(p.sites for p in ps)
    if cost > split.LIMIT:
        bad.append("a program of %d addresses" % cost)
    mine = {p.idx for p in ps}
    for pr in prs:
        if pr.entry.idx not in mine or pr.ret.idx not in mine:
            bad.append("pair %s split" % pr.full)
if sum(len(prs) for _, prs in progs) != 60:
    bad.append("%d pairs, want 60" % sum(len(prs) for _, prs in progs))
total = 200 + 60 * 3 + 40
if len(progs) != -(-total // split.LIMIT):
    bad.append("%d programs for %d addresses" % (len(progs), total))
# One pair of 300 addresses fits no program.
probes, pairs = discover.build([{"path": "/c", "provider": "r", "name": "x__entry"}] * 150 +
                               [{"path": "/c", "provider": "r", "name": "x__return"}] * 150)
try:
    split.split(probes, pairs)
    bad.append("a 300-address pair was split")
except ViewError as e:
    if "r:x__entry, r:x__return: 300 probe addresses" not in str(e):
        bad.append("error: %s" % e)
print("; ".join(bad) or "ok %d programs" % len(progs))
PY
)
if [ "${out%% *}" = ok ]; then pass "split_under_limit_pairs_together (${out#ok })"
else fail split_under_limit_pairs_together "$out"; fi
