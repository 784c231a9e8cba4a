/*
 * provider.c - providers and probes: definition, load, unload, lookup.
 *
 * Life of an image. Loading builds the image (elf_image.c), stores it
 * (store.c) and dlopens it, then points each probe at its stub and
 * semaphore. Unloading points the probes back at a constant zero and a
 * no-op site, waits for threads inside a traced fire to leave, and retires
 * the image: it stays mapped for a grace period, because a thread may have
 * read a semaphore pointer just before the switch and dereference it just
 * after. Loading an unchanged provider again revives its retired image at
 * once (same path, same semaphores), so a tracer attached by path never
 * notices. Freeing a provider closes its images at once: free must not race
 * with fires, by contract.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "provider.h"

const volatile unsigned short usdt__zero_semaphore = 0;

void usdt__nop_site(void)
{
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static usdt_provider *g_providers;          /* every provider alive */
static struct usdt__image *g_retired;       /* unloaded, awaiting grace */

#define GRACE_NS (100ull * 1000 * 1000)

void usdt__lock(void)
{
	pthread_mutex_lock(&g_lock);
}

void usdt__unlock(void)
{
	pthread_mutex_unlock(&g_lock);
}

uint64_t usdt__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- an arena for names and probes: one free, no per-probe malloc ---- */

/* Chunks double from 16 KiB to 4 MiB, so a small provider stays small and a
 * large one takes few system calls. */
#define ARENA_FIRST (16 * 1024)
#define ARENA_MAX (4 * 1024 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size; /* size of data[] */
	bool mapped;
	max_align_t data[];
};

static void *arena_alloc(struct usdt__arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = c ? c->size * 2 : ARENA_FIRST;
		if (size > ARENA_MAX)
			size = ARENA_MAX;
		while (size < n + sizeof(*c))
			size *= 2;
		bool mapped = size >= 64 * 1024;
		c = mapped ? usdt__pages_alloc(size) : usdt__malloc(size);
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->size = size - sizeof(*c);
		c->mapped = mapped;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(struct usdt__arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		if (c->mapped)
			usdt__pages_free(c, c->size + sizeof(*c));
		else
			usdt__free(c);
		c = next;
	}
	a->head = NULL;
}

/* ---- providers ---- */

usdt_provider *usdt_provider_new_opts(const char *name, const struct usdt_provider_opts *opts)
{
	int err = usdt__name_check("provider", name);
	if (err) {
		errno = -err;
		return NULL;
	}
	struct usdt_provider_opts o = { 0 };
	if (opts) {
		if (opts->sz < sizeof(size_t) || opts->sz > 4096) {
			errno = -usdt__fail(EINVAL, "usdt_provider_opts.sz is %zu; set it to sizeof", opts->sz);
			return NULL;
		}
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	if ((unsigned)o.site > USDT_SITE_NOP1 || (unsigned)o.storage > USDT_STORAGE_MEMFD) {
		errno = -usdt__fail(EINVAL, "provider %s: unknown site (%d) or storage (%d) option",
				    name, (int)o.site, (int)o.storage);
		return NULL;
	}
	if (o.site == USDT_SITE_NOP5 && !usdt__arch_host()->stub_nop5) {
		errno = -usdt__fail(EINVAL, "5-byte-nop sites do not exist on %s",
				    usdt__arch_host()->name);
		return NULL;
	}
	usdt_provider *p = usdt__calloc(1, sizeof(*p));
	if (!p) {
		errno = -usdt__fail(ENOMEM, "out of memory creating provider %s", name);
		return NULL;
	}
	strcpy(p->name, name);
	p->site = o.site;
	p->storage = o.storage;
	if (o.dir && !(p->dir = usdt__strdup(o.dir))) {
		usdt__free(p);
		errno = -usdt__fail(ENOMEM, "out of memory creating provider %s", name);
		return NULL;
	}
	usdt__lock();
	p->next = g_providers;
	if (g_providers)
		g_providers->prev = p;
	g_providers = p;
	usdt__unlock();
	return p;
}

usdt_provider *usdt_provider_new(const char *name)
{
	return usdt_provider_new_opts(name, NULL);
}

const char *usdt_provider_name(const usdt_provider *prov)
{
	return prov ? prov->name : NULL;
}

bool usdt_provider_is_loaded(const usdt_provider *prov)
{
	return prov && prov->image;
}

size_t usdt_provider_probe_count(const usdt_provider *prov)
{
	return prov ? prov->nprobes : 0;
}

usdt_probe *usdt_provider_probe_at(const usdt_provider *prov, size_t index)
{
	if (!prov || index >= prov->nprobes) {
		errno = ERANGE;
		return NULL;
	}
	return prov->probes[index];
}

static size_t ht_slot(const usdt_provider *prov, const char *name, size_t len, uint32_t h)
{
	size_t mask = prov->htcap - 1;
	size_t i = h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t v = prov->ht[i];
		if (!v)
			return i;
		const usdt_probe *p = prov->probes[v - 1];
		if (p->hash == h && p->name_len == len && !memcmp(p->name, name, len))
			return i;
	}
}

usdt_probe *usdt_provider_probe(const usdt_provider *prov, const char *name)
{
	if (prov && name && prov->htcap) {
		size_t len = strnlen(name, USDT_MAX_NAME + 1);
		uint32_t v = prov->ht[ht_slot(prov, name, len, usdt__strhash(name, len))];
		if (v)
			return prov->probes[v - 1];
	}
	errno = ENOENT;
	return NULL;
}

const char *usdt_provider_path(const usdt_provider *prov)
{
	return prov && prov->image ? prov->image->public_path : NULL;
}

bool usdt_provider_is_memfd(const usdt_provider *prov)
{
	return prov && prov->image && prov->image->stored.memfd >= 0;
}

/* ---- probes ---- */

static int ht_grow(usdt_provider *prov)
{
	size_t cap = prov->htcap ? prov->htcap * 2 : 64;
	uint32_t *ht = usdt__calloc(cap, sizeof(*ht));
	if (!ht)
		return -ENOMEM;
	usdt__free(prov->ht);
	prov->ht = ht;
	prov->htcap = cap;
	for (size_t i = 0; i < prov->nprobes; i++) {
		const usdt_probe *p = prov->probes[i];
		prov->ht[ht_slot(prov, p->name, p->name_len, p->hash)] = (uint32_t)i + 1;
	}
	return 0;
}

/* The spec text for a list of types, formatted once per provider. */
static const struct usdt__spec *spec_intern(usdt_provider *prov, const uint8_t *types, size_t argc)
{
	for (size_t i = 0; i < prov->nspecs; i++) {
		const struct usdt__spec *sp = &prov->specs[i];
		if (sp->argc == argc && !memcmp(sp->types, types, argc))
			return sp;
		/* Providers rarely have more than a handful of distinct signatures;
		 * past 64 a linear scan costs more than formatting again. */
		if (i >= 64)
			break;
	}
	char text[USDT_MAX_ARGS * 24];
	int len = usdt__spec_format(usdt__arch_host(), types, argc, text, sizeof(text));
	if (len < 0)
		return NULL;
	char *copy = arena_alloc(&prov->arena, (size_t)len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, text, (size_t)len + 1);
	if (prov->nspecs == prov->speccap) {
		if (prov->speccap >= 65)
			prov->nspecs = 64; /* keep the first 64, recycle the last slot */
		else {
			size_t cap = prov->speccap ? prov->speccap * 2 : 8;
			if (cap > 65)
				cap = 65;
			struct usdt__spec *v = usdt__realloc(prov->specs, cap * sizeof(*v));
			if (!v)
				return NULL;
			prov->specs = v;
			prov->speccap = cap;
		}
	}
	struct usdt__spec *sp = &prov->specs[prov->nspecs++];
	sp->argc = (uint8_t)argc;
	memcpy(sp->types, types, argc);
	sp->len = (uint16_t)len;
	sp->text = copy;
	return sp;
}

static usdt_probe *probe_fail(int err)
{
	errno = -err;
	return NULL;
}

usdt_probe *usdt_probe_new(usdt_provider *prov, const char *name, const usdt_type *types,
			   size_t argc)
{
	char q[96];
	if (!prov)
		return probe_fail(usdt__fail(EINVAL, "provider is NULL"));
	int err = usdt__name_check("probe", name);
	if (err)
		return probe_fail(err);
	if (prov->image)
		return probe_fail(usdt__fail(EBUSY, "provider %s is loaded: unload it before adding probe %s",
					     prov->name, name));
	if (argc > USDT_MAX_ARGS)
		return probe_fail(usdt__fail(E2BIG, "probe %s:%s has %zu arguments; at most %d are allowed",
					     prov->name, name, argc, USDT_MAX_ARGS));
	if (argc && !types)
		return probe_fail(usdt__fail(EINVAL, "probe %s:%s: types is NULL", prov->name, name));
	for (size_t i = 0; i < argc; i++)
		if (!usdt__type_valid(types[i]))
			return probe_fail(usdt__fail(EINVAL, "probe %s:%s: argument %zu has unknown type %d",
						     prov->name, name, i + 1, (int)types[i]));
	if (prov->nprobes >= UINT32_MAX - 1)
		return probe_fail(usdt__fail(ENOSPC, "provider %s is full", prov->name));
	size_t name_len = strlen(name);
	uint32_t h = usdt__strhash(name, name_len);
	if (prov->htcap && prov->ht[ht_slot(prov, name, name_len, h)])
		return probe_fail(usdt__fail(EEXIST, "provider %s already has a probe named %s",
					     prov->name, usdt__quote(name, q, sizeof(q))));
	if ((prov->nprobes + 1) * 2 > prov->htcap && ht_grow(prov))
		return probe_fail(usdt__fail(ENOMEM, "out of memory adding probe %s", name));
	if (prov->nprobes == prov->cap) {
		size_t cap = prov->cap ? prov->cap * 2 : 16;
		/* Under the lock: the watcher walks prov->probes with it held, and a
		 * watched provider takes probes while unloaded (@fbt adds two per
		 * decorated function); an unlocked realloc freed the array under
		 * the walk. */
		usdt__lock();
		usdt_probe **v = usdt__realloc(prov->probes, cap * sizeof(*v));
		if (v) {
			prov->probes = v;
			prov->cap = cap;
		}
		usdt__unlock();
		if (!v)
			return probe_fail(usdt__fail(ENOMEM, "out of memory adding probe %s", name));
	}
	uint8_t tb[USDT_MAX_ARGS];
	for (size_t i = 0; i < argc; i++)
		tb[i] = (uint8_t)types[i];
	const struct usdt__spec *spec = spec_intern(prov, tb, argc);
	/* The probe and its name in one arena block. */
	usdt_probe *p = spec ? arena_alloc(&prov->arena, sizeof(*p) + name_len + 1) : NULL;
	if (!p)
		return probe_fail(usdt__fail(ENOMEM, "out of memory adding probe %s", name));
	char *nm = (char *)(p + 1);
	memcpy(nm, name, name_len + 1);
	memset(p, 0, sizeof(*p));
	p->head.sema = &usdt__zero_semaphore;
	p->head.site = (void *)usdt__nop_site;
	p->prov = prov;
	p->name = nm;
	p->name_len = (uint16_t)name_len;
	p->hash = h;
	p->spec = spec->text;
	p->spec_len = spec->len;
	p->argc = (uint8_t)argc;
	memcpy(p->types, tb, argc);
	usdt__lock(); /* the watcher reads probes[0, nprobes) with it held */
	prov->probes[prov->nprobes++] = p;
	usdt__unlock();
	prov->ht[ht_slot(prov, name, name_len, h)] = (uint32_t)prov->nprobes;
	prov->dirty = true;
	return p;
}

usdt_probe *usdt_probe_new_sig(usdt_provider *prov, const char *name, const char *sig)
{
	usdt_type types[USDT_MAX_ARGS + 1];
	size_t argc = 0;
	if (!sig)
		sig = "";
	const char *s = sig;
	/* Split on commas; an empty or "void" signature has no arguments. */
	for (;;) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		size_t b = 0;
		while (b < len && (s[b] == ' ' || s[b] == '\t'))
			b++;
		bool blank = b == len;
		bool is_void = len - b >= 4 && !strncmp(s + b, "void", 4) &&
			       strspn(s + b + 4, " \t") == len - b - 4;
		if ((blank || is_void) && argc == 0 && !e) {
			break;
		}
		if (argc == USDT_MAX_ARGS)
			return probe_fail(usdt__fail(E2BIG, "probe %s: signature \"%s\" has more than %d arguments",
						     name ? name : "?", sig, USDT_MAX_ARGS));
		usdt_type t = usdt__type_parse_n(s, len);
		if (t == USDT_TYPE_NONE)
			return probe_fail(usdt__fail(EINVAL, "probe %s: argument %zu: unknown type \"%.*s\"",
						     name ? name : "?", argc + 1, (int)(len - b), s + b));
		types[argc++] = t;
		if (!e)
			break;
		s = e + 1;
	}
	return usdt_probe_new(prov, name, types, argc);
}

const char *usdt_probe_name(const usdt_probe *p)
{
	return p ? p->name : NULL;
}

usdt_provider *usdt_probe_provider(const usdt_probe *p)
{
	return p ? p->prov : NULL;
}

size_t usdt_probe_argc(const usdt_probe *p)
{
	return p ? p->argc : 0;
}

usdt_type usdt_probe_arg_type(const usdt_probe *p, size_t i)
{
	return p && i < p->argc ? (usdt_type)p->types[i] : USDT_TYPE_NONE;
}

const char *usdt_probe_arg_spec(const usdt_probe *p)
{
	return p ? p->spec : NULL;
}

uintptr_t usdt_probe_address(const usdt_probe *p)
{
	void *site = p ? __atomic_load_n(&p->head.site, __ATOMIC_ACQUIRE) : NULL;
	return site && site != (void *)usdt__nop_site ? (uintptr_t)site : 0;
}

bool usdt_probe_is_enabled(const usdt_probe *p)
{
	return usdt_probe_enabled(p);
}

/* ---- load and unload ---- */

static void image_close(struct usdt__image *img)
{
	if (img->handle)
		dlclose(img->handle);
	usdt__stored_release(&img->stored);
	usdt__free(img->public_path);
	usdt__free(img);
}

static int image_open(usdt_provider *prov, struct usdt__image **out)
{
	const struct usdt__arch *arch = usdt__arch_host();
	size_t ip_size = prov->nprobes * sizeof(struct usdt__image_probe);
	struct usdt__image_probe *ip = usdt__block_alloc(ip_size);
	struct usdt__image *img = ip ? usdt__calloc(1, sizeof(*img)) : NULL;
	if (!img) {
		usdt__block_free(ip, ip_size);
		return usdt__fail(ENOMEM, "out of memory loading provider %s", prov->name);
	}
	img->stored.memfd = -1;
	for (size_t i = 0; i < prov->nprobes; i++) {
		const usdt_probe *p = prov->probes[i];
		ip[i] = (struct usdt__image_probe){ p->name, p->spec, p->name_len, p->spec_len };
	}
	struct usdt__image_plan plan;
	int err = usdt__image_plan(arch, prov->site, prov->name, ip, prov->nprobes, &plan);
	if (err)
		goto fail;
	img->layout = plan.layout;
	usdt_storage storage = prov->storage;
	for (;;) {
		err = usdt__store(&plan, storage, prov->dir, &img->stored);
		if (err)
			goto fail;
		dlerror();
		img->handle = dlopen(img->stored.path, RTLD_NOW | RTLD_LOCAL);
		if (img->handle)
			break;
		int sys = errno;
		const char *why = dlerror();
		/* dlopen does not keep errno: ask the fd table whether it is full. */
		int t = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (t >= 0)
			close(t);
		else if (errno == EMFILE || errno == ENFILE)
			sys = errno;
		/* Out of descriptors or memory is said as such; anything else is
		 * an image the loader refused. */
		err = usdt__fail(sys == EMFILE || sys == ENFILE || sys == ENOMEM ? sys : ENOEXEC,
				 "cannot load probe image %s: %s", img->stored.path,
				 why ? why : "unknown error");
		/* A file we cannot map executable (noexec, policy): try a memfd. */
		if (storage != USDT_STORAGE_AUTO || img->stored.memfd >= 0)
			goto fail;
		usdt__log(USDT_LOG_WARN, "%s; retrying with a memfd", usdt_errmsg());
		if (img->stored.created)
			unlink(img->stored.path);
		usdt__stored_release(&img->stored);
		storage = USDT_STORAGE_MEMFD;
	}
	struct link_map *lm = NULL;
	if (dlinfo(img->handle, RTLD_DI_LINKMAP, &lm) || !lm) {
		err = usdt__fail(ENOEXEC, "cannot locate loaded image %s", img->stored.path);
		goto fail;
	}
	img->bias = (uintptr_t)lm->l_addr;
	/* The loader must have mapped our file: check the build-id it carries
	 * (not the stubs: a tracer attached by path has already patched them). */
	if (memcmp((const void *)(img->bias + plan.buildid_off + 16), plan.layout.build_id, 20)) {
		err = usdt__fail(ENOEXEC, "image %s mapped with unexpected contents", img->stored.path);
		goto fail;
	}
	if (img->stored.memfd >= 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)getpid(), img->stored.memfd);
		img->public_path = usdt__strdup(p);
	} else {
		img->public_path = usdt__strdup(img->stored.path);
	}
	if (!img->public_path) {
		err = usdt__fail(ENOMEM, "out of memory loading provider %s", prov->name);
		goto fail;
	}
	img->nprobes = prov->nprobes;
	usdt__block_free(ip, ip_size);
	*out = img;
	return 0;
fail:
	usdt__block_free(ip, ip_size);
	/* A file this load wrote and could not use is not left behind. */
	if (img->stored.created && img->stored.path)
		unlink(img->stored.path);
	image_close(img);
	return err;
}

static void point_probes(usdt_provider *prov, struct usdt__image *img)
{
	uintptr_t text = img ? img->bias + img->layout.text_vaddr : 0;
	uintptr_t semas = img ? img->bias + img->layout.probes_vaddr : 0;
	for (size_t i = 0; i < prov->nprobes; i++) {
		usdt_probe *p = prov->probes[i];
		const volatile unsigned short *s =
			img ? (const volatile unsigned short *)(semas + 2 * i) : &usdt__zero_semaphore;
		void *site = img ? (void *)(text + (uintptr_t)img->layout.stride * i)
				 : (void *)usdt__nop_site;
		__atomic_store_n(&p->head.site, site, __ATOMIC_SEQ_CST);
		__atomic_store_n(&p->head.sema, s, __ATOMIC_SEQ_CST);
	}
}

static void retired_unlink_locked(struct usdt__image *img)
{
	for (struct usdt__image **pp = &g_retired; *pp; pp = &(*pp)->next_retired) {
		if (*pp == img) {
			*pp = img->next_retired;
			img->next_retired = NULL;
			return;
		}
	}
}

/* Unlink the provider's retired images; the caller closes them. */
static struct usdt__image *take_retired_locked(usdt_provider *prov)
{
	struct usdt__image *mine = NULL;
	for (struct usdt__image **pp = &g_retired; *pp;) {
		struct usdt__image *img = *pp;
		if (img->owner == prov) {
			*pp = img->next_retired;
			img->next_retired = mine;
			mine = img;
		} else {
			pp = &img->next_retired;
		}
	}
	prov->last = NULL;
	return mine;
}

static int close_images(struct usdt__image *list)
{
	int n = 0;
	while (list) {
		struct usdt__image *next = list->next_retired;
		image_close(list);
		list = next;
		n++;
	}
	return n;
}

void usdt__reap_retired(bool all)
{
	struct usdt__image *dead = NULL;
	uint64_t now = usdt__now_ns();
	usdt__lock();
	for (struct usdt__image **pp = &g_retired; *pp;) {
		struct usdt__image *img = *pp;
		if (all || now - img->retired_ns >= GRACE_NS) {
			*pp = img->next_retired;
			if (img->owner && img->owner->last == img)
				img->owner->last = NULL;
			img->next_retired = dead;
			dead = img;
		} else {
			pp = &img->next_retired;
		}
	}
	usdt__unlock();
	close_images(dead);
}

uint64_t usdt__retired_due_ns(void)
{
	uint64_t due = 0;
	usdt__lock();
	for (struct usdt__image *img = g_retired; img; img = img->next_retired)
		if (!due || img->retired_ns + GRACE_NS < due)
			due = img->retired_ns + GRACE_NS;
	usdt__unlock();
	return due;
}

int usdt_provider_load(usdt_provider *prov)
{
	if (!prov)
		return usdt__fail(EINVAL, "provider is NULL");
	if (prov->image)
		return usdt__fail(EALREADY, "provider %s is already loaded", prov->name);
	if (!prov->nprobes)
		return usdt__fail(ENOENT, "provider %s has no probes to load", prov->name);
	usdt__reap_retired(false);
	struct usdt__image *img = NULL;
	usdt__lock();
	if (!prov->dirty && prov->last) {
		img = prov->last;
		retired_unlink_locked(img);
		prov->last = NULL;
	}
	usdt__unlock();
	if (!img) {
		int err = image_open(prov, &img);
		if (err)
			return err;
	}
	usdt__lock();
	img->owner = prov;
	prov->image = img;
	prov->dirty = false;
	prov->inotify_done = false;
	point_probes(prov, img);
	usdt__unlock();
	usdt__meta_load(prov->name, img->public_path);
	if (prov->watch_fn)
		usdt__watch_kick(); /* watch the new file, report what is already up */
	return 0;
}

static void unload_locked_part(usdt_provider *prov)
{
	point_probes(prov, NULL);
	/* Threads inside a traced fire hold the old stub: let them leave. */
	while (atomic_load_explicit(&prov->inflight, memory_order_seq_cst))
		sched_yield();
}

int usdt_provider_unload(usdt_provider *prov)
{
	if (!prov)
		return usdt__fail(EINVAL, "provider is NULL");
	if (!prov->image)
		return usdt__fail(EALREADY, "provider %s is not loaded", prov->name);
	struct usdt__image *img = prov->image;
	/* Announced while the image is still ours: once retired, another
	 * thread's reap may close it (and free public_path) at any time. */
	usdt__meta_unload(prov->name, img->public_path);
	usdt__lock();
	unload_locked_part(prov);
	prov->image = NULL;
	img->retired_ns = usdt__now_ns();
	img->next_retired = g_retired;
	g_retired = img;
	prov->last = img;
	usdt__unlock();
	usdt__reap_retired(false);
	usdt__watch_kick(); /* report its probes disabled; reap it after its grace */
	return 0;
}

int usdt_provider_close_retired(usdt_provider *prov)
{
	if (!prov)
		return usdt__fail(EINVAL, "provider is NULL");
	usdt__lock();
	struct usdt__image *mine = take_retired_locked(prov);
	usdt__unlock();
	return close_images(mine);
}

void usdt_provider_free(usdt_provider *prov)
{
	if (!prov)
		return;
	int saved = errno;
	usdt__watch_forget(prov);
	if (prov->image)
		usdt_provider_unload(prov);
	/* No fire may race with free: this provider's images can go now. */
	usdt__lock();
	struct usdt__image *mine = take_retired_locked(prov);
	if (prov->prev)
		prov->prev->next = prov->next;
	else
		g_providers = prov->next;
	if (prov->next)
		prov->next->prev = prov->prev;
	usdt__unlock();
	close_images(mine);
	arena_free(&prov->arena);
	usdt__free(prov->specs);
	usdt__free(prov->probes);
	usdt__free(prov->ht);
	usdt__free(prov->dir);
	usdt__free(prov);
	errno = saved;
}

int usdt__foreach_provider_locked(usdt__provider_fn fn, void *ctx)
{
	for (usdt_provider *p = g_providers; p; p = p->next) {
		int r = fn(p, ctx);
		if (r)
			return r;
	}
	return 0;
}

/* ---- registry hooks ---- */

int usdt__foreach_dynamic(usdt_probe_visit_fn fn, void *ctx)
{
	int r = 0;
	usdt__lock();
	for (usdt_provider *prov = g_providers; prov && !r; prov = prov->next) {
		if (!prov->image)
			continue;
		for (size_t i = 0; i < prov->nprobes && !r; i++) {
			usdt_probe *p = prov->probes[i];
			struct usdt_probe_info info = {
				.provider = prov->name,
				.name = p->name,
				.args = p->spec,
				.path = prov->image->public_path,
				.address = (uintptr_t)p->head.site,
				.semaphore = (uintptr_t)p->head.sema,
				.enabled = *p->head.sema != 0,
				.dynamic = true,
			};
			r = fn(&info, ctx);
		}
	}
	usdt__unlock();
	return r;
}

bool usdt__is_dynamic_image(uintptr_t load_bias)
{
	bool found = false;
	usdt__lock();
	for (usdt_provider *prov = g_providers; prov && !found; prov = prov->next)
		found = prov->image && prov->image->bias == load_bias;
	for (struct usdt__image *img = g_retired; img && !found; img = img->next_retired)
		found = img->bias == load_bias;
	usdt__unlock();
	return found;
}
