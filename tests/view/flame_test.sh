#!/usr/bin/env bash
# flame_test.sh - `usdt flame` on a Python program started with python -m
# usdt (stacks_prog.py hot: hot(), called by compute(), spins in pure
# Python; sleeper() sleeps 5 ms at a time), bpftrace really attached: on-CPU
# (a profile timer), hot is the innermost Python frame in at least 90 % of
# the samples of its thread; the folded file parses and sums to the samples
# counted; the SVG passes xmllint, names hot and compute in frames as wide as
# their samples; the HTML page, loaded in headless chromium, draws them and
# its search finds hot in 90 % or more; off-CPU time (sched_switch out to
# back in) is sleeper's in clock_nanosleep; q in a terminal and SIGKILL of
# the tool leave no bpftrace and every semaphore at 0; a process that exits
# while traced keeps the stacks seen until then; lost events are said. About
# 30 s.
T=flame_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace flame_hot_innermost || exit 0

start_workload hot bash -c 'exec "$PY" -m usdt tests/view/stacks_prog.py hot "$@"' _ ||
	{ fail workload_starts "$(cat "$tmp/hot.err")"; exit 0; }
H=$wl_pid

"$usdt" flame "$H" --seconds 4 --svg "$tmp/f.svg" --html "$tmp/f.html" --folded "$tmp/f.folded" 2>"$tmp/f.err"; rc=$?
out=$(python3 - "$tmp/f.folded" "$tmp/f.err" "$tmp/hot.json" <<'PY' 2>&1
import json, re, sys
truth = json.load(open(sys.argv[3]))
f, L = truth["file"], truth["lines"]
m = re.search(r"^usdt flame: (\d+) samples in \d+ stacks, ([0-9.]+) s", open(sys.argv[2]).read(), re.M)
total, hot, inner, bad, caller = 0, 0, 0, [], 0
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    n = int(n)
    total += n
    py = [x for x in stack.split(";") if not x.endswith("_[k]")]
    names = [x.split(" (")[0] for x in py]
    if "hot" in names:
        hot += n
        if names[-1] == "hot":
            inner += n
        i = names.index("hot")
        if i and py[i - 1] == "compute (%s:%d)" % (f, L["compute_call"]) and py[i].startswith("hot (%s:" % f):
            caller += n
if not m or int(m.group(1)) != total:
    bad.append("folded sum %d, counted %s" % (total, m.group(1) if m else "?"))
# 99 Hz for about 4 s on one spinning thread (a busy machine runs it less).
elif hot < 0.4 * 99 * float(m.group(2)) or hot > 1.1 * 99 * float(m.group(2)):
    bad.append("%d samples of hot in %s s at 99 Hz" % (hot, m.group(2)))
if not hot or inner < 0.9 * hot:
    bad.append("hot innermost in %d of its %d samples" % (inner, hot))
if caller != hot:
    bad.append("hot under compute at its line in %d of %d" % (caller, hot))
print("; ".join(bad) or "ok %d of %d samples" % (inner, hot))
PY
)
if [ $rc -eq 0 ] && [[ $out == ok* ]]; then pass "flame_hot_innermost_in_90_percent (${out#ok })"
else fail flame_hot_innermost_in_90_percent "rc=$rc $out $(head -c 400 "$tmp/f.err")"; fi

# The SVG: well-formed; hot and compute among its frames; every frame as wide
# as its share (width / samples the same for all, within rounding).
if need xmllint flame_svg_valid_with_names; then
	out=$(python3 - "$tmp/f.svg" <<'PY' 2>&1
import re, sys
import xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
frames = root.findall(".//s:g[@class='frame']", ns)
names, ratios, kinds = set(), [], set()
for g in frames:
    title = g.find("s:title", ns).text
    rect = g.find("s:rect", ns)
    names.add(title.split("\n")[0].split(" (")[0])
    kinds.add((g.get("data-kind"), rect.get("fill")[:4]))
    ratios.append(float(rect.get("width")) / int(g.get("data-value")))
    if not re.search(r"\n\d+ samples?, [0-9.]+ %$", title):
        print("title %r" % title); sys.exit()
bad = [n for n in ("hot", "compute", "all") if n not in names]
if bad or max(ratios) - min(ratios) > 0.011 * max(ratios):
    print("names %s missing; width per sample %.4f..%.4f" % (bad, min(ratios), max(ratios)))
elif not {k for k, _ in kinds} >= {"py", "root"}:
    print("kinds %s" % kinds)
else:
    print("ok %d frames" % len(frames))
PY
)
	if [ $rc -eq 0 ] && xmllint --noout "$tmp/f.svg" 2>"$tmp/xmllint.err" && [[ $out == ok* ]]; then pass "flame_svg_valid_with_names (${out#ok })"
	else fail flame_svg_valid_with_names "$out $(head -c 300 "$tmp/xmllint.err")"; fi
fi

# The page in a real browser: its script draws the frames; #search=hot
# highlights them and says their share.
if need chromium flame_html_in_chromium_search_finds_hot; then
	rm -rf "$tmp/chr"
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$tmp/chr" --virtual-time-budget=2000 --dump-dom "file://$tmp/f.html#search=%5Ehot%20" \
		>"$tmp/f.dom" 2>/dev/null
	out=$(python3 - "$tmp/f.dom" <<'PY' 2>&1
import html, re, sys
dom = open(sys.argv[1]).read()
drawn = {html.unescape(n).split(" (")[0] for n in re.findall(r'<g class="f[^"]*" data-name="([^"]*)"', dom)}
hits = re.findall(r'<g class="f match" data-name="([^"]*)"', dom)
m = re.search(r'id="status">matched: ([0-9.]+) %', dom)
bad = [n for n in ("hot", "compute") if n not in drawn]
if bad or not hits or not m or float(m.group(1)) < 90 or any(not h.startswith("hot (") for h in hits):
    print("not drawn %s; matches %s; status %s" % (bad, hits[:3], m.group(0) if m else None))
else:
    print("ok %s %%" % m.group(1))
PY
)
	if [[ $out == ok* ]]; then pass "flame_html_in_chromium_search_finds_hot (${out#ok })"
	else fail flame_html_in_chromium_search_finds_hot "$out"; fi
fi

# Off-CPU time: sleeper's, in the kernel's nanosleep, the heaviest Python stack.
# (--no-lines: frames by function and file, a function's lines merged.)
"$usdt" flame "$H" --event offcpu --seconds 2 --no-lines --folded "$tmp/off.folded" 2>"$tmp/off.err"; rc=$?
out=$(python3 - "$tmp/off.folded" "$tmp/hot.json" <<'PY' 2>&1
import json, sys
by = {}
f = json.load(open(sys.argv[2]))["file"]
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    if any(x.startswith("sleeper (") and x != "sleeper (%s)" % f for x in stack.split(";")):
        print("a frame with its line under --no-lines: %s" % stack); sys.exit()
    py = [x.split(" (")[0] for x in stack.split(";") if not x.endswith("_[k]")]
    k = [x for x in stack.split(";") if x.endswith("_[k]")]
    key = py[-1] if py else "?"
    by[key] = by.get(key, 0) + int(n)
    if key == "sleeper" and any("nanosleep" in x for x in k):
        by["sleeper+nanosleep"] = by.get("sleeper+nanosleep", 0) + int(n)
# Threads without Python state (the extension's own) sleep all along too: of
# the Python stacks, sleeper's is the heaviest.
py = [x for x in by if not x.startswith("[") and x != "sleeper+nanosleep"]
top = max(py, key=lambda x: by[x]) if py else None
print("ok" if top == "sleeper" and by.get("sleeper+nanosleep") else "by innermost frame: %s" % by)
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass flame_offcpu_time_is_sleepers_nanosleep
else fail flame_offcpu_time_is_sleepers_nanosleep "rc=$rc $out $(head -c 300 "$tmp/off.err")"; fi
why=$(untraced "$H") && pass flame_leaves_process_untraced || fail flame_leaves_process_untraced "$why"

# q in a terminal: stops, writes, leaves nothing attached.
if need tmux flame_q_in_terminal_writes_and_untraced; then
	s=usdt-view-$$
	tmux new-session -d -s "$s" -x 160 -y 20 "$usdt flame $H --svg $tmp/q.svg; echo EXIT=\$?; sleep 30"
	for _ in $(seq 100); do
		tmux capture-pane -p -t "$s" >"$tmp/pane" 2>/dev/null
		grep -q 'q to stop' "$tmp/pane" && break
		sleep 0.1
	done
	sleep 1
	tmux_quit "$s" q 100
	why=$(untraced "$H")
	if [ "$code" = 0 ] && [ -z "$why" ] && grep -q 'wrote' "$tmp/pane.rows" "$tmp/pane" && xmllint --noout "$tmp/q.svg" 2>/dev/null; then
		pass flame_q_in_terminal_writes_and_untraced
	else fail flame_q_in_terminal_writes_and_untraced "exit=$code $why $(cat "$tmp/pane")"; fi
fi

# The tool killed outright: bpftrace goes too (PR_SET_PDEATHSIG) and detaches.
"$usdt" flame "$H" --folded "$tmp/k.folded" 2>"$tmp/k.err" &
V=$!; pids+=($V)
for _ in $(seq 100); do grep -q tracing "$tmp/k.err" && break; sleep 0.1; done
running=$(pgrep -fc "bpftrace -f json -p $H ")
kill -KILL $V; wait $V 2>/dev/null
why=$(untraced "$H")
if [ "$running" -ge 1 ] && [ -z "$why" ]; then pass flame_killed_tool_takes_bpftrace_with_it
else fail flame_killed_tool_takes_bpftrace_with_it "bpftrace before: $running; $why"; fi

# A process that exits while traced: its stacks until then are written.
start_workload brief bash -c 'exec "$PY" -m usdt tests/view/stacks_prog.py read --exit-after 4 "$@"' _ &&
"$usdt" flame "$wl_pid" --event sys_enter_read --seconds 30 --folded "$tmp/brief.folded" 2>"$tmp/brief.err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^usdt flame: process $wl_pid exited; its stacks until then" "$tmp/brief.err" &&
	grep -q ';serve ([^;]*;reader ([^;]*;' "$tmp/brief.folded"; then pass flame_process_exiting_keeps_its_stacks
else fail flame_process_exiting_keeps_its_stacks "rc=$rc $(head -c 300 "$tmp/brief.err") $(head -c 300 "$tmp/brief.folded")"; fi

# Output bpftrace loses is said, never dropped silently: a 300-deep stack
# printed whole (--max-frames 400) overflows a one-page output buffer (and
# bpftrace reports the loss only if it writes there again: the tool counts
# the stacks whose lines never came); their events are still counted, under
# a [Python stack not received] frame.
start_workload lost bash -c 'exec "$PY" -m usdt tests/view/stacks_prog.py read --depth 300 "$@"' _ &&
BPFTRACE_PERF_RB_PAGES=1 "$usdt" flame "$wl_pid" --event sys_enter_read --seconds 2 --max-frames 400 \
	--folded "$tmp/lost.folded" 2>"$tmp/lost.err"; rc=$?
n=$(sed -n 's/^usdt flame: \([0-9]*\) events in .*/\1/p' "$tmp/lost.err")
sum=$(awk '{s += $NF} END {print s + 0}' "$tmp/lost.folded")
if [ $rc -eq 0 ] && grep -q '^usdt flame: WARNING: .*: [1-9][0-9]* of [0-9]* stacks lack Python frames' "$tmp/lost.err" &&
	grep -q '^\[Python stack not received\]' "$tmp/lost.folded" && [ -n "$n" ] && [ "$n" = "$sum" ]; then
	pass flame_lost_events_said_and_still_counted
else fail flame_lost_events_said_and_still_counted "rc=$rc counted=$n folded=$sum $(head -c 300 "$tmp/lost.err")"; fi
kill "$wl_pid" 2>/dev/null

"$usdt" flame "$H" --seconds 1 >/dev/null 2>"$tmp/e"; rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/e")" = 1 ] && grep -q '^usdt flame: say what to write' "$tmp/e"; then pass flame_without_output_is_usage_error
else fail flame_without_output_is_usage_error "rc=$rc $(cat "$tmp/e")"; fi
