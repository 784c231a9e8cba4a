/*
 * addon.c - module init (context-aware: once per main thread and worker),
 * error helpers, and the C interface of node_usdt.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

const napi_type_tag nu_provider_tag = { 0x7573647470726f76ULL, 0x6e6f64652d657874ULL };
const napi_type_tag nu_probe_tag = { 0x7573647470726f62ULL, 0x6e6f64652d657874ULL };

napi_value nu_pending(napi_env env, const char *call)
{
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (!pending) {
		const napi_extended_error_info *info = NULL;
		napi_get_last_error_info(env, &info);
		char msg[256];
		snprintf(msg, sizeof(msg), "usdt: internal error in %s: %s", call,
			 info && info->error_message ? info->error_message : "unknown");
		napi_throw_error(env, "ERR_USDT_INTERNAL", msg);
	}
	return NULL;
}

static napi_value make_error(napi_env env, int kind, const char *code, const char *msg)
{
	napi_value jcode, jmsg, err;
	if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok ||
	    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok)
		return NULL;
	napi_status st = kind == 1   ? napi_create_type_error(env, jcode, jmsg, &err)
			 : kind == 2 ? napi_create_range_error(env, jcode, jmsg, &err)
				     : napi_create_error(env, jcode, jmsg, &err);
	return st == napi_ok ? err : NULL;
}

static napi_value throw_fmt(napi_env env, int kind, const char *code, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	napi_value err = make_error(env, kind, code, msg);
	if (err)
		napi_throw(env, err);
	return NULL;
}

napi_value nu_type_error(napi_env env, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	throw_fmt(env, 1, code, fmt, ap);
	va_end(ap);
	return NULL;
}

napi_value nu_range_error(napi_env env, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	throw_fmt(env, 2, code, fmt, ap);
	va_end(ap);
	return NULL;
}

napi_value nu_throw_usdt(napi_env env, int err, const char *what)
{
	if (err < 0)
		err = -err;
	const char *detail = usdt_errmsg();
	if (!detail || !*detail)
		detail = usdt_strerror(err);
	const char *code = strerrorname_np(err);
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s: %s", what, detail);
	int kind = err == EINVAL ? 1 : (err == E2BIG || err == ERANGE) ? 2 : 0;
	napi_value e = make_error(env, kind, code ? code : "EUNKNOWN", msg), jerrno;
	if (!e)
		return nu_pending(env, "napi_create_error");
	if (napi_create_int32(env, -err, &jerrno) == napi_ok)
		napi_set_named_property(env, e, "errno", jerrno);
	napi_throw(env, e);
	return NULL;
}

bool nu_is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;
	return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

char *nu_string(napi_env env, napi_value v, const char *what)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
		nu_type_error(env, "ERR_INVALID_ARG_TYPE", "%s must be a string", what);
		return NULL;
	}
	size_t len = 0;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
		nu_pending(env, "napi_get_value_string_utf8");
		return NULL;
	}
	char *s = malloc(len + 1);
	if (!s) {
		napi_throw_error(env, "ENOMEM", "out of memory");
		return NULL;
	}
	napi_get_value_string_utf8(env, v, s, len + 1, &len);
	if (strlen(s) != len) {
		nu_type_error(env, "ERR_INVALID_ARG_VALUE",
			      "%s must not contain NUL characters (one at byte %zu)", what, strlen(s));
		free(s);
		return NULL;
	}
	return s;
}

int usdt_node_probe_from_value(napi_env env, napi_value v, usdt_probe **out)
{
	bool ok = false;
	napi_valuetype t;
	void *p = NULL;
	if (napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
	    napi_check_object_type_tag(env, v, &nu_probe_tag, &ok) == napi_ok && ok &&
	    napi_unwrap(env, v, &p) == napi_ok && p) {
		*out = p;
		return 0;
	}
	nu_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a usdt Probe");
	return -EINVAL;
}

/* node-runtime's init replaces this when its object files are linked in. */
__attribute__((weak)) napi_value usdt_node_runtime_init(napi_env env, napi_value exports)
{
	return exports;
}

/* The floor of a call into native code, for the benchmarks. */
static napi_value noop(napi_env env, napi_callback_info info)
{
	return NULL;
}

static void env_free(napi_env env, void *data, void *hint)
{
	struct nu_env *e = data;
	if (e->dispatch)
		napi_delete_reference(env, e->dispatch);
	free(e);
}

NAPI_MODULE_INIT()
{
	struct nu_env *e = calloc(1, sizeof(*e));
	if (!e || napi_set_instance_data(env, e, env_free, NULL) != napi_ok) {
		free(e);
		napi_throw_error(env, "ENOMEM", "usdt: out of memory");
		return NULL;
	}
	napi_value fn;
	NU_CALL(env, napi_create_function(env, "noop", NAPI_AUTO_LENGTH, noop, NULL, &fn));
	NU_CALL(env, napi_set_named_property(env, exports, "noop", fn));
	NU_CALL(env, nu_provider_init(env, exports));
	return usdt_node_runtime_init(env, exports);
}
