#!/usr/bin/env bash
# usermode_test.sh - libusdt on 64-bit Arm, first level: cross-built with
# Debian's gcc-aarch64-linux-gnu against arm64 multiarch libraries, every C
# test binary run under user-mode emulation (qemu-aarch64-static).
#
# A host tracer cannot trace emulated code (it would patch an x86 trap into
# arm64 instructions), so tests that need one run with USDT_TEST_NO_TRACER=1
# and say "DEFER": they are listed here, not counted, and run for real by
# the full-system level (tests/aarch64/run-system, `make test-aarch64`).
# Results: "PASS aarch64-user:<file>:<test>" and so on, one per C test.
set -u
cd "$(dirname "$0")/../.."
BUILD_A64=${BUILD_A64:-build-a64}
CROSS=${CROSS:-aarch64-linux-gnu-}
ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
missing=
command -v "${CROSS}gcc" >/dev/null || missing+=" ${CROSS}gcc (gcc-aarch64-linux-gnu)"
command -v qemu-aarch64-static >/dev/null || missing+=" qemu-aarch64-static (qemu-user-static)"
[ -e /lib/ld-linux-aarch64.so.1 ] || missing+=" /lib/ld-linux-aarch64.so.1 (libc6:arm64)"
[ -e /usr/lib/aarch64-linux-gnu/libelf.so.1 ] || missing+=" libelf.so.1 (libelf1:arm64)"
if [ -n "$missing" ]; then
	if ci; then echo "FAIL aarch64-user:setup: missing$missing (scripts/setup-deps installs them)"
	else echo "SKIP aarch64-user:setup: missing$missing (scripts/setup-deps installs them)"; fi
	exit 0
fi
log=$BUILD_A64/usermode-build.log
mkdir -p "$BUILD_A64"
# The arm64 build: the same Makefile, another compiler and build directory.
if ! make -s CC="${CROSS}gcc" AR="${CROSS}ar" BUILD="$BUILD_A64" lib tools tests >"$log" 2>&1; then
	echo "FAIL aarch64-user:cross_build: make failed (see $log): $(grep -m1 -E 'error|Error' "$log")"
	exit 0
fi
echo "PASS aarch64-user:cross_build"
# The binaries really are arm64 (not a host build that happened to pass).
bad=$(for t in $(find "$BUILD_A64"/tests -type f -name '*_test' -perm -u+x); do
	readelf -h "$t" | grep -q 'Machine:.*AArch64' || echo "$t"; done)
if [ -z "$bad" ]; then echo "PASS aarch64-user:binaries_are_aarch64"
else echo "FAIL aarch64-user:binaries_are_aarch64: not AArch64: $bad"; fi

# Test libraries the tests compile are built by the cross compiler too; the
# loader and libraries come from the arm64 multiarch packages under /.
export USDT_TEST_NO_TRACER=1 USDT_TEST_CC="${CROSS}gcc"
export USDT_TEST_CASE_TIMEOUT=${USDT_TEST_CASE_TIMEOUT:-300}
deferred=0
# The deferred tests, "file.c:test" a line, for the full-system level.
list=$BUILD_A64/deferred-tests.txt
: >"$list.new"
for t in $(find "$BUILD_A64"/tests -type f -name '*_test' -perm -u+x | sort); do
	out=$(timeout -k 10 1200 qemu-aarch64-static "$t" 2>>"$BUILD_A64/usermode-stderr.log"); rc=$?
	n=$(printf '%s\n' "$out" | grep -cE '^(PASS|FAIL|SKIP|DEFER) ')
	printf '%s\n' "$out" | sed -nE 's/^(PASS|FAIL|SKIP) /\1 aarch64-user:/p'
	d=$(printf '%s\n' "$out" | grep -c '^DEFER ')
	deferred=$((deferred + d))
	printf '%s\n' "$out" | sed -n 's/^DEFER /# deferred to the full-system level: /p'
	printf '%s\n' "$out" | sed -nE 's/^DEFER ([^:]+):([^:]+):.*/\1:\2/p' >>"$list.new"
	if [ "$n" -eq 0 ]; then
		echo "FAIL aarch64-user:$(basename "$t"): produced no test result (exit $rc)"
	elif [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
		echo "FAIL aarch64-user:$(basename "$t"): exited $rc after its tests"
	fi
done
mv "$list.new" "$list"
echo "# aarch64-user: $deferred tests need a tracer or the real kernel and are left for the full-system level"
