/*
 * usdt.h - dynamic USDT probes for Linux.
 *
 * libusdt lets a program define providers and probes while it runs. Loading a
 * provider writes a small ELF image holding one `.note.stapsdt` note per probe
 * (the format of systemtap's <sys/sdt.h>), maps it into the process, and hands
 * back probes to fire. Existing tracers (bpftrace, bcc, perf, gdb) see and
 * attach to these probes unmodified, by pid or by the image's path.
 *
 *   usdt_provider *prov = usdt_provider_new("myapp");
 *   usdt_probe *req = usdt_probe_new_sig(prov, "request_start", "int64_t, char *");
 *   usdt_provider_load(prov);
 *   ...
 *   if (usdt_probe_enabled(req))                // one load, no call
 *       usdt_probe_fire2(req, id, (uintptr_t)url);
 *   ...
 *   usdt_provider_free(prov);                   // unloads too
 *
 * Conventions
 * - Functions returning int return 0 on success or a negative errno value.
 * - Constructors return NULL and set errno on failure.
 * - usdt_errmsg() gives a detailed, human-readable message for the last
 *   failure of the calling thread; usdt_strerror() describes an error code.
 * - Destroy functions accept NULL.
 * - The library never prints; see usdt_set_log().
 *
 * Thread safety
 * - Definition and lifecycle calls on one provider (usdt_probe_new*,
 *   usdt_provider_load/unload/free, setters) must be serialized by the caller.
 *   Different providers may be used from different threads at once.
 * - usdt_probe_enabled() and the fire functions may be called from any thread
 *   at any time, including while another thread loads or unloads the provider:
 *   a probe of an unloaded provider is simply disabled. They must not race
 *   with usdt_provider_free() of the provider that owns the probe.
 * - Introspection getters are safe wherever the object is alive and not being
 *   modified by another thread.
 */
#ifndef USDT_H
#define USDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(USDT_STATIC_BUILD)
#define USDT_API __attribute__((visibility("default")))
#else
#define USDT_API
#endif

#define USDT_VERSION_MAJOR 0
#define USDT_VERSION_MINOR 1
#define USDT_VERSION_PATCH 0

/* The most arguments a probe may take: the limit of bpftrace and libbpf. */
#define USDT_MAX_ARGS 12
/* Longest provider or probe name, in bytes (perf's event-name limit). */
#define USDT_MAX_NAME 64

typedef struct usdt_provider usdt_provider;
typedef struct usdt_probe usdt_probe;

/* Argument types. Strings are passed as pointers to NUL-terminated bytes; the
 * tracer reads them (bpftrace: str(argN)). The note records each argument's
 * size and signedness, so tracers that check sizes (bcc) read them right. */
typedef enum usdt_type {
	USDT_TYPE_NONE = 0,
	USDT_INT8,
	USDT_UINT8,
	USDT_INT16,
	USDT_UINT16,
	USDT_INT32,
	USDT_UINT32,
	USDT_INT64,
	USDT_UINT64,
	USDT_POINTER, /* an address, 64-bit unsigned */
	USDT_STRING,  /* a pointer to a NUL-terminated string */
	USDT_TYPE_COUNT_
} usdt_type;

/* How a probe site is encoded. Both are correct; NOP5 is cheaper to trace on
 * x86-64 kernels that optimise 5-byte-nop uprobes (about 4x per hit). */
typedef enum usdt_site {
	USDT_SITE_DEFAULT = 0, /* the architecture's fastest correct site */
	USDT_SITE_NOP5,        /* x86-64: 5-byte nop at the stub entry */
	USDT_SITE_NOP1,        /* a single-instruction nop, as sys/sdt.h */
} usdt_site;

/* Where a loaded image lives. */
typedef enum usdt_storage {
	USDT_STORAGE_AUTO = 0, /* a file in a safe directory, else a memfd */
	USDT_STORAGE_FILE,     /* a file only; load fails if none is safe */
	USDT_STORAGE_MEMFD,    /* an anonymous sealed memfd only */
} usdt_storage;

/* Options for usdt_provider_new_opts(). Zero-initialise, set .sz to
 * sizeof(struct usdt_provider_opts), then set what you need. */
struct usdt_provider_opts {
	size_t sz;
	usdt_site site;
	usdt_storage storage;
	/* Directory for image files. NULL: $USDT_DIR, else $XDG_RUNTIME_DIR/usdt,
	 * else /tmp/usdt-<euid>, else /var/tmp/usdt-<euid>. A directory is used
	 * only if it is owned by the effective user, not writable by others, not
	 * a symlink, and on a filesystem that allows executable mappings. */
	const char *dir;
};

/* ------------------------------------------------------------------ */
/* Providers                                                           */

/* Create an empty, unloaded provider. The name must match
 * [A-Za-z_][A-Za-z0-9_]* and be at most USDT_MAX_NAME bytes, so that every
 * tracer can address it.
 * Errors (errno): EINVAL bad name, ENOMEM. */
USDT_API usdt_provider *usdt_provider_new(const char *name);

/* As usdt_provider_new(), with options (may be NULL).
 * Errors (errno): EINVAL bad name or option, ENOMEM. */
USDT_API usdt_provider *usdt_provider_new_opts(const char *name,
					       const struct usdt_provider_opts *opts);

/* Unload (if loaded) and free a provider and all its probes. NULL is a no-op.
 * Must not race with fires of its probes. */
USDT_API void usdt_provider_free(usdt_provider *prov);

/* Build the provider's image and map it into the process. Afterwards its
 * probes are visible to tracers and fire for real when traced.
 * Loading, unloading and loading again is allowed; an unchanged definition
 * reuses the same image (same path), so tracers attached by path keep working.
 * Errors: -EALREADY already loaded, -ENOENT no probes, -ENOMEM, -ENOSPC,
 * -EACCES/-EPERM no usable image location, other -errno from the system. */
USDT_API int usdt_provider_load(usdt_provider *prov);

/* Unmap the provider's probes from tracers' view. Its probes stay valid
 * objects: they read as disabled and fire as no-ops until loaded again.
 * Safe against concurrent fires from other threads: the old image stays
 * mapped for a grace period (100 ms), because a thread may have read a
 * semaphore address just before the unload. Until then a tracer attaching
 * by pid also sees the old image's probes.
 * Errors: -EALREADY not loaded. */
USDT_API int usdt_provider_unload(usdt_provider *prov);

/* Close at once the images this provider left in their grace period, so
 * that no tracer sees an old image's probes beside a new one's (bcc merges
 * same-named probes of two files; bpftrace -p then reads the wrong one).
 * Call it only when no thread can be inside an enabled check or a fire of
 * this provider's probes begun before the unload: a caller that runs every
 * fire under one lock it holds here (a language runtime's global
 * interpreter lock, say) may. Returns the number of images closed.
 * Errors: -EINVAL prov is NULL. Thread safety: as usdt_provider_free()
 * for the old images, safe for everything else. */
USDT_API int usdt_provider_close_retired(usdt_provider *prov);

USDT_API const char *usdt_provider_name(const usdt_provider *prov);
USDT_API bool usdt_provider_is_loaded(const usdt_provider *prov);
USDT_API size_t usdt_provider_probe_count(const usdt_provider *prov);
/* The index-th probe in definition order, or NULL (errno ERANGE). */
USDT_API usdt_probe *usdt_provider_probe_at(const usdt_provider *prov, size_t index);
/* The probe called name, or NULL (errno ENOENT). */
USDT_API usdt_probe *usdt_provider_probe(const usdt_provider *prov, const char *name);

/* Path of the loaded image as tracers should name it (a file path, or
 * /proc/<pid>/fd/<n> for a memfd image), or NULL when not loaded. The string
 * stays valid until the provider is unloaded. */
USDT_API const char *usdt_provider_path(const usdt_provider *prov);

/* True if the loaded image is a memfd (tracers then need the pid). */
USDT_API bool usdt_provider_is_memfd(const usdt_provider *prov);

/* ------------------------------------------------------------------ */
/* Probes                                                              */

/* Add a probe to an unloaded provider. types[0..argc-1] give the arguments.
 * The name follows the provider-name rules; names are unique per provider.
 * Errors (errno): EINVAL bad name or type, E2BIG more than USDT_MAX_ARGS,
 * EEXIST duplicate name, EBUSY provider is loaded, ENOMEM. */
USDT_API usdt_probe *usdt_probe_new(usdt_provider *prov, const char *name,
				    const usdt_type *types, size_t argc);

/* As usdt_probe_new() with the arguments as C-like type names separated by
 * commas, the same names a .d provider file uses: "int64_t, char *",
 * "unsigned int", "uintptr_t", "const char*", "" for none. Accepted names:
 * [u]int{8,16,32,64}_t, char, short, int, long, long long (each optionally
 * signed/unsigned), size_t, ssize_t, intptr_t, uintptr_t, bool, any pointer
 * (char pointers are strings). Errors: as usdt_probe_new(); EINVAL names
 * the offending type in usdt_errmsg(). */
USDT_API usdt_probe *usdt_probe_new_sig(usdt_provider *prov, const char *name,
					const char *signature);

USDT_API const char *usdt_probe_name(const usdt_probe *probe);
USDT_API usdt_provider *usdt_probe_provider(const usdt_probe *probe);
USDT_API size_t usdt_probe_argc(const usdt_probe *probe);
/* Type of argument i, or USDT_TYPE_NONE if out of range. */
USDT_API usdt_type usdt_probe_arg_type(const usdt_probe *probe, size_t i);
/* Argument spec as written in the note ("8@%rdi -4@%rsi"); valid while the
 * provider lives. */
USDT_API const char *usdt_probe_arg_spec(const usdt_probe *probe);
/* Address of the probe site, or 0 when not loaded. */
USDT_API uintptr_t usdt_probe_address(const usdt_probe *probe);

/* The hot part of every probe, laid out first so that the enabled check can
 * be inline. Not for direct use. */
struct usdt__probe_head {
	const volatile unsigned short *sema; /* the kernel-managed counter */
	void *site;                          /* the probe stub */
};

/* True while at least one tracer is attached. One load through the probe,
 * one load of the semaphore, no call. Any thread, any time. */
static inline bool usdt_probe_enabled(const usdt_probe *probe)
{
	return *((const struct usdt__probe_head *)(const void *)probe)->sema != 0;
}

/* The semaphore itself, for callers that want to cache it. The pointer
 * changes on load and unload (an unloaded probe points at a constant 0). */
static inline const volatile unsigned short *usdt_probe_semaphore(const usdt_probe *probe)
{
	return ((const struct usdt__probe_head *)(const void *)probe)->sema;
}

/* Type-erased enabled check, for bindings that cannot inline. */
USDT_API bool usdt_probe_is_enabled(const usdt_probe *probe);

/* ------------------------------------------------------------------ */
/* Firing                                                              */

/* Fire a probe with N arguments. Each does nothing unless a tracer is attached,
 * so calling them unguarded is cheap; guard with usdt_probe_enabled() when
 * computing the arguments costs. Arguments are passed as 64-bit values; the
 * note tells the tracer how wide each one is. Pass pointers and strings as
 * (uintptr_t). Passing fewer or more values than the probe declared gives the
 * tracer garbage for the missing ones (no check on this path; see
 * usdt_probe_fire_argv for a checked entry). Any thread, any time. */
USDT_API void usdt_probe_fire0(usdt_probe *p);
USDT_API void usdt_probe_fire1(usdt_probe *p, uint64_t a1);
USDT_API void usdt_probe_fire2(usdt_probe *p, uint64_t a1, uint64_t a2);
USDT_API void usdt_probe_fire3(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3);
USDT_API void usdt_probe_fire4(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4);
USDT_API void usdt_probe_fire5(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4, uint64_t a5);
USDT_API void usdt_probe_fire6(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4, uint64_t a5, uint64_t a6);
USDT_API void usdt_probe_fire7(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7);
USDT_API void usdt_probe_fire8(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
			       uint64_t a8);
USDT_API void usdt_probe_fire9(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
			       uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
			       uint64_t a8, uint64_t a9);
USDT_API void usdt_probe_fire10(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
				uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
				uint64_t a8, uint64_t a9, uint64_t a10);
USDT_API void usdt_probe_fire11(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
				uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
				uint64_t a8, uint64_t a9, uint64_t a10, uint64_t a11);
USDT_API void usdt_probe_fire12(usdt_probe *p, uint64_t a1, uint64_t a2, uint64_t a3,
				uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
				uint64_t a8, uint64_t a9, uint64_t a10, uint64_t a11,
				uint64_t a12);

/* Fire with the arguments in an array, for language bindings.
 * Errors: -EINVAL argc differs from the probe's argument count. */
USDT_API int usdt_probe_fire_argv(usdt_probe *p, const uint64_t *argv, size_t argc);

/* USDT_FIRE(probe, args...) casts each argument (integer or pointer) and
 * calls the fire function for that many arguments, behind the inline check. */
#define USDT__U64(x) ((uint64_t)(uintptr_t)(x))
#define USDT__NARG(...) USDT__NARG_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define USDT__NARG_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, N, ...) N
#define USDT__CAT(a, b) USDT__CAT_(a, b)
#define USDT__CAT_(a, b) a##b
#define USDT__FIRE_0(p) usdt_probe_fire0(p)
#define USDT__FIRE_1(p, a) usdt_probe_fire1(p, USDT__U64(a))
#define USDT__FIRE_2(p, a, b) usdt_probe_fire2(p, USDT__U64(a), USDT__U64(b))
#define USDT__FIRE_3(p, a, b, c) usdt_probe_fire3(p, USDT__U64(a), USDT__U64(b), USDT__U64(c))
#define USDT__FIRE_4(p, a, b, c, d) \
	usdt_probe_fire4(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d))
#define USDT__FIRE_5(p, a, b, c, d, e) \
	usdt_probe_fire5(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e))
#define USDT__FIRE_6(p, a, b, c, d, e, f)                                                 \
	usdt_probe_fire6(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			 USDT__U64(f))
#define USDT__FIRE_7(p, a, b, c, d, e, f, g)                                              \
	usdt_probe_fire7(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			 USDT__U64(f), USDT__U64(g))
#define USDT__FIRE_8(p, a, b, c, d, e, f, g, h)                                           \
	usdt_probe_fire8(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			 USDT__U64(f), USDT__U64(g), USDT__U64(h))
#define USDT__FIRE_9(p, a, b, c, d, e, f, g, h, i)                                       \
	usdt_probe_fire9(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			 USDT__U64(f), USDT__U64(g), USDT__U64(h), USDT__U64(i))
#define USDT__FIRE_10(p, a, b, c, d, e, f, g, h, i, j)                                     \
	usdt_probe_fire10(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			  USDT__U64(f), USDT__U64(g), USDT__U64(h), USDT__U64(i), USDT__U64(j))
#define USDT__FIRE_11(p, a, b, c, d, e, f, g, h, i, j, k)                                  \
	usdt_probe_fire11(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			  USDT__U64(f), USDT__U64(g), USDT__U64(h), USDT__U64(i), USDT__U64(j),     \
			  USDT__U64(k))
#define USDT__FIRE_12(p, a, b, c, d, e, f, g, h, i, j, k, l)                               \
	usdt_probe_fire12(p, USDT__U64(a), USDT__U64(b), USDT__U64(c), USDT__U64(d), USDT__U64(e), \
			  USDT__U64(f), USDT__U64(g), USDT__U64(h), USDT__U64(i), USDT__U64(j),     \
			  USDT__U64(k), USDT__U64(l))
#define USDT_FIRE(...)                                                         \
	do {                                                                   \
		if (usdt_probe_enabled(USDT__FIRST(__VA_ARGS__, 0)))          \
			USDT__CAT(USDT__FIRE_, USDT__NARG(__VA_ARGS__))(__VA_ARGS__); \
	} while (0)
#define USDT__FIRST(a, ...) (a)

/* ------------------------------------------------------------------ */
/* Watching for tracers                                                */

/* Called when a probe's enabled state changes (a tracer attached to it, or
 * the last one detached). Runs on libusdt's watcher thread. */
typedef void (*usdt_watch_fn)(usdt_probe *probe, bool enabled, void *ctx);

/* Ask libusdt to tell fn when any probe of prov becomes enabled or disabled.
 * The kernel never notifies a process that it is traced, so a watcher thread
 * reads the semaphores of watched providers. It sleeps while nothing is
 * enabled, woken by a tracer opening the image file (bpftrace, bcc, gdb and
 * perf probe do; then fn runs within a few ms of the attach), or by a slow
 * poll every USDT_IDLE_POLL_MS (default 1000 ms) for tracers that open
 * nothing (perf record on an event made earlier; memfd images): that is the
 * bound on the callback's delay then. While a probe is enabled it polls every
 * USDT_POLL_MS (default 5 ms) to see more probes enabled and the tracer
 * leave. One callback per provider; fn NULL stops watching, and returns once
 * no callback for prov runs. The thread exists only while something is
 * watched, and is restarted in a fork()ed child. Changes while unloaded are
 * not reported; unloading reports every enabled probe as disabled.
 * Errors: -ENOMEM, -EAGAIN (thread creation), -EMFILE. Thread-safe, also
 * from a watch callback. */
USDT_API int usdt_provider_watch(usdt_provider *prov, usdt_watch_fn fn, void *ctx);

/* Called when a watched semaphore goes from zero to non-zero or back. Runs
 * on libusdt's watcher thread. */
typedef void (*usdt_semaphore_fn)(const volatile unsigned short *sema, bool enabled, void *ctx);

/* Watch a semaphore that is not one of libusdt's (a static probe's, say
 * CPython's own python:function__entry from usdt_foreach_probe), with the
 * same thread and the same wakeups as usdt_provider_watch(), so a binding
 * need not poll it itself. path names the file the semaphore's probe lives
 * in (struct usdt_probe_info.path): tracers opening it wake the watcher;
 * NULL relies on the slow poll alone. fn is told of the state on the first
 * look if the semaphore is already up. One watch per semaphore: watching it
 * again replaces fn, ctx and path; fn NULL stops watching it (and returns
 * once no callback for it runs). The semaphore must stay mapped while
 * watched.
 * Errors: -EINVAL sema is NULL, -ENOMEM, -EAGAIN (thread creation).
 * Thread-safe, also from a watch callback. */
USDT_API int usdt_semaphore_watch(const volatile unsigned short *sema, const char *path,
				  usdt_semaphore_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Provider definitions in DTrace .d syntax                            */

/* Create an unloaded provider from DTrace provider syntax:
 *   provider myapp { probe request__start(int64_t, char *); };
 * text need not be NUL-terminated. provider selects one provider when the
 * text defines several (NULL: the text must define exactly one). filename
 * only names the source in messages. Probe names keep their "__".
 * Errors (errno): EINVAL syntax, type or name error (usdt_errmsg() gives
 * "file:line:col: expected ';' after the probe declaration, found '}'"),
 * ENOENT no such provider, E2BIG more than 12 arguments, EEXIST a probe or
 * provider defined twice, ENOMEM. Linear in len. */
USDT_API usdt_provider *usdt_provider_from_d(const char *text, size_t len,
					     const char *filename, const char *provider,
					     const struct usdt_provider_opts *opts);

/* As usdt_provider_from_d(), reading the file at path.
 * The whole file is read, whatever its size. Errors (errno): as
 * usdt_provider_from_d(), plus those of open/read and EISDIR; usdt_errmsg()
 * names the path. */
USDT_API usdt_provider *usdt_provider_from_d_file(const char *path, const char *provider,
						  const struct usdt_provider_opts *opts);

/* ------------------------------------------------------------------ */
/* Registry: every probe in the process                                */

struct usdt_probe_info {
	const char *provider;
	const char *name;
	const char *args;       /* the note's argument spec, e.g. "-4@%edi 8@%rsi" */
	const char *path;       /* what a tracer attaches to: the object's file, or
	                         * /proc/<pid>/fd/<n> for a memfd dynamic image */
	uintptr_t address;      /* run-time address of the probe site */
	uintptr_t semaphore;    /* run-time address of the semaphore, 0 if none */
	bool enabled;           /* semaphore non-zero now (false if none) */
	bool dynamic;           /* created with libusdt at run time */
};

/* Called once per probe; return non-zero to stop the walk (that value is
 * then returned by usdt_foreach_probe). Strings are valid during the call,
 * and so are the addresses: a library is kept loaded while its probes are
 * visited, even if another thread dlclose()s it meanwhile.
 * fn must not load, unload or free providers (dynamic probes are visited
 * under libusdt's lock). */
typedef int (*usdt_probe_visit_fn)(const struct usdt_probe_info *info, void *ctx);

/* Visit every probe of the process: first the static probes of every loaded
 * object (program and shared libraries; their .note.stapsdt notes are read
 * from the files, bounds-checked, addresses moved by the load bias), then
 * loaded dynamic providers' probes, each once. An object whose file cannot
 * be read or is malformed, or no longer matches what is loaded, is skipped.
 * Errors: -EINVAL (fn NULL), -ENOMEM, or what fn returned. Thread-safe. */
USDT_API int usdt_foreach_probe(usdt_probe_visit_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Errors and diagnostics                                              */

/* A static description of an error code (negative or positive errno). */
USDT_API const char *usdt_strerror(int err);

/* A detailed message for the calling thread's last failed libusdt call, e.g.
 * "probe name \"a b\": invalid character ' ' at offset 1". Empty if none. */
USDT_API const char *usdt_errmsg(void);

enum usdt_log_level { USDT_LOG_ERROR = 0, USDT_LOG_WARN, USDT_LOG_INFO, USDT_LOG_DEBUG };
typedef void (*usdt_log_fn)(int level, const char *msg, void *ctx);

/* Route diagnostics to fn (NULL: discard, the default). Thread-safe. */
USDT_API void usdt_set_log(usdt_log_fn fn, void *ctx);

/* Parse a type name ("int", "const char *") into a usdt_type.
 * Returns USDT_TYPE_NONE for an unknown name. */
USDT_API usdt_type usdt_type_parse(const char *name);
/* The canonical C name of a type ("int64_t", "char *"). */
USDT_API const char *usdt_type_name(usdt_type type);

/* Validate a provider or probe name. Returns 0 or -EINVAL (details in
 * usdt_errmsg()). */
USDT_API int usdt_name_check(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* USDT_H */
