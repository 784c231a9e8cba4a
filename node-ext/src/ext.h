/*
 * ext.h - internals shared by the files of the `usdt` addon.
 *
 * The JS classes (lib/index.js) own the objects; the native side wraps the
 * JS Provider with a struct nu_provider (napi_wrap, freed and so unloaded by
 * its finalizer when the GC collects the Provider) and each JS Probe with its
 * usdt_probe (no finalizer: a Probe holds its Provider, so the usdt_probe
 * lives as long as the Probe). Type tags tell the two apart.
 */
#ifndef USDT_NODE_EXT_H
#define USDT_NODE_EXT_H

#include <stdbool.h>
#include "node_usdt.h"

struct nu_watch;

struct nu_provider {
	usdt_provider *prov;
	struct nu_watch *watch; /* non-NULL while provider.watch() is active */
};

extern const napi_type_tag nu_provider_tag;
extern const napi_type_tag nu_probe_tag;

/* Per environment (main thread, each worker). */
struct nu_env {
	napi_ref dispatch; /* JS function(provider, index, enabled) for watch events */
};

/* Throw for a failed libusdt call: err is a positive or negative errno;
 * the message is what usdt_errmsg() said (else usdt_strerror()), prefixed
 * with what. EINVAL throws TypeError, E2BIG/ERANGE RangeError, the rest
 * Error; each has .code ("EEXIST") and .errno (-17). Returns NULL. */
napi_value nu_throw_usdt(napi_env env, int err, const char *what);
/* printf-style TypeError / RangeError with a code. Return NULL. */
napi_value nu_type_error(napi_env env, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
napi_value nu_range_error(napi_env env, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The nu_provider wrapped in v, or NULL with a TypeError pending. */
struct nu_provider *nu_provider_of(napi_env env, napi_value v);
/* A JS string argument copied to malloc'd UTF-8 (caller frees), or NULL with
 * an exception pending. NUL bytes inside are refused (what names it). */
char *nu_string(napi_env env, napi_value v, const char *what);
bool nu_is_nullish(napi_env env, napi_value v);

/* A function whose data is the usdt_probe, converting and firing. */
napi_value nu_fire_function(napi_env env, usdt_probe *probe);

/* watch.c */
napi_value nu_watch(napi_env env, napi_callback_info info);
napi_value nu_unwatch(napi_env env, napi_callback_info info);
napi_value nu_set_dispatch(napi_env env, napi_callback_info info);
void nu_watch_stop(struct nu_provider *np);

/* provider.c: the functions the binding exports. */
napi_status nu_provider_init(napi_env env, napi_value exports);

#define NU_CALL(env, call)                                                  \
	do {                                                                \
		if ((call) != napi_ok)                                      \
			return nu_pending(env, #call);                      \
	} while (0)
/* Make sure a JS exception is pending after a failed napi call; NULL. */
napi_value nu_pending(napi_env env, const char *call);

#endif
