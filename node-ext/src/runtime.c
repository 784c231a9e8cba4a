/*
 * runtime.c - node's own `node` provider (providers/node.d), restored at no
 * cost while nobody traces it. lib/runtime.js drives it.
 *
 * N-API only, like the rest of usdt.node, so one build serves every Node
 * line. The HTTP and net probes are fired from JS (diagnostics_channel)
 * through fire4/fire7. The GC probes need V8's GC prologue/epilogue
 * callbacks, which N-API has no way to: they live in the GC part
 * (gc/gc.cc, built per Node major), which gets the probes from gcInterface()
 * (gc_iface.h) when lib/runtime.js loads it.
 *
 * The provider is process-wide and lives on the thread that enabled it (the
 * main thread; lib/runtime.js does nothing in workers): GC callbacks belong
 * to that thread's isolate, and libusdt's watcher, whose callbacks run on its
 * own thread, reaches it through a thread-safe function that only says
 * "look again" - JS then reads the semaphores and applies what changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "gc_iface.h"
#include "ext.h"

enum {
	P_HTTP_SERVER_REQUEST,
	P_HTTP_SERVER_RESPONSE,
	P_HTTP_CLIENT_REQUEST,
	P_HTTP_CLIENT_RESPONSE,
	P_NET_SERVER_CONNECTION,
	P_NET_STREAM_END,
	P_GC_START,
	P_GC_DONE,
	P_COUNT
};

/* Index order is the JS side's too (lib/runtime.js PROBES). */
static const char *const probe_names[P_COUNT] = {
	"http__server__request", "http__server__response", "http__client__request",
	"http__client__response", "net__server__connection", "net__stream__end",
	"gc__start",             "gc__done",
};
static const size_t probe_argc[P_COUNT] = { 7, 4, 7, 4, 4, 4, 3, 3 };

static usdt_provider *prov;
static usdt_probe *probes[P_COUNT];
static napi_env owner;                    /* the environment that enabled the provider */
static napi_threadsafe_function tsfn;     /* "the semaphores changed", to owner's thread */
static uint32_t reported;         /* probes the watcher last saw up (atomic) */
static int pending;                       /* a tsfn call is queued (atomic) */

static bool probe_enabled(const usdt_probe *p)
{
	return usdt_probe_enabled(p);
}

/* Handed to the GC part; start and done are set while the provider exists. */
static struct usdt_node_gc gc_if = {
	.magic = USDT_NODE_GC_MAGIC,
	.abi = USDT_NODE_GC_ABI,
	.size = sizeof(struct usdt_node_gc),
	.enabled = probe_enabled,
	.fire3 = usdt_probe_fire3,
};

/* libusdt's watcher thread: one queued call at a time is enough, JS reads
 * the whole reported mask when it runs. JS follows what the watcher saw, not
 * the semaphores themselves: hooks installed for a semaphore the watcher has
 * not seen up (a tracer that came and went between two of its scans) would
 * never get the falling edge that takes them out. */
static void watch_cb(usdt_probe *probe, bool on, void *ctx)
{
	for (int i = 0; i < P_COUNT; i++) {
		if (probes[i] != probe)
			continue;
		if (on)
			__atomic_or_fetch(&reported, 1u << i, __ATOMIC_ACQ_REL);
		else
			__atomic_and_fetch(&reported, ~(1u << i), __ATOMIC_ACQ_REL);
	}
	if (__atomic_exchange_n(&pending, 1, __ATOMIC_ACQ_REL))
		return;
	if (napi_call_threadsafe_function(tsfn, NULL, napi_tsfn_nonblocking) != napi_ok)
		__atomic_store_n(&pending, 0, __ATOMIC_RELEASE);
}

static void tsfn_call(napi_env env, napi_value js_cb, void *ctx, void *data)
{
	__atomic_store_n(&pending, 0, __ATOMIC_RELEASE);
	if (!env || !js_cb)
		return; /* environment tearing down */
	napi_value undef;
	napi_get_undefined(env, &undef);
	napi_call_function(env, undef, js_cb, 0, NULL, NULL);
}

/* ---- helpers ---------------------------------------------------------- */

static napi_value throw_err(napi_env env, const char *code, const char *msg)
{
	napi_throw_error(env, code, msg);
	return NULL;
}

static napi_value throw_usdt(napi_env env, int err, const char *what)
{
	char msg[512];
	const char *detail = usdt_errmsg();
	snprintf(msg, sizeof(msg), "%s%s%s", what, *what ? ": " : "",
		 detail && *detail ? detail : usdt_strerror(err));
	return throw_err(env, "ERR_USDT_RUNTIME", msg);
}

static bool owner_only(napi_env env)
{
	if (prov && owner != env) {
		throw_err(env, "ERR_USDT_RUNTIME",
			  "the node provider belongs to another thread (it runs on the main thread only)");
		return false;
	}
	return true;
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;
	napi_value self;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok)
		return NULL;
	for (size_t i = argc; i < want; i++)
		napi_get_undefined(env, &argv[i]);
	return self;
}

static napi_value make_bool(napi_env env, bool b)
{
	napi_value v;
	napi_get_boolean(env, b, &v);
	return v;
}

static napi_value undefined(napi_env env)
{
	napi_value v;
	napi_get_undefined(env, &v);
	return v;
}

/* A probe index argument, checked. */
static bool probe_index(napi_env env, napi_value v, int *out)
{
	int32_t i;
	if (napi_get_value_int32(env, v, &i) != napi_ok || i < 0 || i >= P_COUNT) {
		napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "probe index out of range");
		return false;
	}
	*out = i;
	return true;
}

/* A JS string as NUL-terminated UTF-8 for a fire: in buf when it fits (the
 * stack, so resident when the tracer reads it), else in *heap (caller frees).
 * Non-strings fire as "" - the callers pass what node had, or null. */
const char *utf8(napi_env env, napi_value v, char *buf, size_t cap, char **heap)
{
	size_t len = 0;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
		bool pending_exc = false;
		napi_is_exception_pending(env, &pending_exc);
		if (pending_exc) {
			napi_value e;
			napi_get_and_clear_last_exception(env, &e);
		}
		return "";
	}
	char *dst = buf;
	if (len + 1 > cap) {
		dst = *heap = malloc(len + 1);
		if (!dst)
			return "";
		cap = len + 1;
	}
	napi_get_value_string_utf8(env, v, dst, cap, &len);
	return dst;
}

static int64_t int_arg(napi_env env, napi_value v, int64_t dflt)
{
	int64_t i;
	return napi_get_value_int64(env, v, &i) == napi_ok ? i : dflt;
}

/* ---- exported functions ----------------------------------------------- */

/* enable(dText, filename, onChange) -> image path. Defines the provider from
 * providers/node.d's text, loads it and starts watching; onChange() runs on
 * this thread whenever a semaphore may have changed. */
static napi_value js_enable(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	get_args(env, info, 3, argv);
	if (!owner_only(env))
		return NULL;
	napi_valuetype t;
	napi_typeof(env, argv[2], &t);
	if (t != napi_function) {
		napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "onChange must be a function");
		return NULL;
	}
	if (!prov) {
		size_t len = 0;
		if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
			napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the .d text must be a string");
			return NULL;
		}
		char *text = malloc(len + 1), fname[256] = "node.d";
		if (!text)
			return throw_usdt(env, -ENOMEM, "the node provider");
		napi_get_value_string_utf8(env, argv[0], text, len + 1, &len);
		size_t fl;
		napi_get_value_string_utf8(env, argv[1], fname, sizeof(fname), &fl);
		usdt_provider *p = usdt_provider_from_d(text, len, fname, "node", NULL);
		free(text);
		if (!p)
			return throw_usdt(env, -errno, ""); /* the message names file:line:col */
		usdt_probe *ps[P_COUNT];
		for (int i = 0; i < P_COUNT; i++) {
			ps[i] = usdt_provider_probe(p, probe_names[i]);
			if (!ps[i] || usdt_probe_argc(ps[i]) != probe_argc[i]) {
				usdt_provider_free(p);
				char msg[160];
				snprintf(msg, sizeof(msg), "%s does not define node:%s with %zu arguments",
					 fname, probe_names[i], probe_argc[i]);
				return throw_err(env, "ERR_USDT_RUNTIME", msg);
			}
		}
		prov = p;
		memcpy(probes, ps, sizeof(probes));
		gc_if.start = ps[P_GC_START];
		gc_if.done = ps[P_GC_DONE];
		owner = env;
	}
	if (!tsfn) {
		napi_value name;
		napi_create_string_utf8(env, "usdt-node-runtime", NAPI_AUTO_LENGTH, &name);
		if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL,
						    NULL, NULL, tsfn_call, &tsfn) != napi_ok)
			return throw_err(env, "ERR_USDT_RUNTIME", "cannot create a thread-safe function");
		/* Watching must never keep the program alive. */
		napi_unref_threadsafe_function(env, tsfn);
	}
	int err;
	if (!usdt_provider_is_loaded(prov) && (err = usdt_provider_load(prov)) < 0)
		return throw_usdt(env, err, "loading the node provider");
	if ((err = usdt_provider_watch(prov, watch_cb, NULL)) < 0)
		return throw_usdt(env, err, "watching the node provider");
	napi_value path;
	napi_create_string_utf8(env, usdt_provider_path(prov), NAPI_AUTO_LENGTH, &path);
	return path;
}

/* disable(): stop watching, remove the GC callbacks, unload. The JS side
 * removes its own hooks first. */
static napi_value js_disable(napi_env env, napi_callback_info info)
{
	if (!prov || !owner_only(env))
		return undefined(env);
	usdt_provider_watch(prov, NULL, NULL); /* no callback runs after this */
	/* A new watch reports every probe up again from its first scan. */
	__atomic_store_n(&reported, 0, __ATOMIC_RELEASE);
	if (tsfn) {
		napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
		tsfn = NULL;
		__atomic_store_n(&pending, 0, __ATOMIC_RELEASE);
	}
	if (usdt_provider_is_loaded(prov))
		usdt_provider_unload(prov);
	return undefined(env);
}

/* traced() -> bitmask of the probes whose semaphore is up now. */
static napi_value js_traced(napi_env env, napi_callback_info info)
{
	uint32_t mask = 0;
	if (prov)
		for (int i = 0; i < P_COUNT; i++)
			if (usdt_probe_enabled(probes[i]))
				mask |= 1u << i;
	napi_value v;
	napi_create_uint32(env, mask, &v);
	return v;
}

/* reported() -> bitmask of the probes the watcher has reported up and not
 * down since: what lib/runtime.js applies on a change. */
static napi_value js_reported(napi_env env, napi_callback_info info)
{
	napi_value v;
	napi_create_uint32(env, __atomic_load_n(&reported, __ATOMIC_ACQUIRE), &v);
	return v;
}

/* gcInterface() -> the external the GC part installs its callbacks with. */
static napi_value js_gc_iface(napi_env env, napi_callback_info info)
{
	napi_value ext;
	if (!prov || !owner_only(env))
		return throw_err(env, "ERR_USDT_RUNTIME", "the node provider is not enabled");
	if (napi_create_external(env, &gc_if, NULL, NULL, &ext) != napi_ok)
		return throw_err(env, "ERR_USDT_RUNTIME", "cannot create the GC interface");
	return ext;
}

/* The probe at index if it takes argc arguments and is traced now, else -1
 * (a bad index leaves its TypeError pending). */
static int traced_probe(napi_env env, napi_value index, size_t argc)
{
	int i;
	if (!prov || !probe_index(env, index, &i) || probe_argc[i] != argc ||
	    !usdt_probe_enabled(probes[i]))
		return -1;
	return i;
}

/* fire4(index, remote, port, fd): conn, remote, port, fd. */
static napi_value js_fire4(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	get_args(env, info, 4, argv);
	int i = traced_probe(env, argv[0], 4);
	if (i < 0)
		return undefined(env);
	char rbuf[256], *rheap = NULL;
	const char *remote = utf8(env, argv[1], rbuf, sizeof(rbuf), &rheap);
	usdt_probe_fire4(probes[i], 0, (uint64_t)(uintptr_t)remote,
			 (uint64_t)int_arg(env, argv[2], 0), (uint64_t)int_arg(env, argv[3], -1));
	free(rheap);
	return undefined(env);
}

/* fire7(index, remote, port, method, url, fd): req, conn, remote, port,
 * method, url, fd. */
static napi_value js_fire7(napi_env env, napi_callback_info info)
{
	napi_value argv[6];
	get_args(env, info, 6, argv);
	int i = traced_probe(env, argv[0], 7);
	if (i < 0)
		return undefined(env);
	char rbuf[256], mbuf[64], ubuf[2048], *rh = NULL, *mh = NULL, *uh = NULL;
	const char *remote = utf8(env, argv[1], rbuf, sizeof(rbuf), &rh);
	const char *method = utf8(env, argv[3], mbuf, sizeof(mbuf), &mh);
	const char *url = utf8(env, argv[4], ubuf, sizeof(ubuf), &uh);
	usdt_probe_fire7(probes[i], 0, 0, (uint64_t)(uintptr_t)remote,
			 (uint64_t)int_arg(env, argv[2], 0), (uint64_t)(uintptr_t)method,
			 (uint64_t)(uintptr_t)url, (uint64_t)int_arg(env, argv[5], -1));
	free(rh);
	free(mh);
	free(uh);
	return undefined(env);
}

/* state() -> { path, watching }: the native half of runtime.state(). */
static napi_value js_state(napi_env env, napi_callback_info info)
{
	napi_value o, path;
	napi_create_object(env, &o);
	if (prov && usdt_provider_is_loaded(prov))
		napi_create_string_utf8(env, usdt_provider_path(prov), NAPI_AUTO_LENGTH, &path);
	else
		napi_get_null(env, &path);
	napi_set_named_property(env, o, "path", path);
	napi_set_named_property(env, o, "watching", make_bool(env, tsfn != NULL));
	return o;
}

/* force(index, delta): move a semaphore as a tracer would, so the benchmark
 * times the watcher-to-hook path without a kernel trap. */
static napi_value js_force(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	get_args(env, info, 2, argv);
	int i;
	if (!prov || !usdt_provider_is_loaded(prov))
		return throw_err(env, "ERR_USDT_RUNTIME", "the node provider is not loaded");
	if (!probe_index(env, argv[0], &i))
		return NULL;
	volatile unsigned short *s = (volatile unsigned short *)usdt_probe_semaphore(probes[i]);
	__atomic_add_fetch(s, (unsigned short)int_arg(env, argv[1], 0), __ATOMIC_SEQ_CST);
	return undefined(env);
}

/* trapped(index): whether a uprobe sits on the probe's site now, i.e. a
 * tracer's program is attached, not only its semaphore up (bcc raises
 * semaphores seconds before it attaches; nodestat re-attaches every
 * interval). For tests that must know events reach the tracer. The site is
 * one of libusdt's nops (0f 1f 44 00 00, or 90); a uprobe makes its first
 * byte int3, and kernels that optimise nop5 uprobes then a call. */
static napi_value js_trapped(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	get_args(env, info, 1, argv);
	int i;
	if (!prov || !probe_index(env, argv[0], &i))
		return NULL;
	uintptr_t a = usdt_probe_address(probes[i]);
	unsigned char b = a ? *(const volatile unsigned char *)a : 0x90;
	return make_bool(env, b != 0x0f && b != 0x90);
}
/* threadName([name]) -> this thread's name (the process's comm on the main
 * thread) before the call; with name, sets it. lib/runtime.js gives the main
 * thread back the name tools look node up by (see there). */
static napi_value js_thread_name(napi_env env, napi_callback_info info)
{
	napi_value argv[1], v;
	char old[16] = "", name[16];
	size_t len;
	get_args(env, info, 1, argv);
	prctl(PR_GET_NAME, old, 0, 0, 0);
	if (!nu_is_nullish(env, argv[0])) {
		if (napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len) != napi_ok)
			return throw_err(env, "ERR_INVALID_ARG_TYPE", "a thread name must be a string");
		if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
			return throw_usdt(env, -errno, "setting the thread's name");
	}
	napi_create_string_utf8(env, old, NAPI_AUTO_LENGTH, &v);
	return v;
}


static void cleanup(void *env)
{
	/* The owning environment is going away (process exit, or a worker that
	 * enabled it): nothing of ours may outlive its isolate. The GC part,
	 * loaded after usdt.node, removed its callbacks already (cleanup hooks
	 * run in reverse order); start/done go NULL in any case. */
	if (prov && owner == env) {
		usdt_provider_watch(prov, NULL, NULL);
		usdt_provider_free(prov);
		prov = NULL;
		tsfn = NULL;
		owner = NULL;
		memset(probes, 0, sizeof(probes));
		gc_if.start = gc_if.done = NULL;
	}
}


napi_value usdt_node_runtime_init(napi_env env, napi_value exports)
{
	static const napi_property_descriptor fns[] = {
		NU_FN("enable", js_enable), NU_FN("disable", js_disable), NU_FN("traced", js_traced), NU_FN("reported", js_reported),
		NU_FN("gcInterface", js_gc_iface), NU_FN("fire4", js_fire4), NU_FN("fire7", js_fire7),
		NU_FN("state", js_state),   NU_FN("force", js_force),     NU_FN("trapped", js_trapped),
		NU_FN("threadName", js_thread_name),
	};
	napi_value rt;
	if (napi_create_object(env, &rt) != napi_ok ||
	    napi_define_properties(env, rt, sizeof(fns) / sizeof(fns[0]), fns) != napi_ok)
		return exports;
	napi_value names;
	napi_create_array_with_length(env, P_COUNT, &names);
	for (uint32_t i = 0; i < P_COUNT; i++) {
		napi_value s;
		napi_create_string_utf8(env, probe_names[i], NAPI_AUTO_LENGTH, &s);
		napi_set_element(env, names, i, s);
	}
	napi_set_named_property(env, rt, "probes", names);
	napi_add_env_cleanup_hook(env, cleanup, env);
	napi_set_named_property(env, exports, "_runtime", rt);
	return exports;
}
