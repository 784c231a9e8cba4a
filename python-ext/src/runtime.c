/*
 * runtime.c - the `python` provider of a --with-dtrace CPython, restored on
 * any CPython 3.8-3.13 at zero cost while nobody traces it.
 *
 * Nothing runs per call until a tracer attaches: libusdt's watcher reports a
 * semaphore change, our own thread takes the GIL and installs the hooks of
 * exactly the families being traced, and removes them when the last tracer
 * detaches. Probes the interpreter already has (Debian's dtrace build) are
 * not defined again: two python:NAME in one process confuse bcc and bpftrace.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "runtime.h"
#include "stacks_layout.h"
#include "usdt_ext.h"

usdt_probe *usdt__rt_probe[RT_NPROBES];
unsigned usdt__rt_filter_gen = 1;
bool usdt__rt_filtered;

/* Names and C signatures exactly as CPython main's pydtrace.d: the note sizes
 * follow (char * -> 8, int -> -4, long -> -8). */
#define RT_CODE_SIG "char *, char *, int, char *" /* filename, funcname, lineno, module */
static const struct {
	const char *name, *sig;
	int family;
} rt_defs[RT_NPROBES] = {
	[RT_FUNC_ENTRY] = { "function__entry", RT_CODE_SIG, RT_F_FUNC },
	[RT_FUNC_RETURN] = { "function__return", RT_CODE_SIG, RT_F_FUNC },
	[RT_INST_NEW_START] = { "instance__new__start", "char *, char *", RT_F_INST },
	[RT_INST_NEW_DONE] = { "instance__new__done", "char *, char *", RT_F_INST },
	[RT_INST_DEL_START] = { "instance__delete__start", "char *, char *", RT_F_INST },
	[RT_INST_DEL_DONE] = { "instance__delete__done", "char *, char *", RT_F_INST },
	[RT_GC_START] = { "gc__start", "int", RT_F_GC },
	[RT_GC_DONE] = { "gc__done", "long", RT_F_GC },
	[RT_IMPORT_START] = { "import__find__load__start", "char *", RT_F_IMPORT },
	[RT_IMPORT_DONE] = { "import__find__load__done", "char *, int", RT_F_IMPORT },
	[RT_AUDIT] = { "audit", "char *, void *", RT_F_AUDIT },
	[RT_LINE] = { "line", "char *, char *, int", RT_F_LINE },
	[RT_CFUNC_ENTRY] = { "cfunction__entry", RT_CODE_SIG, RT_F_CFUNC },
	[RT_CFUNC_RETURN] = { "cfunction__return", RT_CODE_SIG, RT_F_CFUNC },
	/* layout, its size, its version: docs/python-stacks.md */
	[RT_STACK_LAYOUT] = { "stack__layout", "void *, long, long", RT_F_STACK },
};

static const char *family_names[RT_NFAMILIES] = { "function", "instance", "gc", "import",
						  "audit", "line", "cfunction", "stack" };

static usdt_provider *rt_prov;
static bool rt_native[RT_NPROBES];       /* the interpreter defines it */
static volatile unsigned short *native_entry_sema; /* its function__entry */
static char native_entry_path[4096];      /* the file it is in, for inotify */
static bool installed[RT_NFAMILIES], native_entry_installed;
static PyObject *rt_modules;              /* tuple of str, or NULL: every module */
static char rt_error[256];

/* ---- module filter ---------------------------------------------------- */

bool usdt__rt_module_wanted(PyObject *globals)
{
	if (!rt_modules)
		return true;
	if (!globals || !PyDict_Check(globals))
		return false;
	PyObject *name = PyDict_GetItemString(globals, "__name__");
	if (!name || !PyUnicode_Check(name))
		return false;
	Py_ssize_t n = PyTuple_GET_SIZE(rt_modules), len = PyUnicode_GET_LENGTH(name);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *p = PyTuple_GET_ITEM(rt_modules, i);
		Py_ssize_t pl = PyUnicode_GET_LENGTH(p);
		if (pl > len || PyUnicode_Tailmatch(name, p, 0, pl, -1) != 1)
			continue;
		if (pl == len || PyUnicode_READ_CHAR(name, pl) == '.')
			return true;
	}
	return false;
}

const char *usdt__rt_utf8(PyObject *s)
{
	if (!s || !PyUnicode_Check(s))
		return NULL;
	if (PyUnicode_IS_COMPACT_ASCII(s))
		return (const char *)PyUnicode_DATA(s);
	/* Hooks may run with an exception set (a frame that raised): keep it. */
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	const char *u = PyUnicode_AsUTF8(s);
	PyErr_Clear();
	PyErr_Restore(t, v, tb);
	return u;
}

const char *usdt__rt_module_name(PyObject *globals)
{
	static PyObject *key; /* interned, its hash kept: one probe of the table */
	if (!globals || !PyDict_Check(globals))
		return NULL;
	if (!key) {
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		key = PyUnicode_InternFromString("__name__");
		PyErr_Clear();
		PyErr_Restore(t, v, tb);
		if (!key)
			return NULL;
	}
	/* PyDict_GetItem never raises and leaves a pending exception alone. */
	return usdt__rt_utf8(PyDict_GetItem(globals, key));
}

/* ---- which probes the interpreter has ---------------------------------- */

static int find_native(const struct usdt_probe_info *info, void *ctx)
{
	if (info->dynamic || strcmp(info->provider, "python"))
		return 0;
	for (int i = 0; i < RT_NPROBES; i++) {
		if (strcmp(info->name, rt_defs[i].name))
			continue;
		rt_native[i] = true;
		if (i == RT_FUNC_ENTRY && info->semaphore) {
			native_entry_sema = (volatile unsigned short *)info->semaphore;
			snprintf(native_entry_path, sizeof(native_entry_path), "%s", info->path);
		}
	}
	return 0;
}

/* ---- installing what is traced ------------------------------------------ */

static bool family_wanted(int f)
{
	for (int i = 0; i < RT_NPROBES; i++)
		if (rt_defs[i].family == f && rt_on(i))
			return true;
	return false;
}

static void note_error(const char *what)
{
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyObject *s = v ? PyObject_Str(v) : NULL;
	const char *msg = s ? usdt__rt_utf8(s) : NULL;
	snprintf(rt_error, sizeof(rt_error), "%s: %s", what, msg ? msg : "?");
	Py_XDECREF(s);
	Py_XDECREF(t);
	Py_XDECREF(v);
	Py_XDECREF(tb);
	PyErr_Clear();
}

static int (*const installers[RT_NFAMILIES])(void) = {
	usdt__rt_func_install, usdt__rt_inst_install, usdt__rt_gc_install,
	usdt__rt_import_install, usdt__rt_audit_install, usdt__rt_line_install,
	usdt__rt_cfunc_install, usdt__rt_stack_install,
};
static void (*const removers[RT_NFAMILIES])(void) = {
	usdt__rt_func_remove, usdt__rt_inst_remove, usdt__rt_gc_remove,
	usdt__rt_import_remove, usdt__rt_audit_remove, usdt__rt_line_remove,
	usdt__rt_cfunc_remove, usdt__rt_stack_remove,
};

/* With the GIL: make the installed hooks match what is traced. */
static void rt_apply(bool all_off)
{
	for (int f = 0; f < RT_NFAMILIES; f++) {
		bool want = !all_off && family_wanted(f);
		if (want == installed[f])
			continue;
		if (want) {
			if (installers[f]() < 0) {
				note_error(family_names[f]);
				continue;
			}
		} else {
			removers[f]();
		}
		installed[f] = want;
	}
	bool want = !all_off && native_entry_sema && *native_entry_sema;
	if (want != native_entry_installed) {
		if (want) {
			if (usdt__rt_nativeentry_install() < 0) {
				note_error("native function__entry");
				return;
			}
		} else {
			usdt__rt_nativeentry_remove();
		}
		native_entry_installed = want;
	}
	usdt__rt_slots_refresh();
}

/* ---- the stack family: no hook, only the layout published ------------- */

volatile bool usdt__rt_stack_on;
static const struct usdt_stack_layout *stack_layout;

/* Any thread, no GIL needed once the layout is made. */
void usdt__rt_stack_fire(void)
{
	const struct usdt_stack_layout *l = stack_layout;
	if (l && rt_on(RT_STACK_LAYOUT))
		usdt_probe_fire3(usdt__rt_probe[RT_STACK_LAYOUT], (uint64_t)(uintptr_t)l, l->size,
				 l->version);
}

/* With the GIL (the layout asks for the main interpreter). Fired at once;
 * our thread fires it again about every 100 ms while it is traced, since a
 * tracer may raise the semaphore before its uprobe is in place (bpftrace
 * 0.17 through bcc) and would miss a single fire. */
int usdt__rt_stack_install(void)
{
	if (!stack_layout)
		stack_layout = usdt__stack_layout();
	usdt__rt_stack_on = true;
	usdt__rt_stack_fire();
	return 0;
}

void usdt__rt_stack_remove(void)
{
	usdt__rt_stack_on = false;
}

/* ---- our thread: told by libusdt's watcher, applies with the GIL --------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool thread_on, dirty, stopping;
static pthread_t thread;
/* While a C function sits in per-thread slots, look for slots freed by a
 * profiler or debugger this often. */
static unsigned refresh_ms = 100;

static void watch_cb(usdt_probe *probe, bool enabled, void *ctx)
{
	pthread_mutex_lock(&mu);
	dirty = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* The interpreter's own function__entry (3.11), watched by libusdt's
 * watcher like our probes: nobody polls it here. */
static void native_cb(const volatile unsigned short *sema, bool enabled, void *ctx)
{
	watch_cb(NULL, enabled, ctx);
}

static void *thread_main(void *arg)
{
	unsigned since_refresh = 0;
	/* Named, so that tests and users can tell its wakeups from the process's. */
	pthread_setname_np(pthread_self(), "usdt-runtime");
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!dirty && !stopping) {
			/* Read without the GIL: a hint, applied with it. */
			bool slots = usdt__rt_slots_in_use();
			bool stack = usdt__rt_stack_on;
			if (!slots && !stack) {
				pthread_cond_wait(&cv, &mu); /* asleep until a tracer comes */
				continue;
			}
			unsigned ms = refresh_ms;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += ms * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			int rc = pthread_cond_timedwait(&cv, &mu, &ts);
			if (rc == ETIMEDOUT && stack)
				usdt__rt_stack_fire(); /* no GIL: a uprobe trap and back */
			if (rc == ETIMEDOUT && slots && (since_refresh += ms) >= refresh_ms) {
				since_refresh = 0;
				dirty = true;
			}
		}
		if (stopping)
			break;
		dirty = false;
		pthread_mutex_unlock(&mu);
		PyGILState_STATE g = PyGILState_Ensure();
		if (!stopping)
			rt_apply(false);
		PyGILState_Release(g);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int thread_start(void)
{
	if (thread_on)
		return 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	stopping = false;
	dirty = true;
	if (pthread_create(&thread, NULL, thread_main, NULL))
		return -1;
	thread_on = true;
	return 0;
}

/* With the GIL; releases it while the thread finishes (it may wait for it). */
static void thread_stop(void)
{
	if (!thread_on)
		return;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	Py_BEGIN_ALLOW_THREADS
	pthread_join(thread, NULL);
	Py_END_ALLOW_THREADS
	thread_on = false;
}

/* In a fork()ed child our thread is gone (libusdt restarts its own watcher):
 * start a new one if the parent had one. Called by os.register_at_fork. */
static PyObject *rt_after_fork(PyObject *self, PyObject *unused)
{
	if (!thread_on)
		Py_RETURN_NONE;
	pthread_mutex_init(&mu, NULL);
	thread_on = false;
	if (thread_start() < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
}

/* ---- Python functions -------------------------------------------------- */

static int rt_create(void)
{
	usdt_foreach_probe(find_native, NULL);
#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
	native_entry_sema = NULL; /* only 3.11 needs help to fire its entry probe */
#endif
	usdt_provider *p = usdt_provider_new("python");
	if (!p)
		return -errno;
	for (int i = 0; i < RT_NPROBES; i++) {
		if (rt_native[i])
			continue;
		usdt__rt_probe[i] = usdt_probe_new_sig(p, rt_defs[i].name, rt_defs[i].sig);
		if (!usdt__rt_probe[i]) {
			int err = -errno;
			usdt_provider_free(p);
			memset(usdt__rt_probe, 0, sizeof(usdt__rt_probe));
			return err;
		}
	}
	rt_prov = p;
	return 0;
}

static PyObject *rt_enable(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *mods = nargs > 0 ? args[0] : Py_None;
	if (mods != Py_None) {
		mods = PySequence_Tuple(mods);
		if (!mods)
			return NULL;
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mods); i++)
			if (!PyUnicode_Check(PyTuple_GET_ITEM(mods, i))) {
				Py_DECREF(mods);
				return PyErr_Format(PyExc_TypeError, "modules must be names (str)");
			}
		if (PyTuple_GET_SIZE(mods) == 0)
			Py_CLEAR(mods);
	} else {
		mods = NULL;
	}
	Py_XSETREF(rt_modules, mods);
	usdt__rt_filtered = mods != NULL;
	usdt__rt_filter_gen++;
	/* Code turned off under the old filter is looked at again. */
	static const int filtered[] = { RT_F_FUNC, RT_F_LINE, RT_F_CFUNC };
	for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++) {
		int f = filtered[i];
		if (!installed[f])
			continue;
		removers[f]();
		if (installers[f]() < 0) {
			installed[f] = false;
			return NULL;
		}
	}

	int err = 0;
	if (!rt_prov && (err = rt_create()) < 0)
		return usdt__raise(err, "provider");
	if (!usdt_provider_is_loaded(rt_prov) && usdt_provider_probe_count(rt_prov) &&
	    (err = usdt_provider_load(rt_prov)) < 0)
		return usdt__raise(err, "load");
	if (thread_start() < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	if (usdt_provider_probe_count(rt_prov) && (err = usdt_provider_watch(rt_prov, watch_cb, NULL)) < 0)
		return usdt__raise(err, "watch");
	if (native_entry_sema &&
	    (err = usdt_semaphore_watch(native_entry_sema, native_entry_path, native_cb, NULL)) < 0)
		return usdt__raise(err, "watch the interpreter's function__entry");
	/* A tracer attached before we started (by path to our image, whose
	 * semaphores the kernel raised as it was mapped, or to the interpreter)
	 * is served before we return: the program's first line is seen. Our
	 * thread only follows later changes. */
	rt_apply(false);
	const char *path = usdt_provider_is_loaded(rt_prov) ? usdt_provider_path(rt_prov) : NULL;
	if (!path)
		Py_RETURN_NONE;
	return PyUnicode_FromString(path);
}

static PyObject *rt_disable(PyObject *self, PyObject *unused)
{
	if (!rt_prov)
		Py_RETURN_NONE;
	usdt_provider_watch(rt_prov, NULL, NULL); /* our callback never takes the GIL */
	if (native_entry_sema)
		usdt_semaphore_watch(native_entry_sema, NULL, NULL, NULL);
	thread_stop();
	rt_apply(true);
	if (usdt_provider_is_loaded(rt_prov))
		usdt_provider_unload(rt_prov);
	Py_RETURN_NONE;
}

static int set_bool(PyObject *d, const char *k, bool v)
{
	return PyDict_SetItemString(d, k, v ? Py_True : Py_False);
}

static PyObject *rt_state(PyObject *self, PyObject *unused)
{
	PyObject *d = PyDict_New(), *ours = PyList_New(0), *native = PyList_New(0);
	if (!d || !ours || !native)
		goto fail;
	for (int i = 0; i < RT_NPROBES; i++) {
		PyObject *s = PyUnicode_FromString(rt_defs[i].name);
		if (!s || PyList_Append(rt_native[i] ? native : ours, s) < 0) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
	}
	const char *path = rt_prov && usdt_provider_is_loaded(rt_prov) ? usdt_provider_path(rt_prov)
								   : NULL;
	PyObject *p = path ? PyUnicode_FromString(path) : Py_NewRef(Py_None);
	if (!p || PyDict_SetItemString(d, "path", p) < 0) {
		Py_XDECREF(p);
		goto fail;
	}
	Py_DECREF(p);
	PyObject *e = PyUnicode_FromString(rt_error);
	PyObject *m = PyUnicode_FromString(usdt__rt_func_mechanism());
	if (!e || !m || PyDict_SetItemString(d, "error", e) < 0 ||
	    PyDict_SetItemString(d, "function_mechanism", m) < 0) {
		Py_XDECREF(e);
		Py_XDECREF(m);
		goto fail;
	}
	Py_DECREF(e);
	Py_DECREF(m);
	if (PyDict_SetItemString(d, "probes", ours) < 0 ||
	    PyDict_SetItemString(d, "native", native) < 0 ||
	    PyDict_SetItemString(d, "modules", rt_modules ? rt_modules : Py_None) < 0)
		goto fail;
	for (int f = 0; f < RT_NFAMILIES; f++)
		if (set_bool(d, family_names[f], installed[f]) < 0)
			goto fail;
	if (set_bool(d, "native_entry", native_entry_installed) < 0 ||
	    set_bool(d, "active", thread_on) < 0 || usdt__rt_func_state(d) < 0 ||
	    usdt__rt_obj_state(d) < 0)
		goto fail;
	Py_DECREF(ours);
	Py_DECREF(native);
	return d;
fail:
	Py_XDECREF(d);
	Py_XDECREF(ours);
	Py_XDECREF(native);
	return NULL;
}

/* _rt_force(name, delta): move a probe's semaphore as a tracer would, so
 * benchmarks measure the hooks without the kernel trap. */
static PyObject *rt_force(PyObject *self, PyObject *args)
{
	const char *name;
	int delta;
	if (!PyArg_ParseTuple(args, "si", &name, &delta))
		return NULL;
	volatile unsigned short *s = NULL;
	for (int i = 0; i < RT_NPROBES; i++) {
		if (strcmp(name, rt_defs[i].name))
			continue;
		if (usdt__rt_probe[i] && usdt_provider_is_loaded(rt_prov))
			s = (volatile unsigned short *)usdt_probe_semaphore(usdt__rt_probe[i]);
		else if (i == RT_FUNC_ENTRY)
			s = native_entry_sema;
	}
	if (!s)
		return PyErr_Format(PyExc_ValueError, "no loaded probe %s", name);
	__atomic_add_fetch(s, (unsigned short)delta, __ATOMIC_SEQ_CST);
	/* Apply now, as the watcher would once it looks (after a tracer's open,
	 * or its slow poll): benchmarks time the hooks, not the watcher. */
	pthread_mutex_lock(&mu);
	dirty = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	Py_RETURN_NONE;
}

static PyMethodDef rt_methods[] = {
	{ "_rt_enable", (PyCFunction)(void (*)(void))rt_enable, METH_FASTCALL,
	  "_rt_enable(modules=None) -> image path: define and load the python provider" },
	{ "_rt_disable", rt_disable, METH_NOARGS, "remove every hook and unload" },
	{ "_rt_state", rt_state, METH_NOARGS, "what is defined and installed (for tests)" },
	{ "_rt_force", rt_force, METH_VARARGS, "move a probe's semaphore (for benchmarks)" },
	{ "_rt_after_fork", rt_after_fork, METH_NOARGS, "restart our thread in a forked child" },
	{ NULL, NULL, 0, NULL },
};

int usdt__runtime_exec(PyObject *m);
int usdt__runtime_exec(PyObject *m)
{
	return PyModule_AddFunctions(m, rt_methods);
}
