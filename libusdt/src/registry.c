/*
 * registry.c - usdt_foreach_probe(): every probe of this process.
 *
 * Static probes: the loaded objects are listed with dl_iterate_phdr first
 * (the loader's lock is held only for that), then each object's file is read
 * for its notes and the addresses moved by its load bias. libusdt's own
 * dynamic images are skipped there (known by load bias, or by the symbol
 * their files export while one is between dlopen and the provider list) and
 * reported from the provider list, under its lock.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elf_notes.h"
#include "provider.h"

#define MAX_SEGS 16

/* A loaded segment, to check that a note read from the file belongs to the
 * object in memory (the file may have been replaced since it was loaded). */
struct seg {
	uintptr_t start, end;
	bool x, w;
};

struct object {
	char *path;
	uintptr_t bias;
	struct seg segs[MAX_SEGS];
	unsigned nsegs;
	bool program; /* the main program: never unloaded */
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
	/* dlopen("./x.so"), dlopen("lib/x.so") or a relative LD_LIBRARY_PATH
	 * keep a relative name, relative to a directory the program may have
	 * left: such names are looked up in /proc/self/maps afterwards, by
	 * address. The vdso has no file (and no '/' in its name). */
	if (!info->dlpi_phnum || !strchr(name, '/'))
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
	struct object *obj = &o->v[o->n++];
	*obj = (struct object){ .path = copy, .bias = info->dlpi_addr, .program = name == exe };
	for (size_t i = 0; i < info->dlpi_phnum && obj->nsegs < MAX_SEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		obj->segs[obj->nsegs++] = (struct seg){ start, start + ph->p_memsz,
							(ph->p_flags & PF_X) != 0, (ph->p_flags & PF_W) != 0 };
	}
	return 0;
}

struct visit {
	const struct object *obj;
	usdt_probe_visit_fn fn;
	void *ctx;
	int ret; /* what fn returned, if it stopped the walk */
};

static bool in_seg(const struct object *o, uintptr_t a, size_t len, bool x, bool w)
{
	for (unsigned i = 0; i < o->nsegs; i++)
		if (a >= o->segs[i].start && a <= o->segs[i].end - len && (!x || o->segs[i].x) &&
		    (!w || o->segs[i].w))
			return true;
	return false;
}

static int visit_note(const struct usdt__note *n, void *data)
{
	struct visit *v = data;
	/* Dynamic images come from the provider list, even while one is being
	 * loaded or reaped and the list does not have it. */
	if (n->libusdt_image)
		return 0;
	uintptr_t pc = (uintptr_t)(n->pc + v->obj->bias);
	uintptr_t sema = n->sema ? (uintptr_t)(n->sema + v->obj->bias) : 0;
	/* A note that does not fit the loaded object is from another build of
	 * the file: skip it rather than read a semaphore at a wrong address. */
	if (!in_seg(v->obj, pc, 1, true, false) ||
	    (sema && !in_seg(v->obj, sema, sizeof(unsigned short), false, true)))
		return 0;
	struct usdt_probe_info info = {
		.provider = n->provider,
		.name = n->name,
		.args = n->args,
		.path = v->obj->path,
		.address = pc,
		.semaphore = sema,
		.enabled = sema && *(const volatile unsigned short *)sema != 0,
		.dynamic = false,
	};
	v->ret = v->fn(&info, v->ctx);
	return v->ret ? 1 : 0;
}

/* The file mapped at addr, from /proc/self/maps (an absolute path). */
static char *mapped_path(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return NULL;
	char line[PATH_MAX + 128], *out = NULL;
	while (!out && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		int at = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &at) < 2 || !at)
			continue;
		if (addr < start || addr >= end || line[at] != '/')
			continue;
		line[at + strcspn(line + at, "\n")] = 0;
		out = usdt__strdup(line + at);
	}
	fclose(f);
	return out;
}

/* Keep a library loaded while its notes are visited: another thread's
 * dlclose() would unmap the semaphores read for `enabled` (and the addresses
 * given to fn). NULL if it is gone, or another object has its name now. */
static void *pin(const struct object *o)
{
	void *h = dlopen(o->path, RTLD_LAZY | RTLD_NOLOAD);
	struct link_map *lm = NULL;
	if (h && (dlinfo(h, RTLD_DI_LINKMAP, &lm) || !lm || lm->l_addr != o->bias)) {
		dlclose(h);
		h = NULL;
	}
	return h;
}

/* Make a relative object name absolute; false if it cannot be found. */
static bool resolve(struct object *o)
{
	if (o->path[0] == '/')
		return true;
	char *abs = o->nsegs ? mapped_path(o->segs[0].start) : NULL;
	usdt__free(o->path);
	o->path = abs;
	return abs != NULL;
}

int usdt_foreach_probe(usdt_probe_visit_fn fn, void *ctx)
{
	if (!fn)
		return usdt__fail(EINVAL, "usdt_foreach_probe: no function");
	struct objects objs = { 0 };
	dl_iterate_phdr(collect, &objs);
	int r = objs.err;
	for (size_t i = 0; i < objs.n && !r; i++) {
		if (usdt__is_dynamic_image(objs.v[i].bias) || !resolve(&objs.v[i]))
			continue;
		void *h = objs.v[i].program ? NULL : pin(&objs.v[i]);
		if (!objs.v[i].program && !h)
			continue; /* unloaded since it was listed */
		int fd = open(objs.v[i].path, O_RDONLY | O_CLOEXEC);
		struct visit v = { &objs.v[i], fn, ctx, 0 };
		/* A file deleted or replaced since it was loaded is skipped. */
		int e = fd < 0 ? 0 : usdt__elf_notes_fd(fd, visit_note, &v);
		if (fd >= 0)
			close(fd);
		if (h)
			dlclose(h);
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
