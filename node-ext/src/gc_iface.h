/*
 * gc_iface.h - what the runtime provider (src/runtime.c, in usdt.node) hands
 * the GC part (gc/gc.cc, usdt_gc-abiN.node) as a napi_external.
 *
 * The split exists because only V8's C++ API gives a collection's exact
 * start and end, and that API ties a binary to one Node major
 * (NODE_MODULE_VERSION); usdt.node is N-API only, so one build serves every
 * line, and only the few lines of gc.cc are rebuilt per major. The GC part
 * links no libusdt: it reaches the probes through these pointers.
 *
 * Versioned: a GC part refuses a struct whose magic or abi it does not know,
 * or that is smaller than the one it was built with (fields are only ever
 * added at the end, with a new abi number).
 */
#ifndef USDT_NODE_GC_IFACE_H
#define USDT_NODE_GC_IFACE_H

#include <stdbool.h>
#include <stdint.h>

#define USDT_NODE_GC_MAGIC 0x7573647467636966ULL /* "usdtgcif" */
#define USDT_NODE_GC_ABI 1

struct usdt_probe;

struct usdt_node_gc {
	uint64_t magic;  /* USDT_NODE_GC_MAGIC */
	uint32_t abi;    /* USDT_NODE_GC_ABI */
	uint32_t size;   /* sizeof(struct usdt_node_gc) of the provider's build */
	/* gc__start and gc__done, or NULL while the provider is not defined:
	 * read at every collection, so a late GC after the provider is gone
	 * fires nothing. Written and read on the provider's (main) thread. */
	struct usdt_probe *start, *done;
	/* usdt_probe_enabled and usdt_probe_fire3 of the provider's libusdt. */
	bool (*enabled)(const struct usdt_probe *probe);
	void (*fire3)(struct usdt_probe *probe, uint64_t a1, uint64_t a2, uint64_t a3);
};

#endif
