/*
 * watch.c - provider.watch(): libusdt's watcher-thread callbacks delivered
 * on the JS thread through an unref'd napi_threadsafe_function (it never
 * keeps the process alive).
 *
 * The thread-safe function holds only a weak reference to the Provider, and
 * calls the per-environment dispatch function set by lib/index.js with
 * (provider, probe index, enabled): so watching does not keep the Provider
 * from being collected, and the user's callback lives on the JS object.
 * Stopping is synchronous on libusdt's side (usdt_provider_watch(NULL)
 * returns once no callback runs), then the queue is aborted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ext.h"

struct nu_watch {
	struct nu_provider *np; /* NULL once the provider stopped watching */
	usdt_provider *prov;
	napi_threadsafe_function tsfn;
	napi_ref self; /* weak: the JS Provider */
};

struct event {
	uint32_t index;
	bool enabled;
};

/* libusdt's watcher thread. */
static void on_change(usdt_probe *probe, bool enabled, void *ctx)
{
	struct nu_watch *w = ctx;
	size_t n = usdt_provider_probe_count(w->prov), i;
	for (i = 0; i < n && usdt_provider_probe_at(w->prov, i) != probe; i++)
		;
	struct event *e = malloc(sizeof(*e));
	if (i == n || !e) {
		free(e);
		return;
	}
	e->index = (uint32_t)i;
	e->enabled = enabled;
	if (napi_call_threadsafe_function(w->tsfn, e, napi_tsfn_nonblocking) != napi_ok)
		free(e);
}

/* The JS thread; env is NULL when the queue is being dropped. */
static void call_js(napi_env env, napi_value unused, void *context, void *data)
{
	struct nu_watch *w = context;
	struct event *e = data;
	struct nu_env *ne = NULL;
	napi_value self, fn, argv[3], global;
	if (env && napi_get_instance_data(env, (void **)&ne) == napi_ok && ne && ne->dispatch &&
	    napi_get_reference_value(env, w->self, &self) == napi_ok && self &&
	    napi_get_reference_value(env, ne->dispatch, &fn) == napi_ok && fn) {
		argv[0] = self;
		napi_create_uint32(env, e->index, &argv[1]);
		napi_get_boolean(env, e->enabled, &argv[2]);
		napi_get_global(env, &global);
		/* An exception from the user's callback surfaces as uncaught, as
		 * from any event listener. */
		if (napi_call_function(env, global, fn, 3, argv, NULL) == napi_pending_exception) {
			napi_value exc;
			if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
				napi_fatal_exception(env, exc);
		}
	}
	free(e);
}

/* Also at environment teardown (process or worker exit), which may close
 * the thread-safe function before the Provider's finalizer runs: then stop
 * libusdt's callbacks here, before w goes. */
static void tsfn_finalize(napi_env env, void *data, void *hint)
{
	struct nu_watch *w = data;
	if (w->np) {
		usdt_provider_watch(w->prov, NULL, NULL);
		w->np->watch = NULL;
	}
	if (w->self)
		napi_delete_reference(env, w->self);
	free(w);
}

/* Called on the JS thread (unwatch, finalizer). */
void nu_watch_stop(struct nu_provider *np)
{
	struct nu_watch *w = np->watch;
	if (!w)
		return;
	np->watch = NULL;
	w->np = NULL;
	usdt_provider_watch(np->prov, NULL, NULL);
	napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
}

/* watch(self): start delivering; idempotent. */
napi_value nu_watch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value self, name;
	NU_CALL(env, napi_get_cb_info(env, info, &argc, &self, NULL, NULL));
	struct nu_provider *np = nu_provider_of(env, self);
	if (!np || np->watch)
		return NULL;
	struct nu_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return nu_throw_usdt(env, ENOMEM, "watch");
	w->prov = np->prov;
	w->np = np;
	if (napi_create_reference(env, self, 0, &w->self) != napi_ok ||
	    napi_create_string_utf8(env, "usdt.watch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, w, tsfn_finalize, w,
					    call_js, &w->tsfn) != napi_ok) {
		if (w->self)
			napi_delete_reference(env, w->self);
		free(w);
		return nu_pending(env, "napi_create_threadsafe_function");
	}
	napi_unref_threadsafe_function(env, w->tsfn);
	int err = usdt_provider_watch(np->prov, on_change, w);
	if (err) {
		w->np = NULL; /* not watching: its finalizer has nothing to stop */
		napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
		char what[128];
		snprintf(what, sizeof(what), "provider %s: watch", usdt_provider_name(np->prov));
		return nu_throw_usdt(env, err, what);
	}
	np->watch = w;
	return NULL;
}

napi_value nu_unwatch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value self;
	NU_CALL(env, napi_get_cb_info(env, info, &argc, &self, NULL, NULL));
	struct nu_provider *np = nu_provider_of(env, self);
	if (np)
		nu_watch_stop(np);
	return NULL;
}

/* setDispatch(fn): once per environment, by lib/index.js. */
napi_value nu_set_dispatch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value fn;
	struct nu_env *ne = NULL;
	NU_CALL(env, napi_get_cb_info(env, info, &argc, &fn, NULL, NULL));
	NU_CALL(env, napi_get_instance_data(env, (void **)&ne));
	if (ne->dispatch)
		napi_delete_reference(env, ne->dispatch);
	ne->dispatch = NULL;
	NU_CALL(env, napi_create_reference(env, fn, 1, &ne->dispatch));
	return NULL;
}
