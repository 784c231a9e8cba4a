/*
 * fire.c - a probe's native fire: check and convert every argument exactly,
 * then fire. lib/index.js calls it only while the probe is traced (it reads
 * the semaphore first), and has already turned json arguments into strings.
 *
 * Integers are exact: a Number must be an integer within the type (and,
 * for 64-bit types, a safe integer: beyond 2^53 a Number has already lost
 * digits, so a BigInt is required); a BigInt must fit the type. Strings are
 * copied as UTF-8 to the stack (or the heap when large): memory just
 * written is resident, so the tracer's read cannot fault.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

static const char *js_type(usdt_type t)
{
	static const char *names[] = {
		[USDT_INT8] = "int8",     [USDT_UINT8] = "uint8",   [USDT_INT16] = "int16",
		[USDT_UINT16] = "uint16", [USDT_INT32] = "int32",   [USDT_UINT32] = "uint32",
		[USDT_INT64] = "int64",   [USDT_UINT64] = "uint64", [USDT_POINTER] = "pointer",
		[USDT_STRING] = "string",
	};
	return t > 0 && t < USDT_TYPE_COUNT_ && names[t] ? names[t] : "?";
}

static void bounds(usdt_type t, int64_t *lo, uint64_t *hi)
{
	switch (t) {
	case USDT_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
	case USDT_UINT8: *lo = 0; *hi = UINT8_MAX; break;
	case USDT_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
	case USDT_UINT16: *lo = 0; *hi = UINT16_MAX; break;
	case USDT_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
	case USDT_UINT32: *lo = 0; *hi = UINT32_MAX; break;
	case USDT_INT64: *lo = INT64_MIN; *hi = INT64_MAX; break;
	default: *lo = 0; *hi = UINT64_MAX; break; /* uint64, pointer */
	}
}

#define MAX_SAFE 9007199254740991.0

/* Convert argument i (0-based) of probe p; 0, or -1 with an exception. */
static int to_integer(napi_env env, usdt_probe *p, size_t i, usdt_type t, napi_value v,
		      uint64_t *out)
{
	napi_valuetype vt;
	int64_t lo;
	uint64_t hi;
	bounds(t, &lo, &hi);
	napi_typeof(env, v, &vt);
	if (vt == napi_number) {
		double d;
		napi_get_value_double(env, v, &d);
		if (!isfinite(d) || d != trunc(d)) {
			nu_range_error(env, "ERR_OUT_OF_RANGE",
				       "probe %s argument %zu (%s): %.17g is not an integer",
				       usdt_probe_name(p), i + 1, js_type(t), d);
			return -1;
		}
		if (fabs(d) > MAX_SAFE) {
			nu_range_error(env, "ERR_OUT_OF_RANGE",
				       "probe %s argument %zu (%s): %.0f is beyond "
				       "Number.MAX_SAFE_INTEGER, so not exact; pass a BigInt",
				       usdt_probe_name(p), i + 1, js_type(t), d);
			return -1;
		}
		if (d < (double)lo || (d > 0 && (uint64_t)d > hi)) {
			nu_range_error(env, "ERR_OUT_OF_RANGE",
				       "probe %s argument %zu (%s): %.0f is out of range",
				       usdt_probe_name(p), i + 1, js_type(t), d);
			return -1;
		}
		*out = d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
		return 0;
	}
	if (vt == napi_bigint) {
		bool lossless = false, neg;
		int64_t s;
		uint64_t u;
		/* Try signed first; what fails there and is positive may fit unsigned. */
		napi_get_value_bigint_int64(env, v, &s, &lossless);
		neg = s < 0;
		if (lossless) {
			if ((neg && s < lo) || (!neg && (uint64_t)s > hi))
				goto range;
			*out = (uint64_t)s;
			return 0;
		}
		napi_get_value_bigint_uint64(env, v, &u, &lossless);
		if (lossless && u > (uint64_t)INT64_MAX && hi == UINT64_MAX) {
			*out = u;
			return 0;
		}
range:;
		napi_value str;
		char buf[64] = "?";
		if (napi_coerce_to_string(env, v, &str) == napi_ok)
			napi_get_value_string_utf8(env, str, buf, sizeof(buf), NULL);
		nu_range_error(env, "ERR_OUT_OF_RANGE", "probe %s argument %zu (%s): %sn is out of range",
			       usdt_probe_name(p), i + 1, js_type(t), buf);
		return -1;
	}
	nu_type_error(env, "ERR_INVALID_ARG_TYPE",
		      "probe %s argument %zu (%s) must be a Number or a BigInt",
		      usdt_probe_name(p), i + 1, js_type(t));
	return -1;
}

static napi_value fire(napi_env env, napi_callback_info info)
{
	size_t argc = USDT_MAX_ARGS + 1;
	napi_value argv[USDT_MAX_ARGS + 1];
	void *data;
	NU_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
	usdt_probe *p = data;
	size_t want = usdt_probe_argc(p);
	if (argc != want)
		return nu_type_error(env, "ERR_INVALID_ARG_COUNT",
				     "probe %s takes %zu argument%s, got %zu", usdt_probe_name(p),
				     want, want == 1 ? "" : "s", argc);

	uint64_t vals[USDT_MAX_ARGS];
	size_t lens[USDT_MAX_ARGS], total = 0;
	/* Pass 1: integers, and the size of every string. */
	for (size_t i = 0; i < want; i++) {
		usdt_type t = usdt_probe_arg_type(p, i);
		if (t != USDT_STRING) {
			if (to_integer(env, p, i, t, argv[i], &vals[i]))
				return NULL;
			continue;
		}
		napi_valuetype vt;
		napi_typeof(env, argv[i], &vt);
		if (vt != napi_string)
			return nu_type_error(env, "ERR_INVALID_ARG_TYPE",
					     "probe %s argument %zu (string) must be a string",
					     usdt_probe_name(p), i + 1);
		NU_CALL(env, napi_get_value_string_utf8(env, argv[i], NULL, 0, &lens[i]));
		total += lens[i] + 1;
	}
	char stackbuf[8192], *heap = NULL, *buf = stackbuf;
	if (total > sizeof(stackbuf) && !(buf = heap = malloc(total)))
		return nu_throw_usdt(env, ENOMEM, "fire");
	/* Pass 2: copy the strings. */
	char *at = buf;
	for (size_t i = 0; i < want; i++) {
		if (usdt_probe_arg_type(p, i) != USDT_STRING)
			continue;
		size_t got = 0;
		napi_get_value_string_utf8(env, argv[i], at, lens[i] + 1, &got);
		size_t nul = strlen(at);
		if (nul != got) {
			free(heap);
			return nu_type_error(env, "ERR_INVALID_ARG_VALUE",
					     "probe %s argument %zu (string) contains a NUL "
					     "character (at byte %zu), which would cut it short",
					     usdt_probe_name(p), i + 1, nul);
		}
		vals[i] = (uint64_t)(uintptr_t)at;
		at += got + 1;
	}
	usdt_probe_fire_argv(p, vals, want);
	free(heap);
	return NULL;
}

napi_value nu_fire_function(napi_env env, usdt_probe *probe)
{
	napi_value f;
	NU_CALL(env, napi_create_function(env, "fire", NAPI_AUTO_LENGTH, fire, probe, &f));
	return f;
}
