#!/usr/bin/env bash
# fuzz_test.sh - a short libFuzzer run of every target (FUZZ_TEST_SECONDS,
# default 20 s each) from its seed corpus: PASS when no crash, leak, timeout
# or out-of-memory was found. The long run is `make fuzz`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${FUZZ_TEST_SECONDS:-20}
work=$(mktemp -d /tmp/usdt-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Built here if make did not (clang may have come with setup-deps after the
# Makefile was read). CI must fuzz: there a missing clang is a failure.
if command -v "${FUZZ_CC:-clang}" >/dev/null; then
	make -s BUILD="$BUILD" fuzz-build >"$work/build.log" 2>&1 ||
		{ echo "FAIL fuzz_test.sh:build: $(tail -n 3 "$work/build.log" | tr '\n' ' ')"; exit 1; }
fi
skip=SKIP
[ "${CI:-}" = true ] && skip=FAIL
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c); t=${t#fuzz_}
	if [ ! -x "$BUILD/fuzz/fuzz_$t" ]; then
		echo "$skip fuzz_test.sh:$t: $BUILD/fuzz/fuzz_$t not built (needs clang; make fuzz-build)"
		continue
	fi
	out=$(BUILD=$BUILD FUZZ_SECONDS=$secs FUZZ_WORK=$work/$t tests/fuzz/run-fuzz.sh "$t")
	rc=$?
	echo "$out" >&2
	if [ $rc -eq 0 ] && grep -q ' findings 0 ' <<<"$out" && grep -q ' exit 0$' <<<"$out"; then
		echo "PASS fuzz_test.sh:$t (${out#FUZZ $t })"
	else
		mkdir -p "$BUILD/fuzz/findings/$t"
		cp "$work/$t/artifacts/"* "$BUILD/fuzz/findings/$t/" 2>/dev/null
		echo "FAIL fuzz_test.sh:$t: $out; inputs in $BUILD/fuzz/findings/$t, log $BUILD/fuzz/fuzz_$t.log"
	fi
done
