#!/usr/bin/env bash
# install_test.sh - `make install` lays out a usable library: soname, headers,
# pkg-config file, static archive; only usdt_* symbols are exported; a program
# built with pkg-config against the installed copy runs.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
pass() { echo "PASS install_test.sh:$1"; }
fail() { echo "FAIL install_test.sh:$1: $2"; }

if make -s install DESTDIR="$dest" PREFIX=/usr/local >"$dest.log" 2>&1; then
	pass make_install_succeeds
else
	fail make_install_succeeds "$(tail -3 "$dest.log" | tr '\n' '|')"
fi
rm -f "$dest.log"
lib=$dest/usr/local/lib
for f in "$lib/libusdt.so.0" "$lib/libusdt.so" "$lib/libusdt.a" "$lib/pkgconfig/libusdt.pc" \
	 "$dest/usr/local/include/usdt.h"; do
	[ -e "$f" ] || { fail installed_files "missing ${f#$dest}"; break; }
done && pass installed_files

soname=$(readelf -d "$lib/libusdt.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libusdt.so.0 ] && pass soname_is_libusdt_so_0 || fail soname_is_libusdt_so_0 "soname '$soname'"

bad=$(nm -D --defined-only "$lib/libusdt.so" | awk '{print $3}' | grep -v '^usdt_' | grep -v '^LIBUSDT_' || true)
[ -z "$bad" ] && pass only_usdt_symbols_exported || fail only_usdt_symbols_exported "also exports: $(echo $bad)"

cat >"$dest/prog.c" <<'C'
#include <usdt.h>
#include <stdio.h>
int main(void)
{
	usdt_provider *p = usdt_provider_new("installed");
	usdt_probe *a = usdt_probe_new_sig(p, "a", "int");
	int err = a ? usdt_provider_load(p) : -1;
	printf("%s\n", err ? usdt_errmsg() : "ok");
	usdt_provider_free(p);
	return err != 0;
}
C
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
if cc -o "$dest/prog" "$dest/prog.c" $(pkg-config --cflags --libs libusdt) 2>"$dest/cc.log" &&
   out=$(LD_LIBRARY_PATH=$lib USDT_DIR=$dest "$dest/prog") && [ "$out" = ok ]; then
	pass program_builds_with_pkg_config_and_runs
else
	fail program_builds_with_pkg_config_and_runs "$(cat "$dest/cc.log" | tr '\n' '|') ${out:-}"
fi
if cc -o "$dest/prog_static" "$dest/prog.c" $(pkg-config --cflags libusdt) "$lib/libusdt.a" \
	$(pkg-config --static --libs-only-l libusdt | sed 's/-lusdt//') 2>"$dest/cc.log" &&
   USDT_DIR=$dest "$dest/prog_static" >/dev/null; then
	pass program_links_statically
else
	fail program_links_statically "$(cat "$dest/cc.log" | tr '\n' '|')"
fi
