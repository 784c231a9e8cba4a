#!/usr/bin/env bash
# bench/node_bench.sh - BENCH lines of the usdt Node.js addon and of
# dtrace-provider (bench/node_bench.js), and of node's own `node` provider,
# usdt/runtime (bench/node_runtime_bench.js). Needs the addon (make node).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export USDT_NODE_ADDON=${USDT_NODE_ADDON:-$PWD/$BUILD/node/usdt.node}
command -v node >/dev/null || { echo "node_bench: node missing" >&2; exit 1; }
[ -f "$USDT_NODE_ADDON" ] || { echo "node_bench: $USDT_NODE_ADDON missing (make node)" >&2; exit 1; }
export USDT_DIR=$(mktemp -d /tmp/usdt-bench.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
node bench/node_bench.js
USDT_BENCH_FALLBACK=1 node bench/node_bench.js
node bench/node_runtime_bench.js
