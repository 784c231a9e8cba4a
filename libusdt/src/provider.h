/*
 * provider.h - the provider and image structures, shared by provider.c,
 * fire.c, watch.c and the registry.
 */
#ifndef USDT_PROVIDER_H
#define USDT_PROVIDER_H

#include "internal.h"

struct usdt__arena {
	struct arena_chunk *head;
};

/* An argument spec shared by every probe with the same types. */
struct usdt__spec {
	uint8_t argc;
	uint8_t types[USDT_MAX_ARGS];
	uint16_t len;
	const char *text;
};

/* One mapped image. */
struct usdt__image {
	void *handle;                  /* dlopen handle */
	struct usdt__stored stored;    /* file path or memfd */
	char *public_path;             /* what tracers use */
	uintptr_t bias;                /* load bias */
	struct usdt__image_layout layout;
	size_t nprobes;
	uint64_t retired_ns;           /* when unloaded */
	struct usdt__image *next_retired;
	usdt_provider *owner;
};

struct usdt_provider {
	char name[USDT_MAX_NAME + 1];
	usdt_site site;
	usdt_storage storage;
	char *dir;
	usdt_probe **probes;
	size_t nprobes, cap;
	uint32_t *ht;                  /* open addressing: probe index + 1 */
	size_t htcap;
	struct usdt__spec *specs;      /* interned argument specs by type list */
	size_t nspecs, speccap;
	struct usdt__arena arena;
	struct usdt__image *image;     /* loaded image, or NULL */
	struct usdt__image *last;      /* retired image that a reload can revive */
	bool dirty;                    /* probes added since last image */
	_Atomic long inflight;         /* threads inside a traced fire */
	/* watch.c */
	usdt_watch_fn watch_fn;
	void *watch_ctx;
	bool inotify_done;
	usdt_provider *next, *prev;
};

int usdt__foreach_provider_locked(usdt__provider_fn fn, void *ctx);

/* meta.c: libusdt's own static probes. */
void usdt__meta_load(const char *provider, const char *path);
void usdt__meta_unload(const char *provider, const char *path);

/* registry.c asks these of the provider list. */
int usdt__foreach_dynamic(usdt_probe_visit_fn fn, void *ctx);
bool usdt__is_dynamic_image(uintptr_t load_bias);

#endif
