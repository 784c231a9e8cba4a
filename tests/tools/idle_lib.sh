# idle_lib.sh - sourced by tests/libusdt/idle_test.sh and bench/idle_bench.sh:
# start a process that goes idle, measure it, then time a real bpftrace from
# attached (its BEGIN) to the first event, read by a marker of our own.

# idle_start DIR COMMAND...: run COMMAND with stdin from a fifo (fd 7 writes
# to it) until it prints READY; sets IDLE_PID and IDLE_LINE (that line).
idle_start() {
	local d=$1
	shift
	rm -f "$d/in"
	mkfifo "$d/in"
	"$@" <"$d/in" >"$d/out" 2>"$d/err" &
	IDLE_PID=$!
	exec 7>"$d/in"
	IDLE_LINE=
	for _ in $(seq 300); do
		IDLE_LINE=$(grep -m1 '^READY' "$d/out") && break
		kill -0 "$IDLE_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$IDLE_LINE" ]
}

# idle_go: tell the process to start its loop of calls (a line on stdin).
idle_go() { echo go >&7; }

idle_stop() {
	exec 7>&-
	kill "$IDLE_PID" 2>/dev/null
	wait "$IDLE_PID" 2>/dev/null
}

# idle_first_us DIR CLAUSE [bpftrace options...]: start bpftrace with CLAUSE
# (a probe and its predicate: only the marked events count) and print the
# microseconds from its BEGIN, which runs once every probe is attached, to
# the first event; nothing if none came within 10 s. bpftrace's output is
# left in DIR/bt.
idle_first_us() {
	local d=$1 clause=$2
	shift 2
	: >"$d/bt"
	timeout -k 5 30 bpftrace "$@" -e "BEGIN { @t = nsecs; printf(\"READY\\n\"); }
		$clause { printf(\"FIRST %d\\n\", (nsecs - @t) / 1000); exit(); }" >"$d/bt" 2>&1 &
	local bt=$! i
	for ((i = 0; i < 1500; i++)); do # its start, bounded by timeout
		grep -q '^READY' "$d/bt" && break
		kill -0 $bt 2>/dev/null || break
		sleep 0.02
	done
	for ((i = 0; i < 500; i++)); do
		grep -q '^FIRST ' "$d/bt" && break
		kill -0 $bt 2>/dev/null || break
		sleep 0.02
	done
	kill -INT $bt 2>/dev/null
	wait $bt 2>/dev/null
	grep -m1 '^FIRST ' "$d/bt" | cut -d' ' -f2
}
