/*
 * faults_test.c - load under injected faults: every allocation failing in
 * turn, no memfd_create, read-only / full image directories, no free file
 * descriptor, SIGKILL in the middle of a load. Each must give a clean error
 * or a working fallback, leak nothing (fds, mappings, heap) and leave no
 * file behind. Linked against the -DUSDT_FAULTS build of the library.
 */
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <elf.h>
#include <time.h>

#include "testlib.h"
#include "tracer.h"
#include "usdt.h"

long usdt__fault_set(long n); /* alloc.c, USDT_FAULTS builds only */

static usdt_provider *define(const char *name, int nprobes, const struct usdt_provider_opts *o)
{
	usdt_provider *p = usdt_provider_new_opts(name, o);
	for (int i = 0; p && i < nprobes; i++) {
		char pn[32];
		snprintf(pn, sizeof(pn), "p%d", i);
		if (!usdt_probe_new_sig(p, pn, i % 3 ? "int64_t, char *" : "int"))
			return NULL;
	}
	return p;
}

/* Every entry, hidden ones (temporary names) included. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void empty_dir(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "find %s -mindepth 1 -delete", dir);
	(void)!system(cmd);
}

/* Mappings of the process. Under ASan or valgrind the allocator maps as
 * it pleases: there the sanitizer does the checking and this is left out. */
static int count_maps(void)
{
#ifdef __SANITIZE_ADDRESS__
	return 0;
#endif
	if (getenv("USDT_UNDER_VALGRIND"))
		return 0; /* valgrind maps for itself too; memcheck does the checking */
	return tr_count_maps();
}

/* Fail allocation 0, 1, 2, ... of one load until the load succeeds. Returns
 * the number of allocation sites met. Heap leaks are for valgrind and
 * LeakSanitizer to find (make check-valgrind, SANITIZE=1): glibc's caches
 * make in-process heap counts too noisy to assert on. */
static int every_alloc_of_load(const char *name, int nprobes, usdt_storage storage)
{
	char dir[] = "/tmp/usdt-fault-XXXXXX";
	CHECK(mkdtemp(dir));
	chmod(dir, 0700);
	struct usdt_provider_opts o = { .sz = sizeof(o), .storage = storage, .dir = dir };
	/* Warm the C library's caches (dlopen, stdio) before measuring. */
	usdt_provider *w = define(name, nprobes, &o);
	CHECK(w && usdt_provider_load(w) == 0);
	usdt_provider_free(w);
	empty_dir(dir);
	int fds = tr_count_fds(), maps = count_maps();
	int sites = 0;
	for (long n = 0;; n++) {
		usdt_provider *p = define(name, nprobes, &o);
		CHECK(p);
		usdt__fault_set(n);
		int err = usdt_provider_load(p);
		long left = usdt__fault_set(-1);
		if (left >= 0) { /* the countdown was not reached: load had no more allocations */
			CHECK_MSG(err == 0, "load with no fault failed: %d %s", err, usdt_errmsg());
			usdt_provider_free(p);
			break;
		}
		sites++;
		CHECK_MSG(err == -ENOMEM, "allocation %ld failed: load gave %d (%s), not -ENOMEM", n,
			  err, usdt_errmsg());
		CHECK(!usdt_provider_is_loaded(p));
		CHECK(!usdt_probe_enabled(usdt_provider_probe_at(p, 0)));
		usdt_provider_free(p);
		CHECK_MSG(tr_count_fds() == fds, "allocation %ld: fds %d -> %d", n, fds, tr_count_fds());
		CHECK_MSG(count_maps() == maps, "allocation %ld: mappings %d -> %d", n, maps,
			  count_maps());
		CHECK_MSG(count_entries(dir) == 0, "allocation %ld: %d file(s) left in %s", n,
			  count_entries(dir), dir);
	}
	empty_dir(dir);
	rmdir(dir);
	return sites;
}

/* Nothing leaked (fds, mappings), the scratch mount holds `entries` files;
 * then the mount goes. */
static void left_as_found(int fds, int maps, char *dir, int entries)
{
	CHECK_EQ_INT(tr_count_fds(), fds);
	CHECK_EQ_INT(count_maps(), maps);
	CHECK_EQ_INT(count_entries(dir), entries);
	umount(dir);
	rmdir(dir);
}

TEST(every_allocation_of_a_file_load_can_fail_cleanly)
{
	int small = every_alloc_of_load("faultfile", 3, USDT_STORAGE_FILE);
	int big = every_alloc_of_load("faultbig", 5000, USDT_STORAGE_FILE);
	CHECK(small >= 3 && big >= small);
	fprintf(stderr, "INFO file load allocation sites: %d (3 probes), %d (5000 probes)\n", small, big);
}

TEST(every_allocation_of_a_memfd_load_can_fail_cleanly)
{
	int small = every_alloc_of_load("faultmem", 3, USDT_STORAGE_MEMFD);
	int big = every_alloc_of_load("faultmembig", 5000, USDT_STORAGE_MEMFD);
	CHECK(small >= 2 && big >= small);
}

TEST(every_allocation_of_a_definition_can_fail_cleanly)
{
	for (long n = 0;; n++) {
		usdt__fault_set(n);
		usdt_provider *p = usdt_provider_new("faultdef");
		int ok = p != NULL;
		for (int i = 0; ok && i < 300; i++) {
			char pn[32];
			snprintf(pn, sizeof(pn), "p%d", i);
			errno = 0;
			if (!usdt_probe_new_sig(p, pn, i % 2 ? "int" : "char *, long")) {
				CHECK_MSG(errno == ENOMEM, "probe %d: errno %d", i, errno);
				ok = 0;
			}
		}
		long left = usdt__fault_set(-1);
		if (!p)
			CHECK_EQ_INT(errno, ENOMEM);
		if (p && ok) {
			CHECK(left >= 0);
			CHECK_EQ_INT(usdt_provider_load(p), 0);
			usdt_provider_free(p);
			break;
		}
		/* What was defined before the failure still works. */
		if (p && usdt_provider_probe_count(p)) {
			CHECK_EQ_INT(usdt_provider_load(p), 0);
			usdt_probe_fire1(usdt_provider_probe_at(p, 0), 1);
		}
		usdt_provider_free(p);
	}
}

/* ---- memfd_create unavailable ---- */

static int deny_memfd_create(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) ? -errno : 0;
}

TEST(without_memfd_create_files_work_and_memfd_fails_cleanly)
{
	if (getenv("USDT_UNDER_VALGRIND"))
		SKIP_TEST("valgrind does not implement seccomp()");
	/* The test runs in its own forked child: the filter dies with it. */
	int denied = deny_memfd_create();
	if (denied == -ENOSYS) /* qemu-user (tests/aarch64) passes no seccomp() on */
		SKIP_KERNEL("seccomp() is not implemented here (user-mode emulation?)");
	CHECK_EQ_INT(denied, 0);
	CHECK(syscall(SYS_memfd_create, "x", 0) < 0 && errno == ENOSYS);
	int fds = tr_count_fds(), maps = count_maps();
	struct usdt_provider_opts o = { .sz = sizeof(o), .storage = USDT_STORAGE_MEMFD };
	usdt_provider *p = define("nomemfd", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), -ENOSYS);
	CHECK(strstr(usdt_errmsg(), "memfd_create"));
	usdt_provider_free(p);
	/* AUTO with an unusable directory: the fallback fails, cleanly. */
	char dir[] = "/tmp/usdt-nomemfd-XXXXXX";
	CHECK(mkdtemp(dir));
	chmod(dir, 0777);
	o = (struct usdt_provider_opts){ .sz = sizeof(o), .dir = dir };
	p = define("nomemfd", 3, &o);
	CHECK(usdt_provider_load(p) < 0);
	usdt_provider_free(p);
	CHECK_EQ_INT(tr_count_fds(), fds);
	CHECK_EQ_INT(count_maps(), maps);
	CHECK_EQ_INT(count_entries(dir), 0);
	/* AUTO with a good directory needs no memfd at all. */
	chmod(dir, 0700);
	p = define("nomemfd", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(!usdt_provider_is_memfd(p));
	usdt_provider_free(p);
	empty_dir(dir);
	rmdir(dir);
}

/* ---- image directories on hostile filesystems (private mount namespace) ---- */

static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		SKIP_TEST("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		SKIP_TEST("cannot make mounts private: %s", strerror(errno));
}

TEST(read_only_directory_uses_cache_or_falls_back)
{
	private_mounts();
	char dir[] = "/tmp/usdt-ro-XXXXXX";
	CHECK(mkdtemp(dir));
	CHECK(mount("tmpfs", dir, "tmpfs", 0, "mode=0700,size=1m") == 0);
	/* A cached image written while writable... */
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir, .storage = USDT_STORAGE_FILE };
	usdt_provider *p = define("rocache", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s", usdt_provider_path(p));
	usdt_provider_free(p);
	CHECK(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, "mode=0700") == 0);
	int fds = tr_count_fds(), maps = count_maps();
	/* ...is still used once read-only. */
	p = define("rocache", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_STREQ(usdt_provider_path(p), path);
	usdt_provider_free(p);
	/* A new definition cannot be written: a clean -EROFS, or a memfd. */
	p = define("ronew", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EROFS);
	CHECK(strstr(usdt_errmsg(), "ronew"));
	usdt_provider_free(p);
	o.storage = USDT_STORAGE_AUTO;
	p = define("ronew", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(usdt_provider_is_memfd(p));
	usdt_provider_free(p);
	left_as_found(fds, maps, dir, 1);
}

TEST(noexec_directory_with_file_storage_fails_cleanly)
{
	/* AUTO falling back on noexec is in lifecycle_test; here the cached
	 * image of a then-exec directory is refused too, nothing is written. */
	private_mounts();
	char dir[] = "/tmp/usdt-nx-XXXXXX";
	CHECK(mkdtemp(dir));
	CHECK(mount("tmpfs", dir, "tmpfs", 0, "mode=0700,size=1m") == 0);
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir, .storage = USDT_STORAGE_FILE };
	usdt_provider *p = define("nxcache", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	usdt_provider_free(p);
	CHECK(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_NOEXEC, "mode=0700") == 0);
	int fds = tr_count_fds(), maps = count_maps();
	p = define("nxcache", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EACCES);
	CHECK(strstr(usdt_errmsg(), "noexec"));
	usdt_provider_free(p);
	p = define("nxnew", 3, &o);
	CHECK_EQ_INT(usdt_provider_load(p), -EACCES);
	usdt_provider_free(p);
	left_as_found(fds, maps, dir, 1);
}

TEST(full_disk_gives_ENOSPC_and_frees_the_space)
{
	private_mounts();
	char dir[] = "/tmp/usdt-full-XXXXXX";
	CHECK(mkdtemp(dir));
	CHECK(mount("tmpfs", dir, "tmpfs", 0, "mode=0700,size=8k") == 0);
	struct statvfs before, after;
	CHECK(statvfs(dir, &before) == 0);
	struct usdt_provider_opts o = { .sz = sizeof(o), .storage = USDT_STORAGE_MEMFD };
	usdt_provider *p = define("fulldisk", 2000, &o); /* an image of ~100 KiB */
	CHECK_EQ_INT(usdt_provider_load(p), 0); /* warms malloc up: [heap] appears */
	usdt_provider_free(p);
	int fds = tr_count_fds(), maps = count_maps();
	o = (struct usdt_provider_opts){ .sz = sizeof(o), .dir = dir, .storage = USDT_STORAGE_FILE };
	p = define("fulldisk", 2000, &o);
	CHECK_EQ_INT(usdt_provider_load(p), -ENOSPC);
	CHECK(strstr(usdt_errmsg(), "fulldisk"));
	usdt_provider_free(p);
	CHECK(statvfs(dir, &after) == 0);
	CHECK_EQ_INT(after.f_bfree, before.f_bfree);
	CHECK_EQ_INT(count_entries(dir), 0);
	o.storage = USDT_STORAGE_AUTO;
	p = define("fulldisk", 2000, &o);
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(usdt_provider_is_memfd(p));
	usdt_provider_free(p);
	left_as_found(fds, maps, dir, 0);
}

/* ---- no free file descriptor ---- */

TEST(rlimit_nofile_at_minimum_fails_cleanly_until_there_is_room)
{
	if (getenv("USDT_UNDER_VALGRIND"))
		SKIP_TEST("valgrind keeps descriptors of its own under RLIMIT_NOFILE");
	char dir[] = "/tmp/usdt-nofile-XXXXXX";
	CHECK(mkdtemp(dir));
	chmod(dir, 0700);
	/* The lowest free descriptor: a limit there leaves none free. */
	int maxfd = 0;
	while (fcntl(maxfd, F_GETFD) >= 0)
		maxfd++;
	maxfd--;
	int fds = tr_count_fds(), maps = count_maps();
	usdt_storage kinds[] = { USDT_STORAGE_FILE, USDT_STORAGE_MEMFD, USDT_STORAGE_AUTO };
	for (int k = 0; k < 3; k++) {
		int failures = 0;
		for (rlim_t lim = (rlim_t)maxfd + 1;; lim++) {
			struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir, .storage = kinds[k] };
			usdt_provider *p = define("nofile", 3, &o);
			struct rlimit rl = { lim, 4096 };
			CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
			int err = usdt_provider_load(p);
			rl.rlim_cur = 4096;
			setrlimit(RLIMIT_NOFILE, &rl);
			if (err == 0) {
				usdt_provider_free(p);
				break;
			}
			failures++;
			CHECK_MSG(err == -EMFILE, "storage %d, limit %d: %d (%s)", k, (int)lim, err,
				  usdt_errmsg());
			usdt_provider_free(p);
			CHECK_EQ_INT(tr_count_fds(), fds);
			CHECK_EQ_INT(count_maps(), maps);
			CHECK_MSG(count_entries(dir) == 0, "storage %d: a file was left", k);
			CHECK(lim < (rlim_t)maxfd + 10);
		}
		CHECK(failures >= 1);
		empty_dir(dir);
	}
	rmdir(dir);
}

/* ---- SIGKILL in the middle of a load ---- */

/* A file in the image directory is whole: an ELF whose section headers end
 * exactly at the end of the file (the writer puts them last). */
static bool image_whole(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	Elf64_Ehdr eh;
	struct stat st;
	bool ok = fd >= 0 && pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !fstat(fd, &st) &&
		  !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
		  eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize == (uint64_t)st.st_size;
	if (fd >= 0)
		close(fd);
	return ok;
}

TEST(sigkill_during_load_leaves_no_partial_file)
{
	char dir[] = "/tmp/usdt-kill-XXXXXX";
	CHECK(mkdtemp(dir));
	chmod(dir, 0700);
	srand((unsigned)time(NULL));
	int kills = 0;
	for (int round = 0; round < 30; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* New definitions every time, so every load writes. */
			struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir,
							.storage = USDT_STORAGE_FILE };
			for (int gen = 0;; gen++) {
				char name[32];
				snprintf(name, sizeof(name), "kill%d_%d", round, gen);
				usdt_provider *p = define(name, 20000, &o);
				usdt_provider_load(p);
				usdt_provider_free(p);
			}
		}
		struct timespec ts = { 0, (long)(rand() % 30000) * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		kills += WIFSIGNALED(st);
	}
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		files++;
		CHECK_MSG(e->d_name[0] != '.', "temporary file %s left", e->d_name);
		CHECK_MSG(image_whole(dir, e->d_name), "partial image %s", e->d_name);
	}
	if (d)
		closedir(d);
	CHECK_EQ_INT(kills, 30);
	fprintf(stderr, "INFO sigkill: 30 kills, %d whole images, 0 partial\n", files);
	empty_dir(dir);
	rmdir(dir);
}

TEST_MAIN()
