#!/usr/bin/env bash
# idle_bench.sh - what an untraced process costs per second: wakeups (context
# switches of all threads) and CPU, for a Python process with one @fbt
# function, one with the runtime probes, and `node -r usdt/runtime`, each
# beside the same interpreter not importing usdt (the floor), in this run.
#   BENCH <who>.idle_wakeups_per_s   target <= 1 (the watcher's fallback poll)
#   BENCH <who>.idle_cpu_ms_per_s
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export USDT_DIR=$(mktemp -d /tmp/usdt-idle-bench.XXXXXX)
trap 'rm -rf "$USDT_DIR"' EXIT
dir=$(mktemp -d)
trap 'rm -rf "$USDT_DIR" "$dir"' EXIT
cat >"$dir/plain.py" <<'PY'
import time
print("READY", flush=True)
time.sleep(60)
PY
cat >"$dir/fbt.py" <<'PY'
import time, usdt
@usdt.fbt
def f(x):
    return x
f(1)
print("READY", flush=True)
time.sleep(60)
PY
cat >"$dir/runtime.py" <<'PY'
import time, usdt
usdt.enable_runtime_probes()
print("READY", flush=True)
time.sleep(60)
PY
echo 'console.log("READY"); setTimeout(() => {}, 60000);' >"$dir/idle.js"

measure() { # name, command...
	local name=$1; shift
	"$@" >"$dir/out" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do grep -q READY "$dir/out" && break; sleep 0.05; done
	sleep 0.5 # past a load's kicks
	read -r _ w c _ < <(python3 tests/tools/idle_cost.py "$pid" 5)
	kill "$pid"; wait "$pid" 2>/dev/null
	echo "BENCH $name.idle_wakeups_per_s ${w#*=} 1/s"
	echo "BENCH $name.idle_cpu_ms_per_s ${c#*=} ms"
}
py=python3
measure python.floor scripts/with-python $py python3 -u "$dir/plain.py"
measure python.fbt scripts/with-python $py python3 -u "$dir/fbt.py"
measure python.runtime scripts/with-python $py python3 -u "$dir/runtime.py"
if [ -f "$BUILD/node/usdt.node" ] && command -v node >/dev/null; then
	measure node.floor node "$dir/idle.js"
	measure node.runtime env USDT_NODE_ADDON="$PWD/$BUILD/node/usdt.node" \
		node -r ./node-ext/lib/runtime.js "$dir/idle.js"
fi
