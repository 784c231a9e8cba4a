/*
 * gc.cc - the GC part of node's runtime provider: V8's GC prologue and
 * epilogue callbacks fire gc__start and gc__done with node's own signature
 * (int type, int flags, void *isolate).
 *
 * The one piece of the addon that uses V8's C++ API, so it is its own small
 * addon, built per Node major (usdt_gc-abiN.node, N = NODE_MODULE_VERSION):
 * V8's C++ ABI changes with every major. lib/runtime.js loads it only when a
 * tracer wants the gc probes and hands it the probes as a napi_external
 * (src/gc_iface.h). It links no libusdt and holds no probe of its own.
 *
 * Loaded into a node of another major, it must not touch V8 at all: init
 * compares process.versions.modules with the ABI it was built for first,
 * and the link is lazy (-z lazy), so a V8 symbol that major lacks is never
 * looked up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* node_version.h first: in node 20 it sets NAPI_VERSION unguarded. */
#include <node_version.h>
#include <node_api.h>
#include <v8.h>

#include "gc_iface.h"

namespace {

const usdt_node_gc *iface;   /* set while the callbacks are installed */
v8::Isolate *gc_isolate;

/* V8 11 (node 20) numbers its GC types 1 scavenge, 2 minor mark-compact,
 * 4 mark-sweep-compact, 8 incremental marking, 16 weak callbacks (V8 12.4,
 * node 22, renamed the second kGCTypeMinorMarkSweep and V8 13, node 24,
 * dropped the old name: the value, 2 in every version, is what we test, so
 * one source builds on every line); node's probes carried the older V8's
 * numbering, which bcc's nodegc decodes and node's own scripts expect:
 * 1 scavenge, 2 mark-sweep-compact, 4 incremental marking, 8 weak callbacks.
 * A minor mark-compact (off by default, a young-generation collection like a
 * scavenge) reports as a scavenge. */
const int gc_type_minor = 2;

int gc_type_flags(v8::GCType t)
{
	int f = 0;
	if (t & (v8::kGCTypeScavenge | gc_type_minor))
		f |= 1;
	if (t & v8::kGCTypeMarkSweepCompact)
		f |= 2;
	if (t & v8::kGCTypeIncrementalMarking)
		f |= 4;
	if (t & v8::kGCTypeProcessWeakCallbacks)
		f |= 8;
	return f;
}

/* How many times each callback fired its probe since the part was loaded:
 * the evidence that the callbacks run where no tracer can see the probes
 * (user-mode emulation has no uprobes: tests/node/arm64_gc_test.sh). Only
 * the callbacks' thread (the main thread) touches them. */
uint64_t fired_start, fired_done;

void fire(usdt_probe *p, uint64_t *count, v8::Isolate *iso, v8::GCType type, v8::GCCallbackFlags flags)
{
	if (p && iface->enabled(p)) {
		iface->fire3(p, (uint64_t)(int64_t)gc_type_flags(type), (uint64_t)flags,
			     (uint64_t)(uintptr_t)iso);
		++*count;
	}
}

void gc_prologue(v8::Isolate *iso, v8::GCType type, v8::GCCallbackFlags flags, void *)
{
	fire(iface->start, &fired_start, iso, type, flags);
}

void gc_epilogue(v8::Isolate *iso, v8::GCType type, v8::GCCallbackFlags flags, void *)
{
	fire(iface->done, &fired_done, iso, type, flags);
}

void gc_remove()
{
	if (!gc_isolate)
		return;
	gc_isolate->RemoveGCPrologueCallback(gc_prologue, nullptr);
	gc_isolate->RemoveGCEpilogueCallback(gc_epilogue, nullptr);
	gc_isolate = nullptr;
	iface = nullptr;
}

napi_value throw_err(napi_env env, const char *code, const char *msg)
{
	napi_throw_error(env, code, msg);
	return nullptr;
}

napi_value make_bool(napi_env env, bool b)
{
	napi_value v;
	napi_get_boolean(env, b, &v);
	return v;
}

/* install(gcInterface) -> true: the callbacks are on this thread's isolate. */
napi_value js_install(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg;
	void *data = nullptr;
	napi_valuetype t;
	if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) != napi_ok || argc < 1 ||
	    napi_typeof(env, arg, &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, arg, &data) != napi_ok || !data) {
		napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
				      "install() takes the runtime provider's gcInterface()");
		return nullptr;
	}
	auto *gi = static_cast<const usdt_node_gc *>(data);
	if (gi->magic != USDT_NODE_GC_MAGIC || gi->abi != USDT_NODE_GC_ABI ||
	    gi->size < sizeof(usdt_node_gc)) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "the runtime provider's GC interface is version %u (%u bytes); this GC part "
			 "speaks version %d: rebuild both from one tree",
			 gi->magic == USDT_NODE_GC_MAGIC ? gi->abi : 0, gi->size, USDT_NODE_GC_ABI);
		return throw_err(env, "ERR_USDT_GC_INTERFACE", msg);
	}
	if (gc_isolate && iface != gi)
		gc_remove();
	iface = gi;
	if (!gc_isolate) {
		gc_isolate = v8::Isolate::GetCurrent();
		gc_isolate->AddGCPrologueCallback(gc_prologue, nullptr, v8::kGCTypeAll);
		gc_isolate->AddGCEpilogueCallback(gc_epilogue, nullptr, v8::kGCTypeAll);
	}
	return make_bool(env, true);
}

/* remove() -> false: no callback of ours runs after it. */
napi_value js_remove(napi_env env, napi_callback_info info)
{
	gc_remove();
	return make_bool(env, false);
}

napi_value js_installed(napi_env env, napi_callback_info info)
{
	return make_bool(env, gc_isolate != nullptr);
}

/* fired() -> { start, done }: the probes the callbacks fired since load. */
napi_value js_fired(napi_env env, napi_callback_info info)
{
	napi_value o, v;
	if (napi_create_object(env, &o) != napi_ok)
		return throw_err(env, "ERR_USDT_GC", "usdt: cannot create an object");
	napi_create_double(env, (double)fired_start, &v);
	napi_set_named_property(env, o, "start", v);
	napi_create_double(env, (double)fired_done, &v);
	napi_set_named_property(env, o, "done", v);
	return o;
}

/* process.versions.modules of the running node, or "" */
void running_abi(napi_env env, char *buf, size_t cap)
{
	napi_value g, proc, vers, mod;
	size_t len;
	buf[0] = 0;
	if (napi_get_global(env, &g) == napi_ok &&
	    napi_get_named_property(env, g, "process", &proc) == napi_ok &&
	    napi_get_named_property(env, proc, "versions", &vers) == napi_ok &&
	    napi_get_named_property(env, vers, "modules", &mod) == napi_ok &&
	    napi_get_value_string_utf8(env, mod, buf, cap, &len) != napi_ok)
		buf[0] = 0;
}

void cleanup(void *)
{
	/* Runs before usdt.node's hook (loaded earlier), while the isolate lives. */
	gc_remove();
}

#define STR2(x) #x
#define STR(x) STR2(x)

} // namespace

/* Only the environment that enables the runtime provider (the main thread)
 * loads this; a worker never does (lib/runtime.js does nothing there). */
NAPI_MODULE_INIT()
{
	char abi[16];
	running_abi(env, abi, sizeof(abi));
	if (strcmp(abi, STR(NODE_MODULE_VERSION)) != 0) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "usdt: this GC part was built for node %d (ABI %d), this node's ABI is %s: "
			 "rebuild it for this node (make node-gc)",
			 NODE_MAJOR_VERSION, NODE_MODULE_VERSION, *abi ? abi : "unknown");
		return throw_err(env, "ERR_USDT_GC_ABI", msg);
	}
	static const napi_property_descriptor fns[] = {
		{ "install", nullptr, js_install, nullptr, nullptr, nullptr, napi_enumerable, nullptr },
		{ "remove", nullptr, js_remove, nullptr, nullptr, nullptr, napi_enumerable, nullptr },
		{ "installed", nullptr, js_installed, nullptr, nullptr, nullptr, napi_enumerable, nullptr },
		{ "fired", nullptr, js_fired, nullptr, nullptr, nullptr, napi_enumerable, nullptr },
	};
	if (napi_define_properties(env, exports, sizeof(fns) / sizeof(fns[0]), fns) != napi_ok)
		return throw_err(env, "ERR_USDT_GC", "usdt: cannot define the GC part's functions");
	napi_value v;
	napi_create_int32(env, NODE_MODULE_VERSION, &v);
	napi_set_named_property(env, exports, "abi", v);
	napi_add_env_cleanup_hook(env, cleanup, nullptr);
	return exports;
}
