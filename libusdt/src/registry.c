/*
 * registry.c - usdt_foreach_probe(): every probe of this process.
 *
 * Static probes: the loaded objects are listed with dl_iterate_phdr first
 * (the loader's lock is held only for that), then each object's file is read
 * for its notes and the addresses moved by its load bias. libusdt's own
 * dynamic images are skipped there and reported from the provider registry,
 * which knows them better (types, enabled state under its lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "elf_notes.h"
#include "provider.h"

struct object {
	char *path;
	uintptr_t bias;
};

struct objects {
	struct object *v;
	size_t n, cap;
	int err;
};

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct objects *o = data;
	const char *name = info->dlpi_name;
	char exe[PATH_MAX];
	if (!name || !*name) {
		/* The main program; the vdso also has an empty name but no file. */
		if (o->n)
			return 0;
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return 0;
		exe[n] = 0;
		name = exe;
	}
	/* Dynamic images are filtered later: usdt__is_dynamic_image() takes
	 * libusdt's lock, which a load holds around dlopen(), so taking it under
	 * the loader's lock here could deadlock. */
	if (name[0] != '/')
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 32;
		struct object *v = usdt__realloc(o->v, cap * sizeof(*v));
		if (!v) {
			o->err = -ENOMEM;
			return 1;
		}
		o->v = v;
		o->cap = cap;
	}
	char *copy = usdt__strdup(name);
	if (!copy) {
		o->err = -ENOMEM;
		return 1;
	}
	o->v[o->n++] = (struct object){ copy, info->dlpi_addr };
	return 0;
}

struct visit {
	const struct object *obj;
	usdt_probe_visit_fn fn;
	void *ctx;
	int ret; /* what fn returned, if it stopped the walk */
};

static int visit_note(const struct usdt__note *n, void *data)
{
	struct visit *v = data;
	uintptr_t sema = n->sema ? (uintptr_t)(n->sema + v->obj->bias) : 0;
	struct usdt_probe_info info = {
		.provider = n->provider,
		.name = n->name,
		.args = n->args,
		.path = v->obj->path,
		.address = (uintptr_t)(n->pc + v->obj->bias),
		.semaphore = sema,
		.enabled = sema && *(const volatile unsigned short *)sema != 0,
		.dynamic = false,
	};
	v->ret = v->fn(&info, v->ctx);
	return v->ret ? 1 : 0;
}

int usdt_foreach_probe(usdt_probe_visit_fn fn, void *ctx)
{
	if (!fn)
		return usdt__fail(EINVAL, "usdt_foreach_probe: no function");
	struct objects objs = { 0 };
	dl_iterate_phdr(collect, &objs);
	int r = objs.err;
	for (size_t i = 0; i < objs.n && !r; i++) {
		if (usdt__is_dynamic_image(objs.v[i].bias))
			continue;
		int fd = open(objs.v[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* deleted or replaced since it was loaded */
		struct visit v = { &objs.v[i], fn, ctx, 0 };
		int e = usdt__elf_notes_fd(fd, visit_note, &v);
		close(fd);
		/* What fn returned stops the walk; a malformed file is skipped. */
		if (v.ret)
			r = v.ret;
		else if (e == -ENOMEM)
			r = usdt__fail(ENOMEM, "out of memory reading the notes of %s", objs.v[i].path);
		else if (e < 0)
			usdt__log(USDT_LOG_DEBUG, "%s: cannot read its probe notes (%s)", objs.v[i].path,
				  usdt_strerror(e));
	}
	for (size_t i = 0; i < objs.n; i++)
		usdt__free(objs.v[i].path);
	usdt__free(objs.v);
	if (!r)
		r = usdt__foreach_dynamic(fn, ctx);
	return r;
}
