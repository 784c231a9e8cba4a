# common.sh - sourced by tests/view/*_test.sh: the workload (workload.py) in
# the background, and the checks every view test makes after a viewer stops.
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
usdt=$PWD/$BUILD/bin/usdt
tmp=$(mktemp -d /tmp/usdt-view-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	tmux kill-session -t "usdt-view-$$" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-900)"; }
need() { # tool test-name
	command -v "$1" >/dev/null && return 0
	if [ "${CI:-}" = true ]; then fail "$2" "$1 missing (CI)"; else echo "SKIP $T:$2: $1 missing"; fi
	return 1
}
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

start_workload() { # name, workload args...: sets $wl_pid; its stats in $tmp/<name>.json
	local name=$1; shift  # $VIEW_PY: the interpreter (scripts/with-python's names)
	scripts/with-python "${VIEW_PY:-python3}" "$@" --stats "$tmp/$name.json" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	wl_pid=
	for _ in $(seq 200); do
		wl_pid=$(sed -n 's/^workload: pid \([0-9]*\) ready$/\1/p' "$tmp/$name.out")
		[ -n "$wl_pid" ] && [ -s "$tmp/$name.json" ] && return 0
		sleep 0.1
	done
	echo "workload $name did not start: $(cat "$tmp/$name.err")" >&2
	return 1
}

# Nothing of ours traces $1 any more: no bpftrace on it, every semaphore 0.
# $2: seconds a bpftrace may still take to detach (default 5), for one
# whose viewer was killed and which detaches many probes on its own.
untraced() {
	local pid=$1 i
	for i in $(seq $((${2:-5} * 10))); do
		pgrep -f "bpftrace -f json -p $pid " >/dev/null || break
		sleep 0.1
	done
	if pgrep -f "bpftrace -f json -p $pid " >/dev/null; then
		echo "bpftrace still running: $(pgrep -af "bpftrace -f json -p $pid ")"
		return 1
	fi
	"$usdt" list --json "$pid" >"$tmp/after.json" 2>/dev/null || { echo "usdt list failed"; return 1; }
	if grep -q '"state": "TRACED"' "$tmp/after.json"; then
		echo "still traced: $(grep TRACED "$tmp/after.json" | cut -c1-200)"
		return 1
	fi
	grep -q '"state": "untraced"' "$tmp/after.json" || { echo "no semaphores read"; return 1; }
}

# tmux_quit SESSION KEY TRIES: keep the screen so far in $tmp/pane.rows, press
# KEY in the viewer, wait up to TRIES tenths of a second for the EXIT= line
# its session prints; sets code to the viewer's exit status, ends the session.
tmux_quit() {
	cp "$tmp/pane" "$tmp/pane.rows"
	tmux send-keys -t "$1" "$2"
	for _ in $(seq "$3"); do
		tmux capture-pane -p -t "$1" >"$tmp/pane" 2>/dev/null
		grep -q '^EXIT=' "$tmp/pane" && break
		sleep 0.1
	done
	code=$(sed -n 's/^EXIT=//p' "$tmp/pane")
	tmux kill-session -t "$1" 2>/dev/null
}

# A user's error: the command fails with exactly one line on stderr matching
# the pattern, and nothing on stdout.
one_line() { # name, expected pattern, command...
	local name=$1 pat=$2; shift 2
	"$@" >"$tmp/err.out" 2>"$tmp/err.err"; local rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <"$tmp/err.err")" = 1 ] && grep -qE "$pat" "$tmp/err.err" && [ ! -s "$tmp/err.out" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc $(cat "$tmp/err.err")"
	fi
}
