/*
 * meta.c - libusdt's own static probes: provider__load and provider__unload
 * (provider name, image path) under the provider "libusdt", so a tracer can
 * discover providers and follow reloads.
 */
#include "provider.h"

void usdt__meta_load(const char *provider, const char *path)
{
	(void)provider;
	(void)path; /* placed once usdt_sdt.h lands */
}

void usdt__meta_unload(const char *provider, const char *path)
{
	(void)provider;
	(void)path;
}
