#!/usr/bin/env bash
# stacks_test.sh - `usdt stacks` on a Python program started with
# python -m usdt (the runtime provider on; stacks_prog.py: reader(), called
# by serve(), reads a file in a loop; a second thread reads 40 calls deep
# in deep()), bpftrace really attached: under sys_enter_read the stack
# whose innermost frames are reader and serve at the lines the program
# found itself; the 40-deep stack cut to --max-frames with a visible
# [truncated] frame first, never a wrong frame; the same stack the heaviest
# under `read` (time blocked, per thread), and in nanosleep under offcpu;
# the folded output parses and sums to the events counted; the
# --print-program / --program recipe; SIGTERM and Ctrl-C leave no bpftrace
# and every semaphore at 0; the errors a user meets, one line each. About
# 25 s; the sid level runs it on bpftrace 0.27 (flame_test.sh: the graphs).
T=stacks_test.sh
source "$(dirname "$0")/common.sh"
need bpftrace stacks_reader_under_sys_enter_read || exit 0

start_workload rd bash -c 'exec "$PY" -m usdt tests/view/stacks_prog.py read "$@"' _ ||
	{ fail workload_starts "$(cat "$tmp/rd.err")"; exit 0; }
R=$wl_pid

# The readable report, and the folded lines of the same kind of run.
"$usdt" stacks "$R" --event sys_enter_read --seconds 3 --max-frames 16 --top 0 >"$tmp/st.txt" 2>"$tmp/st.err"; rc=$?
out=$(python3 - "$tmp/st.txt" "$tmp/rd.json" <<'PY' 2>&1
import json, re, sys
text = open(sys.argv[1]).read()
truth = json.load(open(sys.argv[2]))
f, L = truth["file"], truth["lines"]
head, _, body = text.partition("\n\n")
m = re.match(r"tracepoint:syscalls:sys_enter_read in pid (\d+) \(.*\), [0-9.]+ s: (\d+) events, (\d+) distinct stacks$", head)
bad = []
if not m or int(m.group(1)) != truth["pid"]:
    bad.append("header %r" % head)
blocks = [b.splitlines() for b in body.strip().split("\n\n") if b.strip()]
# A block: "N (P %)", Python frames innermost first, "-- kernel --", kernel frames.
want = ["reader (%s:%d)" % (f, L["reader_read"]), "serve (%s:%d)" % (f, L["serve_call"])]
reader = [b for b in blocks if [x.strip() for x in b[1:3]] == want]
dbad, bad = bad, []
if not reader:
    bad.append("no stack starting %s; stacks: %s" % (want, [b[1:4] for b in blocks]))
else:
    b = reader[0]
    n = int(b[0].split()[0])
    if n < 100:
        bad.append("reader's stack %d reads in 3 s" % n)
    if "-- kernel --" not in [x.strip() for x in b]:
        bad.append("reader's stack has no kernel frames: %s" % b)
    py = [x.strip() for x in b[1:b.index("    -- kernel --")]] if "    -- kernel --" in b else []
    if any("(" not in x for x in py if not x.startswith("[")):
        bad.append("a Python frame not func (file:line): %s" % py)
rbad, bad = dbad + bad, []
# deep(): 41 frames of deep plus its callers; --max-frames 16: 16 frames, all deep's, and the marker outermost.
deep = [b for b in blocks if b[1].strip().startswith("deep (%s:" % f)]
if not deep:
    bad.append("no stack of deep()")
else:
    b = deep[0]
    py = [x.strip() for x in b[1:b.index("    -- kernel --")]] if "    -- kernel --" in b else [x.strip() for x in b[1:]]
    frames, marker = py[:-1], py[-1]
    if not (marker.startswith("[") and "trunc" in marker.lower()):
        bad.append("deep's stack does not end with a truncation marker: %s" % py[-3:])
    # (The bound counts the interpreter's own entry frames too: at most 16 shown.)
    if not 1 <= len(frames) <= 16 or any(not x.startswith("deep (%s:" % f) for x in frames):
        bad.append("deep's stack: %d frames %s" % (len(frames), sorted(set(x.split(" (")[0] for x in frames))))
print("reader:", "; ".join(rbad) or "ok")
print("deep:", "; ".join(bad) or "ok")
PY
)
r1=$(sed -n 's/^reader: //p' <<<"$out"); r2=$(sed -n 's/^deep: //p' <<<"$out")
if [ $rc -eq 0 ] && [ "$r1" = ok ]; then pass stacks_reader_under_sys_enter_read_with_caller_and_lines
else fail stacks_reader_under_sys_enter_read_with_caller_and_lines "rc=$rc $out $(head -c 400 "$tmp/st.err")"; fi
if [ $rc -eq 0 ] && [ "$r2" = ok ]; then pass stacks_deep_stack_cut_to_max_frames_with_marker
else fail stacks_deep_stack_cut_to_max_frames_with_marker "rc=$rc $out"; fi

# Folded: root first, Python frames then kernel frames (_[k]); the counts
# sum to the events the kernel counted apart (@n, said on stderr).
"$usdt" stacks "$R" --event sys_enter_read --seconds 2 --folded >"$tmp/fold.txt" 2>"$tmp/fold.err"; rc=$?
out=$(python3 - "$tmp/fold.txt" "$tmp/fold.err" "$tmp/rd.json" <<'PY' 2>&1
import json, re, sys
truth = json.load(open(sys.argv[3]))
f, L = truth["file"], truth["lines"]
m = re.search(r"^usdt stacks: (\d+) events in (\d+) stacks", open(sys.argv[2]).read(), re.M)
total, bad, found = 0, [], False
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    frames = stack.split(";")
    total += int(n)
    k = [i for i, x in enumerate(frames) if x.endswith("_[k]")]
    if k and k != list(range(k[0], len(frames))):
        bad.append("kernel frames not last: %s" % frames)
    py = frames[:k[0]] if k else frames
    if py[-2:] == ["serve (%s:%d)" % (f, L["serve_call"]), "reader (%s:%d)" % (f, L["reader_read"])]:
        found = True
if not m or int(m.group(1)) != total or total == 0:
    bad.append("folded sum %d, counted %s" % (total, m.group(1) if m else "?"))
if not found:
    bad.append("no folded stack ending serve;reader")
print("; ".join(bad) or "ok %d" % total)
PY
)
if [ $rc -eq 0 ] && [[ $out == ok* ]]; then pass "stacks_folded_parses_and_sums_to_the_count (${out#ok })"
else fail stacks_folded_parses_and_sums_to_the_count "rc=$rc $out $(head -c 400 "$tmp/fold.err")"; fi

# Time-weighted: the time blocked in read(2), per thread; reader's the heaviest.
"$usdt" stacks "$R" --event read --seconds 2 --top 1 >"$tmp/rd.txt" 2>"$tmp/rd.err"; rc=$?
out=$(python3 - "$tmp/rd.txt" "$tmp/rd.json" <<'PY' 2>&1
import json, re, sys
truth = json.load(open(sys.argv[2]))
f, L = truth["file"], truth["lines"]
text = open(sys.argv[1]).read().splitlines()
bad = []
if not re.match(r"time blocked in read\(2\).* \d+ reads, \d+ distinct stacks, [0-9.]+ [mun]?s in all$", text[0]):
    bad.append("header %r" % text[0])
if len(text) < 5 or not re.match(r"[0-9.]+ [mun]?s \([0-9.]+ %\), \d+ events$", text[2]):
    bad.append("first stack %r" % text[2:3])
elif [x.strip() for x in text[3:5]] != ["reader (%s:%d)" % (f, L["reader_read"]), "serve (%s:%d)" % (f, L["serve_call"])]:
    bad.append("heaviest stack %s" % text[3:6])
print("; ".join(bad) or "ok")
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass stacks_read_time_weighted_reader_heaviest
else fail stacks_read_time_weighted_reader_heaviest "rc=$rc $out $(head -c 400 "$tmp/rd.err")"; fi
# Off-CPU: reader's time.sleep between reads, in the kernel's nanosleep.
"$usdt" stacks "$R" --event offcpu --seconds 2 --top 0 >"$tmp/off.txt" 2>"$tmp/off.err"; rc=$?
out=$(python3 - "$tmp/off.txt" "$tmp/rd.json" <<'PY' 2>&1
import json, sys
f = json.load(open(sys.argv[2]))["file"]
text = open(sys.argv[1]).read()
head, _, body = text.partition("\n\n")
blocks = [b.splitlines() for b in body.strip().split("\n\n") if b.strip()]
ok = [b for b in blocks if len(b) > 2 and b[1].strip().startswith("reader (%s:" % f)
      and any("nanosleep" in x for x in b[b.index("    -- kernel --"):] if "    -- kernel --" in b)]
print("ok" if ok and "switches" in head else "%s; stacks %s" % (head, [b[:2] for b in blocks]))
PY
)
if [ $rc -eq 0 ] && [ "$out" = ok ]; then pass stacks_offcpu_reader_in_nanosleep
else fail stacks_offcpu_reader_in_nanosleep "rc=$rc $out $(head -c 300 "$tmp/off.err")"; fi
why=$(untraced "$R") && pass stacks_leave_process_untraced || fail stacks_leave_process_untraced "$why"

# The recipe: --print-program's program with a probe of one's own added
# to its first action's list, run with --program: lseek(2) from reader too.
"$usdt" stacks "$R" --event sys_enter_read --print-program >"$tmp/my.bt" 2>"$tmp/my.err"; rc1=$?
sed -i 's|^tracepoint:syscalls:sys_enter_read /|tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_lseek /|' "$tmp/my.bt"
"$usdt" stacks "$R" --program "$tmp/my.bt" --seconds 2 >"$tmp/my.txt" 2>>"$tmp/my.err"; rc=$?
f=$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(d["file"], d["lines"]["reader_seek"], d["lines"]["reader_read"])' "$tmp/rd.json")
read -r file seek rd <<<"$f"
if [ $rc1 -eq 0 ] && [ $rc -eq 0 ] && grep -qx "    reader ($file:$seek)" "$tmp/my.txt" && grep -qx "    reader ($file:$rd)" "$tmp/my.txt" &&
	grep -q '^// usdt stacks: tracepoint:syscalls:sys_enter_read in pid' "$tmp/my.bt"; then
	pass stacks_print_program_and_own_probe_recipe
else fail stacks_print_program_and_own_probe_recipe "rc=$rc1/$rc $(head -c 300 "$tmp/my.err") $(grep -m4 'reader\|^program' "$tmp/my.txt")"; fi

# Stopped by a signal while tracing (no --seconds): SIGTERM and SIGINT (a
# Ctrl-C) print what was seen and leave nothing attached.
for sig in TERM INT; do
	"$usdt" stacks "$R" --event sys_enter_read >"$tmp/sig.txt" 2>"$tmp/sig.err" &
	V=$!; pids+=($V)
	for _ in $(seq 100); do grep -q 'tracing' "$tmp/sig.err" && break; sleep 0.1; done
	sleep 0.5
	kill -$sig $V; wait $V; rc=$?
	why=$(untraced "$R")
	if [ $rc -eq 0 ] && [ -z "$why" ] && grep -q "^reader (" <(sed 's/^ *//' "$tmp/sig.txt"); then pass "stacks_sig${sig}_prints_and_leaves_untraced"
	else fail "stacks_sig${sig}_prints_and_leaves_untraced" "rc=$rc $why $(head -c 300 "$tmp/sig.txt" "$tmp/sig.err")"; fi
done

# The errors a user meets: one line on stderr naming what was wrong (one_line: common.sh).
one_line stacks_error_no_such_process '^usdt stacks: no process 999999999$' "$usdt" stacks 999999999 --event read
sleep 60 & S=$!; pids+=($S)
one_line stacks_error_not_python "^usdt stacks: process $S \(sleep\) is not a Python process" "$usdt" stacks "$S" --event read
# Python, but without the runtime provider (not started with python -m usdt).
start_workload plain tests/view/stacks_prog.py read || fail plain_workload_starts "$(cat "$tmp/plain.err")"
one_line stacks_error_no_runtime_provider "^usdt stacks: .*$wl_pid" "$usdt" stacks "$wl_pid" --event read --seconds 1
one_line stacks_error_unknown_tracepoint '^usdt stacks: --event sys_enter_nope: no tracepoint of that name' "$usdt" stacks "$R" --event sys_enter_nope
one_line stacks_error_bad_tracepoint '^usdt stacks: --event tracepoint:nope:nope: no tracepoint nope:nope' "$usdt" stacks "$R" --event tracepoint:nope:nope
one_line stacks_error_no_such_usdt_probe "^usdt stacks: --event shop:nope: process $R has no USDT probe shop:nope" "$usdt" stacks "$R" --event shop:nope
one_line stacks_error_event_needed '^usdt stacks: --event EVENT is needed' "$usdt" stacks "$R"
one_line stacks_error_bad_kprobe '^usdt stacks: bpftrace stopped .*no_such_function_here' "$usdt" stacks "$R" --event kprobe:no_such_function_here --seconds 1
why=$(untraced "$R") && pass stacks_errors_leave_process_untraced || fail stacks_errors_leave_process_untraced "$why"
