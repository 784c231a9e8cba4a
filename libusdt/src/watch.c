/*
 * watch.c - telling a process that a tracer attached, at no cost while
 * nobody traces it.
 *
 * Nothing notifies a process when the kernel (bpftrace, perf) or another
 * process (bcc, via /proc/PID/mem) raises a semaphore, so one thread reads
 * the semaphores of watched providers (and of foreign semaphores given to
 * usdt_semaphore_watch). It sleeps until something can have changed:
 *   - a tracer opening an image file: bpftrace, bcc, gdb and perf probe
 *     read the notes before attaching, and an inotify watch on the files
 *     wakes the thread; it then polls every millisecond for a moment and
 *     every USDT_POLL_MS for a few seconds, the time a tracer takes from
 *     reading the notes to attaching;
 *   - a kick through an eventfd: a watch added or removed, a watched
 *     provider loaded or unloaded, an image waiting for its grace to end;
 *   - the slow fallback, every USDT_IDLE_POLL_MS (default 1000 ms), for
 *     tracers that open nothing (perf record on an event perf probe made
 *     earlier, images in a memfd).
 * While any watched semaphore is up it polls every USDT_POLL_MS (default
 * 5 ms) to see more probes enabled and the tracer leave; once all are down
 * and the burst after the last open is over it goes back to sleep.
 *
 * Callbacks run on the watcher thread with cb_lock held and the provider
 * list unlocked; watch changes and frees from other threads take cb_lock,
 * so when they return no callback for that provider is running.
 *
 * fork(): the child has no watcher thread and inherits locks other threads
 * held. The prepare handler takes the provider lock and fork_mu, which the
 * watcher holds around everything it does outside callbacks (scanning,
 * reaping retired images), and joins a watcher that has just exited; a new
 * watcher is not handed to the caller before its thread start is over.
 * So no thread of ours is inside the allocator or the loader when the
 * process forks (an allocator that does not make itself fork-safe, such as
 * GCC 12's AddressSanitizer, would otherwise leave the child's locked: the
 * child's new watcher then blocked in its own thread start, in ASan's
 * size-class lock, seen with gdb in the old flake of
 * watch_keeps_working_in_a_forked_child). Callbacks are the exception: they
 * run without fork_mu, since one may wait for a lock the forking thread
 * holds (Python's GIL), so one that allocates while another thread forks
 * is the application's race, as any thread of its own would be.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "provider.h"

#define MS (1000ull * 1000)
/* After a tracer opened an image: 1 ms polls, then USDT_POLL_MS ones. */
#define BURST_FAST_NS (300 * MS)
#define BURST_NS (3000 * MS)

enum { W_NONE, W_RUNNING, W_EXITED };

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static int wstate; /* W_*, under the provider lock (read unlocked by on_watcher) */
static pthread_t watcher;
static sem_t started;
static int nwatched;   /* providers and semaphores, under the provider lock */
static int ino_fd = -1, kick_fd = -1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* A semaphore not of our images (a library's or the interpreter's own). */
struct sema_watch {
	const volatile unsigned short *sema;
	char *path; /* file to watch for opens, or NULL */
	usdt_semaphore_fn fn;
	void *ctx;
	bool enabled, inotify_done;
	struct sema_watch *next;
};
static struct sema_watch *g_semas; /* under the provider lock */

struct event {
	usdt_watch_fn fn;
	usdt_semaphore_fn sfn;
	void *ctx;
	usdt_probe *probe;
	const volatile unsigned short *sema;
	bool enabled;
};

static unsigned env_ms(const char *name, unsigned dflt, unsigned max)
{
	const char *s = getenv(name);
	long v = s ? atol(s) : (long)dflt;
	return v >= 1 && v <= (long)max ? (unsigned)v : dflt;
}

static unsigned poll_ms(void)
{
	static unsigned ms;
	if (!ms)
		ms = env_ms("USDT_POLL_MS", 5, 10000);
	return ms;
}

static unsigned idle_poll_ms(void)
{
	static unsigned ms;
	if (!ms)
		ms = env_ms("USDT_IDLE_POLL_MS", 1000, 3600 * 1000);
	return ms;
}

static bool on_watcher(void)
{
	return __atomic_load_n(&wstate, __ATOMIC_ACQUIRE) == W_RUNNING &&
	       pthread_equal(pthread_self(), watcher);
}

void usdt__watch_kick(void)
{
	int fd = __atomic_load_n(&kick_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0 && __atomic_load_n(&wstate, __ATOMIC_ACQUIRE) == W_RUNNING) {
		uint64_t one = 1;
		ssize_t r = write(fd, &one, sizeof(one)); /* only fails when already kicked */
		(void)r;
	}
}

static void drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

struct scan {
	struct event *ev;
	size_t n, cap;
	bool any_enabled;
	bool oom;
};

static bool scan_push(struct scan *s, struct event e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct event *ev = usdt__realloc(s->ev, cap * sizeof(*ev));
		if (!ev) {
			s->oom = true; /* report the rest next round */
			return false;
		}
		s->ev = ev;
		s->cap = cap;
	}
	s->ev[s->n++] = e;
	return true;
}

static void watch_file(const char *path)
{
	if (ino_fd >= 0 && path)
		inotify_add_watch(ino_fd, path, IN_OPEN | IN_ACCESS);
}

static int arm_provider(usdt_provider *prov, void *ctx)
{
	(void)ctx;
	if (prov->watch_fn && prov->image && !prov->inotify_done) {
		/* A memfd has no name a tracer opens (bpftrace -p skips it). */
		if (prov->image->stored.memfd < 0)
			watch_file(prov->image->public_path);
		prov->inotify_done = true;
	}
	return 0;
}

/* Watch the files of everything watched not yet seen, with the provider lock
 * held: done at once when a watch starts, so that a tracer opening the image
 * right after is seen. */
static void arm_locked(void)
{
	usdt__foreach_provider_locked(arm_provider, NULL);
	for (struct sema_watch *w = g_semas; w; w = w->next)
		if (!w->inotify_done) {
			watch_file(w->path);
			w->inotify_done = true;
		}
}

static int scan_provider(usdt_provider *prov, void *ctx)
{
	struct scan *s = ctx;
	if (!prov->watch_fn)
		return 0;
	arm_provider(prov, NULL);
	for (size_t i = 0; i < prov->nprobes; i++) {
		usdt_probe *p = prov->probes[i];
		bool en = *__atomic_load_n(&p->head.sema, __ATOMIC_ACQUIRE) != 0;
		s->any_enabled |= en;
		if (en == p->watch_enabled)
			continue;
		if (!scan_push(s, (struct event){ .fn = prov->watch_fn, .ctx = prov->watch_ctx,
						  .probe = p, .enabled = en }))
			return 1;
		p->watch_enabled = en;
	}
	return 0;
}

static void scan_semas(struct scan *s)
{
	for (struct sema_watch *w = g_semas; w; w = w->next) {
		bool en = *w->sema != 0;
		s->any_enabled |= en;
		if (en == w->enabled)
			continue;
		if (!scan_push(s, (struct event){ .sfn = w->fn, .ctx = w->ctx, .sema = w->sema,
						  .enabled = en }))
			return;
		w->enabled = en;
	}
}

static void *watch_main(void *arg)
{
	(void)arg;
	/* Our thread start (which allocates) is over: fork may come. */
	sem_post(&started);
	struct scan s = { 0 };
	uint64_t fast_until = 0, burst_until = 0;
	bool any_enabled = false, retry = false;
	for (;;) {
		uint64_t now = usdt__now_ns();
		uint64_t ms = idle_poll_ms();
		if (now < fast_until)
			ms = 1;
		else if (any_enabled || retry || now < burst_until)
			ms = poll_ms();
		uint64_t reap_at = usdt__retired_due_ns();
		if (reap_at) {
			uint64_t left = reap_at > now ? (reap_at - now + MS - 1) / MS : 0;
			if (left < ms)
				ms = left;
		}
		struct pollfd pfd[2] = { { .fd = kick_fd, .events = POLLIN },
					 { .fd = ino_fd, .events = POLLIN } };
		if (poll(pfd, ino_fd >= 0 ? 2 : 1, (int)ms) > 0) {
			if (pfd[0].revents & POLLIN)
				drain(kick_fd);
			if (ino_fd >= 0 && (pfd[1].revents & POLLIN)) {
				drain(ino_fd);
				now = usdt__now_ns();
				fast_until = now + BURST_FAST_NS;
				burst_until = now + BURST_NS;
			}
		}
		pthread_mutex_lock(&cb_lock);
		pthread_mutex_lock(&fork_mu);
		usdt__lock();
		if (nwatched == 0) {
			usdt__free(s.ev);
			__atomic_store_n(&wstate, W_EXITED, __ATOMIC_RELEASE);
			usdt__unlock();
			pthread_mutex_unlock(&fork_mu);
			pthread_mutex_unlock(&cb_lock);
			return NULL; /* joined by the next start or fork */
		}
		s.n = 0;
		s.any_enabled = false;
		s.oom = false;
		arm_locked();
		if (!usdt__foreach_provider_locked(scan_provider, &s))
			scan_semas(&s);
		usdt__unlock();
		any_enabled = s.any_enabled;
		retry = s.oom;
		pthread_mutex_unlock(&fork_mu);
		for (size_t i = 0; i < s.n; i++) {
			if (s.ev[i].fn)
				s.ev[i].fn(s.ev[i].probe, s.ev[i].enabled, s.ev[i].ctx);
			else
				s.ev[i].sfn(s.ev[i].sema, s.ev[i].enabled, s.ev[i].ctx);
		}
		pthread_mutex_unlock(&cb_lock);
		pthread_mutex_lock(&fork_mu);
		usdt__reap_retired(false);
		pthread_mutex_unlock(&fork_mu);
	}
}

static void join_exited_locked(void)
{
	if (wstate == W_EXITED) {
		pthread_join(watcher, NULL);
		wstate = W_NONE;
	}
}

/* With the provider lock held. */
static int start_locked(void)
{
	join_exited_locked();
	if (wstate == W_RUNNING)
		return 0;
	if (kick_fd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return usdt__fail(errno, "cannot start the watcher: eventfd: %s",
					  strerror(errno));
		__atomic_store_n(&kick_fd, fd, __ATOMIC_RELEASE);
	}
	if (ino_fd < 0)
		ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* optional: the fallback poll works */
	sigset_t all, old;
	sigfillset(&all);
	/* The watcher must never take the application's signals. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int err = pthread_create(&watcher, &attr, watch_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return usdt__fail(err, "cannot start the watcher thread: %s", strerror(err));
	while (sem_wait(&started) && errno == EINTR)
		;
	__atomic_store_n(&wstate, W_RUNNING, __ATOMIC_RELEASE);
	return 0;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&fork_mu);
	usdt__lock();
	join_exited_locked();
}

static void atfork_parent(void)
{
	usdt__unlock();
	pthread_mutex_unlock(&fork_mu);
}

static int forget_inotify(usdt_provider *prov, void *ctx)
{
	(void)ctx;
	prov->inotify_done = false;
	return 0;
}

static void atfork_child(void)
{
	/* The watcher did not survive fork; it may have held cb_lock. */
	pthread_mutex_init(&cb_lock, NULL);
	__atomic_store_n(&wstate, W_NONE, __ATOMIC_RELEASE);
	/* Both are shared with the parent: ours would steal its events. */
	if (ino_fd >= 0) {
		close(ino_fd);
		ino_fd = -1;
	}
	if (kick_fd >= 0) {
		close(kick_fd);
		__atomic_store_n(&kick_fd, -1, __ATOMIC_RELEASE);
	}
	usdt__foreach_provider_locked(forget_inotify, NULL);
	for (struct sema_watch *w = g_semas; w; w = w->next)
		w->inotify_done = false;
	if (nwatched && !start_locked()) {
		arm_locked();
		usdt__watch_kick();
	}
	usdt__unlock();
	pthread_mutex_unlock(&fork_mu);
}

static void init(void)
{
	sem_init(&started, 0, 0);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Under cb_lock unless on the watcher: adjust the count, start the thread. */
static int watched_locked(int delta)
{
	nwatched += delta;
	int err = nwatched ? start_locked() : 0;
	if (!err)
		arm_locked();
	usdt__watch_kick(); /* look now: report what is up already, or exit */
	return err;
}

int usdt_provider_watch(usdt_provider *prov, usdt_watch_fn fn, void *ctx)
{
	if (!prov)
		return usdt__fail(EINVAL, "provider is NULL");
	pthread_once(&init_once, init);
	bool self = on_watcher();
	if (!self)
		pthread_mutex_lock(&cb_lock);
	usdt__lock();
	bool was = prov->watch_fn != NULL;
	prov->watch_fn = fn;
	prov->watch_ctx = ctx;
	if (fn && !was) {
		/* Report probes already enabled on the first scan. */
		for (size_t i = 0; i < prov->nprobes; i++)
			prov->probes[i]->watch_enabled = false;
		prov->inotify_done = false;
	}
	int err = watched_locked((fn && !was) - (!fn && was));
	if (err && fn && !was) {
		prov->watch_fn = NULL;
		nwatched--;
	}
	usdt__unlock();
	if (!self)
		pthread_mutex_unlock(&cb_lock);
	return err;
}

int usdt_semaphore_watch(const volatile unsigned short *sema, const char *path,
			 usdt_semaphore_fn fn, void *ctx)
{
	if (!sema)
		return usdt__fail(EINVAL, "semaphore is NULL");
	pthread_once(&init_once, init);
	char *copy = NULL;
	if (fn && path && !(copy = usdt__strdup(path)))
		return usdt__fail(ENOMEM, "out of memory watching a semaphore");
	bool self = on_watcher();
	if (!self)
		pthread_mutex_lock(&cb_lock);
	usdt__lock();
	struct sema_watch **pp = &g_semas;
	while (*pp && (*pp)->sema != sema)
		pp = &(*pp)->next;
	struct sema_watch *w = *pp;
	int err = 0;
	if (!fn) {
		if (w) {
			*pp = w->next;
			usdt__free(w->path);
			usdt__free(w);
			watched_locked(-1);
		}
	} else if (w) {
		usdt__free(w->path);
		w->path = copy;
		w->fn = fn;
		w->ctx = ctx;
		w->inotify_done = false;
		usdt__watch_kick();
	} else if (!(w = usdt__calloc(1, sizeof(*w)))) {
		usdt__free(copy);
		err = usdt__fail(ENOMEM, "out of memory watching a semaphore");
	} else {
		*w = (struct sema_watch){ .sema = sema, .path = copy, .fn = fn, .ctx = ctx,
					  .next = g_semas };
		g_semas = w;
		if ((err = watched_locked(1)) < 0) {
			g_semas = w->next;
			nwatched--;
			usdt__free(w->path);
			usdt__free(w);
		}
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
