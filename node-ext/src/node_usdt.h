/*
 * node_usdt.h - the C interface of the `usdt` Node.js addon, for the code
 * linked into the same addon (node-ext/src/runtime.c).
 *
 * Node-API version 8 (Node 18+): type tags tell Probe objects from others.
 */
#ifndef NODE_USDT_H
#define NODE_USDT_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <usdt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A function property as plain assignment makes one (writable, enumerable,
 * configurable), for tables given to napi_define_properties. */
#define NU_PLAIN_PROPERTY \
	((napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable))
#define NU_FN(name, cb) { name, NULL, cb, NULL, NULL, NULL, NU_PLAIN_PROPERTY, NULL }

/* The usdt_probe behind a JS Probe (from provider.probe() or a .d provider).
 * The probe stays valid while the JS Probe object is reachable (it holds its
 * Provider). Returns 0, or -EINVAL (a TypeError is then pending in env) when
 * v is not a Probe. */
int usdt_node_probe_from_value(napi_env env, napi_value v, usdt_probe **out);

/* Called once per environment (main thread and each worker) at the end of
 * the addon's init; node-runtime defines it in src/runtime.c. The weak
 * default in addon.c returns exports unchanged. */
napi_value usdt_node_runtime_init(napi_env env, napi_value exports);

#ifdef __cplusplus
}
#endif
#endif /* NODE_USDT_H */
