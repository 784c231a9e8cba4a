/*
 * provider.c - the binding's provider functions: create (by hand, from .d
 * text or a .d file), add and bind probes, load, unload, introspect.
 *
 * load() hands back one Uint16Array per probe viewing its kernel-managed
 * semaphore in the mapped image (an external ArrayBuffer, no copy), so JS
 * reads the enabled state with one typed-array load. The image is unmapped
 * after unload's grace period (or at free), so lib/index.js points every
 * probe at a zero array before it calls unload(), and keeps the views
 * private: JS never holds a view of memory that can go away.
 *
 * Where external ArrayBuffers are refused (napi_no_external_buffers_allowed:
 * Electron and other V8 sandbox builds), load() hands back, instead of the
 * view, an object whose "0" is a native getter reading the semaphore: JS
 * reads it exactly as it reads a view, at the price of a call.
 * USDT_NODE_NO_EXTERNAL_BUFFERS=1 forces that path (for its test).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

#define ARGS(n)                                                                 \
	size_t argc = (n);                                                      \
	napi_value argv[(n) > 0 ? (n) : 1];                                     \
	NU_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));     \
	struct nu_provider *np = nu_provider_of(env, argv[0]);                  \
	if (!np)                                                                \
		return NULL

struct nu_provider *nu_provider_of(napi_env env, napi_value v)
{
	bool ok = false;
	void *p = NULL;
	napi_valuetype t;
	if (napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
	    napi_check_object_type_tag(env, v, &nu_provider_tag, &ok) == napi_ok && ok &&
	    napi_unwrap(env, v, &p) == napi_ok && p && ((struct nu_provider *)p)->prov)
		return p;
	nu_type_error(env, "ERR_INVALID_THIS", "expected a usdt Provider");
	return NULL;
}

static void provider_finalize(napi_env env, void *data, void *hint)
{
	struct nu_provider *np = data;
	nu_watch_stop(np);
	usdt_provider_free(np->prov); /* unloads */
	free(np);
}

static napi_value wrap(napi_env env, napi_value self, usdt_provider *prov)
{
	struct nu_provider *np = calloc(1, sizeof(*np));
	if (!np) {
		usdt_provider_free(prov);
		return nu_throw_usdt(env, ENOMEM, "new Provider");
	}
	np->prov = prov;
	if (napi_wrap(env, self, np, provider_finalize, NULL, NULL) != napi_ok) {
		free(np);
		usdt_provider_free(prov);
		return nu_pending(env, "napi_wrap");
	}
	NU_CALL(env, napi_type_tag_object(env, self, &nu_provider_tag));
	return self;
}

/* Options arrive decoded by lib/index.js: dir (string or null), storage and
 * site as the enum values of usdt.h. */
static int get_opts(napi_env env, napi_value *v, struct usdt_provider_opts *o, char **dir)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	*dir = NULL;
	int32_t storage = 0, site = 0;
	if (!nu_is_nullish(env, v[0]) && !(*dir = nu_string(env, v[0], "options.dir")))
		return -1;
	if (napi_get_value_int32(env, v[1], &storage) != napi_ok ||
	    napi_get_value_int32(env, v[2], &site) != napi_ok) {
		free(*dir);
		nu_type_error(env, "ERR_INVALID_ARG_TYPE", "bad provider options");
		return -1;
	}
	o->dir = *dir;
	o->storage = (usdt_storage)storage;
	o->site = (usdt_site)site;
	return 0;
}

/* create(self, name, dir, storage, site) */
static napi_value create(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5];
	NU_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct usdt_provider_opts o;
	char *dir, *name = nu_string(env, argv[1], "provider name");
	if (!name)
		return NULL;
	if (get_opts(env, argv + 2, &o, &dir)) {
		free(name);
		return NULL;
	}
	usdt_provider *prov = usdt_provider_new_opts(name, &o);
	int err = errno;
	free(dir);
	if (!prov) {
		char what[128];
		snprintf(what, sizeof(what), "new Provider(%.80s)", name);
		free(name);
		return nu_throw_usdt(env, err, what);
	}
	free(name);
	return wrap(env, argv[0], prov);
}

/* fromD(self, text, filename|null, provider|null, dir, storage, site) and
 * fromDFile(self, path, null, provider|null, dir, storage, site) */
static napi_value from_d_common(napi_env env, napi_callback_info info, bool file)
{
	size_t argc = 7;
	napi_value argv[7];
	NU_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	char *text = NULL, *fname = NULL, *pname = NULL, *dir = NULL;
	struct usdt_provider_opts o;
	usdt_provider *prov = NULL;
	int err = 0;
	size_t len = 0;
	if (file) {
		if (!(text = nu_string(env, argv[1], "path")))
			goto out;
	} else {
		/* .d text may be large and hold anything; NULs are a parse error. */
		napi_valuetype t;
		if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string) {
			nu_type_error(env, "ERR_INVALID_ARG_TYPE", "the .d text must be a string");
			goto out;
		}
		napi_get_value_string_utf8(env, argv[1], NULL, 0, &len);
		if (!(text = malloc(len + 1))) {
			nu_throw_usdt(env, ENOMEM, "Provider.fromD");
			goto out;
		}
		napi_get_value_string_utf8(env, argv[1], text, len + 1, &len);
	}
	if (!nu_is_nullish(env, argv[2]) && !(fname = nu_string(env, argv[2], "options.filename")))
		goto out;
	if (!nu_is_nullish(env, argv[3]) && !(pname = nu_string(env, argv[3], "options.provider")))
		goto out;
	if (get_opts(env, argv + 4, &o, &dir))
		goto out;
	prov = file ? usdt_provider_from_d_file(text, pname, &o)
		    : usdt_provider_from_d(text, len, fname ? fname : "<string>", pname, &o);
	err = errno;
	if (!prov)
		nu_throw_usdt(env, err, file ? "Provider.fromDFile" : "Provider.fromD");
out:
	free(text);
	free(fname);
	free(pname);
	free(dir);
	return prov ? wrap(env, argv[0], prov) : NULL;
}

static napi_value from_d(napi_env env, napi_callback_info info)
{
	return from_d_common(env, info, false);
}

static napi_value from_d_file(napi_env env, napi_callback_info info)
{
	return from_d_common(env, info, true);
}

/* addProbe(self, name, [type codes]) -> index */
static napi_value add_probe(napi_env env, napi_callback_info info)
{
	ARGS(3);
	uint32_t n = 0;
	char *name = nu_string(env, argv[1], "probe name");
	if (!name)
		return NULL;
	if (napi_get_array_length(env, argv[2], &n) != napi_ok) {
		free(name);
		return nu_pending(env, "napi_get_array_length");
	}
	if (n > USDT_MAX_ARGS) {
		nu_range_error(env, "E2BIG",
			       "provider %s: probe %.80s has %u arguments, but a probe takes at "
			       "most %d (the limit of bpftrace and libbpf)",
			       usdt_provider_name(np->prov), name, n, USDT_MAX_ARGS);
		free(name);
		return NULL;
	}
	usdt_type types[USDT_MAX_ARGS];
	for (uint32_t i = 0; i < n; i++) {
		napi_value e;
		int32_t t = 0;
		if (napi_get_element(env, argv[2], i, &e) != napi_ok ||
		    napi_get_value_int32(env, e, &t) != napi_ok) {
			free(name);
			return nu_pending(env, "napi_get_element");
		}
		types[i] = (usdt_type)t;
	}
	usdt_probe *p = usdt_probe_new(np->prov, name, types, n);
	int err = errno;
	if (!p) {
		char what[160];
		snprintf(what, sizeof(what), "provider %s: probe %.80s", usdt_provider_name(np->prov),
			 name);
		free(name);
		return nu_throw_usdt(env, err, what);
	}
	free(name);
	napi_value r;
	NU_CALL(env, napi_create_uint32(env, (uint32_t)(usdt_provider_probe_count(np->prov) - 1), &r));
	return r;
}

static usdt_probe *probe_at(napi_env env, struct nu_provider *np, napi_value jindex)
{
	uint32_t i = 0;
	usdt_probe *p = NULL;
	if (napi_get_value_uint32(env, jindex, &i) == napi_ok)
		p = usdt_provider_probe_at(np->prov, i);
	if (!p)
		nu_range_error(env, "ERR_OUT_OF_RANGE", "no probe at index %u", i);
	return p;
}

/* probeInfo(self, index) -> [name, [type codes]] */
static napi_value probe_info(napi_env env, napi_callback_info info)
{
	ARGS(2);
	usdt_probe *p = probe_at(env, np, argv[1]);
	if (!p)
		return NULL;
	napi_value r, name, types, t;
	NU_CALL(env, napi_create_array_with_length(env, 2, &r));
	NU_CALL(env, napi_create_string_utf8(env, usdt_probe_name(p), NAPI_AUTO_LENGTH, &name));
	NU_CALL(env, napi_create_array_with_length(env, usdt_probe_argc(p), &types));
	for (size_t i = 0; i < usdt_probe_argc(p); i++) {
		NU_CALL(env, napi_create_int32(env, usdt_probe_arg_type(p, i), &t));
		NU_CALL(env, napi_set_element(env, types, (uint32_t)i, t));
	}
	NU_CALL(env, napi_set_element(env, r, 0, name));
	NU_CALL(env, napi_set_element(env, r, 1, types));
	return r;
}

/* bindProbe(self, probeObject, index) -> the probe's native fire function */
static napi_value bind_probe(napi_env env, napi_callback_info info)
{
	ARGS(3);
	usdt_probe *p = probe_at(env, np, argv[2]);
	if (!p)
		return NULL;
	NU_CALL(env, napi_wrap(env, argv[1], p, NULL, NULL, NULL));
	NU_CALL(env, napi_type_tag_object(env, argv[1], &nu_probe_tag));
	return nu_fire_function(env, p);
}

static napi_value count(napi_env env, napi_callback_info info)
{
	ARGS(1);
	napi_value r;
	NU_CALL(env, napi_create_uint32(env, (uint32_t)usdt_provider_probe_count(np->prov), &r));
	return r;
}

/* The "0" of a fallback view: the semaphore of the probe in data. */
static napi_value sema_get(napi_env env, napi_callback_info info)
{
	void *data;
	napi_value v;
	NU_CALL(env, napi_get_cb_info(env, info, NULL, NULL, NULL, &data));
	NU_CALL(env, napi_create_uint32(env, *usdt_probe_semaphore(data), &v));
	return v;
}

static napi_status sema_view(napi_env env, usdt_probe *p, bool external_ok, napi_value *view)
{
	if (external_ok) {
		napi_value ab;
		void *sema = (void *)(uintptr_t)usdt_probe_semaphore(p);
		napi_status st = napi_create_external_arraybuffer(env, sema, sizeof(unsigned short),
								   NULL, NULL, &ab);
		if (st == napi_ok)
			return napi_create_typedarray(env, napi_uint16_array, 1, ab, 0, view);
		if (st != napi_no_external_buffers_allowed)
			return st;
	}
	/* The semaphore pointer moves on load and unload; this object lives
	 * only while loaded (lib/index.js drops it before unload). */
	napi_property_descriptor d = { "0", NULL, NULL, sema_get, NULL, NULL, napi_enumerable, p };
	napi_status st = napi_create_object(env, view);
	return st == napi_ok ? napi_define_properties(env, *view, 1, &d) : st;
}

/* load(self) -> [a Uint16Array over each probe's semaphore, or the fallback] */
static napi_value load(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int err = usdt_provider_load(np->prov);
	if (err) {
		char what[128];
		snprintf(what, sizeof(what), "provider %s: load", usdt_provider_name(np->prov));
		return nu_throw_usdt(env, err, what);
	}
	size_t n = usdt_provider_probe_count(np->prov);
	const char *force = getenv("USDT_NODE_NO_EXTERNAL_BUFFERS");
	bool external_ok = !(force && strcmp(force, "1") == 0);
	napi_value r;
	NU_CALL(env, napi_create_array_with_length(env, n, &r));
	for (size_t i = 0; i < n; i++) {
		napi_value view;
		NU_CALL(env, sema_view(env, usdt_provider_probe_at(np->prov, i), external_ok, &view));
		NU_CALL(env, napi_set_element(env, r, (uint32_t)i, view));
	}
	return r;
}

static napi_value unload(napi_env env, napi_callback_info info)
{
	ARGS(1);
	int err = usdt_provider_unload(np->prov);
	if (err) {
		char what[128];
		snprintf(what, sizeof(what), "provider %s: unload", usdt_provider_name(np->prov));
		return nu_throw_usdt(env, err, what);
	}
	return NULL;
}

/* state(self) -> [name, loaded, path|null, memfd] */
static napi_value state(napi_env env, napi_callback_info info)
{
	ARGS(1);
	napi_value r, v;
	const char *path = usdt_provider_path(np->prov);
	NU_CALL(env, napi_create_array_with_length(env, 4, &r));
	NU_CALL(env, napi_create_string_utf8(env, usdt_provider_name(np->prov), NAPI_AUTO_LENGTH, &v));
	NU_CALL(env, napi_set_element(env, r, 0, v));
	NU_CALL(env, napi_get_boolean(env, usdt_provider_is_loaded(np->prov), &v));
	NU_CALL(env, napi_set_element(env, r, 1, v));
	if (path)
		NU_CALL(env, napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v));
	else
		NU_CALL(env, napi_get_null(env, &v));
	NU_CALL(env, napi_set_element(env, r, 2, v));
	NU_CALL(env, napi_get_boolean(env, usdt_provider_is_memfd(np->prov), &v));
	NU_CALL(env, napi_set_element(env, r, 3, v));
	return r;
}

/* probeState(probe) -> [address, argSpec]: for inspect output and tests. */
static napi_value probe_state(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], r, v;
	usdt_probe *p;
	NU_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (usdt_node_probe_from_value(env, argv[0], &p))
		return NULL;
	NU_CALL(env, napi_create_array_with_length(env, 2, &r));
	NU_CALL(env, napi_create_bigint_uint64(env, usdt_probe_address(p), &v));
	NU_CALL(env, napi_set_element(env, r, 0, v));
	NU_CALL(env, napi_create_string_utf8(env, usdt_probe_arg_spec(p), NAPI_AUTO_LENGTH, &v));
	NU_CALL(env, napi_set_element(env, r, 1, v));
	return r;
}

napi_status nu_provider_init(napi_env env, napi_value exports)
{
	static const napi_property_descriptor fns[] = {
		NU_FN("create", create),       NU_FN("fromD", from_d),
		NU_FN("fromDFile", from_d_file), NU_FN("addProbe", add_probe),
		NU_FN("probeInfo", probe_info), NU_FN("bindProbe", bind_probe),
		NU_FN("count", count),         NU_FN("load", load),
		NU_FN("unload", unload),       NU_FN("state", state),
		NU_FN("probeState", probe_state), NU_FN("watch", nu_watch),
		NU_FN("unwatch", nu_unwatch),  NU_FN("setDispatch", nu_set_dispatch),
	};
	napi_status st = napi_define_properties(env, exports, sizeof(fns) / sizeof(fns[0]), fns);
	if (st != napi_ok)
		return st;
	napi_value v;
	st = napi_create_uint32(env, USDT_MAX_ARGS, &v);
	return st == napi_ok ? napi_set_named_property(env, exports, "MAX_ARGS", v) : st;
}
