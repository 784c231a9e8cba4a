#!/usr/bin/env bash
# tests/fuzz/run-fuzz.sh [TARGET...] - run libFuzzer targets for FUZZ_SECONDS
# each, from tests/fuzz/corpus-<target>/ (and providers/ for dparse; never written: new inputs go to
# $BUILD/fuzz/corpus-<target>/). Prints per target:
#   FUZZ <target> execs <N> seconds <S> findings <F> corpus <C>
# Crashing inputs land in $BUILD/fuzz/artifacts/<target>/. Exit 1 on a finding.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|'))
rc=0
for t in "${targets[@]}"; do
	bin=$BUILD/fuzz/fuzz_$t
	work=${FUZZ_WORK:-$BUILD/fuzz/corpus-$t}
	art=${FUZZ_WORK:+$FUZZ_WORK/artifacts/}; art=${art:-$BUILD/fuzz/artifacts/$t/}
	mkdir -p "$work" "$art"
	seeds=tests/fuzz/corpus-$t
	# The shipped provider files seed the .d parser as they are (not copied).
	more=; [ "$t" = dparse ] && more=providers
	log=$BUILD/fuzz/fuzz_$t.log
	# LeakSanitizer on; -rss_limit keeps a runaway input from eating the box.
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1536 -print_final_stats=1 \
		-artifact_prefix="$art" "$work" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} $more \
		>"$log" 2>&1
	status=$?
	execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
	findings=$(ls "$art" 2>/dev/null | wc -l)
	corpus=$(ls "$work" | wc -l)
	echo "FUZZ $t execs ${execs:-0} seconds $secs findings $findings corpus $corpus exit $status"
	[ "$status" -ne 0 ] || [ "$findings" -ne 0 ] && rc=1
done
exit $rc
