/*
 * store.c - where a provider's image lives.
 *
 * Preferred: a file named after the image's content in a private directory,
 * so a tracer can attach by path - before the process starts, and to every
 * process that uses the same definition. The file is written under a
 * temporary inode (O_TMPFILE) and linked into place only when complete, so
 * a crash never leaves a partial file. A file is trusted only if the
 * directory and file belong to us, are writable by nobody else, are not
 * symlinks, and its bytes equal the image we would write.
 *
 * Fallback: a sealed memfd (no directory, noexec filesystems); tracers then
 * need the pid (/proc/PID/fd/N).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Open a directory we may trust, creating it (mode 0700) if missing. */
static int open_private_dir(const char *dir, bool create)
{
	char q[PATH_MAX + 16];
	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return usdt__fail(errno, "cannot create image directory %s: %s",
				  usdt__quote(dir, q, sizeof(q)), strerror(errno));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return usdt__fail(errno, "cannot open image directory %s: %s",
				  usdt__quote(dir, q, sizeof(q)), strerror(errno));
	struct stat st;
	struct statvfs vfs;
	int err = 0;
	if (fstat(fd, &st) || fstatvfs(fd, &vfs))
		err = usdt__fail(errno, "cannot stat %s", usdt__quote(dir, q, sizeof(q)));
	else if (st.st_uid != geteuid())
		err = usdt__fail(EACCES, "image directory %s belongs to uid %u, not to us (%u)",
				 usdt__quote(dir, q, sizeof(q)), (unsigned)st.st_uid,
				 (unsigned)geteuid());
	else if (st.st_mode & 022)
		err = usdt__fail(EACCES, "image directory %s is writable by others (mode %o)",
				 usdt__quote(dir, q, sizeof(q)), (unsigned)(st.st_mode & 07777));
	else if (vfs.f_flag & ST_NOEXEC)
		err = usdt__fail(EACCES, "image directory %s is on a noexec filesystem",
				 usdt__quote(dir, q, sizeof(q)));
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

struct compare_sink {
	int fd;
	uint64_t off;
	uint8_t chunk[16384];
};

static int compare_chunk(const void *data, size_t len, void *ctx)
{
	struct compare_sink *c = ctx;
	const uint8_t *want = data;
	while (len) {
		size_t n = len < sizeof(c->chunk) ? len : sizeof(c->chunk);
		ssize_t r = pread(c->fd, c->chunk, n, (off_t)c->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EBADF;
		if (memcmp(c->chunk, want, (size_t)r))
			return -EBADF;
		c->off += (uint64_t)r;
		want += r;
		len -= (size_t)r;
	}
	return 0;
}

/* 0 if the file open at fd is ours, private, and holds exactly our image.
 * Compared with read(), not mmap(): mapping an image the kernel holds
 * uprobes for would install them in this process for a moment, and the
 * kernel's delayed semaphore bookkeeping then skips the real mapping. */
static int verify_file(int fd, const struct usdt__image_plan *plan)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
	    (uint64_t)st.st_size != plan->size)
		return -EBADF;
	struct compare_sink *c = usdt__malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->off = 0;
	int err = usdt__image_emit(plan, compare_chunk, c);
	usdt__free(c);
	return err;
}

static int write_chunk(const void *data, size_t len, void *ctx)
{
	return write_all(*(int *)ctx, data, len);
}

/* Write buf as dirfd/name, atomically replacing anything there. */
static int write_file(int dirfd, const char *name, const struct usdt__image_plan *plan)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0444);
	char tmpname[USDT_MAX_NAME + 96] = "";
	if (fd < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		/* No O_TMPFILE here: a named temporary, renamed when complete. */
		snprintf(tmpname, sizeof(tmpname), ".%s.%d.tmp", name, (int)getpid());
		fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0444);
		if (fd < 0)
			return -errno;
	}
	int err = usdt__image_emit(plan, write_chunk, &fd);
	if (!err && !tmpname[0]) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
			goto out;
		if (errno != EEXIST) {
			err = -errno;
			goto out;
		}
		/* Taken meanwhile (another process, or a file that failed
		 * verification): link under a private name, then rename over. */
		snprintf(tmpname, sizeof(tmpname), ".%s.%d.tmp", name, (int)getpid());
		unlinkat(dirfd, tmpname, 0);
		if (linkat(AT_FDCWD, proc, dirfd, tmpname, AT_SYMLINK_FOLLOW)) {
			err = -errno;
			tmpname[0] = 0;
			goto out;
		}
	}
	if (!err && renameat(dirfd, tmpname, dirfd, name))
		err = -errno;
out:
	if (err && tmpname[0])
		unlinkat(dirfd, tmpname, 0);
	close(fd);
	return err;
}

static int store_in_dir(const char *dir, bool create, const struct usdt__image_plan *plan,
			const char *name, struct usdt__stored *out)
{
	int dirfd = open_private_dir(dir, create);
	if (dirfd < 0)
		return dirfd;
	int err = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		err = verify_file(fd, plan);
		close(fd);
		if (err == -ENOMEM) {
			close(dirfd);
			return usdt__fail(ENOMEM, "out of memory verifying image %s/%s", dir, name);
		}
		if (err)
			usdt__log(USDT_LOG_WARN, "replacing image %s/%s: not ours or not as expected",
				  dir, name);
	} else {
		err = -errno;
	}
	/* The path before the file: no allocation may fail once it is written. */
	size_t plen = strlen(dir) + 1 + strlen(name) + 1;
	char *path = usdt__malloc(plen);
	if (!path) {
		close(dirfd);
		return usdt__fail(ENOMEM, "out of memory storing image %s", name);
	}
	snprintf(path, plen, "%s/%s", dir, name);
	if (err) {
		err = write_file(dirfd, name, plan);
		if (err)
			usdt__set_errmsg("cannot write probe image %s/%s: %s", dir, name,
					 strerror(-err));
		else
			out->created = true;
	}
	close(dirfd);
	if (err) {
		usdt__free(path);
		return err;
	}
	out->path = path;
	out->memfd = -1;
	return 0;
}

static int store_memfd(const struct usdt__image_plan *plan, struct usdt__stored *out)
{
	char name[USDT_MAX_NAME + 8];
	snprintf(name, sizeof(name), "usdt:%s", plan->provider);
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return usdt__fail(errno, "memfd_create failed: %s", strerror(errno));
	int err = usdt__image_emit(plan, write_chunk, &fd);
	if (!err && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		err = -errno;
	if (!err) {
		out->path = usdt__malloc(64);
		if (!out->path)
			err = -ENOMEM;
	}
	if (err) {
		close(fd);
		return usdt__fail(-err, "cannot prepare memfd image: %s", strerror(-err));
	}
	snprintf(out->path, 64, "/proc/self/fd/%d", fd);
	out->memfd = fd;
	return 0;
}

int usdt__store(const struct usdt__image_plan *plan, usdt_storage storage, const char *dir,
		struct usdt__stored *out)
{
	out->path = NULL;
	out->memfd = -1;
	out->created = false;
	if (storage == USDT_STORAGE_MEMFD)
		return store_memfd(plan, out);

	char name[USDT_MAX_NAME + 48];
	const uint8_t *id = plan->layout.build_id;
	int n = snprintf(name, sizeof(name), "%s-", plan->provider);
	for (int i = 0; i < 16; i++)
		n += snprintf(name + n, sizeof(name) - (size_t)n, "%02x", id[i]);
	snprintf(name + n, sizeof(name) - (size_t)n, ".so");

	int err = -EACCES;
	const char *env = getenv("USDT_DIR");
	if (dir) {
		err = store_in_dir(dir, true, plan, name, out);
	} else if (env && *env) {
		err = store_in_dir(env, true, plan, name, out);
	} else {
		char cand[PATH_MAX];
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		unsigned uid = (unsigned)geteuid();
		if (xdg && *xdg && snprintf(cand, sizeof(cand), "%s/usdt", xdg) < (int)sizeof(cand))
			err = store_in_dir(cand, true, plan, name, out);
		if (err && err != -ENOMEM) {
			snprintf(cand, sizeof(cand), "/tmp/usdt-%u", uid);
			err = store_in_dir(cand, true, plan, name, out);
		}
		if (err && err != -ENOMEM) {
			snprintf(cand, sizeof(cand), "/var/tmp/usdt-%u", uid);
			err = store_in_dir(cand, true, plan, name, out);
		}
	}
	if (err && err != -ENOMEM && storage == USDT_STORAGE_AUTO) {
		usdt__log(USDT_LOG_INFO, "provider %s: %s; using a memfd", plan->provider,
			  usdt_errmsg());
		return store_memfd(plan, out);
	}
	return err;
}

void usdt__stored_release(struct usdt__stored *s)
{
	if (s->memfd >= 0)
		close(s->memfd);
	usdt__free(s->path);
	s->path = NULL;
	s->memfd = -1;
	s->created = false;
}
