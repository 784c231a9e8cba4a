#!/usr/bin/env bash
# deb_test.sh - the Debian packages (debian/, `make deb` into dist/deb)
# installed with apt, offline, into a fresh Debian bookworm root: never the
# build tree. The base (scripts/deb/mkbase: mmdebstrap, the packages'
# dependencies, gcc, libc6-dev, pkgconf) is cached by its package list in
# /var/cache/libusdt; every run extracts a new copy and removes it after.
# Inside: the files promised are there (dpkg -L), a C program built with
# `pkg-config --cflags --libs libusdt` fires a probe that the host's
# bpftrace sees with its values, `usdt list PID` lists it, `usdt top` finds
# its view, python3-usdt imports from the package and an @fbt probe is traced,
# the .pth switch and `python3 -m usdt` turn the runtime probes on. And
# lintian finds no error in the packages.
set -u
cd "$(dirname "$0")/../.."
tree=$PWD
ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
T=deb_test.sh
pass() { echo "PASS $T:$1"; }
fail() { echo "FAIL $T:$1: $2"; }
skip() { if ci; then fail "$1" "$2 (CI=true: a skip is a failure)"; else echo "SKIP $T:$1: $2"; fi; }
debs=${USDT_DEB_DIR:-dist/deb}

[ "$(id -u)" = 0 ] || { skip packages "needs root (chroot, mounts, bpftrace)"; exit 0; }
for t in bpftrace mmdebstrap unshare lintian; do
	command -v $t >/dev/null || { skip packages "$t missing (scripts/setup-deps installs it)"; exit 0; }
done
pkgs=()
for p in libusdt0 libusdt-dev usdt python3-usdt; do
	f=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || { skip packages "no ${p}_*.deb in $debs (make deb builds them)"; exit 0; }
	pkgs+=("$f")
done

# lintian: errors fail; the warnings left are listed in the README.
lint=$(lintian --fail-on none "${pkgs[@]}" 2>&1)
errs=$(printf '%s\n' "$lint" | grep '^E: ')
[ -z "$errs" ] && pass lintian_no_errors || fail lintian_no_errors "$(echo $errs)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deb_test.XXXXXX")
root=$tmp/root
bg=() bt=
cleanup() {
	[ -n "$bt" ] && kill -KILL $bt 2>/dev/null
	# The programs stop on their file; killed too if they are still there
	# (bg: the root-run jobs and the programs' own pids, once known).
	touch "$root/root/c.stop" "$root/root/py.stop" 2>/dev/null
	for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	# The root's mounts were made in root-run's private namespaces, gone with
	# them; never remove through a mount that would still be there.
	if grep -q " $root/" /proc/self/mountinfo; then
		echo "deb_test.sh: mounts left under $root, not removed" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir "$root"
. tests/lib/bpftrace.sh
in_root() { "$tree/scripts/root-run" "$root" - "$@"; }
# wait_file F: up to 15 s for F (written by a process in the root).
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

if ! base=$(scripts/deb/mkbase 2>"$tmp/mkbase.err"); then
	fail fresh_root "scripts/deb/mkbase failed: $(tail -n 3 "$tmp/mkbase.err" | tr '\n' '|')"; exit 0
fi
if tar -xf "$base" -C "$root" 2>"$tmp/tar.err" && [ -x "$root/usr/bin/apt-get" ]; then
	pass fresh_root
else
	fail fresh_root "extracting $base: $(head -c 300 "$tmp/tar.err")"; exit 0
fi
mkdir "$root/root/debs"
cp "${pkgs[@]}" "$root/root/debs/"
# No package lists in the root (mmdebstrap leaves none) and no network (an
# empty network namespace): apt can only use what is installed and these files.
if unshare --net "$tree/scripts/root-run" "$root" - bash -c 'apt-get install -y -q --no-install-recommends ./debs/*.deb' >"$tmp/apt.log" 2>&1; then
	pass apt_install_offline
else
	fail apt_install_offline "$(tail -n 4 "$tmp/apt.log" | tr '\n' '|')"; exit 0
fi

ma=$(in_root dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || in_root gcc -print-multiarch)
listed=$(in_root dpkg -L libusdt0 libusdt-dev usdt python3-usdt)
missing=
for f in /usr/lib/$ma/libusdt.so.0 /usr/lib/$ma/libusdt.so.0.1.0 /usr/lib/$ma/libusdt.so \
	/usr/lib/$ma/libusdt.a /usr/lib/$ma/pkgconfig/libusdt.pc /usr/include/usdt.h /usr/include/usdt_sdt.h \
	/usr/bin/usdt-gen /usr/share/libusdt/providers/python.d /usr/share/libusdt/providers/node.d \
	/usr/bin/usdt /usr/libexec/usdt/usdt-view /usr/libexec/usdt/usdt_view/top.py \
	/usr/lib/python3/dist-packages/usdt/__init__.py /usr/lib/python3/dist-packages/usdt/__main__.py \
	/usr/lib/python3/dist-packages/usdt-runtime.pth; do
	printf '%s\n' "$listed" | grep -qx "$f" && [ -e "$root$f" ] || missing="$missing $f"
done
ext=$(printf '%s\n' "$listed" | grep -c '^/usr/lib/python3/dist-packages/usdt/_usdt\.cpython-.*\.so$')
[ -z "$missing" ] && [ "$ext" = 1 ] && pass package_contents ||
	fail package_contents "not installed by the packages:${missing:- } (extension modules: $ext)"
soname=$(readelf -d "$root/usr/lib/$ma/libusdt.so.0.1.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libusdt.so.0 ] && pass soname || fail soname "SONAME '$soname'"

libdir=$(in_root pkg-config --variable=libdir libusdt 2>&1)
[ "$libdir" = "/usr/lib/$ma" ] && pass pkg_config_multiarch_libdir ||
	fail pkg_config_multiarch_libdir "libdir '$libdir', want /usr/lib/$ma"

# A C program on the installed library. It writes "PID PATH" once its
# provider is loaded, then fires until /root/c.stop appears (at most 30 s).
marker=deb-$$-$RANDOM
cat >"$root/root/prog.c" <<'C'
#include <usdt.h>
#include <stdio.h>
#include <unistd.h>
#include "vm_probes.h"
int main(int argc, char **argv)
{
	usdt_provider *p = usdt_provider_new("debtest");
	usdt_probe *hit = p ? usdt_probe_new_sig(p, "hit", "int32_t, char *, uint64_t") : NULL;
	if (!hit || usdt_provider_load(p)) {
		fprintf(stderr, "prog: %s\n", usdt_errmsg());
		return 1;
	}
	FILE *f = fopen("/root/c.ready.tmp", "w");
	if (!f)
		return 1;
	fprintf(f, "%d %s\n", (int)getpid(), usdt_provider_path(p));
	fclose(f);
	rename("/root/c.ready.tmp", "/root/c.ready");
	for (int i = 0; i < 1500 && access("/root/c.stop", F_OK); i++) {
		usdt_probe_fire3(hit, 42, (uintptr_t)(argc > 1 ? argv[1] : ""), 1234567890123ULL);
		VM_GC_START(987654321);
		usleep(20000);
	}
	usdt_provider_free(p);
	return 0;
}
C
# Its static probe vm:gc__start comes from the packaged vm.d through usdt-gen.
if in_root bash -c 'usdt-gen -o vm_probes.h /usr/share/libusdt/providers/vm.d &&
	gcc -o prog prog.c $(pkg-config --cflags --libs libusdt)' >"$tmp/cc.log" 2>&1 &&
	in_root ldd /root/prog | grep -qE "libusdt\.so\.0 => (/usr)?/lib/$ma/libusdt\.so\.0"; then
	pass c_program_builds_with_pkg_config
else
	fail c_program_builds_with_pkg_config "$(head -c 400 "$tmp/cc.log" | tr '\n' '|')"
fi
# usdt list runs in the program's mount namespace (one root-run): a file
# mapped in another namespace's mounts has no path from this one's root.
# USDT_DIR on the root's disk, not its /tmp (a tmpfs of that namespace): the
# host's bpftrace then reaches the image through /proc/PID/root.
in_root bash -c 'USDT_DIR=/root/usdt /root/prog "$1" & p=$!
	for _ in $(seq 300); do [ -e /root/c.list-now ] && break; sleep 0.05; done
	usdt list $p >/root/c.list 2>&1; echo $? >/root/c.list-rc; wait $p' _ "$marker" 2>"$tmp/prog.err" &
bg+=($!)
if ! wait_file "$root/root/c.ready"; then
	fail c_probe_traced "the program did not start: $(head -c 300 "$tmp/prog.err")"
else
	read -r pid path <"$root/root/c.ready"
	bg+=("$pid")
	bpath=$(bt_pid_path "$pid" "$path")
	if bt_start -e "BEGIN { printf(\"READY\\n\"); }
		usdt:$bpath:debtest:hit /@hit == 0/ { printf(\"EV %d %s %lu\\n\", arg0, str(arg1), arg2); @hit = 1; }
		usdt:$(bt_pid_path "$pid" /root/prog):vm:gc__start /@gc == 0/ { printf(\"GC %ld\\n\", arg0); @gc = 1; }"; then
		for _ in $(seq 100); do [ "$(bt_events | grep -c '^[EG][VC] ')" -ge 2 ] && break; sleep 0.05; done
		bt_stop; bt=
		ev=$(bt_events | grep -m1 '^EV ')
		[ "$ev" = "EV 42 $marker 1234567890123" ] && pass c_probe_traced ||
			fail c_probe_traced "event '$ev', want 'EV 42 $marker 1234567890123': $(bt_output | tail -n 3 | tr '\n' '|')"
		ev=$(bt_events | grep -m1 '^GC ')
		[ "$ev" = "GC 987654321" ] && pass usdt_gen_static_probe_traced ||
			fail usdt_gen_static_probe_traced "event '$ev', want 'GC 987654321': $(bt_output | tail -n 3 | tr '\n' '|')"
	else
		bt_stop; bt=
		fail c_probe_traced "bpftrace did not start: $(bt_output | tail -n 3 | tr '\n' '|')"
	fi
	touch "$root/root/c.list-now"
	wait_file "$root/root/c.list-rc"
	out=$(cat "$root/root/c.list" "$root/root/c.list-rc" 2>&1)
	printf '%s\n' "$out" | grep -q '^debtest:hit  (int32, ptr, ptr) ' &&
		printf '%s\n' "$out" | grep -qF "usdt:/proc/$pid/root$path:debtest:hit" && pass usdt_list_pid ||
		fail usdt_list_pid "$(printf '%s\n' "$out" | head -n 4 | tr '\n' '|')"
fi
touch "$root/root/c.stop"

# usdt top finds its view in /usr/libexec/usdt (../libexec/usdt beside
# /usr/bin/usdt) and runs it with the root's python3.
out=$(in_root usdt top --help 2>&1)
rc=$?
[ $rc = 0 ] && printf '%s\n' "$out" | grep -q 'usdt top' && pass usdt_top_finds_its_view ||
	fail usdt_top_finds_its_view "exit $rc: $(printf '%s\n' "$out" | head -n 3 | tr '\n' '|')"

out=$(in_root python3 -c 'import usdt; print(usdt.__file__)' 2>&1)
[ "$out" = /usr/lib/python3/dist-packages/usdt/__init__.py ] && pass python_imports_usdt ||
	fail python_imports_usdt "$out"

cat >"$root/root/fbt_prog.py" <<'PY'
import os, sys, time
import usdt
from usdt import fbt

@fbt(provider="debpy", name="work", args=True)
def work(x):
    return x * 2

with open("/root/py.ready.tmp", "w") as f:
    f.write("%d %s\n" % (os.getpid(), usdt.fbt_provider(work).path))
os.rename("/root/py.ready.tmp", "/root/py.ready")
end = time.time() + 30
while time.time() < end and not os.path.exists("/root/py.stop"):
    work(int(sys.argv[1]))
    time.sleep(0.02)
PY
in_root env USDT_DIR=/root/usdt python3 /root/fbt_prog.py 4242 2>"$tmp/py.err" &
bg+=($!)
if ! wait_file "$root/root/py.ready"; then
	fail python_fbt_traced "the program did not start: $(head -c 300 "$tmp/py.err")"
else
	read -r pid path <"$root/root/py.ready"
	bg+=("$pid")
	bpath=$(bt_pid_path "$pid" "$path")
	if bt_start -e "BEGIN { printf(\"READY\\n\"); }
		usdt:$bpath:debpy:work__entry { printf(\"PY %s %s\\n\", str(arg1), str(arg4)); exit(); }"; then
		for _ in $(seq 100); do kill -0 $bt 2>/dev/null || break; sleep 0.05; done
		bt_stop; bt=
		ev=$(bt_events | grep -m1 '^PY ')
		[ "$ev" = "PY work x=4242" ] && pass python_fbt_traced ||
			fail python_fbt_traced "event '$ev', want 'PY work x=4242': $(bt_output | tail -n 3 | tr '\n' '|')"
	else
		bt_stop; bt=
		fail python_fbt_traced "bpftrace did not start: $(bt_output | tail -n 3 | tr '\n' '|')"
	fi
fi
touch "$root/root/py.stop"

# The runtime probes: on through the .pth switch, and through python3 -m usdt.
state='import usdt.runtime as r; s = r.runtime_probes_state(); print(s["active"], s["path"] is not None)'
off=$(in_root python3 -c "import sys; print('usdt.runtime' in sys.modules)" 2>&1)
on=$(in_root env USDT_RUNTIME_PROBES=1 python3 -c "import sys; print('usdt.runtime' in sys.modules); $state" 2>&1)
[ "$off" = False ] && [ "$on" = "True
True True" ] && pass pth_switch ||
	fail pth_switch "without USDT_RUNTIME_PROBES: '$off'; with: '$(echo $on)'"
printf '%s\n' "$state" >"$root/root/state.py"
out=$(in_root python3 -m usdt /root/state.py 2>&1)
[ "$out" = "True True" ] && pass python_m_usdt || fail python_m_usdt "'$(echo $out)', want 'True True'"
