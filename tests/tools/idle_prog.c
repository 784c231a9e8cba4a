/*
 * idle_prog.c - an idle process with a watched C provider, for
 * tests/libusdt/idle_test.sh and bench/idle_bench.sh.
 *
 *   idle_prog           provider idlec with probe hit(int64 marker, int64
 *                       seq), watched (usdt_provider_watch) and loaded;
 *                       prints "READY <image path>", sleeps until a line
 *                       comes on stdin, then every millisecond fires
 *                       hit(4242, n) once the watch callback has said it is
 *                       enabled: the watcher decides when the first event
 *                       can come, as it decides when a binding's hooks go
 *                       in. Each time a tracer raises the semaphore it
 *                       prints "ENABLED sema_to_callback_ms=M": from the
 *                       semaphore seen up (by this loop, every ms) to the
 *                       callback, 0 when the callback came first; the
 *                       watcher's own part of an attach. Runs until killed.
 *   idle_prog direct    the same, but firing on the semaphore itself
 *                       (usdt_probe_enabled), as plain C code does: the
 *                       floor of the attach-to-first-event time, the
 *                       tracer's own part.
 *   idle_prog fallback N
 *                       the bound on a tracer that opens nothing: N times,
 *                       idle, raise hit's semaphore in place (as perf record
 *                       on an event made earlier does) and time it to the
 *                       callback; prints "FALLBACK max_ms=M mean_ms=A".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "usdt.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool enabled;
static double changed_at;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_change(usdt_probe *probe, bool en, void *ctx)
{
	(void)probe;
	(void)ctx;
	pthread_mutex_lock(&mu);
	enabled = en;
	changed_at = now_s();
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static bool wait_state(bool want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (enabled != want)
		if (pthread_cond_timedwait(&cv, &mu, &dl))
			break;
	bool ok = enabled == want;
	pthread_mutex_unlock(&mu);
	return ok;
}

static int fallback(usdt_probe *hit, int n)
{
	volatile unsigned short *sema = (volatile unsigned short *)usdt_probe_semaphore(hit);
	double max = 0, sum = 0;
	srand((unsigned)getpid());
	for (int i = 0; i < n; i++) {
		/* Land anywhere in the fallback's period, and past the burst
		 * of polls a load or a previous change left. */
		usleep(3500000 + (useconds_t)(rand() % 1000) * 1000);
		double t0 = now_s();
		*sema += 1;
		if (!wait_state(true))
			return fprintf(stderr, "idle_prog: no callback in 10 s\n"), 1;
		double ms = (changed_at - t0) * 1000;
		max = ms > max ? ms : max;
		sum += ms;
		*sema -= 1;
		if (!wait_state(false))
			return fprintf(stderr, "idle_prog: no disable callback in 10 s\n"), 1;
	}
	printf("FALLBACK max_ms=%.1f mean_ms=%.1f\n", max, sum / n);
	return 0;
}

int main(int argc, char **argv)
{
	usdt_provider *p = usdt_provider_new("idlec");
	usdt_probe *hit = p ? usdt_probe_new_sig(p, "hit", "int64_t, int64_t") : NULL;
	if (!hit || usdt_provider_watch(p, on_change, NULL) || usdt_provider_load(p)) {
		fprintf(stderr, "idle_prog: cannot set up the provider\n");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[1], "fallback"))
		return fallback(hit, atoi(argv[2]));
	printf("READY %s\n", usdt_provider_path(p));
	fflush(stdout);
	bool direct = argc > 1 && !strcmp(argv[1], "direct");
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	bool was_up = false, reported = false;
	double up_at = 0;
	for (int64_t n = 1;; n++) {
		bool up = usdt_probe_enabled(hit);
		if (up && !was_up)
			up_at = now_s();
		reported &= up;
		was_up = up;
		pthread_mutex_lock(&mu);
		bool en = direct ? up : enabled;
		double cb_at = changed_at;
		pthread_mutex_unlock(&mu);
		if (en)
			usdt_probe_fire2(hit, 4242, (uint64_t)n);
		if (!direct && up && en && !reported) {
			double ms = (cb_at - up_at) * 1000;
			printf("ENABLED sema_to_callback_ms=%.1f\n", ms > 0 ? ms : 0);
			fflush(stdout);
			reported = true;
		}
		usleep(1000);
	}
}
