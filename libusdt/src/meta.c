/*
 * meta.c - libusdt's own static probes, so a tracer can discover providers
 * and follow reloads without knowing the program:
 *
 *   libusdt:provider__load(char *provider, char *path)
 *   libusdt:provider__unload(char *provider, char *path)
 *
 * path is what usdt_provider_path() returns for the image. The probes live in
 * whatever object libusdt is linked into (libusdt.so, or the program when
 * linked statically), e.g.
 *   bpftrace -e 'usdt:/usr/lib/libusdt.so.0:libusdt:provider__load
 *                { printf("%s %s\n", str(arg0), str(arg1)); }'
 */
#include <usdt_sdt.h>

#include "provider.h"

USDT_DEFINE_SEMAPHORE(libusdt, provider__load);
USDT_DEFINE_SEMAPHORE(libusdt, provider__unload);

void usdt__meta_load(const char *provider, const char *path)
{
	USDT_PROBE2(libusdt, provider__load, provider, path);
}

void usdt__meta_unload(const char *provider, const char *path)
{
	USDT_PROBE2(libusdt, provider__unload, provider, path);
}
