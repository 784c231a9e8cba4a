#!/usr/bin/env bash
# usdt_cli_test.sh - `usdt list` against a live process with static probes
# (minivm, libc) and dynamic ones (a provider the Forth program declares):
# the same probes bpftrace -l and bcc's tplist see, a pasted bpftrace line
# that works, and clear errors for a gone pid and a non-ELF file.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
usdt=$BUILD/bin/usdt
vm=$(realpath "$BUILD/examples/minivm")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
T=usdt_cli_test.sh
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $(printf '%s' "$2" | tr '\n' '|' | cut -c1-700)"; }
need() { # tool test-name
	command -v "$1" >/dev/null && return 0
	if [ "${CI:-}" = true ]; then fail "$2" "$1 missing (CI)"; else echo "SKIP $T:$2: $1 missing"; fi
	return 1
}
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

cat >"$tmp/app.fs" <<'FS'
provider clitest
probe beat int64 string
0 begin dup s" lub" fire beat 1 + 10 sleep dup 100000 = until
FS
"$vm" "$tmp/app.fs" >/dev/null 2>"$tmp/app.err" &
app=$!
# A second one whose provider image is a memfd (no usable directory).
USDT_DIR=/proc/nonexistent "$vm" "$tmp/app.fs" >/dev/null 2>"$tmp/app2.err" &
app2=$!
for _ in $(seq 100); do grep -q provider "$tmp/app.err" && grep -q provider "$tmp/app2.err" && break; sleep 0.05; done

"$usdt" list $app >"$tmp/list" 2>"$tmp/list.err"; rc=$?
ours=$(grep -E '^[A-Za-z_][A-Za-z0-9_]*:' "$tmp/list" | cut -d' ' -f1 | sort -u)
if [ $rc -eq 0 ] && grep -qx 'clitest:beat' <<<"$ours" && grep -qx 'vm:function__entry' <<<"$ours" &&
	grep -q '^clitest:beat  (int64, ptr)  untraced$' "$tmp/list"; then
	pass lists_static_and_dynamic_probes_of_a_process
else
	fail lists_static_and_dynamic_probes_of_a_process "rc $rc: $(cat "$tmp/list" "$tmp/list.err" | head -20)"
fi

if need bpftrace same_probes_as_bpftrace_l; then
	# Probes of the files the process maps. bpftrace 0.25+ names them
	# /proc/PID/root/PATH and adds every program on $PATH with probes (and a
	# bogus usdt:NAME:... for a program started as ./NAME): those are not
	# the process's. Only lines that start with usdt: are probes (0.27
	# prints a WARNING line where tracefs's function list is unreadable).
	theirs=$(bpftrace -l 'usdt:*' -p $app 2>/dev/null | awk -F: -v pfx="/proc/$app/root" '
		FILENAME == "-" { if (NF && $1 == "usdt") { p = $2; if (index(p, pfx "/") == 1) p = substr(p, length(pfx) + 1)
			if (p in mapped) print $(NF-1) ":" $NF }; next }
		{ mapped[$0] = 1 }' <(awk 'NF >= 6 { print $6 }' /proc/$app/maps) - | sort -u)
	[ -n "$theirs" ] && [ "$ours" = "$theirs" ] && pass same_probes_as_bpftrace_l ||
		fail same_probes_as_bpftrace_l "only ours: $(comm -23 <(echo "$ours") <(echo "$theirs") | tr '\n' ' ') only bpftrace: $(comm -13 <(echo "$ours") <(echo "$theirs") | tr '\n' ' ')"
fi
if need tplist-bpfcc same_probes_as_bcc_tplist; then
	theirs=$(tplist-bpfcc -p $app 2>/dev/null | awk '{ print $2 }' | sort -u)
	[ -n "$theirs" ] && [ "$ours" = "$theirs" ] && pass same_probes_as_bcc_tplist ||
		fail same_probes_as_bcc_tplist "only ours: $(comm -23 <(echo "$ours") <(echo "$theirs") | tr '\n' ' ') only tplist: $(comm -13 <(echo "$ours") <(echo "$theirs") | tr '\n' ' ')"
fi

if need bpftrace pasted_bpftrace_line_traces_the_probe; then
	line=$(grep -A2 '^clitest:beat ' "$tmp/list" | sed -n 's/^    bpftrace //p')
	# The line as printed, between our READY marker and an exit after half a
	# second. Each beat carries a new count: every one must arrive once (with
	# -p the plain path attaches twice on bpftrace 0.25+).
	script=$(sed -n "s/^-p $app -e '\(.*\)'\$/\1/p" <<<"$line")
	timeout 20 bpftrace -p $app -e "BEGIN { printf(\"READY\\n\"); } $script interval:ms:500 { exit(); }" \
		>"$tmp/bt.out" 2>"$tmp/bt.err"
	ev=$(sed -n '/^READY$/,$p' "$tmp/bt.out" | grep -E '^beat: [0-9]+ lub$')
	[[ $line == "-p $app -e 'usdt:/proc/$app/root/"* ]] && [ -n "$ev" ] && [ -z "$(sort <<<"$ev" | uniq -d)" ] &&
		pass pasted_bpftrace_line_traces_the_probe ||
		fail pasted_bpftrace_line_traces_the_probe "line: $line; bpftrace: $(cat "$tmp/bt.out" "$tmp/bt.err")"
fi

"$usdt" list -p clitest $app >"$tmp/only" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(grep -cE '^[A-Za-z_]' "$tmp/only")" = 1 ] && grep -q '^clitest:beat ' "$tmp/only" &&
	pass provider_filter || fail provider_filter "rc $rc: $(cat "$tmp/only")"

# --json: the same probes and lines as the text, addresses inside the mapped file.
"$usdt" list --json $app >"$tmp/json" 2>&1; rc=$?
out=$(OURS=$ours python3 - "$tmp/json" "$tmp/list" "$app" 2>&1 <<'PY'
import json, os, sys
probes = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read().splitlines()
pid = sys.argv[3]
want = sorted(os.environ["OURS"].split())
got = sorted({p["provider"] + ":" + p["name"] for p in probes})
assert got == want, ("set", got, want)
maps = []
for l in open("/proc/%s/maps" % pid):
    f = l.split(None, 5)
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    maps.append((lo, hi, f[1], f[5].strip() if len(f) > 5 else ""))
for p in probes:
    assert "    " + p["bpftrace"] in text, ("line", p["bpftrace"])
    a = int(p["address"], 16)
    assert any(lo <= a < hi and "x" in perm for lo, hi, perm, _ in maps), ("address", p)
    if p["semaphore"] is not None:
        s = int(p["semaphore"], 16)
        assert any(lo <= s < hi and "w" in perm for lo, hi, perm, _ in maps), ("semaphore", p)
beat = [p for p in probes if p["provider"] == "clitest" and p["name"] == "beat"]
assert len(beat) == 1 and beat[0]["types"] == ["int64", "ptr"] and beat[0]["state"] == "untraced", beat
assert beat[0]["semaphore"] and beat[0]["args"].startswith("-8@"), beat
print("ok")
PY
)
[ $rc -eq 0 ] && [ "$out" = ok ] && pass json_lists_the_same_probes_with_live_addresses ||
	fail json_lists_the_same_probes_with_live_addresses "rc $rc: $out $(head -c 300 "$tmp/json")"

# The memfd image: a /proc/PID/fd path, and a note that it is to be named so;
# its pasted line, run in the background,
# makes the listing say TRACED and prints events.
"$usdt" list -p clitest $app2 >"$tmp/list2" 2>&1
line=$(sed -n 's/^    bpftrace //p' "$tmp/list2")
if grep -qE "^    path /proc/$app2/fd/[0-9]+\$" "$tmp/list2" && [[ $line == "-p $app2 -e 'usdt:/proc/$app2/fd/"* ]] &&
	grep -qE "^# /proc/$app2/fd/[0-9]+: no file name .*Attach by this path:\$" "$tmp/list2"; then
	pass memfd_image_gets_a_proc_fd_path
else
	fail memfd_image_gets_a_proc_fd_path "$(cat "$tmp/list2")"
fi
if need bpftrace traced_state_and_pasted_line_on_a_memfd_image; then
	script=$(sed -n "s/^-p $app2 -e '\(.*\)'\$/\1/p" <<<"$line")
	timeout 20 bpftrace -p $app2 -e "BEGIN { printf(\"READY\\n\"); } $script" >"$tmp/bt2.out" 2>"$tmp/bt2.err" &
	bt=$!
	for _ in $(seq 200); do grep -q READY "$tmp/bt2.out" && break; sleep 0.05; done
	"$usdt" list -p clitest $app2 >"$tmp/traced" 2>&1
	for _ in $(seq 100); do grep -qE '^beat: [0-9]+ lub$' "$tmp/bt2.out" && break; sleep 0.05; done
	sleep 0.3
	kill -INT $bt 2>/dev/null; wait $bt 2>/dev/null
	"$usdt" list -p clitest $app2 >"$tmp/untraced" 2>&1
	ev=$(sed -n '/^READY$/,$p' "$tmp/bt2.out" | grep -E '^beat: [0-9]+ lub$')
	grep -q '^clitest:beat  (int64, ptr)  TRACED$' "$tmp/traced" && [ -n "$ev" ] && [ -z "$(sort <<<"$ev" | uniq -d)" ] &&
		grep -q '^clitest:beat  (int64, ptr)  untraced$' "$tmp/untraced" &&
		pass traced_state_and_pasted_line_on_a_memfd_image ||
		fail traced_state_and_pasted_line_on_a_memfd_image "listing: $(cat "$tmp/traced") then $(head -1 "$tmp/untraced"); bpftrace: $(head -5 "$tmp/bt2.out" "$tmp/bt2.err")"
fi

# Another user may not read a root process's maps.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cp "$usdt" "$tmp/usdt-copy" && chmod 755 "$tmp" "$tmp/usdt-copy"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/usdt-copy" list $app 2>&1); rc=$?
	[ $rc -eq 1 ] && [ "$out" = "usdt: process $app: permission denied (run as its user or as root)" ] &&
		pass permission_denied_is_a_clear_error || fail permission_denied_is_a_clear_error "rc $rc: $out"
	# Without root (no map_files), a memfd image is still found through the fd the process holds.
	cp "$vm" "$tmp/vm-copy" && cp "$tmp/app.fs" "$tmp/app3.fs" && chmod 755 "$tmp/vm-copy" && chmod 644 "$tmp/app3.fs"
	setpriv --reuid=65534 --regid=65534 --clear-groups env USDT_DIR=/proc/nonexistent "$tmp/vm-copy" "$tmp/app3.fs" >/dev/null 2>"$tmp/app3.err" &
	app3=$!
	for _ in $(seq 100); do grep -q provider "$tmp/app3.err" 2>/dev/null && break; sleep 0.05; done
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/usdt-copy" list -p clitest $app3 2>&1); rc=$?
	kill $app3 2>/dev/null; wait $app3 2>/dev/null
	[ $rc -eq 0 ] && grep -qE "^    path /proc/$app3/fd/[0-9]+\$" <<<"$out" &&
		pass memfd_image_listed_without_root || fail memfd_image_listed_without_root "rc $rc: $out"
else
	echo "SKIP $T:permission_denied_is_a_clear_error: needs root and setpriv"
	echo "SKIP $T:memfd_image_listed_without_root: needs root and setpriv"
fi
kill $app $app2 2>/dev/null; wait $app $app2 2>/dev/null

out=$("$usdt" list $app 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "usdt: no process $app" ] && pass gone_pid_is_a_clear_error ||
	fail gone_pid_is_a_clear_error "rc $rc: $out"
out=$("$usdt" list /etc/passwd 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "usdt: /etc/passwd: not an ELF file" ] && pass non_elf_file_is_a_clear_error ||
	fail non_elf_file_is_a_clear_error "rc $rc: $out"
out=$("$usdt" list "$vm" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "^    bpftrace -e 'usdt:$vm:vm:function__entry { printf(\"function__entry: %s %s %d\\\\n\", str(arg0), str(arg1), arg2); }'\$" <<<"$out" &&
	pass lists_a_file_with_str_for_strings || fail lists_a_file_with_str_for_strings "rc $rc: $(head -5 <<<"$out")"
"$usdt" >/dev/null 2>&1; [ $? -eq 2 ] && "$usdt" --help | grep -q '^usage: usdt list' && pass usage_and_help ||
	fail usage_and_help "exit codes"

# A 32-bit shared library: int is int32, a 4-byte pointer is a string.
printf '#include "usdt_sdt.h"\nUSDT_DEFINE_SEMAPHORE(r32, hello);\nvoid f(int v, const char *s) { USDT_PROBE2(r32, hello, v, s); }\n' >"$tmp/l32.c"
if cc -m32 -O2 -fPIC -Ilibusdt/include -c "$tmp/l32.c" -o "$tmp/l32.o" 2>/dev/null &&
	ld -m elf_i386 -shared -o "$tmp/l32.so" "$tmp/l32.o" 2>/dev/null; then
	out=$("$usdt" list "$tmp/l32.so" 2>&1); rc=$?
	so=$(realpath "$tmp/l32.so")
	[ $rc -eq 0 ] && grep -q '^r32:hello  (int32, ptr)  semaphore$' <<<"$out" &&
		grep -qF "bpftrace -e 'usdt:$so:r32:hello { printf(\"hello: %d %s\\n\", arg0, str(arg1)); }'" <<<"$out" &&
		pass lists_an_elf32_file || fail lists_an_elf32_file "rc $rc: $out"
else
	echo "SKIP $T:lists_an_elf32_file: no 32-bit compiler (cc -m32)"
fi
