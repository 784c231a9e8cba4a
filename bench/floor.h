/*
 * floor.h - the floor every probe is measured against: an untraced
 * sys/sdt.h probe guarded by its semaphore, as `dtrace -h` writes it. Each
 * benchmark includes it so that its ratios come from one process.
 */
#ifndef USDT_BENCH_FLOOR_H
#define USDT_BENCH_FLOOR_H

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "bench.h"

/* Volatile so the loop re-reads it each time, as a real guard would. */
volatile unsigned short bench_floor_semaphore __attribute__((section(".probes"), used));

/* ns per iteration of a loop holding probe bench:floor. */
static double __attribute__((noinline, unused)) bench_floor_loop(long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		if (__builtin_expect(bench_floor_semaphore, 0))
			DTRACE_PROBE1(bench, floor, i);
		__asm__ volatile("" ::: "memory");
	}
	return (bench_now_ns() - t0) / (double)n;
}

#endif
