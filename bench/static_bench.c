/*
 * static_bench.c - .d files at both ends: a usdt-gen static probe left
 * untraced against a plain sys/sdt.h probe (the floor, measured here too so
 * the ratio comes from one process), and parsing + loading a big .d text.
 *
 *   c.static_probe_disabled_ns     loop with an untraced usdt-gen probe of 4 arguments
 *                                  (fastest of many short runs, like its floor)
 *   c.static_probe_disabled_ratio  that over this process's floor loop (target <= 1.1)
 *   c.parse_d_10000_probes_ms      usdt_provider_from_d() + load of a 10,000-probe
 *                                  .d text, new image each round (median; target < 20)
 * core_bench prints c.static_floor_ns itself; this file does not repeat it.
 */
#include "floor.h"
#include "usdt.h"
#include "static_probes.h" /* usdt-gen output for bench/static.d */

#define RUNS 9

static double __attribute__((noinline)) loop_generated(long n)
{
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		BENCHGEN_REQUEST(i, "/index", 200 + (i & 7), i & 1);
		__asm__ volatile("" ::: "memory");
	}
	return (bench_now_ns() - t0) / (double)n;
}

/* A .d text of n probes named like real ones, 1-3 arguments each. */
static char *d_text(int n, int round, size_t *len)
{
	static const char *sigs[] = { "int64_t id", "int64_t id, char *url",
				      "char *s, int32_t n, uint64_t v" };
	size_t cap = (size_t)n * 64 + 64, k;
	char *t = malloc(cap);
	if (!t)
		exit(1);
	k = (size_t)snprintf(t, cap, "provider parsed%d {\n", round);
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(t + k, cap - k, "\tprobe request__phase_%d(%s);\n", i, sigs[i % 3]);
	k += (size_t)snprintf(t + k, cap - k, "};\n");
	*len = k;
	return t;
}

static double parse_d_ms(int n)
{
	double v[RUNS];
	for (int r = 0; r < RUNS; r++) {
		size_t len;
		char *text = d_text(n, r, &len); /* a new provider name: a new image */
		double t0 = bench_now_ns();
		usdt_provider *p = usdt_provider_from_d(text, len, "bench.d", NULL, NULL);
		if (!p || usdt_provider_load(p)) {
			fprintf(stderr, "static_bench: %s\n", usdt_errmsg());
			exit(1);
		}
		v[r] = (bench_now_ns() - t0) / 1e6;
		usdt_provider_free(p);
		free(text);
	}
	return bench_median(v, RUNS);
}

int main(void)
{
	char dir[] = "/tmp/usdt-sbench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("USDT_DIR", dir, 1);

	/* Many short runs of each loop, alternated, keeping each one's fastest:
	 * other processes only ever add time, so the minimum is the loop's own
	 * cost even on a busy machine, where medians of long runs drift apart. */
	long n = 2 * 1000 * 1000;
	bench_floor_loop(25 * n); /* warm up the CPU */
	double floor_ns = 1e9, gen_ns = 1e9;
	for (int r = 0; r < 101; r++) {
		double f = bench_floor_loop(n), g = loop_generated(n);
		floor_ns = f < floor_ns ? f : floor_ns;
		gen_ns = g < gen_ns ? g : gen_ns;
	}
	bench_print("c.static_probe_disabled_ns", gen_ns, "ns");
	bench_print("c.static_probe_disabled_ratio", gen_ns / floor_ns, "x");

	bench_print("c.parse_d_10000_probes_ms", parse_d_ms(10000), "ms");

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
