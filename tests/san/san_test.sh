#!/usr/bin/env bash
# san_test.sh - the C tests (fault and stress tests included) built with
# AddressSanitizer + UndefinedBehaviorSanitizer (make SANITIZE=1, into
# $BUILD-san) and run there; LeakSanitizer checks each test as it ends
# (testlib.h). Every result line is the test's own, prefixed "san:".
# SAN_SKIP: a regex of test binaries to leave out (none by default).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in *-san)
	echo "SKIP san_test.sh:build: $BUILD is already the sanitizer build"; exit 0 ;;
esac
san=${BUILD}-san
if ! make -s SANITIZE=1 BUILD="$san" lib tests $san/tests/fault/faults_test \
		>"$BUILD/san-build.log" 2>&1; then
	echo "FAIL san_test.sh:build: make SANITIZE=1 BUILD=$san failed (see $BUILD/san-build.log)"
	exit 1
fi
echo "PASS san_test.sh:build"
export USDT_DIR=$(mktemp -d /tmp/usdt-san.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export STRESS_SECONDS=${SAN_STRESS_SECONDS:-5}
for t in $(find "$san"/tests -type f -name '*_test' -perm -u+x | sort); do
	[[ -n ${SAN_SKIP:-} && $t =~ $SAN_SKIP ]] && continue
	out=$(timeout -k 10 600 "$t" 2>>"$BUILD/san-stderr.log"); rc=$?
	sed -e 's/^\(PASS\|FAIL\|SKIP\) /\1 san:/' <<<"$out" | grep -E '^(PASS|FAIL|SKIP) '
	if ! grep -qE '^(PASS|FAIL|SKIP) ' <<<"$out"; then
		echo "FAIL san:$(basename "$t"): produced no test result (exit $rc)"
	elif [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		echo "FAIL san:$(basename "$t"): exited $rc after its tests"
	fi
done
