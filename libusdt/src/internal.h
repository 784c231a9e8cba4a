/*
 * internal.h - what the parts of libusdt share. Nothing here is exported:
 * the library is built with -fvisibility=hidden and internal names use the
 * usdt__ prefix.
 */
#ifndef USDT_INTERNAL_H
#define USDT_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usdt.h"

#define USDT__HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- arch.c: everything architecture-specific lives in one table. ---- */
struct usdt__arch {
	const char *name;
	uint16_t e_machine;
	uint32_t page_size;       /* segment alignment of images */
	/* Stub code per site kind: the probe address is the stub's first byte. */
	const uint8_t *stub_nop5; /* NULL where the kind does not exist */
	uint8_t stub_nop5_len;
	const uint8_t *stub_nop1;
	uint8_t stub_nop1_len;
	uint8_t pad_byte;         /* filler between stubs (a trap) */
	usdt_site default_site;
	/* Argument operands at the stub's entry, as the note spells them. */
	uint8_t nregs;            /* arguments passed in registers */
	const char *const *regs;  /* their operand names, "%rdi" / "x0" */
	const char *stack_fmt;    /* printf format for stack slot N bytes above sp */
	uint32_t stack_first;     /* offset of the first stack argument at entry */
};

USDT__HIDDEN const struct usdt__arch *usdt__arch_host(void);

/* ---- types.c ---- */
/* Size in bytes and signedness of a type as a note records it. */
USDT__HIDDEN int usdt__type_size(usdt_type t);
USDT__HIDDEN bool usdt__type_signed(usdt_type t);
USDT__HIDDEN bool usdt__type_valid(usdt_type t);
/* Parse one type name of length len (not NUL-terminated). */
USDT__HIDDEN usdt_type usdt__type_parse_n(const char *s, size_t len);
/* Check a name; on error set errmsg naming what (kind: "provider"/"probe"). */
USDT__HIDDEN int usdt__name_check(const char *kind, const char *name);

/* ---- error.c ---- */
USDT__HIDDEN void usdt__set_errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
USDT__HIDDEN void usdt__clear_errmsg(void);
/* Set errmsg and return -err: return usdt__fail(EINVAL, "bad %s", x); */
USDT__HIDDEN int usdt__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
USDT__HIDDEN void usdt__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Quote a possibly hostile string for a message: printable, bounded. */
USDT__HIDDEN const char *usdt__quote(const char *s, char *buf, size_t bufsz);

/* ---- hash.c ---- */
/* 128-bit non-cryptographic content hash (identity of images, build-id). */
struct usdt__hasher {
	uint64_t a, b, total;
	uint8_t buf[16];
	size_t n;
};
USDT__HIDDEN void usdt__hasher_init(struct usdt__hasher *h);
USDT__HIDDEN void usdt__hasher_update(struct usdt__hasher *h, const void *data, size_t len);
USDT__HIDDEN void usdt__hasher_final(struct usdt__hasher *h, uint64_t out[2]);
USDT__HIDDEN void usdt__hash128(const void *data, size_t len, uint64_t out[2]);
USDT__HIDDEN uint32_t usdt__strhash(const char *s, size_t len);

/* ---- alloc.c: every allocation goes through here (fault injection). ---- */
USDT__HIDDEN void *usdt__malloc(size_t n);
USDT__HIDDEN void *usdt__calloc(size_t n, size_t sz);
USDT__HIDDEN void *usdt__realloc(void *p, size_t n);
USDT__HIDDEN char *usdt__strdup(const char *s);
USDT__HIDDEN void usdt__free(void *p);
USDT__HIDDEN void *usdt__pages_alloc(size_t n);
USDT__HIDDEN void usdt__pages_free(void *p, size_t n);
USDT__HIDDEN void *usdt__block_alloc(size_t n);
USDT__HIDDEN void usdt__block_free(void *p, size_t n);

/* ---- elf_image.c: the ELF writer. ---- */
struct usdt__image_probe {
	const char *name;
	const char *spec;
	uint16_t name_len, spec_len;
};

struct usdt__image_layout {
	uint64_t text_vaddr;    /* first stub */
	uint64_t probes_vaddr;  /* first semaphore */
	uint32_t stride;        /* bytes per stub */
	uint8_t build_id[20];
};

/* An image about to be written: its layout, identity and inputs. The bytes
 * are produced on demand (usdt__image_emit), never held whole in memory. */
struct usdt__image_plan {
	const struct usdt__arch *arch;
	const uint8_t *stub;
	size_t stub_len;
	const char *provider;
	size_t provider_len;
	const struct usdt__image_probe *probes;
	size_t nprobes;
	struct usdt__image_layout layout;
	uint64_t size;          /* bytes in the file */
	/* offsets (== vaddrs for loaded parts) */
	uint64_t buildid_off, hash_off, dynsym_off, dynstr_off, dynstr_size, base_off, seg0_end;
	uint64_t text_off, text_size, dyn_off, probes_off, probes_size, seg2_end;
	uint64_t notes_off, notes_size, shstr_off, sh_off;
	char soname[USDT_MAX_NAME + 16];
	size_t soname_len;
};

/* Lay out the image of a provider and compute its build-id (a hash of the
 * definition: same definition, same bytes, same id). */
USDT__HIDDEN int usdt__image_plan(const struct usdt__arch *arch, usdt_site site,
				  const char *provider, const struct usdt__image_probe *probes,
				  size_t nprobes, struct usdt__image_plan *plan);

/* Produce the image's bytes in order, in chunks. sink returns 0 to go on or
 * a negative errno to stop (which emit then returns). */
typedef int (*usdt__sink_fn)(const void *data, size_t len, void *ctx);
USDT__HIDDEN int usdt__image_emit(const struct usdt__image_plan *plan, usdt__sink_fn sink,
				  void *ctx);

/* Plan and emit into one allocated buffer (tests, fuzzers). *bufp is freed
 * with usdt__free. */
USDT__HIDDEN int usdt__image_build(const struct usdt__arch *arch, usdt_site site,
				   const char *provider, const struct usdt__image_probe *probes,
				   size_t nprobes, void **bufp, size_t *lenp,
				   struct usdt__image_layout *layout);

/* ---- note.c: the note encoder. ---- */
/* Size of one .note.stapsdt entry for these strings. */
USDT__HIDDEN size_t usdt__note_size(size_t provider_len, size_t name_len, size_t spec_len);
/* Write one note at dst (size from usdt__note_size); returns bytes written. */
USDT__HIDDEN size_t usdt__note_write(uint8_t *dst, uint64_t pc, uint64_t base, uint64_t sema,
				     const char *provider, size_t provider_len, const char *name,
				     size_t name_len, const char *spec, size_t spec_len);
/* Write the argument spec of a probe ("8@%rdi -4@%rsi") into buf. Returns its
 * length, or -1 if it does not fit. */
USDT__HIDDEN int usdt__spec_format(const struct usdt__arch *arch, const uint8_t *types,
				   size_t argc, char *buf, size_t bufsz);

/* ---- store.c: where an image lives. ---- */
struct usdt__stored {
	char *path;     /* what dlopen and tracers use */
	int memfd;      /* open memfd backing the image, or -1 */
	bool created;   /* this call wrote the file: remove it if the load fails */
};
USDT__HIDDEN int usdt__store(const struct usdt__image_plan *plan, usdt_storage storage,
			     const char *dir, struct usdt__stored *out);
USDT__HIDDEN void usdt__stored_release(struct usdt__stored *s);

/* ---- provider.c ---- */
USDT__HIDDEN extern const volatile unsigned short usdt__zero_semaphore;
USDT__HIDDEN void usdt__nop_site(void);

struct usdt_probe {
	struct usdt__probe_head head; /* first: read inline by usdt_probe_enabled() */
	usdt_provider *prov;
	const char *name;       /* stored right after the probe */
	const char *spec;       /* interned: probes with the same types share it */
	uint32_t hash;          /* of name, for the provider's lookup table */
	uint16_t name_len, spec_len;
	uint8_t argc;
	uint8_t types[USDT_MAX_ARGS];
	bool watch_enabled; /* last state the watcher reported */
};

/* The traced path of a fire: counts callers inside the image so that unload
 * can wait for them. */
USDT__HIDDEN extern _Atomic long usdt__inflight;

/* Lock of the global provider list (watcher, registry). */
USDT__HIDDEN void usdt__lock(void);
USDT__HIDDEN void usdt__unlock(void);
/* Walk loaded providers with the lock held. */
typedef int (*usdt__provider_fn)(usdt_provider *prov, void *ctx);

USDT__HIDDEN void usdt__reap_retired(bool all);
/* When the oldest retired image's grace ends (monotonic ns), 0 if none. */
USDT__HIDDEN uint64_t usdt__retired_due_ns(void);

/* ---- watch.c ---- */
USDT__HIDDEN void usdt__watch_forget(usdt_provider *prov);
/* Wake the watcher to look now (if it runs). Any thread, any lock held. */
USDT__HIDDEN void usdt__watch_kick(void);

/* Monotonic time in nanoseconds. */
USDT__HIDDEN uint64_t usdt__now_ns(void);

#endif
