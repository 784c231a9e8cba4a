#!/usr/bin/env bash
# wide_test.sh - `usdt top` on a provider wider than libbpf's 256 USDT specs
# per BPF object (bpftrace 0.25+ fails such a program with E2BIG): 300
# probes with 300 different argument specs (wide.py), which fires probe i
# exactly i % 7 + 1 times once all 300 are traced. usdt top splits them over
# two bpftrace programs and says so; the counts it shows add up to exactly
# what was fired (not doubled, none lost); the terminal view says it runs two
# programs; q, Ctrl-C, SIGTERM, and SIGKILL of the viewer (no cleanup of
# its own: PR_SET_PDEATHSIG stops both bpftrace processes) each leave no
# bpftrace and every semaphore at 0.
# Runs the same under bpftrace 0.17 and 0.27. About 3 minutes.
T=wide_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace wide_provider_exact_counts || exit 0

STATS=$tmp/wide.json start_workload wide tests/view/wide.py --probes 300 ||
	{ fail wide_workload_starts "$(cat "$tmp/wide.err")"; exit 0; }
W=$wl_pid

"$usdt" top --json -p wide "$W" >"$tmp/top.json" 2>"$tmp/top.err" &
V=$!; pids+=($V)
# Fired once every probe is traced; then two more intervals so the
# programs' last ones are read. (The workload waits for all 300: a program
# that never attaches leaves it waiting, and this loop ends with the viewer.)
fired=
while kill -0 $V 2>/dev/null; do
	grep -q '"state": "fired"' "$tmp/wide.json" && { fired=1; break; }
	sleep 0.2
done
if [ -n "$fired" ]; then
	n=$(wc -l <"$tmp/top.json")
	while kill -0 $V 2>/dev/null && [ "$(wc -l <"$tmp/top.json")" -lt $((n + 2)) ]; do sleep 0.2; done
fi
traced_before=$(grep -c TRACED <("$usdt" list "$W"))
kill -TERM $V; wait $V; rc=$?
out=$(python3 - "$tmp/top.json" "$tmp/wide.json" <<'PY' 2>&1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
truth = json.load(open(sys.argv[2]))["fired"]
assert lines, "no interval"
got = {}
for snap in lines:
    for r in snap["rows"]:
        # rate is count / interval: the count back, exactly.
        got[r["name"]] = got.get(r["name"], 0) + round(r["rate"] * snap["interval_s"])
bad = ["%s %d, fired %d" % (k, got.get(k, 0), v) for k, v in sorted(truth.items()) if got.get(k, 0) != v]
bad += ["%s: not fired" % k for k in got if k not in truth]
last = lines[-1]
if (last["probes"], last["programs"], last["not_attached"]) != (300, 2, []):
    bad.append("probes %s in %s programs, not attached %s" % (last["probes"], last["programs"], last["not_attached"]))
print("; ".join(bad[:8]) or "ok %d events" % sum(got.values()))
PY
)
if [ -n "$fired" ] && [ "$rc" = 0 ] && [ "${out%% *}" = ok ]; then pass "wide_provider_exact_counts (300 probes, 2 programs, ${out#ok })"
else fail wide_provider_exact_counts "fired=$fired rc=$rc $out $(head -c 400 "$tmp/top.err")"; fi
why=$(untraced "$W")
if [ "$traced_before" = 300 ] && [ -z "$why" ]; then pass wide_sigterm_leaves_process_untraced
else fail wide_sigterm_leaves_process_untraced "traced before: $traced_before; $why"; fi

# The terminal view, in tmux: the header says how the probes were split,
# rows show up once all are traced; q and Ctrl-C quit with both programs.
if need tmux wide_terminal_view_says_two_programs; then
	for how in q C-c; do
		s=usdt-view-$$
		tmux new-session -d -s "$s" -x 200 -y 50 "$usdt top -p wide $W; echo EXIT=\$?; sleep 60"
		shown= traced=0
		for _ in $(seq 600); do
			tmux capture-pane -p -t "$s" >"$tmp/pane" 2>/dev/null
			if grep -q 'usdt top: pid [0-9]* ([^)]*), 300 probes in 2 bpftrace programs,' "$tmp/pane" &&
				grep -qE '^wide:p[0-9]{3} ' "$tmp/pane"; then
				traced=$(grep -c TRACED <("$usdt" list "$W"))
				[ "$traced" = 300 ] && { shown=1; break; }
			fi
			grep -q '^EXIT=' "$tmp/pane" && break
			sleep 0.2
		done
		tmux_quit "$s" "$how" 1800
		why=$(untraced "$W")
		if [ -n "$shown" ] && [ "$code" = 0 ] && [ -z "$why" ]; then pass "wide_terminal_view_quits_on_${how}_untraced"
		else fail "wide_terminal_view_quits_on_${how}_untraced" "shown=$shown traced=$traced exit=$code $why $(head -c 400 "$tmp/pane.rows")"; fi
	done
fi

for sig in KILL; do
	"$usdt" top --json -p wide "$W" >"$tmp/$sig.json" 2>"$tmp/$sig.err" &
	V=$!; pids+=($V)
	traced=0
	while kill -0 $V 2>/dev/null; do
		traced=$(grep -c TRACED <("$usdt" list "$W"))
		[ "$traced" = 300 ] && break
		sleep 0.5
	done
	kill -$sig $V; wait $V 2>/dev/null
	# The orphaned bpftraces detach 300 uprobes, the viewer's grace for it.
	why=$(untraced "$W" 160)
	if [ "$traced" = 300 ] && [ -z "$why" ]; then pass "wide_sig${sig,,}_leaves_process_untraced"
	else fail "wide_sig${sig,,}_leaves_process_untraced" "traced: $traced; $why $(head -c 300 "$tmp/$sig.err")"; fi
done
