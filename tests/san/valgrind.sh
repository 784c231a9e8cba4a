#!/usr/bin/env bash
# tests/san/valgrind.sh - the C tests under valgrind memcheck. Each test runs
# in a forked child whose exit status the harness does not look at, so every
# process writes its own log (vg.<pid>) and this script requires, in every
# log, 0 errors, with definite and indirect leaks counted as errors.
# Tracer tests skip (tr_have() says no tracer when USDT_UNDER_VALGRIND is set,
# and CI is unset here): valgrind runs a translation of the code, so a probe
# site a tracer patched traps instead of hitting. The stress test is left out.
# Usage: tests/san/valgrind.sh [FILTER]; BUILD selects the (non-sanitized) build.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
filter=${1:-}
logs=$BUILD/valgrind
rm -rf "$logs"; mkdir -p "$logs"
export USDT_DIR=$(mktemp -d /tmp/usdt-vg.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
export USDT_UNDER_VALGRIND=1 USDT_TEST_CASE_TIMEOUT=900 CI=
skip='stress_test'
status=0
for t in $(find "$BUILD"/tests -type f -name '*_test' -perm -u+x | sort); do
	[[ -n $filter && $t != *"$filter"* ]] && continue
	[[ $t =~ $skip ]] && continue
	name=$(basename "$t")
	mkdir -p "$logs/$name"
	start=$(date +%s)
	out=$(valgrind -q --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--log-file="$logs/$name/vg.%p" "$t" 2>&1)
	rc=$?
	# -q logs hold only errors: an empty log is a clean process.
	bad=$(for f in "$logs/$name"/vg.*; do [ -s "$f" ] && echo "$f"; done)
	tests=$(grep -c '^PASS ' <<<"$out")
	fails=$(grep '^FAIL ' <<<"$out")
	secs=$(( $(date +%s) - start ))
	if [ -n "$bad" ] || [ -n "$fails" ] || [ $rc -ne 0 ]; then
		echo "FAIL valgrind:$name: exit $rc, ${fails:+tests failed: $fails; }memcheck errors in: $bad"
		for f in $bad; do sed -n '1,40p' "$f"; done
		status=1
	else
		echo "PASS valgrind:$name ($tests tests, $(ls "$logs/$name" | wc -l) processes, 0 errors, 0 leaks, ${secs}s)"
	fi
done
exit $status
