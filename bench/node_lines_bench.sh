#!/usr/bin/env bash
# bench/node_lines_bench.sh - bench/node_bench.js under each other Node line
# of scripts/node-lines (22, 24, 26; the host's node is node_bench.sh's
# "node.*"), with the one usdt.node: BENCH node22.* node24.* node26.*, each
# against the same in-run floors (call_native_noop_ns, call_js_noop_ns).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export USDT_NODE_ADDON=${USDT_NODE_ADDON:-$PWD/$BUILD/node/usdt.node}
[ -f "$USDT_NODE_ADDON" ] || { echo "node_lines_bench: $USDT_NODE_ADDON missing (make node)" >&2; exit 1; }
lines=$(scripts/node-lines) || exit 1
host=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
export USDT_DIR=$(mktemp -d /tmp/usdt-bench.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
status=0
while read -r major version dir; do
	[ "$major" = "$host" ] && continue
	USDT_BENCH_NODE_TAG=node$major "$dir/bin/node" bench/node_bench.js || status=1
	USDT_BENCH_NODE_TAG=node$major USDT_BENCH_FALLBACK=1 "$dir/bin/node" bench/node_bench.js || status=1
done <<<"$lines"
exit $status
