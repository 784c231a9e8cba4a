/*
 * stress_test.c - threads firing probes while other threads unload, reload,
 * redefine, create and free providers, with bpftrace attached to the fired
 * probes by path, for STRESS_SECONDS (default 10; `make stress` runs 120).
 * No crash, every fire while traced reaches bpftrace's count, and open
 * fds, mappings and RSS are flat from start (after a warm-up) to end:
 *   fds:      equal
 *   mappings: at most +4 lines (glibc may keep a per-thread malloc arena)
 *   RSS:      at most +2 MiB (allocator and page-cache noise)
 * The figures go to stderr as one "STRESS ..." line.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "testlib.h"
#include "tracer.h"
#include "usdt.h"

enum { NSHARED = 2, NFIRE = 3, NLIFE = NSHARED };

static usdt_provider *shared[NSHARED];
static atomic_bool stop;
static atomic_long fires, cycles, fresh_images, lifecycle_errors;

static usdt_provider *define(const char *name)
{
	usdt_provider *p = usdt_provider_new(name);
	if (!p || !usdt_probe_new_sig(p, "ev", "int64_t, char *") ||
	    !usdt_probe_new_sig(p, "n", "int") || !usdt_probe_new_sig(p, "z", ""))
		return NULL;
	return p;
}

static void *fire_thread(void *arg)
{
	long n = 0;
	static const char msg[] = "stress";
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < NSHARED; k++) {
			usdt_probe *ev = usdt_provider_probe_at(shared[k], 0);
			USDT_FIRE(ev, n, msg);
			uint64_t v[1] = { (uint64_t)n };
			usdt_probe_fire_argv(usdt_provider_probe_at(shared[k], 1), v, 1);
			usdt_probe_fire0(usdt_provider_probe_at(shared[k], 2));
		}
		n++;
	}
	atomic_fetch_add(&fires, n * NSHARED * 3);
	return NULL;
}

/* Owns shared[k]: unloads and reloads it (revived at once, or mapped
 * again after the grace period), and cycles a private provider through
 * new -> load -> fire -> unload -> load -> free. */
static void *life_thread(void *arg)
{
	int k = (int)(intptr_t)arg;
	long c = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (usdt_provider_unload(shared[k]))
			atomic_fetch_add(&lifecycle_errors, 1);
		if (c % 256 == 255)
			usleep(110 * 1000); /* past the grace period: a real re-map */
		if (usdt_provider_load(shared[k]))
			atomic_fetch_add(&lifecycle_errors, 1);
		if (c % 4 == 0) {
			char name[48];
			/* 16 definitions per thread: new images at first, then the cache. */
			snprintf(name, sizeof(name), "stress_priv%d_%ld", k, (c / 4) % 16);
			usdt_provider *p = define(name);
			if (!p || usdt_provider_load(p)) {
				atomic_fetch_add(&lifecycle_errors, 1);
			} else {
				usdt_probe_fire2(usdt_provider_probe_at(p, 0), 1, (uintptr_t)"x");
				usdt_provider_unload(p);
				if (usdt_provider_load(p))
					atomic_fetch_add(&lifecycle_errors, 1);
				usdt_probe_fire1(usdt_provider_probe_at(p, 1), 2);
				atomic_fetch_add(&fresh_images, 1);
			}
			usdt_provider_free(p);
		}
		c++;
	}
	atomic_fetch_add(&cycles, c);
	return NULL;
}

static long rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	if (f)
		fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void run_for(double seconds)
{
	pthread_t ft[NFIRE], lt[NLIFE];
	atomic_store(&stop, false);
	for (int i = 0; i < NFIRE; i++)
		pthread_create(&ft[i], NULL, fire_thread, NULL);
	for (int i = 0; i < NLIFE; i++)
		pthread_create(&lt[i], NULL, life_thread, (void *)(intptr_t)i);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (int i = 0; i < NFIRE; i++)
		pthread_join(ft[i], NULL);
	for (int i = 0; i < NLIFE; i++)
		pthread_join(lt[i], NULL);
	/* Settle: past the grace period, one more cycle reaps retired images. */
	usleep(150 * 1000);
	for (int k = 0; k < NSHARED; k++) {
		usdt_provider_unload(shared[k]);
		usleep(0);
	}
	usleep(110 * 1000);
	for (int k = 0; k < NSHARED; k++)
		usdt_provider_load(shared[k]);
}

TEST(fire_while_reloading_with_bpftrace_attached)
{
	if (!tr_have("bpftrace"))
		SKIP_TRACER("bpftrace is not installed");
	tr_mount_tracefs();
	double seconds = getenv("STRESS_SECONDS") ? atof(getenv("STRESS_SECONDS")) : 10;
	char paths[NSHARED][512];
	for (int k = 0; k < NSHARED; k++) {
		char name[32];
		snprintf(name, sizeof(name), "stress%d", k);
		shared[k] = define(name);
		CHECK(shared[k] && usdt_provider_load(shared[k]) == 0);
		CHECK(!usdt_provider_is_memfd(shared[k]));
		snprintf(paths[k], sizeof(paths[k]), "%s", usdt_provider_path(shared[k]));
	}
	char script[2048];
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:stress0:ev { @a = count(); } usdt:%s:stress1:ev { @b = count(); }",
		 paths[0], paths[1]);
	const char *argv[] = { "bpftrace", "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 30), "bpftrace did not attach: %s %s", t.out, t.err);
	CHECK(tr_wait_sema(usdt_probe_semaphore(usdt_provider_probe_at(shared[0], 0)), false, 5));

	run_for(seconds < 10 ? 1 : 3); /* warm-up: caches, arenas, thread stacks */
	long c0 = atomic_load(&cycles), f0 = atomic_load(&fires);
	int fds0 = tr_count_fds(), maps0 = tr_count_maps();
	long rss0 = rss_kb();
	double t0 = tr_now();
	run_for(seconds);
	double took = tr_now() - t0;
	int fds1 = tr_count_fds(), maps1 = tr_count_maps();
	long rss1 = rss_kb();
	long c = atomic_load(&cycles) - c0, f = atomic_load(&fires) - f0;

	tr_stop(&t);
	long a = 0, b = 0;
	const char *pa = strstr(tr_events(&t), "@a: "), *pb = strstr(tr_events(&t), "@b: ");
	if (pa)
		a = atol(pa + 4);
	if (pb)
		b = atol(pb + 4);
	fprintf(stderr,
		"STRESS seconds %.1f threads %d fire + %d lifecycle, reload cycles %ld, private "
		"provider lifecycles %ld, fires %ld, traced hits %ld, fds %d -> %d, mappings %d -> "
		"%d, rss %ld -> %ld KiB\n",
		took, NFIRE, NLIFE, c, atomic_load(&fresh_images), f, a + b, fds0, fds1, maps0,
		maps1, rss0, rss1);
	CHECK_EQ_INT(atomic_load(&lifecycle_errors), 0);
	/* Under emulation (USDT_TEST_TIME_SCALE) everything is that much slower. */
	CHECK_MSG(c >= 1000 / tr_time_scale(), "only %ld reload cycles", c);
	CHECK_MSG(a > 0 && b > 0, "bpftrace counted %ld and %ld: %s", a, b, t.out);
	CHECK_EQ_INT(fds1, fds0);
#ifndef __SANITIZE_ADDRESS__
	/* ASan's quarantine holds freed memory back: there LeakSanitizer checks. */
	CHECK_MSG(maps1 <= maps0 + 4, "mappings %d -> %d", maps0, maps1);
	CHECK_MSG(rss1 <= rss0 + 2048, "rss %ld -> %ld KiB", rss0, rss1);
#endif
	for (int k = 0; k < NSHARED; k++)
		usdt_provider_free(shared[k]);
}

TEST_MAIN()
