#!/usr/bin/env bash
# tests/node/runtime_test.sh - node's own `node` provider (node -r usdt/runtime),
# traced by real tracers: bpftrace attached by path before the program starts
# (every probe's arguments, exact values from a real HTTP exchange on
# 127.0.0.1 and forced GCs), bcc's nodegc-bpfcc and nodestat-bpfcc unchanged,
# and from inside the process: nothing hooked while untraced, everything
# removed when the tracer leaves. The program is runtime_prog.js.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export USDT_NODE_ADDON=$PWD/$BUILD/node/usdt.node
RT=$PWD/node-ext/lib/runtime.js
PROG=$PWD/tests/node/runtime_prog.js
tmp=$(mktemp -d /tmp/usdt-node-rt.XXXXXX)
export USDT_DIR=${USDT_DIR:-$tmp/img}
mkdir -p "$USDT_DIR" && chmod 700 "$USDT_DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${USDT_TEST_KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

missing() { # name, why: a tracer test that cannot run is a failure in CI
	if [ "${CI:-}" = true ]; then echo "FAIL $1: $2"; else echo "SKIP $1: $2"; fi
}

if [ ! -f "$USDT_NODE_ADDON" ]; then
	echo "FAIL runtime_addon_built: $USDT_NODE_ADDON missing (make node)"
	exit 0
fi
command -v node >/dev/null || { missing runtime_node "node not installed"; exit 0; }
[ "$(id -u)" = 0 ] || { missing runtime_tracers "tracers need root"; exit 0; }

# Wait until file $1 has a line matching $2 (ERE), up to $3 seconds.
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# The untraced program is started the way users start it: node -r.
node --expose-gc -r "$RT" "$PROG" untraced 2>"$tmp/untraced.err" || true
grep -q . "$tmp/untraced.err" && sed 's/^/untraced stderr: /' "$tmp/untraced.err" >&2

# A broken definition: a clear warning naming it, and the program still runs.
printf 'provider node {\n\tprobe gc__start(int);\n};\n' >"$tmp/bad.d"
out=$(USDT_NODE_D="$tmp/bad.d" node -r "$RT" -e 'console.log("program ran")' 2>&1)
if [[ $out == *"program ran"* && $out == *"node provider is not enabled"*"bad.d does not define node:http__server__request"* ]]; then
	echo "PASS runtime_bad_definition_warns_and_runs"
else
	echo "FAIL runtime_bad_definition_warns_and_runs: $(printf '%s' "$out" | tr '\n' '|')"
fi

# node 24+ names its main thread (the process's comm) MainThread, 26
# node-MainThread; bcc's nodestat and pgrep find node by comm "node": while the
# provider is enabled the comm is node's executable's name again, disable()
# gives node's back, USDT_NODE_KEEP_THREAD_NAME=1 keeps node's throughout.
comm='require("fs").readFileSync("/proc/self/comm", "utf8").trim()'
own=$(node -e "console.log($comm)")
exe=$(basename "$(node -p process.execPath)")
with=$(node -r "$RT" -e "const c = $comm; require('$RT').disable(); console.log(c, $comm)")
kept=$(USDT_NODE_KEEP_THREAD_NAME=1 node -r "$RT" -e "console.log($comm)")
if [ "$with" = "${exe:0:15} $own" ] && [ "$kept" = "$own" ]; then
	echo "PASS runtime_comm_is_node_while_enabled"
else
	echo "FAIL runtime_comm_is_node_while_enabled: node's own '$own'; enabled, then disabled: '$with' (want '${exe:0:15} $own'); kept: '$kept'"
fi

img=$(node -e "console.log(require('$RT').path())")
if [ -z "$img" ] || [ ! -f "$img" ]; then
	echo "FAIL runtime_image_path: no image path ($img)"
	exit 0
fi

# ---- bpftrace by path, attached before the program starts -------------------
if command -v bpftrace >/dev/null; then
	# bpftrace 0.17 reads arg0..arg5 only on x86-64: the 7th argument of the
	# request probes (fd, "-4@8(%rsp)" in the note) is read where the note
	# says it is. Elsewhere it is in a register bpftrace names arg6.
	fd7='*(int32 *)(reg("sp") + 8)'
	[ "$(uname -m)" = x86_64 ] || fd7='(int32)arg6'
	cat >"$tmp/all.bt" <<-EOF
	BEGIN { printf("READY\n"); }
	usdt:$img:node:net__server__connection { printf("CONN %d %s %d %d\n", arg0, str(arg1), arg2, arg3); }
	usdt:$img:node:http__server__request {
		printf("SREQ %d %d %s %d %s %s\n", arg0, arg1, str(arg2), arg3, str(arg4), str(arg5));
		printf("SREQFD %d\n", $fd7); }
	usdt:$img:node:http__server__response { printf("SRES %d %s %d %d\n", arg0, str(arg1), arg2, arg3); }
	usdt:$img:node:http__client__request {
		printf("CREQ %d %d %s %d %s %s\n", arg0, arg1, str(arg2), arg3, str(arg4), str(arg5));
		printf("CREQFD %d\n", $fd7); }
	usdt:$img:node:http__client__response { printf("CRES %d %s %d %d\n", arg0, str(arg1), arg2, arg3); }
	usdt:$img:node:net__stream__end { printf("END %d %s %d %d\n", arg0, str(arg1), arg2, arg3); }
	usdt:$img:node:gc__start { printf("GCS %d %d %d\n", arg0, arg1, arg2); }
	usdt:$img:node:gc__done { printf("GCD %d %d %d\n", arg0, arg1, arg2); }
	EOF
	bpftrace "$tmp/all.bt" >"$tmp/bt.out" 2>"$tmp/bt.err" &
	bt=$!; pids+=($bt)
	if ! wait_line "$tmp/bt.out" '^READY' 30; then
		echo "FAIL runtime_bpftrace_attach: $(grep -v RLIMIT "$tmp/bt.err" | head -3 | tr '\n' ' ')"
	else
		node --expose-gc "$PROG" http >"$tmp/http.out" 2>"$tmp/http.err" &
		prog=$!; pids+=($prog)
		wait_line "$tmp/http.out" '^WAITING' 60 || echo "FAIL runtime_http_program: no WAITING line"
		sleep 0.2 # the last response's events are printed by bpftrace
		kill -INT $bt; wait $bt
		wait $prog
		grep -E '^(PASS|FAIL) ' "$tmp/http.out"
		missing_lines=$(grep '^EXPECT ' "$tmp/http.out" | sed 's/^EXPECT //' | while IFS= read -r l; do
			grep -qxF "$l" "$tmp/bt.out" || echo "$l"; done)
		n=$(grep -c '^EXPECT ' "$tmp/http.out")
		for kind in CONN SREQ SREQFD SRES CREQ CREQFD CRES END; do
			want=$(grep -c "^EXPECT $kind " "$tmp/http.out")
			bad=$(printf '%s\n' "$missing_lines" | grep -c "^$kind ")
			name=$(echo "runtime_bpftrace_$kind" | tr 'A-Z' 'a-z')
			if [ "$want" -ge 3 ] && [ "$bad" -eq 0 ]; then
				echo "PASS $name"
			else
				echo "FAIL $name: expected $want lines, missing: $(printf '%s\n' "$missing_lines" | grep "^$kind " | head -3 | tr '\n' ';') got: $(grep "^$kind " "$tmp/bt.out" | head -3 | tr '\n' ';')"
			fi
		done
		# Nothing lost although the tracer came first: the first request is there.
		if grep -q '^SREQ .* GET /first?a=1$' "$tmp/bt.out" && grep -q '^CONN ' "$tmp/bt.out"; then
			echo "PASS runtime_attach_by_path_before_start_loses_nothing"
		else
			echo "FAIL runtime_attach_by_path_before_start_loses_nothing: first request missing"
		fi
		# Forced GCs (flag 4, kGCCallbackFlagForced): 3 minor then 3 full, each a
		# start then its done, in bcc's numbering (1 scavenge, 2 mark-sweep-compact).
		got=$(awk '($1=="GCS"||$1=="GCD") && $3==4 {printf "%s%s ", $1, $2}' "$tmp/bt.out")
		want="GCS1 GCD1 GCS1 GCD1 GCS1 GCD1 GCS2 GCD2 GCS2 GCD2 GCS2 GCD2 "
		if [ "$got" = "$want" ]; then
			echo "PASS runtime_bpftrace_gc_type_flags"
		else
			echo "FAIL runtime_bpftrace_gc_type_flags: forced GCs gave '$got', want '$want'"
		fi
		isos=$(awk '$1=="GCS"||$1=="GCD" {print $4}' "$tmp/bt.out" | sort -u)
		if [ "$(printf '%s\n' "$isos" | wc -l)" = 1 ] && [ "$isos" != 0 ] && [ -n "$isos" ]; then
			echo "PASS runtime_bpftrace_gc_isolate_argument"
		else
			echo "FAIL runtime_bpftrace_gc_isolate_argument: isolates '$(echo $isos)'"
		fi
		pairs=$(awk '$1=="GCS"{if(open)bad++; open=1; t=$2} $1=="GCD"{if(!open||$2!=t)bad++; open=0} END{print bad+0}' "$tmp/bt.out")
		if [ "$pairs" = 0 ] && grep -q '^GCS' "$tmp/bt.out"; then
			echo "PASS runtime_bpftrace_gc_start_done_pairs"
		else
			echo "FAIL runtime_bpftrace_gc_start_done_pairs: $pairs unpaired"
		fi
	fi
else
	missing runtime_bpftrace "bpftrace not installed (scripts/setup-deps)"
fi

# ---- bcc's nodegc: the GCs perf_hooks saw, same kinds, same durations --------
gc_desc() { # perf_hooks kind (V8 GCType) -> ugc's description
	case $1 in
	1 | 2) echo "GC scavenge" ;; 4) echo "GC mark-sweep-compact" ;;
	8) echo "GC incremental mark" ;; 16) echo "GC weak callbacks" ;; *) echo "?" ;;
	esac
}
if [ -x /usr/sbin/nodegc-bpfcc ]; then
	node "$PROG" gcwork >"$tmp/gcw.out" 2>"$tmp/gcw.err" &
	prog=$!; pids+=($prog)
	wait_line "$tmp/gcw.out" '^READY' 30
	# Background jobs start with SIGINT ignored; python keeps it so and would
	# never stop on ^C. nodegc-bpfcc must clean up as after a ^C.
	PYTHONUNBUFFERED=1 env --default-signal=INT /usr/sbin/nodegc-bpfcc $prog >"$tmp/ugc.out" 2>"$tmp/ugc.err" &
	tr=$!; pids+=($tr)
	wait_line "$tmp/ugc.out" '^Tracing' 60 && kill -USR2 $prog
	if wait_line "$tmp/gcw.out" '^WAITING' 60; then
		sleep 0.3
		# nodegc-bpfcc is a bash wrapper: the signal goes to its python.
		pkill -INT -P $tr; wait $tr
		wait $prog
		grep -E '^(PASS|FAIL) ' "$tmp/gcw.out"
		# ugc: "START TIME(us) DESCRIPTION"; perf: "PERF kind us". The perf
		# window lies inside the traced one: find it as a run of ugc's lines.
		awk '/^[0-9.]+ +[0-9.]+ +GC /{d=$3; for(i=4;i<=NF;i++) d=d" "$i; print $2 "\t" d}' "$tmp/ugc.out" >"$tmp/ugc.tsv"
		grep '^PERF ' "$tmp/gcw.out" | while read -r _ k us; do printf '%s\t%s\n' "$us" "$(gc_desc "$k")"; done >"$tmp/perf.tsv"
		verdict=$(awk -F'\t' 'NR==FNR{ut[NR]=$1; ud[NR]=$2; nu=NR; next} {pt[FNR]=$1; pd[FNR]=$2; np=FNR}
			END {
				if (np < 5) { print "only " np " GCs in the window"; exit }
				# Scavenges take the same time by both clocks. node brackets a
				# full GC wider than our callbacks do (up to half of it here):
				# ours may be shorter, never longer.
				# The first hit of a uprobe in a process also maps its
				# single-step area, inside the first GC as nodegc times it.
				for (s = 0; s + np <= nu; s++) {
					ok = 1
					for (i = 1; i <= np; i++) {
						u = ut[s+i]; p = pt[i]; d = u - p; if (d < 0) d = -d
						if (ud[s+i] != pd[i]) { ok = 0; break }
						if (s + i == 1) continue
						if (u <= 0 || u > p * 1.05 + 300 ||
						    (pd[i] == "GC scavenge" && d > 300 + p * 0.25)) { ok = 0; break }
					}
					if (ok) { print "ok " np; exit }
				}
				print "perf_hooks saw " np " GCs that nodegc did not report alike (" nu " lines)"
			}' "$tmp/ugc.tsv" "$tmp/perf.tsv")
		if [[ $verdict == ok* ]]; then
			echo "PASS runtime_nodegc_bpfcc_kinds_and_times"
		else
			paste "$tmp/ugc.tsv" "$tmp/perf.tsv" | sed 's/^/nodegc|perf_hooks: /' >&2
			echo "FAIL runtime_nodegc_bpfcc_kinds_and_times: $verdict; ugc: $(head -4 "$tmp/ugc.tsv" | tr '\t\n' ' ;') perf: $(head -4 "$tmp/perf.tsv" | tr '\t\n' ' ;') err: $(head -2 "$tmp/ugc.err" | tr '\n' ' ')"
		fi
	else
		pkill -INT -P $tr; wait $tr
		echo "FAIL runtime_nodegc_bpfcc_kinds_and_times: the program was never traced ($(head -3 "$tmp/ugc.err" | tr '\n' ' '))"
	fi
else
	missing runtime_nodegc_bpfcc "bpfcc-tools not installed (scripts/setup-deps)"
fi

# ---- bcc's nodestat: counts gc__start per second of processes named node ----
if [ -x /usr/sbin/nodestat-bpfcc ]; then
	node --expose-gc "$PROG" gcburst >"$tmp/gcb.out" 2>"$tmp/gcb.err" &
	prog=$!; pids+=($prog)
	wait_line "$tmp/gcb.out" '^READY' 30
	# Other node processes on the machine are listed too: read our row only.
	PYTHONUNBUFFERED=1 /usr/sbin/nodestat-bpfcc -C -r 1000 1 4 >"$tmp/ustat.out" 2>"$tmp/ustat.err" &
	tr=$!; pids+=($tr)
	wait_line "$tmp/ustat.out" '^Tracing' 60 && kill -USR2 $prog
	wait $tr
	if wait_line "$tmp/gcb.out" '^WAITING' 30; then
		wait $prog
		grep -E '^(PASS|FAIL) ' "$tmp/gcb.out"
		perf=$(awk '/^PERFCOUNT/{print $2}' "$tmp/gcb.out")
		inwin=$(awk '/^PERFCOUNT/{print $3}' "$tmp/gcb.out")
		# columns: PID CMDLINE... METHOD/s GC/s OBJNEW/s CLOAD/s EXC/s THR/s
		seen=$(awk -v p=$prog '$1==p {s += $(NF-4)} END {print s+0}' "$tmp/ustat.out")
		if ! grep -q '^WINDOW ok' "$tmp/gcb.out"; then
			echo "FAIL runtime_nodestat_bpfcc_gc_count: nodestat was not attached around the 40 GCs ($(grep WINDOW "$tmp/gcb.out"))"
		# Every GC of the burst, and no more than perf_hooks saw in all
		# (a spontaneous GC outside the burst may or may not be traced).
		elif [ "$inwin" -ge 40 ] && [ "$seen" -ge "$inwin" ] && [ "$seen" -le "$perf" ]; then
			echo "PASS runtime_nodestat_bpfcc_gc_count"
		else
			echo "FAIL runtime_nodestat_bpfcc_gc_count: nodestat counted $seen GCs, perf_hooks $inwin in the burst, $perf in all; $(grep -E "^$prog " "$tmp/ustat.out" | head -5 | tr '\n' ';') $(head -2 "$tmp/ustat.err" | tr '\n' ' ')"
		fi
	else
		echo "FAIL runtime_nodestat_bpfcc_gc_count: the program was never traced ($(head -3 "$tmp/ustat.err" | tr '\n' ' '))"
	fi
else
	missing runtime_nodestat_bpfcc "bpfcc-tools not installed (scripts/setup-deps)"
fi
exit 0
