/*
 * watch.c - telling a process that a tracer attached.
 *
 * Nothing notifies a process when the kernel (bpftrace, perf) or another
 * process (bcc, via /proc/PID/mem) raises a semaphore. So one thread reads
 * the semaphores of watched providers every USDT_POLL_MS (default 5 ms)
 * and reports changes. Tracers open the image file before attaching, so an
 * inotify watch on image files wakes the thread at once and makes it poll
 * every millisecond for a moment: attach-to-callback is then about 1 ms.
 *
 * Callbacks run on the watcher thread with cb_lock held and the provider
 * list unlocked; watch changes and frees from other threads take cb_lock,
 * so when they return no callback for that provider is running.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "provider.h"

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static bool running;
static pthread_t watcher;
static int nwatched;
static int ino_fd = -1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

struct event {
	usdt_watch_fn fn;
	void *ctx;
	usdt_probe *probe;
	bool enabled;
};

static unsigned poll_interval_ms(void)
{
	static unsigned ms;
	if (!ms) {
		const char *s = getenv("USDT_POLL_MS");
		long v = s ? atol(s) : 5;
		ms = v >= 1 && v <= 10000 ? (unsigned)v : 5;
	}
	return ms;
}

static bool on_watcher(void)
{
	return __atomic_load_n(&running, __ATOMIC_ACQUIRE) && pthread_equal(pthread_self(), watcher);
}

static void drain_inotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(ino_fd, buf, sizeof(buf)) > 0)
		;
}

struct scan {
	struct event *ev;
	size_t n, cap;
	bool oom;
};

static int scan_provider(usdt_provider *prov, void *ctx)
{
	struct scan *s = ctx;
	if (!prov->watch_fn)
		return 0;
	if (prov->image && !prov->inotify_done && ino_fd >= 0) {
		if (prov->image->stored.memfd < 0)
			inotify_add_watch(ino_fd, prov->image->public_path, IN_OPEN | IN_ACCESS);
		prov->inotify_done = true;
	}
	for (size_t i = 0; i < prov->nprobes; i++) {
		usdt_probe *p = prov->probes[i];
		bool en = *__atomic_load_n(&p->head.sema, __ATOMIC_ACQUIRE) != 0;
		if (en == p->watch_enabled)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct event *ev = usdt__realloc(s->ev, cap * sizeof(*ev));
			if (!ev) {
				s->oom = true; /* report the rest next round */
				return 1;
			}
			s->ev = ev;
			s->cap = cap;
		}
		p->watch_enabled = en;
		s->ev[s->n++] = (struct event){ prov->watch_fn, prov->watch_ctx, p, en };
	}
	return 0;
}

static void *watch_main(void *arg)
{
	(void)arg;
	struct scan s = { 0 };
	uint64_t fast_until = 0;
	for (;;) {
		uint64_t now = usdt__now_ns();
		int timeout = now < fast_until ? 1 : (int)poll_interval_ms();
		if (ino_fd >= 0) {
			struct pollfd pfd = { .fd = ino_fd, .events = POLLIN };
			if (poll(&pfd, 1, timeout) > 0) {
				drain_inotify();
				fast_until = usdt__now_ns() + 300ull * 1000 * 1000;
			}
		} else {
			struct timespec ts = { 0, (long)timeout * 1000000L };
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&cb_lock);
		usdt__lock();
		if (nwatched == 0) {
			__atomic_store_n(&running, false, __ATOMIC_RELEASE);
			usdt__unlock();
			pthread_mutex_unlock(&cb_lock);
			break;
		}
		s.n = 0;
		usdt__foreach_provider_locked(scan_provider, &s);
		usdt__unlock();
		for (size_t i = 0; i < s.n; i++)
			s.ev[i].fn(s.ev[i].probe, s.ev[i].enabled, s.ev[i].ctx);
		pthread_mutex_unlock(&cb_lock);
		usdt__reap_retired(false);
	}
	usdt__free(s.ev);
	return NULL;
}

static int start_locked(void)
{
	if (running)
		return 0;
	if (ino_fd < 0)
		ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* optional: polling still works */
	sigset_t all, old;
	sigfillset(&all);
	/* The watcher must never take the application's signals. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int err = pthread_create(&watcher, &attr, watch_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return usdt__fail(err, "cannot start the watcher thread: %s", strerror(err));
	__atomic_store_n(&running, true, __ATOMIC_RELEASE);
	return 0;
}

static void atfork_prepare(void)
{
	usdt__lock();
}

static void atfork_parent(void)
{
	usdt__unlock();
}

static void atfork_child(void)
{
	/* The watcher did not survive fork; it may have held cb_lock. */
	pthread_mutex_init(&cb_lock, NULL);
	__atomic_store_n(&running, false, __ATOMIC_RELEASE);
	if (ino_fd >= 0) {
		close(ino_fd); /* shared with the parent: would steal its events */
		ino_fd = -1;
	}
	if (nwatched)
		start_locked();
	usdt__unlock();
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int usdt_provider_watch(usdt_provider *prov, usdt_watch_fn fn, void *ctx)
{
	if (!prov)
		return usdt__fail(EINVAL, "provider is NULL");
	pthread_once(&atfork_once, register_atfork);
	bool self = on_watcher();
	if (!self)
		pthread_mutex_lock(&cb_lock);
	usdt__lock();
	bool was = prov->watch_fn != NULL;
	prov->watch_fn = fn;
	prov->watch_ctx = ctx;
	nwatched += (fn && !was) - (!fn && was);
	if (fn && !was) {
		/* Report probes already enabled on the first scan. */
		for (size_t i = 0; i < prov->nprobes; i++)
			prov->probes[i]->watch_enabled = false;
		prov->inotify_done = false;
	}
	int err = nwatched ? start_locked() : 0;
	if (err && fn && !was) {
		prov->watch_fn = NULL;
		nwatched--;
	}
	usdt__unlock();
	if (!self)
		pthread_mutex_unlock(&cb_lock);
	return err;
}

void usdt__watch_forget(usdt_provider *prov)
{
	if (prov->watch_fn)
		usdt_provider_watch(prov, NULL, NULL);
}
