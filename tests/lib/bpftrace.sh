# tests/lib/bpftrace.sh - sourced by shell tests that drive bpftrace, so they
# hold on every bpftrace from 0.17 to 0.27. Needs $tmp (a private directory).
#
# Events are read from stdout after our own READY line (BEGIN prints it once
# every probe is attached); stderr goes apart, to $tmp/bt.err: 0.17 prints
# "Attaching N probes...", 0.27 "Attached N probes" and WARNING lines, none
# of them an event.

# bt_start ARGS...: bpftrace ARGS in the background ($bt its pid), stdout in
# $tmp/bt.out; returns once READY is there, or fails after 20 s or if it
# exited. The script must print READY from BEGIN.
bt_start() {
	bpftrace "$@" >"$tmp/bt.out" 2>"$tmp/bt.err" &
	bt=$!
	for _ in $(seq 400); do
		grep -q '^READY$' "$tmp/bt.out" 2>/dev/null && return 0
		kill -0 $bt 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# bt_stop: SIGINT (bpftrace prints its maps and exits), again every second,
# for 10 s. A job started with & by a non-interactive shell starts with SIGINT
# ignored, and bpftrace installs its handler only around the time BEGIN's
# output appears (0.17: READY is read one 5 ms poll before the handler is in;
# 0.27: about the same poll), so under load a SIGINT soon after READY can be
# ignored and bpftrace runs on (seen twice in about 15 runs of
# minivm_test.sh on 0.27): the next one lands. One that stays anyway is
# killed and the reason goes to bt.err, so the test fails saying so instead
# of hanging until tests/run's timeout.
bt_stop() {
	for i in $(seq 100); do
		[ $((i % 10)) = 1 ] && kill -INT $bt 2>/dev/null
		kill -0 $bt 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $bt 2>/dev/null; then
		kill -KILL $bt 2>/dev/null
		echo "bt_stop: bpftrace did not exit within 10 s of SIGINT, sent every second (killed)" >>"$tmp/bt.err"
	fi
	wait $bt 2>/dev/null
}

# bt_events: what bpftrace printed after READY.
bt_events() { sed -n '/^READY$/,$p' "$tmp/bt.out" | tail -n +2; }

# bt_output: everything, for failure messages.
bt_output() { cat "$tmp/bt.out" "$tmp/bt.err" 2>/dev/null; }

# bt_pid_path PID PATH: the path to name with -p PID for a file the process
# maps. The plain path with -p attaches twice on bpftrace 0.25+ (it and the
# /proc/PID/root form both match); /proc/PID/root/PATH attaches once on
# every version. A memfd image's /proc/PID/fd/N is named as it is.
bt_pid_path() {
	case $2 in
	/proc/[0-9]*/fd/[0-9]*) echo "$2" ;;
	*) echo "/proc/$1/root$2" ;;
	esac
}
