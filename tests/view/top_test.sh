#!/usr/bin/env bash
# top_test.sh - `usdt top` against a workload of known shape (workload.py:
# one_ms 100/s, ten_ms 10/s, work:tick 5,000/s), with bpftrace really
# attached: --json rates within 10 % and p50s in the bucket of the medians the
# workload measured itself; the same rows in the terminal view driven in tmux;
# q and Ctrl-C leave no bpftrace and every semaphore at 0; a process with 300
# probes; and the errors a user meets, one line each. About 40 s.
T=top_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace top_json_rates_and_latency || exit 0

start_workload fbt tests/view/workload.py || { fail workload_starts "$(cat "$tmp/fbt.err")"; exit 0; }
W=$wl_pid

# --json: skip the first (partial) interval, check the next three.
"$usdt" top --json -n 4 "$W" >"$tmp/top.json" 2>"$tmp/top.err"; rc=$?
out=$(python3 - "$tmp/top.json" "$tmp/fbt.json" "$BUILD/libexec/usdt" <<'PY' 2>&1
import json, sys
sys.path.insert(0, sys.argv[3])
from usdt_view.stats import bucket_of, bucket_bounds
lines = [json.loads(l) for l in open(sys.argv[1])]
truth = json.load(open(sys.argv[2]))["median_ns"]
assert len(lines) == 4, "%d intervals" % len(lines)
bad = []
def near(p50, med):
    b, t = bucket_of(p50), bucket_of(med)
    if b == t:
        return True
    # The workload's own median on the edge of a bucket: either side is right.
    edge = bucket_bounds(max(b, t))[0]
    return abs(b - t) == 1 and abs(med - edge) / edge < 0.05
# Rates over the three full intervals (a busy machine may delay one call past
# an interval's edge; the workload keeps to its schedule on average).
span = sum(snap["interval_s"] for snap in lines[1:])
for name, field, want in (("work:tick", "rate", 5000), ("work:one_ms", "calls", 100),
                          ("work:ten_ms", "calls", 10)):
    got = [r[field] * snap["interval_s"] for snap in lines[1:] for r in snap["rows"] if r["name"] == name]
    if len(got) != 3:
        bad.append("no row %s" % name); continue
    if abs(sum(got) / span - want) > 0.1 * want:
        bad.append("%s %s %.1f/s, want %d" % (name, field, sum(got) / span, want))
for snap in lines[1:]:
    rows = {r["name"]: r for r in snap["rows"]}
    for name, fn in (("work:one_ms", "one_ms"), ("work:ten_ms", "ten_ms")):
        r = rows.get(name)
        if r and not near(r["p50_ns"], truth[fn]):
            bad.append("%s p50 %.0f ns, the workload measured %.0f ns" % (name, r["p50_ns"], truth[fn]))
        if r and r["kind"] != "pair":
            bad.append("%s kind %s" % (name, r["kind"]))
print("; ".join(bad) or "ok")
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass top_json_rates_and_latency
else fail top_json_rates_and_latency "rc=$rc $out $(cat "$tmp/top.err")"; fi
why=$(untraced "$W") && pass top_json_leaves_process_untraced || fail top_json_leaves_process_untraced "$why"

# Without a terminal: one plain block per interval, the same rows.
"$usdt" top -n 2 "$W" >"$tmp/plain" 2>&1 </dev/null; rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^[0-9:]* usdt top: pid' "$tmp/plain")" = 2 ] &&
	grep -qE '^work:one_ms +[0-9.]+ +[0-9.]+ +1\.[0-9]+ms' "$tmp/plain" &&
	grep -qE '^work:ten_ms +[0-9.]+ +[0-9.]+ +[0-9.]+ms' "$tmp/plain" && grep -qE '^work:tick +[0-9]{4}' "$tmp/plain"; then
	pass top_plain_blocks_without_a_terminal
else fail top_plain_blocks_without_a_terminal "rc=$rc $(cat "$tmp/plain")"; fi

# The terminal view, in tmux: rows on screen, then q (and Ctrl-C) quit cleanly.
if need tmux top_terminal_view_in_tmux; then
	for how in q C-c; do
		s=usdt-view-$$
		tmux new-session -d -s "$s" -x 160 -y 40 "$usdt top $W; echo EXIT=\$?; sleep 30"
		shown=
		for _ in $(seq 100); do
			tmux capture-pane -p -t "$s" >"$tmp/pane" 2>/dev/null
			grep -qE '^work:one_ms +[0-9.]+ +[0-9.]+ +1\.[0-9]+ms' "$tmp/pane" && grep -qE '^work:tick' "$tmp/pane" && { shown=1; break; }
			sleep 0.2
		done
		tmux_quit "$s" "$how" 100
		why=$(untraced "$W")
		if [ -n "$shown" ] && [ "$code" = 0 ] && [ -z "$why" ] && grep -q 'usdt top: pid' "$tmp/pane.rows" &&
			grep -qE '^work:ten_ms' "$tmp/pane.rows"; then
			pass "top_terminal_view_in_tmux_quits_on_$how"
		else
			fail "top_terminal_view_in_tmux_quits_on_$how" "shown=$shown exit=$code $why $(cat "$tmp/pane.rows")"
		fi
	done
fi

# The viewer killed outright (SIGKILL: no cleanup of its own): bpftrace still
# goes (PR_SET_PDEATHSIG) and takes its probes with it.
"$usdt" top --json "$W" >"$tmp/killed.json" 2>&1 &
V=$!; pids+=($V)
for _ in $(seq 100); do [ -s "$tmp/killed.json" ] && break; sleep 0.1; done
traced_before=$(grep -c TRACED <("$usdt" list "$W"))
kill -KILL $V; wait $V 2>/dev/null
why=$(untraced "$W")
if [ -s "$tmp/killed.json" ] && [ "$traced_before" -gt 0 ] && [ -z "$why" ]; then pass top_killed_viewer_takes_bpftrace_with_it
else fail top_killed_viewer_takes_bpftrace_with_it "traced before: $traced_before; $why"; fi

# Filters and sort: one provider, a glob, a minimum rate, sorted by p50.
"$usdt" top --json -n 2 -p work -g 'work:*_ms*' -s p50 "$W" >"$tmp/f.json" 2>&1
names=$(tail -n 1 "$tmp/f.json" | python3 -c 'import json,sys; print(",".join(r["name"] for r in json.load(sys.stdin)["rows"]))' 2>&1)
# (-p work: glibc's own probes fire over 1000/s too where it has them, as Debian sid's.)
"$usdt" top --json -n 2 -m 1000 -p work "$W" >"$tmp/m.json" 2>&1
hi=$(tail -n 1 "$tmp/m.json" | python3 -c 'import json,sys; print(",".join(r["name"] for r in json.load(sys.stdin)["rows"]))' 2>&1)
if [ "$names" = "work:ten_ms,work:one_ms" ] && [ "$hi" = "work:tick" ]; then pass top_filters_and_sort
else fail top_filters_and_sort "glob+p50: $names; min-rate 1000: $hi"; fi

# Many probes: 50 @fbt functions (100 probes over 2 images), all seen.
cat >"$tmp/many.py" <<'PY'
import os, time, usdt
ns = {}
exec("".join("def fn%03d():\n    return %d\n" % (i, i) for i in range(50)), ns)
fs = [usdt.fbt(provider="many")(ns["fn%03d" % i]) for i in range(50)]
print("workload: pid %d ready" % os.getpid(), flush=True)
open(os.environ["STATS"], "w").write("{}")
while True:
    for f in fs:
        f()
    time.sleep(0.01)
PY
STATS=$tmp/many.json start_workload many "$tmp/many.py" && M=$wl_pid
start=$(date +%s.%N)
"$usdt" top --json -n 2 -p many "$M" >"$tmp/many.top" 2>"$tmp/many.err"; rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
got=$(tail -n 1 "$tmp/many.top" | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin)["rows"] if r["kind"] == "pair" and r["calls"] > 5]
print(len(rows))' 2>&1)
if [ $rc -eq 0 ] && [ "$got" = 50 ]; then pass "top_100_probes_all_timed (${took%.*} s)"
else fail top_100_probes_all_timed "rc=$rc pairs with calls: $got $(head -c 300 "$tmp/many.err")"; fi
why=$(untraced "$M") && pass top_100_probes_leaves_process_untraced || fail top_100_probes_leaves_process_untraced "$why"

# The errors a user meets: one line on stderr, a non-zero exit (one_line: common.sh).
one_line error_no_such_process '^usdt top: no process 999999999$' "$usdt" top 999999999
# A process with no probes at all: a kernel thread (any program linked with
# Debian sid's glibc maps libc's own probes).
K=$(pgrep -x kthreadd | head -n 1)
one_line error_process_without_probes "^usdt top: process $K \(kthreadd\) has no USDT probes$" "$usdt" top "$K"
one_line error_bpftrace_missing '^usdt top: bpftrace not found' env PATH=/nonexistent USDT_PYTHON=/usr/bin/python3 "$usdt" top "$W"
one_line error_not_root '^usdt top: needs root' setpriv --reuid=65534 --regid=65534 --clear-groups "$usdt" top "$W"
one_line error_no_such_pair "^usdt heatmap: no probe pair work:nope in process $W \(pairs of work: work:one_ms, work:ten_ms\)$" "$usdt" heatmap "$W" work:nope
one_line error_svg_unwritable '^usdt heatmap: /nonexistent/x.svg: cannot write there' "$usdt" heatmap "$W" work:one_ms --seconds 1 --svg /nonexistent/x.svg
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
one_line error_port_in_use "^usdt heatmap: cannot listen on 127.0.0.1:$(cat "$tmp/port"): Address already in use$" "$usdt" heatmap "$W" work:one_ms --port "$(cat "$tmp/port")"
one_line error_bad_option '^usdt top: .*unrecognized arguments' "$usdt" top --bogus "$W"
why=$(untraced "$W") && pass errors_leave_process_untraced || fail errors_leave_process_untraced "$why"

# Installed: make install puts usdt-view beside usdt, and usdt's help names both commands.
make -s install DESTDIR="$tmp/inst" PREFIX=/usr/local >"$tmp/inst.log" 2>&1; rc=$?
"$tmp/inst/usr/local/bin/usdt" top --help >"$tmp/help.top" 2>&1; rc2=$?
"$tmp/inst/usr/local/bin/usdt" heatmap --help >"$tmp/help.hm" 2>&1; rc3=$?
"$tmp/inst/usr/local/bin/usdt" --help >"$tmp/help" 2>&1
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && grep -q '^usage: usdt top' "$tmp/help.top" &&
	grep -q '^usage: usdt heatmap' "$tmp/help.hm" && grep -q 'usdt top ' "$tmp/help" && grep -q 'usdt heatmap ' "$tmp/help"; then
	pass installed_usdt_runs_top_and_heatmap
else fail installed_usdt_runs_top_and_heatmap "install rc=$rc top rc=$rc2 heatmap rc=$rc3 $(head -c 300 "$tmp/inst.log" "$tmp/help.top")"; fi
