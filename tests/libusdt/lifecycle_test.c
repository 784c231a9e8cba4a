/*
 * lifecycle_test.c - load, unload, reload; where images live and when they
 * are trusted; many providers; firing while another thread unloads.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "arch.h"
#include "testlib.h"
#include "tracer.h"
#include "usdt.h"

static usdt_provider *make(const char *name, const struct usdt_provider_opts *o)
{
	usdt_provider *p = usdt_provider_new_opts(name, o);
	if (p)
		usdt_probe_new_sig(p, "ev", "int64_t, char *");
	return p;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Pretend a tracer attached: raise the semaphore the kernel would raise. */
static void fake_attach(usdt_probe *p, int delta)
{
	*(volatile unsigned short *)usdt_probe_semaphore(p) += (unsigned short)delta;
}

TEST(reload_of_same_definition_reuses_image)
{
	usdt_provider *p = make("reload", NULL);
	usdt_probe *ev = usdt_provider_probe(p, "ev");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char first[512];
	snprintf(first, sizeof(first), "%s", usdt_provider_path(p));
	uintptr_t addr = usdt_probe_address(ev);
	CHECK_EQ_INT(usdt_provider_unload(p), 0);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_STREQ(usdt_provider_path(p), first);
	CHECK(usdt_probe_address(ev) == addr); /* revived, not remapped */
	for (int i = 0; i < 50; i++) {
		CHECK_EQ_INT(usdt_provider_unload(p), 0);
		CHECK_EQ_INT(usdt_provider_load(p), 0);
	}
	usdt_provider_free(p);
}

TEST(unloaded_image_stays_for_its_grace_unless_closed_at_once)
{
	usdt_provider *p = make("retire", NULL);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char old[512];
	snprintf(old, sizeof(old), "%s", usdt_provider_path(p));
	CHECK_EQ_INT(usdt_provider_unload(p), 0);
	CHECK(tr_is_mapped(old)); /* a racing reader may still hold its semaphore */
	CHECK(usdt_probe_new_sig(p, "more", "int32_t") != NULL);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(strcmp(usdt_provider_path(p), old) != 0);
	CHECK(tr_is_mapped(old)); /* a tracer by pid would see both images now */
	CHECK_EQ_INT(usdt_provider_unload(p), 0);
	CHECK_EQ_INT(usdt_provider_close_retired(p), 2);
	CHECK(!tr_is_mapped(old));
	CHECK_EQ_INT(usdt_provider_close_retired(p), 0);
	CHECK_EQ_INT(usdt_provider_load(p), 0); /* reload after closing: mapped anew */
	CHECK(usdt_probe_enabled(usdt_provider_probe(p, "more")) == false);
	CHECK_EQ_INT(usdt_provider_close_retired(NULL), -EINVAL);
	usdt_provider_free(p);
}

TEST(images_go_to_USDT_DIR_and_stay_as_a_cache)
{
	char dir[] = "/tmp/usdt-cache-XXXXXX";
	CHECK(mkdtemp(dir));
	setenv("USDT_DIR", dir, 1);
	usdt_provider *p = make("cachetest", NULL);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(!strncmp(usdt_provider_path(p), dir, strlen(dir)));
	CHECK(!usdt_provider_is_memfd(p));
	usdt_provider_free(p);
	/* Exactly the image remains: no temporary files. */
	CHECK_EQ_INT(count_files(dir), 1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ls -a %s | grep -c tmp", dir);
	FILE *f = popen(cmd, "r");
	int tmp = -1;
	CHECK(fscanf(f, "%d", &tmp) == 1);
	pclose(f);
	CHECK_EQ_INT(tmp, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(tampered_image_is_replaced_not_trusted)
{
	char dir[] = "/tmp/usdt-tamper-XXXXXX";
	CHECK(mkdtemp(dir));
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir };
	usdt_provider *p = make("tamper", &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s", usdt_provider_path(p));
	usdt_provider_free(p);
	/* Someone (with our uid) changed a byte: the next load must not use it. */
	chmod(path, 0644);
	FILE *f = fopen(path, "r+");
	CHECK(f);
	fseek(f, 0x1000, SEEK_SET);
	fputc(0xcc, f);
	fclose(f);
	p = make("tamper", &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_STREQ(usdt_provider_path(p), path);
	CHECK(!memcmp((void *)usdt_probe_address(usdt_provider_probe(p, "ev")), ta_default_stub,
		      sizeof(ta_default_stub)));
	struct stat st;
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0444);
	usdt_provider_free(p);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(unsafe_directories_are_refused)
{
	char dir[] = "/tmp/usdt-unsafe-XXXXXX";
	CHECK(mkdtemp(dir));
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir, .storage = USDT_STORAGE_FILE };
	/* Writable by others. */
	chmod(dir, 0777);
	usdt_provider *p = make("unsafe", &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EACCES);
	CHECK(strstr(usdt_errmsg(), "writable by others"));
	usdt_provider_free(p);
	/* Owned by another user. */
	chmod(dir, 0700);
	CHECK(chown(dir, 65534, 65534) == 0);
	p = make("unsafe", &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EACCES);
	CHECK(strstr(usdt_errmsg(), "belongs to uid 65534"));
	usdt_provider_free(p);
	/* A symlink to a good directory. */
	CHECK(chown(dir, 0, 0) == 0);
	char link[64];
	snprintf(link, sizeof(link), "%s.lnk", dir);
	CHECK(symlink(dir, link) == 0);
	struct usdt_provider_opts ol = o;
	ol.dir = link;
	p = make("unsafe", &ol);
	CHECK(usdt_provider_load(p) < 0);
	usdt_provider_free(p);
	/* With AUTO storage the same refusals fall back to a memfd. */
	ol.storage = USDT_STORAGE_AUTO;
	p = make("unsafe", &ol);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(usdt_provider_is_memfd(p));
	usdt_provider_free(p);
	unlink(link);
	CHECK_EQ_INT(count_files(dir), 0);
	rmdir(dir);
}

TEST(noexec_directory_falls_back_to_memfd)
{
	char dir[] = "/tmp/usdt-noexec-XXXXXX";
	CHECK(mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", MS_NOEXEC, "mode=0700")) {
		rmdir(dir);
		SKIP_TEST("cannot mount a noexec tmpfs here (%s)", strerror(errno));
	}
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir };
	usdt_provider *p = make("noexec", &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(usdt_provider_is_memfd(p));
	char want[64];
	snprintf(want, sizeof(want), "/proc/%d/fd/", (int)getpid());
	CHECK(!strncmp(usdt_provider_path(p), want, strlen(want)));
	usdt_provider_free(p);
	o.storage = USDT_STORAGE_FILE;
	p = make("noexec", &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EACCES);
	CHECK(strstr(usdt_errmsg(), "noexec"));
	usdt_provider_free(p);
	CHECK_EQ_INT(count_files(dir), 0);
	umount(dir);
	rmdir(dir);
}

TEST(memfd_images_are_sealed_and_closed_on_free)
{
	int fds = tr_count_fds();
	struct usdt_provider_opts o = { .sz = sizeof(o), .storage = USDT_STORAGE_MEMFD };
	usdt_provider *p = make("memfdtest", &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(usdt_provider_is_memfd(p));
	int fd = -1;
	CHECK(sscanf(strrchr(usdt_provider_path(p), '/') + 1, "%d", &fd) == 1);
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals & F_SEAL_WRITE);
	CHECK(seals & F_SEAL_SEAL);
	CHECK(write(fd, "x", 1) < 0);
	CHECK_EQ_INT(tr_count_fds(), fds + 1);
	usdt_provider_free(p);
	CHECK_EQ_INT(tr_count_fds(), fds);
}

TEST(thousands_of_providers_use_no_fds)
{
	int fds = tr_count_fds();
	const int N = tl_scaled(2000);
	usdt_provider **v = calloc(N, sizeof(*v));
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "many%d", i);
		v[i] = make(name, NULL);
		CHECK_EQ_INT(usdt_provider_load(v[i]), 0);
	}
	CHECK_EQ_INT(tr_count_fds(), fds);
	for (int i = 0; i < N; i++)
		usdt_provider_free(v[i]);
	free(v);
}

struct firer {
	usdt_probe *probe;
	volatile bool stop;
	long fired;
};

static void *fire_loop(void *arg)
{
	struct firer *f = arg;
	while (!f->stop) {
		usdt_probe_fire2(f->probe, 1, (uintptr_t)"x");
		uint64_t v[2] = { 2, (uintptr_t)"y" };
		usdt_probe_fire_argv(f->probe, v, 2);
		f->fired++;
	}
	return NULL;
}

TEST(unload_while_other_threads_fire_is_safe)
{
	usdt_provider *p = make("racing", NULL);
	usdt_probe *ev = usdt_provider_probe(p, "ev");
	struct firer f = { .probe = ev };
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, fire_loop, &f);
	for (int i = 0, n = tl_scaled(2000); i < n; i++) {
		CHECK_EQ_INT(usdt_provider_load(p), 0);
		fake_attach(ev, 1); /* firing threads now take the traced path */
		CHECK(usdt_probe_enabled(ev));
		sched_yield();
		CHECK_EQ_INT(usdt_provider_unload(p), 0);
		CHECK(!usdt_probe_enabled(ev));
	}
	f.stop = true;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(f.fired > 0);
	usdt_provider_free(p);
}

struct seen {
	pthread_mutex_t lock;
	int on, off;
	usdt_probe *last;
};

static void on_change(usdt_probe *probe, bool enabled, void *ctx)
{
	struct seen *s = ctx;
	pthread_mutex_lock(&s->lock);
	if (enabled)
		s->on++;
	else
		s->off++;
	s->last = probe;
	pthread_mutex_unlock(&s->lock);
}

static int read_seen(struct seen *s, bool on)
{
	pthread_mutex_lock(&s->lock);
	int v = on ? s->on : s->off;
	pthread_mutex_unlock(&s->lock);
	return v;
}

TEST(watch_reports_attach_and_detach)
{
	struct seen s = { PTHREAD_MUTEX_INITIALIZER, 0, 0, NULL };
	usdt_provider *p = make("watched", NULL);
	usdt_probe *ev = usdt_provider_probe(p, "ev");
	CHECK_EQ_INT(usdt_provider_watch(p, on_change, &s), 0);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	usleep(30000);
	CHECK_EQ_INT(read_seen(&s, true), 0);
	fake_attach(ev, 1);
	double t0 = tr_now();
	while (!read_seen(&s, true) && tr_now() - t0 < 2)
		usleep(500);
	CHECK_EQ_INT(read_seen(&s, true), 1);
	CHECK(s.last == ev);
	fake_attach(ev, -1);
	t0 = tr_now();
	while (!read_seen(&s, false) && tr_now() - t0 < 2)
		usleep(500);
	CHECK_EQ_INT(read_seen(&s, false), 1);
	/* Unloading while enabled reports the probe disabled. */
	fake_attach(ev, 1);
	while (read_seen(&s, true) < 2 && tr_now() - t0 < 4)
		usleep(500);
	usdt_provider_unload(p);
	while (read_seen(&s, false) < 2 && tr_now() - t0 < 6)
		usleep(500);
	CHECK_EQ_INT(read_seen(&s, false), 2);
	CHECK_EQ_INT(usdt_provider_watch(p, NULL, NULL), 0);
	usdt_provider_free(p);
}

TEST(watch_keeps_working_in_a_forked_child)
{
	struct seen s = { PTHREAD_MUTEX_INITIALIZER, 0, 0, NULL };
	usdt_provider *p = make("forkwatch", NULL);
	usdt_probe *ev = usdt_provider_probe(p, "ev");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_EQ_INT(usdt_provider_watch(p, on_change, &s), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* As a tracer does: read the image, then raise its semaphore. The
		 * child's new watcher watches the file anew (the parent's inotify
		 * descriptor is not its own) and wakes on the open. */
		int fd = open(usdt_provider_path(p), O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
		close(fd);
		fake_attach(ev, 1);
		double t0 = tr_now();
		while (!read_seen(&s, true) && tr_now() - t0 < 2)
			usleep(500);
		_exit(read_seen(&s, true) == 1 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	usdt_provider_free(p);
}

/* @fbt's pattern: a watched provider unloaded, given probes, loaded again,
 * while every load and unload wakes the watcher to walk its probes. Adding
 * probes grows the provider's probe array; that once happened outside the
 * watcher's lock and freed the array under its walk (a crash 1 time in 150
 * decorating 50 functions; ASan reports it here). */
TEST(watched_provider_takes_probes_while_the_watcher_walks_them)
{
	struct seen s = { PTHREAD_MUTEX_INITIALIZER, 0, 0, NULL };
	usdt_provider *p = make("growing", NULL);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_EQ_INT(usdt_provider_watch(p, on_change, &s), 0);
	int n = 1;
	for (int round = 0; round < 40; round++) {
		CHECK_EQ_INT(usdt_provider_unload(p), 0);
		for (int i = 0; i < 12; i++) {
			char name[32];
			snprintf(name, sizeof(name), "p%d", n++);
			CHECK(usdt_probe_new_sig(p, name, "int64_t") != NULL);
		}
		CHECK_EQ_INT(usdt_provider_load(p), 0);
		CHECK_EQ_INT(usdt_provider_close_retired(p) >= 0, 1);
	}
	CHECK_EQ_INT(read_seen(&s, true), 0); /* nothing traced: nothing reported */
	CHECK_EQ_INT(usdt_provider_watch(p, NULL, NULL), 0);
	usdt_provider_free(p);
}

TEST_MAIN()
