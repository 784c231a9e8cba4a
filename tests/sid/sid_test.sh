#!/usr/bin/env bash
# sid_test.sh - the current-distribution level: the tracer-facing part of the
# suite again, inside the Debian sid root (scripts/sid/mkroot: bpftrace 0.27,
# bcc 0.37, gdb 18, perf, CPython 3.14 and 3.15, Node 24), built there with
# sid's gcc into build-sid. What runs: tests/sid/tests.list.
# Results: "PASS sid:<file>:<test>" and so on. Nothing may be skipped here:
# a test that skips inside the root is reported as a failure.
set -u
cd "$(dirname "$0")/../.."
ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
root=${USDT_SID_ROOT:-/var/cache/libusdt/sid}
SB=${USDT_SID_BUILD:-build-sid}
if [ -n "${USDT_SID_INSIDE:-}" ]; then
	echo "SKIP sid:level: already inside the sid root"
	exit 0
fi
if [ ! -f "$root/.usdt-stamp" ]; then
	why="no sid root at $root (make sid-root, or make test, builds it)"
	if ci; then echo "FAIL sid:root: $why"; else echo "SKIP sid:root: $why"; fi
	exit 0
fi
t0=$(date +%s)
mkdir -p "$SB"
log=$SB/sid-level.log
: >"$log"
if scripts/sid/run make -s BUILD="$SB" all tests node >>"$log" 2>&1; then
	echo "PASS sid:build"
else
	echo "FAIL sid:build: make in the sid root failed (see $log): $(grep -m1 -E 'error|Error' "$log")"
	exit 0
fi
# The versions this level ran with, for the log and the README.
scripts/sid/run bash -c 'bpftrace --version; dpkg-query -W bpfcc-tools gdb linux-perf nodejs python3.14 python3.15' \
	>>"$log" 2>&1
filters=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' tests/sid/tests.list | grep -v '^$')
for f in $filters; do
	s=$(date +%s)
	out=$(scripts/sid/run env USDT_SID_INSIDE=1 BUILD="$SB" USDT_TEST_PYTHONS="python3.14 python3.15" \
		tests/run "$f" 2>>"$log")
	printf '%s\n' "$out" >>"$log"
	printf '%s\n' "$out" | sed -nE -e 's/^(PASS|FAIL) /\1 sid:/p' \
		-e 's/^SKIP ([^ ]*): (.*)/FAIL sid:\1: skipped in the sid level: \2/p' \
		-e 's/^SKIP ([^ ]*)$/FAIL sid:\1: skipped in the sid level/p'
	printf '%s\n' "$out" | grep -qE '^(PASS|FAIL|SKIP) ' || echo "FAIL sid:$f: no test result"
	echo "# sid: $f took $(($(date +%s) - s)) s" >>"$log"
done
echo "# sid level: $(($(date +%s) - t0)) s (log: $log)"
