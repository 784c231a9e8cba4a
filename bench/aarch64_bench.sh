#!/usr/bin/env bash
# aarch64_bench.sh - the arm64 build's speed relative to the native one, so a
# regression in the arm64 path shows even though emulated times mean nothing
# by themselves. core_bench --emulated (a 10,000-probe load, an untraced
# one-argument fire) runs natively and cross-built under qemu-aarch64-static,
# in alternating turns (this VM's speed moves in phases); the medians' ratio
# emulated / native is printed, labelled as emulated:
#   BENCH a64.load_10000_ratio_emulated R x
#   BENCH a64.fire_1arg_ratio_emulated R x
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=${BUILD_A64:-build-a64}
CROSS=${CROSS:-aarch64-linux-gnu-}
command -v qemu-aarch64-static >/dev/null && command -v "${CROSS}gcc" >/dev/null || {
	echo "aarch64_bench: needs qemu-user-static and gcc-aarch64-linux-gnu" >&2; exit 1; }
# bench/floor.h uses <sys/sdt.h>, which Debian installs under the host's
# multiarch directory only; the header itself is the same for every target.
sdt=/usr/include/$(cc -print-multiarch)/sys
mkdir -p "$B/sdtinc/sys"
ln -sf "$sdt/sdt.h" "$sdt/sdt-config.h" "$B/sdtinc/sys/"
make -s "$BUILD/bench/core_bench" >/dev/null &&
	make -s CC="${CROSS}gcc" AR="${CROSS}ar" BUILD="$B" BENCH_CFLAGS="-I$B/sdtinc" \
		"$B/bench/core_bench" >/dev/null || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for turn in 1 2 3; do
	"$BUILD/bench/core_bench" --emulated >>"$tmp/native" || exit 1
	qemu-aarch64-static "$B/bench/core_bench" --emulated >>"$tmp/a64" || exit 1
done
median() { # figure, file
	awk -v f="$1" '$2 == f { print $3 }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for f in load_10000:ms fire_1arg:ns; do
	name=${f%%:*}
	n=$(median "c.${name}_${f##*:}" "$tmp/native")
	a=$(median "c.${name}_${f##*:}" "$tmp/a64")
	awk -v n="$n" -v a="$a" -v name="$name" 'BEGIN { if (n > 0) printf "BENCH a64.%s_ratio_emulated %.2f x\n", name, a / n }'
done
