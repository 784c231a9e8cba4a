#!/usr/bin/env bash
# keyed_pairs_test.sh - node's HTTP request/response (events of one event
# loop, requests open at once on one thread) are timed by connection, not by
# thread and depth: with a stand-in for node's provider (node_sim.py, the
# same probe layout) whose two interleaved connections take 2 ms and 6 ms,
# `usdt top` shows node:http__server at ~200 calls/s and the heat map two
# bands at 2 ms and 6 ms, nothing between. About 15 s.
T=keyed_pairs_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace node_http_pair_by_connection || exit 0
start_workload node tests/view/node_sim.py || { fail workload_starts "$(cat "$tmp/node.err")"; exit 0; }
W=$wl_pid

"$usdt" top --json -n 2 -p node "$W" >"$tmp/top.json" 2>"$tmp/top.err"; rc=$?
out=$(tail -n 1 "$tmp/top.json" | python3 -c '
import json, sys
rows = {r["name"]: r for r in json.load(sys.stdin)["rows"]}
r = rows.get("node:http__server")
print("ok" if r and r["kind"] == "pair" and abs(r["calls"] - 200) < 40 else "row %s" % r)' 2>&1)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass node_http_pair_in_top
else fail node_http_pair_in_top "rc=$rc $out $(cat "$tmp/top.err")"; fi

"$usdt" heatmap "$W" node:http__server --seconds 4 --svg "$tmp/node.svg" 2>"$tmp/hm.err"; rc=$?
out=$(python3 - "$tmp/node.svg" "$BUILD/libexec/usdt" <<'PY' 2>&1
import re, sys
sys.path.insert(0, sys.argv[2])
from usdt_view.stats import bucket_of
h = {}
for b, c in re.findall(r'data-bucket="(\d+)" data-count="(\d+)"', open(sys.argv[1]).read()):
    h[int(b)] = h.get(int(b), 0) + int(c)
band = lambda lo, hi: sum(v for b, v in h.items() if bucket_of(lo) <= b <= bucket_of(hi))
two, six, between, total = band(1.9e6, 3.0e6), band(5.8e6, 9e6), band(3.2e6, 5.2e6), sum(h.values())
ok = total > 200 and two > 0.4 * total and six > 0.4 * total and between < 0.05 * total
print("ok" if ok else "2 ms: %d, 6 ms: %d, between: %d of %d: %s" % (two, six, between, total, h))
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass node_http_pair_by_connection
else fail node_http_pair_by_connection "rc=$rc $out $(cat "$tmp/hm.err")"; fi
why=$(untraced "$W") && pass node_http_pair_leaves_process_untraced || fail node_http_pair_leaves_process_untraced "$why"
