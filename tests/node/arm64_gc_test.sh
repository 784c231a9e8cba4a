#!/usr/bin/env bash
# tests/node/arm64_gc_test.sh - the npm package's linux-arm64 prebuilds in
# the official arm64 node of each pinned line (scripts/node-lines -a arm64),
# run under user-mode emulation (qemu-aarch64-static). The packed tarball
# ($USDT_NPM_DIST, make npm-pack) is installed offline into a fresh npm
# project in a temp dir by the host's npm with --ignore-scripts (unpacking
# is the same on every architecture); then, in each arm64 node:
#   - the package's install script, run by that node, takes the prebuilt
#     usdt.node and the GC part of that node's major (nothing to compile);
#   - arm64_gc_prog.js own: require('usdt') loads the prebuilt usdt.node,
#     usdt/runtime loads the GC part of the major without a warning, its
#     callbacks go in when gc__start/gc__done are forced (runtime._force, as
#     a tracer's semaphore would), a forced GC runs them (they fire both
#     probes: the part counts its fires), and they come out again;
#   - arm64_gc_prog.js other: the next line's part is refused with one
#     warning, the http hooks still go in.
# Not proven here: that a tracer sees the probes on arm64. There are no
# uprobes under user-mode emulation; the probe sites are libusdt's, which
# tests/aarch64 traces with bpftrace in the full-system level.
# Results: "PASS arm64-node<version>:<name>".
set -u
cd "$(dirname "$0")/../.."
DIST=${USDT_NPM_DIST:-$PWD/dist}
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' node-ext/package.json)
TGZ=$DIST/usdt-$VERSION.tgz
PROG=$PWD/tests/node/arm64_gc_prog.js

missing() { # name, why: a test that cannot run is a failure in CI
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then echo "FAIL $1: $2"; else echo "SKIP $1: $2"; fi
}
need=
command -v qemu-aarch64-static >/dev/null || need+=" qemu-aarch64-static (qemu-user-static)"
command -v npm >/dev/null || need+=" npm"
[ -e /lib/ld-linux-aarch64.so.1 ] || need+=" /lib/ld-linux-aarch64.so.1 (libc6:arm64)"
[ -z "$need" ] || { missing arm64_gc:setup "missing$need (scripts/setup-deps installs them)"; exit 0; }
[ -f "$TGZ" ] || { missing arm64_gc:tarball "$TGZ missing (make npm-pack)"; exit 0; }
lines=$(scripts/node-lines -a arm64 2>&1) ||
	{ echo "FAIL arm64_gc:node_lines_fetched: $(echo "$lines" | tail -2 | tr '\n' ' ')"; exit 0; }

tmp=$(mktemp -d /tmp/usdt-arm64gc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The probe images go to the temp dir too when not run by tests/run (which
# gives every test run a private USDT_DIR of its own).
export USDT_DIR=${USDT_DIR:-$tmp/images}
proj=$tmp/app
mkdir -p "$proj"
echo '{"name":"arm64gc","version":"1.0.0","private":true}' >"$proj/package.json"
if ! out=$(cd "$proj" && npm install --offline --ignore-scripts --no-audit --no-fund "$TGZ" 2>&1); then
	echo "FAIL arm64_gc:npm_install: $(echo "$out" | tail -3 | tr '\n' ' ')"; exit 0
fi
pre=$proj/node_modules/usdt/prebuilds/linux-arm64
[ -f "$pre/usdt.node" ] || { echo "FAIL arm64_gc:npm_install: $pre/usdt.node not installed"; exit 0; }

# The next line's ABI for each line (the last wraps to the first): "other".
abis=()
while read -r major version dir; do
	abis+=("$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\)$/\1/p' "$dir/include/node/node_version.h")")
done <<<"$lines"

# Runs a command, prints its result lines; none, or a failed exit, is a FAIL.
run() { # tag, label, command...
	local tag=$1 label=$2 out rc; shift 2
	out=$(cd "$proj" && timeout -k 5 120 "$@" 2>"$tmp/stderr"); rc=$?
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP|#) '
	if ! printf '%s\n' "$out" | grep -qE '^(PASS|FAIL|SKIP) '; then
		echo "FAIL $tag:$label: produced no test result (exit $rc): $(tail -3 "$tmp/stderr" | tr '\n' ' ')"
	elif [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
		echo "FAIL $tag:$label: exited $rc after its tests: $(tail -3 "$tmp/stderr" | tr '\n' ' ')"
	fi
}

i=0
while read -r major version dir; do
	tag=arm64-node$version
	node=(qemu-aarch64-static "$dir/bin/node")
	abi=${abis[$i]}
	other=${abis[$(((i + 1) % ${#abis[@]}))]}
	i=$((i + 1))
	# The install script as npm would run it, by this node.
	want="usdt: using the prebuilt binaries for linux-arm64, node $version (ABI $abi): prebuilds/linux-arm64/usdt.node, prebuilds/linux-arm64/usdt_gc-abi$abi.node"
	got=$(cd "$proj/node_modules/usdt" && timeout -k 5 120 "${node[@]}" scripts/install.js 2>&1)
	if [ "$got" = "$want" ]; then echo "PASS $tag:install_script_takes_the_prebuilt_usdt_node_and_gc_part"
	else echo "FAIL $tag:install_script_takes_the_prebuilt_usdt_node_and_gc_part: said: $(echo "$got" | tr '\n' ' ')"; fi
	run "$tag" own env -u USDT_NODE_ADDON -u USDT_NODE_GC_ADDON "${node[@]}" --expose-gc "$PROG" own "$tag"
	run "$tag" other env -u USDT_NODE_ADDON USDT_NODE_GC_ADDON="$pre/usdt_gc-abi$other.node" \
		"${node[@]}" --expose-gc "$PROG" other "$tag"
done <<<"$lines"
exit 0
