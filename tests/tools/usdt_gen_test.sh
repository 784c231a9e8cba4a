#!/usr/bin/env bash
# usdt_gen_test.sh - usdt-gen turns a .d file into a header of static probes:
# it compiles as C and C++, the notes carry the declared sizes and signedness,
# arguments are evaluated only while traced, bpftrace reads every type
# exactly, and bad files give file:line:col errors.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
gen=$BUILD/bin/usdt-gen
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
T=usdt_gen_test.sh
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-700)"; }

cat >"$tmp/gent.d" <<'D'
#pragma D attributes Evolving/Evolving/Common provider gent provider
provider gent {
	probe small(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f);
	probe wide(int64_t a, uint64_t b, char *s, long c, unsigned char d, void *p);
	probe side__effect(int n);
	probe nothing();
	/* C and C++ comments, and every other type the parser knows */
	probe edges(int64_t max, int64_t min, uint64_t umax, int8_t m1, const char *s, string t); // end
	probe rest1(short a, unsigned short b, long long c, unsigned long long d, size_t e, ssize_t f);
	probe rest2(pid_t, bool, uintptr_t, signed char, struct foo *, unsigned);
};
provider gent2 { probe other(int); };
D
cat >"$tmp/prog.c" <<'C'
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include "gent_probes.h"
struct foo { int x; };
static struct foo foo;
static int calls;
static int side(void) { return ++calls; }
int main(int argc, char **argv)
{
	const char *s = "h\xc3\xa9llo";
	puts(s); /* bpftrace cannot read a page the process never touched */
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	for (long i = 0; rounds ? i < rounds : calls < 3; i++) {
		/* Arguments wider than declared: the macros convert them. */
		GENT_SMALL(-1, 255, -32768, 65535, INT32_MIN, 4294967295u);
		GENT_WIDE(INT64_MIN, UINT64_MAX, s, -2L, 200, (void *)0x1234);
		GENT_SIDE_EFFECT(side());
		GENT_EDGES(INT64_MAX, INT64_MIN, UINT64_MAX, -1, "edge", s);
		GENT_REST1(-5, 65535, -7LL, ULLONG_MAX, (size_t)12345, (ssize_t)-1);
		GENT_REST2(getpid(), 256 /* bool: 1 */, (uintptr_t)0xfeed, -128, &foo, 4000000000u);
		GENT2_OTHER(7);
		GENT_NOTHING();
		if (GENT_NOTHING_ENABLED())
			usleep(1000);
		if (!rounds)
			usleep(2000);
	}
	printf("calls %d\n", calls);
	return 0;
}
C

if "$gen" -o "$tmp/gent_probes.h" "$tmp/gent.d" 2>"$tmp/err" &&
	cc -O2 -Wall -Wextra -Werror -I"$tmp" -Ilibusdt/include -x c "$tmp/prog.c" -o "$tmp/prog" 2>>"$tmp/err" &&
	c++ -O2 -Wall -Wextra -I"$tmp" -Ilibusdt/include -x c++ "$tmp/prog.c" -o "$tmp/prog_cc" 2>>"$tmp/err"; then
	pass header_compiles_as_c_and_cxx
else
	fail header_compiles_as_c_and_cxx "$(cat "$tmp/err")"
fi

# Note argument sizes: the declared ones, whatever was passed, in C and C++.
sizes() { readelf -n "$1" | awk -v p="$2" '/Name:/ { n = $2 } /Arguments:/ && n == p {
	s = ""; for (i = 2; i <= NF; i++) { split($i, a, "@"); s = s a[1] " " } print s; exit }'; }
ok=true
for bin in "$tmp/prog" "$tmp/prog_cc"; do
	got_small=$(sizes "$bin" small); got_wide=$(sizes "$bin" wide); got_side=$(sizes "$bin" side__effect)
	got_edges=$(sizes "$bin" edges); got_r1=$(sizes "$bin" rest1); got_r2=$(sizes "$bin" rest2)
	[ "$got_small" = "-1 1 -2 2 -4 4 " ] && [ "$got_wide" = "-8 8 8 -8 1 8 " ] && [ "$got_side" = "-4 " ] &&
		[ "$got_edges" = "-8 -8 8 -1 8 8 " ] && [ "$got_r1" = "-2 2 -8 8 8 -8 " ] && [ "$got_r2" = "-4 1 8 -1 8 4 " ] ||
		{ ok=false; fail notes_carry_declared_sizes_and_signedness "$bin: small '$got_small' wide '$got_wide' side '$got_side' edges '$got_edges' rest1 '$got_r1' rest2 '$got_r2'"; }
done
sema=$(readelf -n "$tmp/prog" | awk '/Name: small/ { getline; print $NF }')
sect=$(readelf -SW "$tmp/prog" | awk '$2 == ".probes" { print $2 }')
[ "$sema" != "0x0000000000000000" ] && [ "$sect" = .probes ] || { ok=false; fail notes_carry_declared_sizes_and_signedness "semaphore $sema section $sect"; }
$ok && pass notes_carry_declared_sizes_and_signedness

out=$("$tmp/prog" 1000 | tail -1)
[ "$out" = "calls 0" ] && pass untraced_probe_does_not_evaluate_its_arguments ||
	fail untraced_probe_does_not_evaluate_its_arguments "$out"

# Errors: the parser's message, prefixed, exit 1; nothing written.
printf 'provider x {\n  probe a(int)\n};\n' >"$tmp/bad.d"
out=$("$gen" -o "$tmp/bad.h" "$tmp/bad.d" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "usdt-gen: $tmp/bad.d:3:1: expected ';' after the probe declaration, found '}'" ] &&
	[ ! -e "$tmp/bad.h" ] && [ -z "$(ls "$tmp" | grep tmp)" ] && pass errors_name_file_line_column ||
	fail errors_name_file_line_column "exit $rc: $out"
printf 'provider p {\n  probe a__b();\n};\nprovider p__a { probe b(); };\n' >"$tmp/clash.d"
out=$("$gen" -o "$tmp/clash.h" "$tmp/clash.d" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "usdt-gen: $tmp/clash.d:4:23: probe p__a:b would be P_A_B, like p:a__b at line 2" ] &&
	[ ! -e "$tmp/clash.h" ] && pass probes_with_the_same_macro_are_refused ||
	fail probes_with_the_same_macro_are_refused "exit $rc: $out"
out=$("$gen" "$tmp/none.d" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "usdt-gen: $tmp/none.d: No such file or directory" ] &&
	"$gen" --check "$tmp/gent.d" && ! "$gen" >/dev/null 2>&1 && pass check_mode_and_usage ||
	fail check_mode_and_usage "exit $rc: $out"

# The shipped providers generate and compile.
ok=true
for d in providers/*.d; do
	n=$(basename "$d" .d)
	if ! "$gen" -o "$tmp/${n}_probes.h" "$d" 2>"$tmp/err" ||
		! printf '#include "%s_probes.h"\nint main(void){return 0;}\n' "$n" | cc -Wall -Werror -I"$tmp" -Ilibusdt/include -x c - -o /dev/null 2>>"$tmp/err"; then
		ok=false; fail shipped_providers_generate "$d: $(cat "$tmp/err")"
	fi
done
$ok && pass shipped_providers_generate

if ! command -v bpftrace >/dev/null; then
	if [ "${CI:-}" = true ]; then fail bpftrace_reads_every_type_exactly "bpftrace missing (CI)"
	else echo "SKIP $T:bpftrace_reads_every_type_exactly: bpftrace missing"; fi
	exit 0
fi
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
. tests/lib/bpftrace.sh
for bin in "$tmp/prog" "$tmp/prog_cc"; do
	bt_start -e 'BEGIN { printf("READY\n"); }
usdt:'"$bin"':gent:small /@s == 0/ { @s = 1; printf("S %d %u %d %u %d %u\n", arg0, arg1, arg2, arg3, arg4, arg5); }
usdt:'"$bin"':gent:wide /@w == 0/ { @w = 1; printf("W %ld %lu %s %ld %u %lx\n", arg0, arg1, str(arg2), arg3, arg4, arg5); }
usdt:'"$bin"':gent:side__effect { printf("E %d\n", arg0); }
usdt:'"$bin"':gent:nothing /@n == 0/ { @n = 1; printf("N\n"); }
usdt:'"$bin"':gent:edges /@e == 0/ { @e = 1; printf("X %ld %ld %lu %d %s %s\n", arg0, arg1, arg2, arg3, str(arg4), str(arg5)); }
usdt:'"$bin"':gent:rest1 /@r1 == 0/ { @r1 = 1; printf("R1 %d %u %ld %lu %lu %ld\n", arg0, arg1, arg2, arg3, arg4, arg5); }
usdt:'"$bin"':gent:rest2 /@r2 == 0/ { @r2 = 1; printf("R2 %d %u %lx %d %d %u\n", arg0 == pid, arg1, arg2, arg3, arg4 != 0, arg5); }
usdt:'"$bin"':gent2:other /@o == 0/ { @o = 1; printf("O %d\n", arg0); }'
	out=$(timeout 20 "$bin" 0 | tail -1)
	sleep 0.2; bt_stop; bt_events >"$tmp/ev"
	if grep -q '^S -1 255 -32768 65535 -2147483648 4294967295$' "$tmp/ev" &&
		grep -q $'^W -9223372036854775808 18446744073709551615 h\xc3\xa9llo -2 200 1234$' "$tmp/ev" &&
		[ "$(grep -c '^E 1$' "$tmp/ev")" = 1 ] && grep -q '^N$' "$tmp/ev" && [ "$out" = "calls 3" ] &&
		grep -q $'^X 9223372036854775807 -9223372036854775808 18446744073709551615 -1 edge h\xc3\xa9llo$' "$tmp/ev" &&
		grep -q '^R1 -5 65535 -7 18446744073709551615 12345 -1$' "$tmp/ev" &&
		grep -q '^R2 1 1 feed -128 1 4000000000$' "$tmp/ev" && grep -q '^O 7$' "$tmp/ev"; then
		pass "bpftrace_reads_every_type_exactly_$(basename "$bin")"
	else
		fail "bpftrace_reads_every_type_exactly_$(basename "$bin")" "program: $out; bpftrace: $(bt_output)"
	fi
done
