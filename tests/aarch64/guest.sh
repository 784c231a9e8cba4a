#!/usr/bin/env bash
# guest.sh - the arm64 full-system level, run inside Debian's arm64 kernel
# under qemu-system-aarch64 (tests/aarch64/run-system boots it with this tree
# at /src). Real bpftrace on a real arm64 kernel:
#   - the C tests the user-mode level deferred because they need a tracer
#     (every argument type by pid and by path, twelve arguments, extremes,
#     strings, semaphores rising and falling, meta probes, static probes)
#   - static probes from a .d file (usdt-gen), traced by path
#   - the Python extension on Debian's arm64 python3: a dynamic provider with
#     every type, an @fbt function, the runtime `python` probes
# Prints "PASS aarch64-system:<name>" / "FAIL ..." / "SKIP ..." lines.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_A64:-build-a64}
export USDT_DIR=$(mktemp -d /tmp/usdt-vm.XXXXXX)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp" "$USDT_DIR"' EXIT
P=aarch64-system
# Under TCG a tracer takes tens of seconds to start: the C tests scale their
# waits (tests/lib/tracer.h) and get more time per case.
export USDT_TEST_TIME_SCALE=${USDT_TEST_TIME_SCALE:-30} USDT_TEST_CASE_TIMEOUT=1200
pass() { echo "PASS $P:$1"; }
fail() { echo "FAIL $P:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-900)"; }
check() { # name, condition-command, why
	if eval "$2"; then pass "$1"; else fail "$1" "$3"; fi
}

# Where we are: an arm64 kernel with uprobes, bpftrace there.
pagesize=$(python3 -c 'import os; print(os.sysconf("SC_PAGE_SIZE"))')
check kernel_is_arm64_with_uprobes \
	'[ "$(uname -m)" = aarch64 ] && [ -e /sys/kernel/tracing/uprobe_events ] && command -v bpftrace >/dev/null' \
	"uname -m: $(uname -m), uprobe_events or bpftrace missing"
echo "# $(uname -sr), page size $pagesize, $(bpftrace --version)"

# Wait (up to $2 s) until file $1 contains the extended regex $3.
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do grep -qE "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# The "sema N" lines of program output $1 on one line.
semas() { grep -E '^sema' "$1" | tr '\n' ' '; }
# Wait (up to $2 s) until they read "sema 0 sema 1 sema 0 ".
wait_rise_fall() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do [ "$(semas "$1")" = "sema 0 sema 1 sema 0 " ] && return 0; sleep 0.1; done
	return 1
}

# 1. The C tests the user-mode level deferred, each run by name.
deferred=$B/deferred-tests.txt
if [ ! -s "$deferred" ]; then
	fail deferred_c_tests "no $deferred: run tests/aarch64/usermode_test.sh first"
else
	while IFS=: read -r file test; do
		bin=$(find "$B/tests" -type f -name "${file%.c}" | head -n 1)
		[ -n "$bin" ] || { fail "$file:$test" "no binary for $file"; continue; }
		out=$(timeout -k 5 600 "$bin" "$test" 2>>"$tmp/c-stderr")
		line=$(printf '%s\n' "$out" | grep -E "^(PASS|FAIL|SKIP) $file:$test(:|$)")
		if [ -n "$line" ]; then
			printf '%s\n' "$line" | sed -E "s/^(PASS|FAIL|SKIP) /\1 $P:/"
		else
			fail "$file:$test" "no result (stderr: $(tail -c 300 "$tmp/c-stderr"))"
		fi
	done <"$deferred"
fi

# 2. Static probes from a .d file (usdt-gen), traced by path, no pid.
sdt=$B/aarch64/sdt_d
"$sdt" >"$tmp/sdt.out" 2>&1 &
sdt_pid=$!
wait_for "$tmp/sdt.out" 10 '^sema 0$'
bpftrace -e "usdt:$PWD/$sdt:a64sdt:eight { printf(\"E %d %u %d %u %d %u %s %ld\\n\",
	arg0, arg1, arg2, arg3, arg4, arg5, str(arg6), arg7); exit(); }
	usdt:$PWD/$sdt:a64sdt:tick { @ticks = count(); }" >"$tmp/sdt.bt" 2>&1 &
bt=$!
timeout 600 tail --pid=$bt -f /dev/null
kill $bt 2>/dev/null
want="E -128 255 -32768 65535 -2147483648 4294967295 h\xc3\xa9llo arm64 -9223372036854775808"
check static_d_probe_eight_arguments_extremes_and_string_by_path \
	'grep -qF "$(printf "$want")" "$tmp/sdt.bt"' "bpftrace: $(cat "$tmp/sdt.bt")"
check static_d_semaphore_rises_on_attach_and_falls_on_detach 'wait_rise_fall "$tmp/sdt.out" 10' \
	"program saw: $(semas "$tmp/sdt.out")"
# All twelve through gdb, which reads every operand form of the note.
timeout 300 gdb -q -nx -batch -p $sdt_pid -ex 'break -probe-stap a64sdt:twelve' -ex continue \
	-ex 'printf "G %d %u %d %u %d %u %ld %lu %s %ld %lu %d\n", $_probe_arg0, $_probe_arg1, $_probe_arg2, $_probe_arg3, $_probe_arg4, $_probe_arg5, $_probe_arg6, $_probe_arg7, $_probe_arg8, $_probe_arg9, $_probe_arg10, $_probe_arg11' \
	>"$tmp/sdt.gdb" 2>&1
want="G -128 255 -32768 65535 -2147483648 4294967295 -9223372036854775808 18446744073709551615 h\xc3\xa9llo arm64 -2 18446744073709551615 2147483647"
check static_d_probe_twelve_arguments_read_by_gdb \
	'grep -qF "$(printf "$want")" "$tmp/sdt.gdb"' "gdb: $(grep -v '^\[' "$tmp/sdt.gdb" | tail -n 8)"
kill $sdt_pid 2>/dev/null

# 3. The Python extension on Debian's arm64 python3.
PYTHONPATH=$PWD/python-ext:$PWD/$B/python python3 -u tests/aarch64/guest_py.py >"$tmp/py.out" 2>&1 &
py=$!
if ! wait_for "$tmp/py.out" 60 '^sema 0$'; then
	fail python_extension_loads "$(cat "$tmp/py.out")"
else
	pass python_extension_loads
	set -- $(grep '^PATHS ' "$tmp/py.out")
	prov=$2 fbtp=$3 rt=$4
	pyexe=$(readlink -f /proc/$py/exe)
	bpftrace -p $py -e "
	usdt:$prov:pya64:every /@e == 0/ { @e = 1; printf(\"E %d %d %d %ld %u %u %u %lu\\n\",
		arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7); }
	usdt:$prov:pya64:texts /@t == 0/ { @t = 1; printf(\"T %s %s %ld %ld\\n\",
		str(arg0), str(arg1), arg2, arg3); }
	usdt:$fbtp:pya64fbt:work__entry /@f == 0/ { @f = 1; printf(\"F %s %s %d %s\\n\",
		str(arg1), str(arg0), arg3, str(arg4)); }
	usdt:$rt:python:instance__new__start /@i == 0 && str(arg0) == \"Widget\"/ { @i = 1;
		printf(\"I %s %s\\n\", str(arg0), str(arg1)); }
	usdt:$pyexe:python:function__entry /@g == 0 && str(arg1) == \"work\"/ { @g = 1;
		printf(\"G %s %d\\n\", str(arg1), arg2); }
	interval:ms:200 { if (@e && @t && @f && @i && @g) { exit(); } }" >"$tmp/py.bt" 2>&1 &
	bt=$!
	timeout 900 tail --pid=$bt -f /dev/null
	kill -INT $bt 2>/dev/null; sleep 2; kill $bt 2>/dev/null
	out=$(cat "$tmp/py.bt")
	sed 's/^/# py.bt: /' "$tmp/py.bt" | head -n 20
	sed 's/^/# py.out: /' "$tmp/py.out" | head -n 20
	want="E -128 -32768 -2147483648 -9223372036854775808 255 65535 4294967295 18446744073709551615"
	check python_dynamic_probe_every_integer_type_at_its_extremes_by_pid \
		'grep -qxF "$want" <<<"$out"' "bpftrace: $out"
	want="T h\xc3\xa9llo arm64 raw bytes 9223372036854775807 -1"
	check python_dynamic_probe_str_bytes_and_int_by_pid \
		'grep -qxF "$(printf "$want")" <<<"$out"' "bpftrace: $out"
	check python_fbt_entry_carries_name_module_and_args \
		"grep -qE '^F work __main__ [0-9]+ n=21, tag=.x.\$' <<<\"\$out\"" "bpftrace: $out"
	check python_runtime_instance_probe_names_the_class \
		"grep -qE '^I Widget __main__\$' <<<\"\$out\"" "bpftrace: $out"
	check python_interpreters_own_function_entry_fires_while_traced \
		"grep -qE '^G work [0-9]+\$' <<<\"\$out\"" "bpftrace: $out"
	check python_semaphore_rises_and_falls 'wait_rise_fall "$tmp/py.out" 10' \
		"program saw: $(semas "$tmp/py.out")"
fi
kill $py 2>/dev/null
exit 0
