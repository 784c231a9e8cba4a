#!/usr/bin/env bash
# bench/node_runtime_bench.sh - BENCH lines of node's `node` provider
# (usdt/runtime): see bench/node_runtime_bench.js. Needs the addon (make node).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export USDT_NODE_ADDON=${USDT_NODE_ADDON:-$PWD/$BUILD/node/usdt.node}
command -v node >/dev/null || { echo "node_runtime_bench: node missing" >&2; exit 1; }
[ -f "$USDT_NODE_ADDON" ] || { echo "node_runtime_bench: $USDT_NODE_ADDON missing (make node)" >&2; exit 1; }
export USDT_DIR=$(mktemp -d /tmp/usdt-bench.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
node bench/node_runtime_bench.js
