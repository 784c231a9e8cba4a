#!/usr/bin/env bash
# idle_test.sh - a process with a watched C provider (usdt_provider_watch),
# idle and untraced, wakes about once a second (libusdt's fallback poll), its
# watcher thread asleep; and bpftrace attached right after the silence, by
# path and by pid, gets the first event, which the program fires only once
# its watch callback has run. tests/tools/idle_prog.c is the process. About
# 10 s.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
. tests/tools/idle_lib.sh
T=idle_test.sh
MAX_WAKEUPS_PER_S=3 # the fallback poll is 1 a second
tmp=$(mktemp -d /tmp/usdt-idle.XXXXXX)
export USDT_DIR=$tmp/img
mkdir -m 700 "$USDT_DIR"
trap 'idle_stop; rm -rf "$tmp"' EXIT
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
prog=$BUILD/tests/tools/idle_prog
if [ ! -x "$prog" ]; then
	echo "FAIL $T:built: $prog missing (make tests)"
	exit 0
fi

for mode in path pid; do
	name=watched_c_provider_sleeps_while_untraced_then_bpftrace_by_${mode}_gets_the_first_event
	if ! command -v bpftrace >/dev/null || [ "$(id -u)" != 0 ]; then
		if [ "${CI:-}" = true ]; then echo "FAIL $T:$name: bpftrace unavailable (CI)"
		else echo "SKIP $T:$name: bpftrace unavailable (needs root)"; fi
		continue
	fi
	if ! idle_start "$tmp" "$prog"; then
		echo "FAIL $T:$name: no READY: $(cat "$tmp/out" "$tmp/err" | tr '\n' '|')"
		continue
	fi
	img=${IDLE_LINE#READY }
	sleep 0.5 # past the load's kick
	read -r _ w c n < <(python3 tests/tools/idle_cost.py "$IDLE_PID" 4)
	w=${w#*=} n=${n#*=}
	# Every thread asleep at the end of the silence (state S).
	running=$(for s in /proc/"$IDLE_PID"/task/*/stat; do
		sed 's/.*) //' "$s" | cut -d' ' -f1; done | grep -vc '^S$')
	opts=()
	[ $mode = pid ] && opts=(-p "$IDLE_PID")
	idle_go
	us=$(idle_first_us "$tmp" "usdt:$img:idlec:hit /arg0 == 4242/" "${opts[@]}")
	idle_stop
	if [ -z "$w" ] || awk -v w="$w" -v m=$MAX_WAKEUPS_PER_S 'BEGIN { exit !(w > m) }'; then
		echo "FAIL $T:$name: ${w:-?} wakeups/s idle (at most $MAX_WAKEUPS_PER_S)"
	elif [ "$n" != 2 ] || [ "$running" != 0 ]; then
		echo "FAIL $T:$name: $n threads, $running not asleep (want the program's and the watcher, asleep)"
	elif [ -z "$us" ]; then
		echo "FAIL $T:$name: no event in 10 s after attaching: $(tr '\n' '|' <"$tmp/bt")"
	else
		echo "PASS $T:$name"
	fi
done
