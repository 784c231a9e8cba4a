#!/usr/bin/env bash
# examples/node-bunyan/setup.sh BUILD_DIR - install the example into BUILD_DIR:
# bunyan 2.0.5 from the npm registry (pinned, package-lock kept there), and
# the project's dtrace-provider (node-ext/dtrace-provider) as node_modules/
# dtrace-provider, which bunyan requires, and node-ext as node_modules/usdt. bunyan's optional dependencies are
# left out: its dtrace-provider one would otherwise be fetched from the
# registry (0.8.8, which builds nothing on Linux), the others (mv, moment,
# safe-json-stringify) this example does not use. Idempotent.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
dest=${1:?usage: setup.sh BUILD_DIR}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cp "$src/package.json" "$src/server.js" "$src/client.js" "$dest/"
if [ ! -f "$dest/node_modules/bunyan/package.json" ] ||
   ! grep -q '"version": "2.0.5"' "$dest/node_modules/bunyan/package.json"; then
	(cd "$dest" && npm install --omit=optional --no-audit --no-fund --loglevel=error >/dev/null)
fi
ln -sfn "$root/node-ext/dtrace-provider" "$dest/node_modules/dtrace-provider"
# and usdt itself, so that `node -r usdt/runtime` resolves from here.
ln -sfn "$root/node-ext" "$dest/node_modules/usdt"
