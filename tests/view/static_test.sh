#!/usr/bin/env bash
# static_test.sh - `usdt top` on static probes (sys/sdt.h-style, generated
# by usdt-gen from providers/vm.d into minivm): vm:function__entry/return
# (name, file, line) give one row per Forth word, named with its file and
# line; `fast` sleeps 1 ms, `slow` 10 ms, and their p50s land there; quitting
# leaves minivm's semaphores at 0. About 10 s.
T=static_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace static_function_rows || exit 0
cat >"$tmp/app.fs" <<'FS'
: fast 1 sleep ;
: slow 10 sleep ;
: round 9 times fast loop slow ;
0 begin round 1 + dup 100000 = until
FS
"$BUILD/examples/minivm" "$tmp/app.fs" >/dev/null 2>&1 &
V=$!; pids+=($V)
for _ in $(seq 50); do "$usdt" list "$V" 2>/dev/null | grep -q '^vm:function__entry' && break; sleep 0.1; done

"$usdt" top --json -n 3 -p vm "$V" >"$tmp/top.json" 2>"$tmp/top.err"; rc=$?
out=$(tail -n 1 "$tmp/top.json" | python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from usdt_view.stats import bucket_of
rows = {r["name"]: r for r in json.load(sys.stdin)["rows"]}
bad = []
for name, want in (("vm:fast app.fs:1", 1.05e6), ("vm:slow app.fs:2", 10.1e6)):
    r = rows.get(name)
    if not r or r["kind"] != "function" or r["calls"] <= 0:
        bad.append("no row %s" % name); continue
    if abs(bucket_of(r["p50_ns"]) - bucket_of(want)) > 1:
        bad.append("%s p50 %.0f ns" % (name, r["p50_ns"]))
print("; ".join(bad) or "ok", sorted(rows) if bad else "")' "$BUILD/libexec/usdt" 2>&1)
if [ $rc -eq 0 ] && [ "${out%% *}" = ok ]; then pass static_function_rows
else fail static_function_rows "rc=$rc $out $(cat "$tmp/top.err")"; fi
why=$(untraced "$V") && pass static_probes_left_untraced || fail static_probes_left_untraced "$why"
