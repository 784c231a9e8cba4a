#!/usr/bin/env bash
# idle_bench.sh - what an untraced process costs, and how soon a tracer
# attaching to it gets its first event. Each process goes idle, is measured
# for 5 s (context switches of all threads and CPU, tests/tools/idle_cost.py),
# then loops on a call that makes a marked event once traced (every ms), and
# real bpftrace attaches by path and by pid, twice each, 3.5 s apart, so that
# every attach comes after a silence (the watcher asleep). The floors, in the
# same run: `sleep` for C, python and node not importing usdt, and for the
# attach, a C probe fired on its semaphore alone (no watcher in the path).
#   BENCH <who>.idle_wakeups_per_s        target <= 1 (the fallback poll)
#   BENCH <who>.idle_cpu_ms_per_s
#   BENCH <who>.idle_threads
#   BENCH <who>.attach_first_event_ms_by_path / _by_pid
#         bpftrace's BEGIN (every probe attached) to the first marked event,
#         the larger of two; target < 20 ms. bpftrace 0.17 raises the
#         semaphore itself 10-100 ms after its BEGIN, so c.direct, whose probe
#         fires on the semaphore alone, is this figure's floor
#   BENCH c.watched.sema_to_callback_ms_by_path / _by_pid
#         the semaphore seen up by the program's 1 ms loop to its watch
#         callback: the watcher's own part of those attaches (larger of two)
#   BENCH c.watched.fallback_max_ms       a semaphore raised with no file
#         opened (perf record on an event made earlier) to the callback, the
#         largest of 5; the bound is USDT_IDLE_POLL_MS (1000 ms)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
. tests/tools/idle_lib.sh
dir=$(mktemp -d /tmp/usdt-idle-bench.XXXXXX)
export USDT_DIR=$dir/img
mkdir -m 700 "$USDT_DIR"
trap 'idle_stop; rm -rf "$dir"' EXIT
cat >"$dir/plain.py" <<'PY'
import sys
print("READY -", flush=True)
sys.stdin.readline()
sys.stdin.readline()
PY
prog=$BUILD/tests/tools/idle_prog
NODE_CHILD=tests/node/lib/idle_child.js
have_bt=0
command -v bpftrace >/dev/null && [ "$(id -u)" = 0 ] && have_bt=1

# bench WHO CLAUSE COMMAND...: CLAUSE is the bpftrace probe and predicate for
# the marked event with IMG standing for the image path ("" for no attach).
bench() {
	local who=$1 clause=$2
	shift 2
	if ! idle_start "$dir" "$@"; then
		echo "idle_bench: $who did not start: $(cat "$dir/err")" >&2
		return
	fi
	local img
	img=$(cut -d' ' -f2 <<<"$IDLE_LINE")
	sleep 0.5 # past the load's kicks
	read -r _ w c n < <(python3 tests/tools/idle_cost.py "$IDLE_PID" 5)
	echo "BENCH $who.idle_wakeups_per_s ${w#*=} 1/s"
	echo "BENCH $who.idle_cpu_ms_per_s ${c#*=} ms"
	echo "BENCH $who.idle_threads ${n#*=} threads"
	if [ -n "$clause" ] && [ $have_bt = 1 ]; then
		idle_go
		local -A worst=([path]=0 [pid]=0) cb=()
		local m us opts e seen=0
		for m in path pid path pid; do
			opts=()
			[ $m = pid ] && opts=(-p "$IDLE_PID")
			us=$(idle_first_us "$dir" "${clause//IMG/$img}" "${opts[@]}")
			if [ -z "$us" ]; then
				worst[$m]=none
				echo "idle_bench: $who by $m: no event: $(tr '\n' '|' <"$dir/bt")" >&2
			elif [ "${worst[$m]}" != none ] && [ "$us" -gt "${worst[$m]}" ]; then
				worst[$m]=$us
			fi
			# idle_prog's own report of this attach: the watcher's part.
			e=
			[ "$(grep -c '^ENABLED' "$dir/out")" -gt "$seen" ] &&
				e=$(grep '^ENABLED' "$dir/out" | tail -n 1 | sed 's/.*=//')
			seen=$(grep -c '^ENABLED' "$dir/out")
			if [ -n "$e" ] && awk -v a="$e" -v b="${cb[$m]:--1}" 'BEGIN { exit !(a > b) }'; then
				cb[$m]=$e
			fi
			sleep 3.5 # the watcher's burst after the tracer's open is over
		done
		for m in path pid; do
			[ "${worst[$m]}" = none ] && continue
			echo "BENCH $who.attach_first_event_ms_by_$m $(awk -v u="${worst[$m]}" 'BEGIN { printf "%.1f", u / 1000 }') ms"
		done
		for m in path pid; do
			[ -n "${cb[$m]:-}" ] && echo "BENCH $who.sema_to_callback_ms_by_$m ${cb[$m]} ms"
		done
	fi
	idle_stop
}

if [ -x "$prog" ]; then
	bench c.floor "" sh -c 'echo READY -; exec sleep 60'
	bench c.direct 'usdt:IMG:idlec:hit /arg0 == 4242/' "$prog" direct
	bench c.watched 'usdt:IMG:idlec:hit /arg0 == 4242/' "$prog"
	r=$("$prog" fallback 5)
	r=${r#*max_ms=}
	echo "BENCH c.watched.fallback_max_ms ${r%% *} ms"
fi
py=python3
bench python.floor "" scripts/with-python $py python3 -u "$dir/plain.py"
bench python.fbt 'usdt:IMG:*:idle_leaf__entry' scripts/with-python $py python3 -u tests/python/idle_prog.py fbt
bench python.runtime \
	'usdt:IMG:python:function__entry /str(arg1) == "idle_leaf" || str(arg2) == "idle_leaf"/' \
	scripts/with-python $py python3 -u tests/python/idle_prog.py runtime
if [ -f "$BUILD/node/usdt.node" ] && command -v node >/dev/null; then
	export USDT_NODE_ADDON=$PWD/$BUILD/node/usdt.node
	bench node.floor "" node "$NODE_CHILD" plain "$PWD/node-ext"
	bench node.runtime 'usdt:IMG:node:gc__start /arg1 == 4/' \
		node --expose-gc -r ./node-ext/lib/runtime.js "$NODE_CHILD" runtime "$PWD/node-ext"
	bench node.watch 'usdt:IMG:idlew:hit /arg0 == 4242/' node "$NODE_CHILD" watch "$PWD/node-ext"
	bench node.dtp 'usdt:IMG:idledtp:hit /arg0 == 4242/' node "$NODE_CHILD" dtp "$PWD/node-ext"
fi
