/*
 * shop.c - the main demo: a toy order service that defines its probes at run
 * time with libusdt and fires them as it works.
 *
 *   provider shop {
 *       probe order__placed(int64_t id, char *item, int32_t qty, uint64_t cents);
 *       probe order__shipped(int64_t id, int64_t latency_us);
 *       probe cache__miss(char *key);
 *   };
 *
 * The probes cost next to nothing until a tracer attaches; then bpftrace,
 * bcc, perf or gdb see every event with its arguments. Run it and trace it:
 *   build/examples/shop &
 *   bpftrace -p $! -e 'usdt:*:shop:order__placed { printf("%s x%d\n", str(arg1), arg2); }'
 * (scripts/demo does exactly this.)
 *
 * Usage: shop [seconds]   (default: run until killed)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "usdt.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *items[] = { "teapot", "kettle", "mug", "saucer", "spoon", "tray" };
	double seconds = argc > 1 ? atof(argv[1]) : 0;

	usdt_provider *shop = usdt_provider_new("shop");
	if (!shop) {
		fprintf(stderr, "shop: %s\n", usdt_errmsg());
		return 1;
	}
	usdt_probe *placed = usdt_probe_new_sig(shop, "order__placed", "int64_t, char *, int32_t, uint64_t");
	usdt_probe *shipped = usdt_probe_new_sig(shop, "order__shipped", "int64_t, int64_t");
	usdt_probe *miss = usdt_probe_new_sig(shop, "cache__miss", "char *");
	int err = placed && shipped && miss ? usdt_provider_load(shop) : -errno;
	if (err) {
		fprintf(stderr, "shop: cannot set up probes: %s (%s)\n", usdt_errmsg(), usdt_strerror(err));
		usdt_provider_free(shop);
		return 1;
	}
	printf("shop: pid %d, probes in %s\n", (int)getpid(), usdt_provider_path(shop));
	fflush(stdout);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	srand((unsigned)getpid());
	double start = now();
	for (int64_t id = 1; !stop && (seconds <= 0 || now() - start < seconds); id++) {
		const char *item = items[rand() % 6];
		int32_t qty = 1 + rand() % 5;
		uint64_t cents = (uint64_t)qty * (299 + (uint64_t)(rand() % 2000));
		double t0 = now();
		/* Cheap when untraced: the check is one load. */
		if (usdt_probe_enabled(placed))
			usdt_probe_fire4(placed, (uint64_t)id, (uintptr_t)item, (uint64_t)qty, cents);
		if (rand() % 4 == 0)
			USDT_FIRE(miss, item);
		usleep(50000 + (useconds_t)(rand() % 100000));
		USDT_FIRE(shipped, id, (int64_t)((now() - t0) * 1e6));
	}
	usdt_provider_free(shop);
	return 0;
}
