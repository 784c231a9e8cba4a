#!/usr/bin/env bash
# node_bunyan_test.sh - the Node.js example end to end: the bunyan-logging
# shop (examples/node-bunyan, bunyan 2.0.5 from the npm registry) runs with
# NODE_OPTIONS=-r usdt/runtime; bpftrace -p reads bunyan's log records through
# the project's dtrace-provider and node's http__server__request, and they
# are exactly what the shop logged and what the client asked.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=node_bunyan_test.sh
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-600)"; }
missing() { if [ "${CI:-}" = true ]; then fail "$1" "$2 (CI)"; else echo "SKIP $T:$1: $2"; fi; }
export USDT_NODE_ADDON=$PWD/$BUILD/node/usdt.node
tmp=$(mktemp -d)
export USDT_DIR=${USDT_DIR:-$tmp}
dir=$BUILD/examples/node-bunyan
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

[ -f "$USDT_NODE_ADDON" ] || { fail addon_built "$USDT_NODE_ADDON missing (make node)"; exit 0; }
command -v bpftrace >/dev/null || { missing traced "bpftrace missing"; exit 0; }
if ! examples/node-bunyan/setup.sh "$dir" >"$tmp/setup.out" 2>&1; then
	fail setup "npm install of bunyan 2.0.5 failed: $(tail -3 "$tmp/setup.out")"
	exit 0
fi
grep -q '"version": "2.0.5"' "$dir/node_modules/bunyan/package.json" && pass bunyan_2.0.5_installed ||
	fail bunyan_2.0.5_installed "$(grep '"version"' "$dir/node_modules/bunyan/package.json")"

(cd "$dir" && NODE_OPTIONS="-r usdt/runtime" exec node server.js) >"$tmp/shop.log" 2>"$tmp/shop.err" &
shop=$!
for _ in $(seq 200); do grep -q 'shop listening' "$tmp/shop.log" && break; sleep 0.05; done
port=$(sed -n 's/.*"port":\([0-9]*\).*shop listening.*/\1/p' "$tmp/shop.log" | head -1)
[ -n "$port" ] || { fail shop_starts "$(cat "$tmp/shop.err")"; exit 0; }
image_of() {
	"$BUILD/bin/usdt" list --json -p "$1" "$shop" |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);console.log(a.length?a[0].path:"")})'
}
bunyan=$(image_of bunyan)
nodeimg=$(image_of node)
if [ -n "$bunyan" ] && [ -n "$nodeimg" ]; then pass providers_bunyan_and_node_defined
else fail providers_bunyan_and_node_defined "bunyan '$bunyan' node '$nodeimg'"; exit 0; fi

# By pid, each image as /proc/PID/root/PATH: with -p the plain path attaches
# twice on bpftrace 0.25+ (tests/lib/bpftrace.sh).
. tests/lib/bpftrace.sh
b=$(bt_pid_path "$shop" "$bunyan") n=$(bt_pid_path "$shop" "$nodeimg")
BPFTRACE_STRLEN=200 bt_start -p "$shop" -e "
BEGIN { printf(\"READY\n\"); }
usdt:$b:bunyan:log__debug { printf(\"DEBUG %s\", str(arg0)); }
usdt:$b:bunyan:log__info, usdt:$b:bunyan:log__warn, usdt:$b:bunyan:log__error { printf(\"REC %s\", str(arg0)); }
usdt:$n:node:http__server__request { printf(\"REQ %s \", str(arg4)); printf(\"%s\n\", str(arg5)); }
" || { fail traced "bpftrace: $(grep -v RLIMIT "$tmp/bt.err" | head -3)"; exit 0; }
lines_before=$(wc -l <"$tmp/shop.log")
# A fixed sequence of requests: orders, a bad one, a lookup, a 404.
node -e '
const http = require("http");
const reqs = [["POST", "/order/tea?qty=2"], ["POST", "/order/cake?qty=1"], ["POST", "/order/pie?qty=3"],
              ["GET", "/prices"], ["GET", "/nowhere"], ["POST", "/order/soup?qty=20"]];
(async () => { for (const [method, path] of reqs) await new Promise((res, rej) => {
  http.request({ host: "127.0.0.1", port: +process.argv[1], method, path, agent: false }, (r) => { r.resume(); r.on("end", res); })
    .on("error", rej).end(); });
  console.log(reqs.map(([m, p]) => `REQ ${m} ${p}`).join("\n")); })();' "$port" >"$tmp/asked"
sleep 0.3
bt_stop; bt_events >"$tmp/ev"
kill $shop; wait $shop 2>/dev/null

tail -n +"$((lines_before + 1))" "$tmp/shop.log" | sed 's/^/REC /' >"$tmp/logged"
if [ -s "$tmp/logged" ] && diff <(grep '^REC ' "$tmp/ev") "$tmp/logged" >"$tmp/d1"; then
	pass bunyan_records_traced_as_logged
else
	fail bunyan_records_traced_as_logged "$(head -6 "$tmp/d1")"
fi
# debug is below the logger's level: not logged, still fired, as bunyan does.
ndebug=$(grep -c '^DEBUG {.*"level":20,.*"msg":"request"' "$tmp/ev")
if [ "$ndebug" = 6 ] && ! grep -q '"level":20' "$tmp/shop.log"; then
	pass bunyan_debug_fired_below_level
else
	fail bunyan_debug_fired_below_level "$ndebug debug records traced (want 6)"
fi
if diff <(grep '^REQ ' "$tmp/ev") "$tmp/asked" >"$tmp/d2"; then
	pass node_http_server_request_traced
else
	fail node_http_server_request_traced "$(head -6 "$tmp/d2")"
fi
exit 0
