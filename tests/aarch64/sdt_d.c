/*
 * sdt_d.c - a program with static probes from tests/aarch64/sdt_d.d (through
 * usdt-gen): eight and twelve arguments at their extremes, a string, and a probe whose
 * semaphore it reports as it changes ("sema 1" / "sema 0"), so a tracer's
 * attach and detach show. Runs until killed.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "sdt_d_probes.h"

int main(void)
{
	const char *s = "h\xc3\xa9llo arm64";
	static volatile struct {
		int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
		int64_t i64; uint64_t u64; const char *s; long l; unsigned long ul; int i;
	} v = { INT8_MIN, UINT8_MAX, INT16_MIN, UINT16_MAX, INT32_MIN, UINT32_MAX,
		INT64_MIN, UINT64_MAX, NULL, -2L, ULONG_MAX, INT_MAX };
	int was = -1;
	v.s = s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	puts(s); /* bpftrace cannot read a page the process never touched */
	for (int n = 0;; n++) {
		int on = A64SDT_TICK_ENABLED() ? 1 : 0;
		if (on != was)
			printf("sema %d\n", on);
		was = on;
		A64SDT_TICK(n);
		/* Through volatile: values in registers, as in real code. */
		A64SDT_EIGHT(v.i8, v.u8, v.i16, v.u16, v.i32, v.u32, v.s, v.i64);
		A64SDT_TWELVE(v.i8, v.u8, v.i16, v.u16, v.i32, v.u32, v.i64, v.u64, v.s, v.l, v.ul, v.i);
		usleep(2000);
	}
}
