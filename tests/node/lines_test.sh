#!/usr/bin/env bash
# tests/node/lines_test.sh - node-ext on the other Node lines people run: each
# pinned official node of scripts/node-lines (22, 24, 26; the host's own node
# line is the plain tests/node run) runs every tests/node test - the JS tests,
# runtime_test.sh (bpftrace, nodegc, nodestat) and the npm tarball installs
# (prebuilt and node-gyp) - with the ONE usdt.node of $BUILD and that major's
# GC part. Names carry the node version: "PASS node24.22.3:name".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ADDON=$PWD/$BUILD/node/usdt.node

missing() { # name, why: a test that cannot run is a failure in CI
	if [ "${CI:-}" = true ]; then echo "FAIL $1: $2"; else echo "SKIP $1: $2"; fi
}
[ -f "$ADDON" ] || { echo "FAIL node_lines_addon_built: $ADDON missing (make node)"; exit 0; }
command -v npm >/dev/null || { missing node_lines "npm missing: scripts/node-lines fetches the lines with it"; exit 0; }
lines=$(scripts/node-lines 2>&1) || { echo "FAIL node_lines_fetched: $(echo "$lines" | tail -2 | tr '\n' ' ')"; exit 0; }
host=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)

# Runs one test command with the line's node first on PATH; prefixes its
# result lines, and a run without any is a failure of its own.
run_on() { # tag, dir, label, command...
	local tag=$1 dir=$2 label=$3 out rc; shift 3
	out=$(PATH="$dir/bin:$PATH" USDT_NODE_ADDON=$ADDON USDT_NODEDIR=$dir \
		timeout -k 10 600 "$@" 2>>"$BUILD/node-lines.stderr"); rc=$?
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ' | sed -E "s/^(PASS|FAIL|SKIP) /\1 $tag:/"
	if ! printf '%s\n' "$out" | grep -qE '^(PASS|FAIL|SKIP) '; then
		echo "FAIL $tag:$label: produced no test result (exit $rc)"
	elif [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
		echo "FAIL $tag:$label: exited $rc after its tests"
	fi
}

: >"$BUILD/node-lines.stderr"
while read -r major version dir; do
	[ "$major" = "$host" ] && continue
	tag=node$version
	abi=$("$dir/bin/node" -p process.versions.modules)
	if [ ! -f "$BUILD/node/usdt_gc-abi$abi.node" ]; then
		echo "FAIL $tag:gc_part_built: $BUILD/node/usdt_gc-abi$abi.node missing (make node-lines)"
		continue
	fi
	for t in tests/node/*_test.js; do
		run_on "$tag" "$dir" "$t" "$dir/bin/node" --expose-gc "$t"
	done
	run_on "$tag" "$dir" tests/node/runtime_test.sh bash tests/node/runtime_test.sh
done <<<"$lines"
exit 0
