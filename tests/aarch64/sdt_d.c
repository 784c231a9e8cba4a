/*
 * sdt_d.c - a program with static probes from tests/aarch64/sdt_d.d (through
 * usdt-gen): twelve arguments at their extremes, a string, and a probe whose
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
	int was = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	puts(s); /* bpftrace cannot read a page the process never touched */
	for (int n = 0;; n++) {
		int on = A64SDT_TICK_ENABLED() ? 1 : 0;
		if (on != was)
			printf("sema %d\n", on);
		was = on;
		A64SDT_TICK(n);
		A64SDT_TWELVE(INT8_MIN, UINT8_MAX, INT16_MIN, UINT16_MAX, INT32_MIN, UINT32_MAX,
			      INT64_MIN, UINT64_MAX, s, -2L, ULONG_MAX, INT_MAX);
		usleep(2000);
	}
}
