/*
 * core_bench.c - libusdt's dynamic probes against a static sys/sdt.h probe,
 * measured in the same run.
 *
 *   c.static_floor_ns        loop with an untraced sys/sdt.h probe (semaphore check)
 *   c.enabled_check_ns       loop with usdt_probe_enabled() on a dynamic probe
 *   c.fire_{1,6,12}arg_ns    unguarded usdt_probe_fireN() of an untraced probe
 *   c.static_traced_hit_ns   sys/sdt.h probe hit with bpftrace attached (count)
 *   c.traced_hit_ns          dynamic probe hit with bpftrace attached (count)
 *   c.traced_hit_nop1_ns     the same with the 1-byte-nop site
 *   c.load_{1000,10000,100000}_ms  create + load a provider of N probes (new image)
 *   c.load_10000_cached_ms   the same when the image file already exists
 *   c.image_bytes_per_probe  image file size / probes: provider "myapp", 10,000 probes
 *                            named request__phase_N with 1-3 arguments
 * Per-iteration figures are medians over several runs of a long loop.
 */
#include <sys/stat.h>

#include "floor.h"
#include "tracer.h"
#include "usdt.h"

#define RUNS 9

static double __attribute__((noinline)) loop_enabled(usdt_probe *p, long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		if (usdt_probe_enabled(p))
			usdt_probe_fire1(p, (uint64_t)i);
		__asm__ volatile("" ::: "memory");
	}
	return (bench_now_ns() - t0) / (double)n;
}

static double __attribute__((noinline)) loop_fire1(usdt_probe *p, long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		usdt_probe_fire1(p, (uint64_t)i);
	return (bench_now_ns() - t0) / (double)n;
}

static double __attribute__((noinline)) loop_fire6(usdt_probe *p, long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		usdt_probe_fire6(p, (uint64_t)i, 2, 3, 4, 5, 6);
	return (bench_now_ns() - t0) / (double)n;
}

static double __attribute__((noinline)) loop_fire12(usdt_probe *p, long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		usdt_probe_fire12(p, (uint64_t)i, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
	return (bench_now_ns() - t0) / (double)n;
}

typedef double (*loop_fn)(usdt_probe *, long);

static double median_of(loop_fn fn, usdt_probe *p, long n)
{
	double v[RUNS];
	for (int r = 0; r < RUNS; r++)
		v[r] = fn ? fn(p, n) : bench_floor_loop(n);
	return bench_median(v, RUNS);
}

/* Attach bpftrace (counting hits) to target, run the loop, detach. */
static double traced(const char *probe_spec, const volatile unsigned short *sema,
		     double (*body)(void *), void *arg)
{
	if (!tr_have("bpftrace"))
		return -1;
	tr_mount_tracefs();
	char pidbuf[16], script[1024];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script), TR_READY "%s { @n = count(); }", probe_spec);
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	if (tr_start(&t, argv) || !tr_wait_ready(&t, 30) || !tr_wait_sema(sema, false, 10)) {
		tr_stop(&t);
		return -1;
	}
	usleep(100000);
	double v[5];
	for (int r = 0; r < 5; r++)
		v[r] = body(arg);
	tr_stop(&t);
	return bench_median(v, 5);
}

#define HITS 200000

static double static_hits(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (long i = 0; i < HITS; i++)
		if (__builtin_expect(bench_floor_semaphore, 0))
			DTRACE_PROBE1(bench, floor, i);
	return (bench_now_ns() - t0) / HITS;
}

static double dynamic_hits(void *arg)
{
	usdt_probe *p = arg;
	double t0 = bench_now_ns();
	for (long i = 0; i < HITS; i++)
		usdt_probe_fire1(p, (uint64_t)i);
	return (bench_now_ns() - t0) / HITS;
}

static double traced_dynamic(const char *figure, usdt_site site)
{
	struct usdt_provider_opts o = { .sz = sizeof(o), .site = site };
	usdt_provider *prov = usdt_provider_new_opts(site == USDT_SITE_NOP1 ? "bench_hit1" : "bench_hit5", &o);
	usdt_probe *p = usdt_probe_new_sig(prov, "hit", "int64_t");
	if (usdt_provider_load(prov)) {
		fprintf(stderr, "core_bench: load: %s\n", usdt_errmsg());
		return -1;
	}
	char spec[600];
	snprintf(spec, sizeof(spec), "usdt:%s:%s:hit", usdt_provider_path(prov), usdt_provider_name(prov));
	double v = traced(spec, usdt_probe_semaphore(p), dynamic_hits, p);
	if (v > 0)
		bench_print(figure, v, "ns");
	usdt_provider_free(prov);
	return v;
}

static char bench_dir[] = "/tmp/usdt-bench-XXXXXX";

/* Create and load a provider of n probes named like real ones. A fresh
 * provider name per round gives a new image (cold: written to disk);
 * pname fixes the name (cached: the file exists and is verified). */
static double load_ms(int n, const char *pname, off_t *size)
{
	static int round;
	char fresh[32];
	if (!pname) {
		snprintf(fresh, sizeof(fresh), "load%d_%d", n, round++);
		pname = fresh;
	}
	double t0 = bench_now_ns();
	usdt_provider *p = usdt_provider_new(pname);
	char name[64];
	static const char *sigs[] = { "int64_t", "int64_t, char *", "char *, int32_t, uint64_t" };
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "request__phase_%d", i);
		if (!usdt_probe_new_sig(p, name, sigs[i % 3])) {
			fprintf(stderr, "core_bench: %s\n", usdt_errmsg());
			exit(1);
		}
	}
	if (usdt_provider_load(p)) {
		fprintf(stderr, "core_bench: load: %s\n", usdt_errmsg());
		exit(1);
	}
	double ms = (bench_now_ns() - t0) / 1e6;
	if (size) {
		struct stat st;
		stat(usdt_provider_path(p), &st);
		*size = st.st_size;
	}
	usdt_provider_free(p);
	return ms;
}

int main(int argc, char **argv)
{
	/* --emulated: only the figures bench/aarch64_bench.sh compares across
	 * architectures, with loops short enough for user-mode emulation. */
	bool emulated = argc > 1 && !strcmp(argv[1], "--emulated");
	if (!mkdtemp(bench_dir))
		return 1;
	setenv("USDT_DIR", bench_dir, 1);
	usdt_provider *prov = usdt_provider_new("bench");
	usdt_probe *p1 = usdt_probe_new_sig(prov, "one", "int64_t");
	usdt_probe *p6 = usdt_probe_new_sig(prov, "six", "int64_t, int64_t, int64_t, int64_t, int64_t, int64_t");
	usdt_type t12[12];
	for (int i = 0; i < 12; i++)
		t12[i] = USDT_INT64;
	usdt_probe *p12 = usdt_probe_new(prov, "twelve", t12, 12);
	if (usdt_provider_load(prov)) {
		fprintf(stderr, "core_bench: %s\n", usdt_errmsg());
		return 1;
	}
	long n = 50 * 1000 * 1000;
	if (emulated) {
		double v[5];
		for (int r = 0; r < 5; r++)
			v[r] = load_ms(10000, NULL, NULL);
		bench_print("c.load_10000_ms", bench_median(v, 5), "ms");
		bench_print("c.fire_1arg_ns", median_of(loop_fire1, p1, 2 * 1000 * 1000), "ns");
		usdt_provider_free(prov);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", bench_dir);
		return system(cmd) ? 1 : 0;
	}
	bench_floor_loop(n); /* warm up the CPU */
	double floor_ns = median_of(NULL, NULL, n);
	bench_print("c.static_floor_ns", floor_ns, "ns");
	double en = median_of(loop_enabled, p1, n);
	bench_print("c.enabled_check_ns", en, "ns");
	bench_print("c.enabled_check_ratio", en / floor_ns, "x");
	bench_print("c.fire_1arg_ns", median_of(loop_fire1, p1, n / 5), "ns");
	bench_print("c.fire_6arg_ns", median_of(loop_fire6, p6, n / 5), "ns");
	bench_print("c.fire_12arg_ns", median_of(loop_fire12, p12, n / 5), "ns");

	/* bpftrace would resolve /proc/self/exe as itself: name our file. */
	char exe[512], spec[600];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[el > 0 ? el : 0] = 0;
	snprintf(spec, sizeof(spec), "usdt:%s:bench:floor", exe);
	double st = traced(spec, &bench_floor_semaphore, static_hits, NULL);
	if (st > 0)
		bench_print("c.static_traced_hit_ns", st, "ns");
	double dyn = traced_dynamic("c.traced_hit_ns", USDT_SITE_DEFAULT);
	if (st > 0 && dyn > 0)
		bench_print("c.traced_hit_speedup", st / dyn, "x");
	traced_dynamic("c.traced_hit_nop1_ns", USDT_SITE_NOP1);

	int sizes[] = { 1000, 10000, 100000 };
	for (int s = 0; s < 3; s++) {
		int runs = sizes[s] >= 100000 ? 5 : 9;
		double v[9];
		for (int r = 0; r < runs; r++)
			v[r] = load_ms(sizes[s], NULL, NULL);
		char name[64];
		snprintf(name, sizeof(name), "c.load_%d_ms", sizes[s]);
		bench_print(name, bench_median(v, runs), "ms");
	}
	off_t size = 0;
	double v[9];
	load_ms(10000, "myapp", &size);
	for (int r = 0; r < 9; r++)
		v[r] = load_ms(10000, "myapp", NULL);
	bench_print("c.load_10000_cached_ms", bench_median(v, 9), "ms");
	bench_print("c.image_bytes_per_probe", (double)size / 10000, "B");

	usdt_provider_free(prov);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bench_dir);
	return system(cmd) ? 1 : 0;
}
