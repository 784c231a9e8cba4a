#!/usr/bin/env bash
# minivm_test.sh - the interpreter example end to end: minivm runs Forth
# programs; bpftrace reads its static probes (generated from providers/vm.d)
# and the dynamic probes a program declares, and the values match what the
# program did.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
vm=$(realpath "$BUILD/examples/minivm")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
T=minivm_test.sh
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-600)"; }
skip_tracer() { # a tracer test without its tracer: a skip, a failure in CI
	if [ "${CI:-}" = true ]; then fail "$1" "bpftrace missing (CI)"; else echo "SKIP $T:$1: bpftrace missing"; fi
}
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

. tests/lib/bpftrace.sh

# --- without a tracer ---------------------------------------------------

cat >"$tmp/fib.fs" <<'FS'
: fib  dup 2 < if else dup 1 - fib swap 2 - fib + then ;
20 fib . cr
s" he" s" llo" concat type cr
FS
out=$("$vm" "$tmp/fib.fs" 2>&1)
[ "$out" = "$(printf '6765 \nhello')" ] && pass programs_run_and_print || fail programs_run_and_print "$out"

check_error() { # program, expected stderr
	printf '%b' "$1" >"$tmp/bad.fs"
	local out rc
	"$vm" "$tmp/bad.fs" >/dev/null 2>"$tmp/bad.err"; rc=$?; out=$(tail -1 "$tmp/bad.err")
	if [ $rc -ne 1 ] || [ "$out" != "minivm: $tmp/bad.fs:$2" ]; then
		fail errors_name_file_line_and_what_was_wrong "for '$1' got (exit $rc) '$out', want '$2'"
		return 1
	fi
}
errors_ok=false
check_error '1 2 +\n3 frob\n' "2: unknown word 'frob'" &&
check_error ': a 1 if 2 ;\n' "1: unclosed if/begin/times in a" &&
check_error '\n\nthen\n' "3: 'then' without 'if'" &&
check_error 's" open\n' "1: string is never closed" &&
check_error 'probe p int64 float\n' "1: probe p: unknown type 'float' (int64, uint64, int32, uint32, string)" &&
check_error 'fire nothing\n' "1: fire: no probe 'nothing' declared" &&
check_error 'probe p string\n5 fire p\n' "2: fire p: argument 1 must be a string" &&
check_error 'probe p string\nfire p\n' "2: fire p: needs 1 arguments, the stack has 0" &&
errors_ok=true
# A bad probe name: the message comes from libusdt's name check; only its prefix is fixed here.
printf 'probe bad-name int64\n' >"$tmp/bad.fs"
out=$("$vm" "$tmp/bad.fs" 2>&1 | tail -1)
case $out in "minivm: $tmp/bad.fs:1: probe bad-name: "*) $errors_ok && pass errors_name_file_line_and_what_was_wrong ;;
	*) fail errors_name_file_line_and_what_was_wrong "bad probe name: $out" ;; esac
out=$("$vm" "$tmp/missing.fs" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "minivm: $tmp/missing.fs: No such file or directory" ] &&
	pass missing_file_is_reported || fail missing_file_is_reported "exit $rc: $out"

if ! command -v bpftrace >/dev/null; then
	for t in probes_are_listed function_entry_and_return_carry_name_file_line \
		gc_and_heap_probes_report_what_happened program_declared_probes_fire_with_values \
		error_probe_fires_with_the_message; do skip_tracer $t; done
	exit 0
fi

# --- with bpftrace ------------------------------------------------------

listed=$(bpftrace -l "usdt:$vm:vm:*" 2>&1)
want="function__entry function__return gc__start gc__done object__alloc object__free error"
missing=""
for p in $want; do grep -q ":vm:$p\$" <<<"$listed" || missing="$missing $p"; done
[ -z "$missing" ] && pass probes_are_listed || fail probes_are_listed "missing:$missing in $listed"

# Attached by path before the interpreter starts: semaphores are raised as it maps.
cat >"$tmp/calls.fs" <<'FS'
: sq  dup * ;
: sum-squares  0 swap times i sq + loop ;
10 sum-squares . cr
FS
if bt_start -e 'BEGIN { printf("READY\n"); }
usdt:'"$vm"':vm:function__entry { printf("E %s %s %d\n", str(arg0), str(arg1), arg2); }
usdt:'"$vm"':vm:function__return { printf("R %s %s %d\n", str(arg0), str(arg1), arg2); }'; then
	out=$("$vm" "$tmp/calls.fs" 2>&1)
	sleep 0.3; bt_stop; bt_events >"$tmp/ev"
	e_sq=$(grep -c "^E sq $tmp/calls.fs 1\$" "$tmp/ev")
	r_sq=$(grep -c "^R sq $tmp/calls.fs 1\$" "$tmp/ev")
	e_ss=$(grep -c "^E sum-squares $tmp/calls.fs 2\$" "$tmp/ev")
	r_ss=$(grep -c "^R sum-squares $tmp/calls.fs 2\$" "$tmp/ev")
	order=$(grep -E '^[ER] ' "$tmp/ev" | head -3 | cut -d' ' -f1,2 | tr '\n' ,)
	if [ "$out" = "285 " ] && [ "$e_sq$r_sq$e_ss$r_ss" = 101011 ] && [ "$order" = "E sum-squares,E sq,R sq," ]; then
		pass function_entry_and_return_carry_name_file_line
	else
		fail function_entry_and_return_carry_name_file_line "out '$out' counts $e_sq/$r_sq/$e_ss/$r_ss order $order: $(bt_output)"
	fi
else
	fail function_entry_and_return_carry_name_file_line "bpftrace did not attach: $(bt_output)"
fi

# 30 strings of known size made, 20 dropped, one collection.
cat >"$tmp/gc.fs" <<'FS'
: junk  s" ab" s" cd" concat drop ;
: keep  s" xy" s" z" concat ;
20 times junk loop
10 times keep loop
gc
FS
if bt_start -e 'BEGIN { printf("READY\n"); }
usdt:'"$vm"':vm:object__alloc { @a[str(arg0), arg1] = count(); }
usdt:'"$vm"':vm:object__free { @f[str(arg0), arg1] = count(); }
usdt:'"$vm"':vm:gc__start { printf("S %lu\n", arg0); }
usdt:'"$vm"':vm:gc__done { printf("D %lu %lu\n", arg0, arg1); }'; then
	"$vm" "$tmp/gc.fs" >/dev/null 2>&1
	sleep 0.3; bt_stop; bt_events >"$tmp/ev"
	# Object size = header (24 bytes on x86-64) + text + NUL.
	hdr=24
	want_s="S $((20 * (hdr + 5) + 10 * (hdr + 4)))"
	want_d="D 20 $((10 * (hdr + 4)))"
	if [ "$(grep -c "^$want_s\$" "$tmp/ev")" = 1 ] && [ "$(grep -c "^$want_d\$" "$tmp/ev")" = 1 ] &&
		grep -q "^@a\[string, $((hdr + 5))\]: 20\$" "$tmp/ev" &&
		grep -q "^@a\[string, $((hdr + 4))\]: 10\$" "$tmp/ev" &&
		grep -q "^@f\[string, $((hdr + 5))\]: 20\$" "$tmp/ev"; then
		pass gc_and_heap_probes_report_what_happened
	else
		fail gc_and_heap_probes_report_what_happened "want '$want_s' '$want_d': $(bt_output)"
	fi
else
	fail gc_and_heap_probes_report_what_happened "bpftrace did not attach: $(bt_output)"
fi

# The program's own provider: declared in Forth, loaded at start, traced by pid.
cat >"$tmp/app.fs" <<'FS'
provider vmtest
probe tick int64 string uint64
: name  2 mod 0 = if s" even" else s" odd" then ;
0 begin
	dup dup name over 1000 * fire tick
	1 + 5 sleep
	dup 2000 =
until drop
FS
"$vm" "$tmp/app.fs" >/dev/null 2>"$tmp/app.err" &
app=$!
for _ in $(seq 100); do grep -q provider "$tmp/app.err" && break; sleep 0.05; done
image=$(sed -n 's/.* at //p' "$tmp/app.err")
if [ -n "$image" ] && bt_start -p $app -e 'BEGIN { printf("READY\n"); }
usdt:'"$(bt_pid_path $app "$image")"':vmtest:tick /arg0 % 2 == 1/ { printf("T %ld %s %lu\n", arg0, str(arg1), arg2); @n++; if (@n == 5) { exit(); } }'; then
	wait $bt 2>/dev/null; bt_events >"$tmp/ev"
	bad=$(grep '^T ' "$tmp/ev" | awk '$3 != "odd" || $4 != $2 * 1000' | head -3)
	n=$(grep -c '^T ' "$tmp/ev")
	# Five different ticks: one attached twice would print each tick twice.
	distinct=$(grep '^T ' "$tmp/ev" | sort -u | wc -l)
	[ "$n" -eq 5 ] && [ "$distinct" -eq 5 ] && [ -z "$bad" ] && pass program_declared_probes_fire_with_values ||
		fail program_declared_probes_fire_with_values "$n events ($distinct distinct), bad: $bad: $(bt_output)"
else
	fail program_declared_probes_fire_with_values "image '$image': $(cat "$tmp/app.err"; bt_output)"
fi
kill $app 2>/dev/null; wait $app 2>/dev/null

printf ': half  2 / ;\n: oops  0 half 1 swap / ;\n\noops\n' >"$tmp/err.fs"
if bt_start -e 'BEGIN { printf("READY\n"); }
usdt:'"$vm"':vm:error { printf("X %s|%s|%d\n", str(arg0), str(arg1), arg2); }'; then
	"$vm" "$tmp/err.fs" >/dev/null 2>&1
	sleep 0.3; bt_stop; bt_events >"$tmp/ev"
	[ "$(grep -c "^X /: division of 1 by 0|$tmp/err.fs|2\$" "$tmp/ev")" = 1 ] && pass error_probe_fires_with_the_message ||
		fail error_probe_fires_with_the_message "$(bt_output)"
else
	fail error_probe_fires_with_the_message "bpftrace did not attach: $(bt_output)"
fi
