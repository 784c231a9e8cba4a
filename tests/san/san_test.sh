#!/usr/bin/env bash
# san_test.sh - the C tests (fault and stress tests included) built with
# AddressSanitizer + UndefinedBehaviorSanitizer (make SANITIZE=1, into
# $BUILD-san) and run there; LeakSanitizer checks each test as it ends
# (testlib.h). Then the Python extension built with the same sanitizers,
# loaded into python3 with libasan preloaded (leak checks off: the
# interpreter itself is not built for them): stress_py.py and, unless
# SAN_PYTHON_TESTS=0, tests/python. Every result line is the test's own,
# prefixed "san:".
# SAN_SKIP: a regex of test binaries to leave out (none by default).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in *-san)
	echo "SKIP san_test.sh:build: $BUILD is already the sanitizer build"; exit 0 ;;
esac
san=${BUILD}-san
if ! make -s SANITIZE=1 BUILD="$san" lib tools tests $san/tests/fault/faults_test \
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

# The Python extension under ASan+UBSan.
if [ -d python-ext ] && [ "${SAN_PYTHON:-1}" = 1 ]; then
	asan="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
	pyrun() { # script args...
		CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" BUILD=$san \
		scripts/with-python python3 env LD_PRELOAD="$asan" \
			ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$@" 2>>"$BUILD/san-stderr.log"
	}
	out=$(STRESS_SECONDS=5 pyrun python3 tests/stress/stress_py.py); rc=$?
	sed -e 's/^\(PASS\|FAIL\|SKIP\) /\1 san:/' <<<"$out" | grep -E '^(PASS|FAIL|SKIP) '
	grep -qE '^(PASS|FAIL|SKIP) ' <<<"$out" && [ $rc -eq 0 ] ||
		echo "FAIL san:stress_py.py: exit $rc (see $BUILD/san-stderr.log)"
	if [ "${SAN_PYTHON_TESTS:-1}" = 1 ] && [ -f tests/python/runner.py ]; then
		out=$(pyrun python3 tests/python/runner.py); rc=$?
		sed -e 's/^\(PASS\|FAIL\|SKIP\) /\1 san:/' <<<"$out" | grep -E '^(PASS|FAIL|SKIP) '
		grep -qE '^(PASS|FAIL|SKIP) ' <<<"$out" && [ $rc -eq 0 ] ||
			grep -q '^FAIL ' <<<"$out" ||
			echo "FAIL san:python: exit $rc (see $BUILD/san-stderr.log)"
	fi
fi
