/*
 * fbt.c - entry/return probes for chosen Python functions, free while untraced.
 *
 * @fbt (usdt/fbt.py) does not wrap the function: it registers the function's
 * code object here and returns the function itself. The code object gets a
 * record (a code "extra") and two probes in a usdt.Provider that libusdt
 * watches. When a tracer attaches to one of them, the watcher thread takes
 * the GIL and hooks exactly that code object; when the last tracer of it
 * leaves, the hook goes:
 *   3.12+     sys.monitoring local events PY_START/PY_RESUME/PY_RETURN/
 *             PY_YIELD on the traced code objects (global PY_UNWIND and
 *             PY_THROW while any is traced: they cannot be local).
 *   3.8-3.11  the shared PEP 523 evaluation function (hooks.c), installed
 *             while any fbt function is traced; it checks each frame's extra.
 * Generators and coroutines: entry fires each time the frame starts or
 * resumes, return each time it yields (awaits), returns or raises.
 */
#include <errno.h>
#include "hooks.h"

#define STR_MAX 1024 /* bytes of the args/result strings passed to tracers */
/* Functions per libusdt provider: adding one reloads its provider, so a
 * module with many @fbt functions gets several providers of the same name
 * (one image each) and each decoration costs the same. */
#define CHUNK 32

struct fbt_prov;

struct fbt_rec {
	struct fbt_prov *fp;
	PyObject *code; /* strong */
	usdt_probe *entry, *ret;
	PyObject *module, *qualname, *filename, *params; /* str, str, str, tuple of str */
	const char *module_s, *qualname_s, *filename_s;
	int line;
	bool with_args, traced;
};

struct fbt_prov {
	PyObject *prov; /* usdt.Provider, strong; lives as long as the process */
	struct fbt_rec **recs;
	size_t nrecs, cap;
	bool watched;
};

static struct fbt_prov **provs;
static size_t nprovs;
static Py_ssize_t extra_index = -1;
static int n_traced;
static volatile int finalizing;

static struct fbt_rec *rec_of(PyObject *code)
{
	void *extra = NULL;
	if (usdt_code_get_extra(code, extra_index, &extra) < 0) {
		PyErr_Clear();
		return NULL;
	}
	return extra;
}

/* ---- values passed while traced ---- */

/* repr(o) as UTF-8 bytes, at most STR_MAX; never raises. */
static PyObject *bounded_repr(PyObject *o)
{
	PyObject *s = o ? PyObject_Repr(o) : PyUnicode_FromString("?");
	if (!s) {
		PyErr_Clear();
		return PyBytes_FromString("<repr() failed>");
	}
	Py_ssize_t n;
	const char *u = PyUnicode_AsUTF8AndSize(s, &n);
	PyObject *b;
	if (!u) {
		PyErr_Clear();
		b = PyBytes_FromString("<not UTF-8>");
	} else {
		if (n > STR_MAX) {
			n = STR_MAX;
			while (n > 0 && ((unsigned char)u[n] & 0xC0) == 0x80)
				n--; /* cut at a character boundary */
		}
		b = PyBytes_FromStringAndSize(u, n);
	}
	Py_DECREF(s);
	if (!b)
		PyErr_Clear();
	return b;
}

/* "a=1, b='x'" from the parameters' current values. get(i, name) gives each
 * value (new reference or NULL). */
static PyObject *args_string(struct fbt_rec *r, PyObject *(*get)(void *, Py_ssize_t, PyObject *),
			     void *ctx)
{
	PyObject *parts = PyList_New(0);
	for (Py_ssize_t i = 0; parts && i < PyTuple_GET_SIZE(r->params); i++) {
		PyObject *name = PyTuple_GET_ITEM(r->params, i);
		PyObject *v = get(ctx, i, name);
		PyObject *vs = v ? PyObject_Repr(v) : (PyErr_Clear(), PyUnicode_FromString("?"));
		if (!vs) {
			PyErr_Clear();
			vs = PyUnicode_FromString("?");
		}
		PyObject *part = vs ? PyUnicode_FromFormat("%U=%U", name, vs) : NULL;
		Py_XDECREF(vs);
		Py_XDECREF(v);
		if (!part || PyList_Append(parts, part))
			Py_CLEAR(parts);
		Py_XDECREF(part);
	}
	PyObject *sep = parts ? PyUnicode_FromString(", ") : NULL;
	PyObject *joined = sep ? PyUnicode_Join(sep, parts) : NULL;
	Py_XDECREF(sep);
	Py_XDECREF(parts);
	PyObject *b = NULL;
	if (joined) {
		Py_ssize_t n;
		const char *u = PyUnicode_AsUTF8AndSize(joined, &n);
		if (u) {
			if (n > STR_MAX) {
				n = STR_MAX;
				while (n > 0 && ((unsigned char)u[n] & 0xC0) == 0x80)
					n--;
			}
			b = PyBytes_FromStringAndSize(u, n);
		}
		Py_DECREF(joined);
	}
	if (!b)
		PyErr_Clear();
	return b;
}

static void fire_entry(struct fbt_rec *r, PyObject *(*get)(void *, Py_ssize_t, PyObject *),
		       void *ctx)
{
	if (!usdt_probe_enabled(r->entry))
		return;
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	uint64_t v[5] = { (uintptr_t)r->module_s, (uintptr_t)r->qualname_s,
			  (uintptr_t)r->filename_s, (uint64_t)(int64_t)r->line, 0 };
	PyObject *a = NULL;
	if (r->with_args) {
		a = args_string(r, get, ctx);
		v[4] = (uintptr_t)(a ? PyBytes_AS_STRING(a) : "");
	}
	usdt_probe_fire_argv(r->entry, v, r->with_args ? 5 : 4);
	Py_XDECREF(a);
	PyErr_Restore(et, ev, tb);
}

/* result: the returned/yielded value, or the exception when raised. */
static void fire_return(struct fbt_rec *r, PyObject *result, bool raised)
{
	if (!usdt_probe_enabled(r->ret))
		return;
	uint64_t v[6] = { (uintptr_t)r->module_s, (uintptr_t)r->qualname_s,
			  (uintptr_t)r->filename_s, (uint64_t)(int64_t)r->line, raised, 0 };
	PyObject *s = NULL;
	if (r->with_args) {
		s = bounded_repr(result);
		v[5] = (uintptr_t)(s ? PyBytes_AS_STRING(s) : "");
	}
	usdt_probe_fire_argv(r->ret, v, r->with_args ? 6 : 5);
	Py_XDECREF(s);
}

/* ---- 3.8-3.11: the shared frame evaluation hook ---- */
#ifdef USDT_HOOK_EVAL_FRAME
static int client = -1;

static PyObject *frame_get(void *ctx, Py_ssize_t i, PyObject *name)
{
	PyObject *v = usdt_frame_arg(ctx, (int)i);
	Py_XINCREF(v);
	return v;
}

static bool on_enter(PyCodeObject *code, usdt_frame *f)
{
	struct fbt_rec *r = rec_of((PyObject *)code);
	if (!r || !r->traced)
		return false;
	fire_entry(r, frame_get, f);
	return true;
}

static void on_leave(PyCodeObject *code, usdt_frame *f, PyObject *res)
{
	struct fbt_rec *r = rec_of((PyObject *)code);
	if (!r || !r->traced || !usdt_probe_enabled(r->ret))
		return;
	if (res) {
		fire_return(r, res, false);
		return;
	}
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	PyErr_NormalizeException(&et, &ev, &tb);
	fire_return(r, ev ? ev : et, true);
	PyErr_Restore(et, ev, tb);
}

static int hooks_update(struct fbt_rec *r)
{
	usdt_hook_enable(client, n_traced > 0);
	return 0;
}

static int hooks_init(void)
{
	client = usdt_hook_client(on_enter, on_leave);
	return client < 0 ? -1 : 0;
}

static PyObject *hook_desc(void)
{
	return PyBool_FromLong(usdt_hook_installed());
}
#endif

/* ---- 3.12+: sys.monitoring ---- */
#ifdef USDT_HOOK_MONITORING
static int tool = -1;

/* Event bits, read from sys.monitoring.events when the tool id is claimed. */
enum { EV_START, EV_RESUME, EV_RETURN, EV_YIELD, EV_UNWIND, EV_THROW, EV_N };
static const char *const ev_names[EV_N] = { "PY_START",	 "PY_RESUME", "PY_RETURN",
					     "PY_YIELD",	 "PY_UNWIND", "PY_THROW" };
static int ev_bit[EV_N];
#define LOCAL_EVENTS (ev_bit[EV_START] | ev_bit[EV_RESUME] | ev_bit[EV_RETURN] | ev_bit[EV_YIELD])
#define GLOBAL_EVENTS (ev_bit[EV_UNWIND] | ev_bit[EV_THROW])

static PyObject *locals_get(void *ctx, Py_ssize_t i, PyObject *name)
{
	PyObject *v = ctx ? PyObject_GetItem(ctx, name) : NULL;
	if (!v)
		PyErr_Clear();
	return v;
}

static void entry_from_monitoring(struct fbt_rec *r)
{
	PyObject *locals = NULL;
	if (r->with_args && usdt_probe_enabled(r->entry)) {
		PyFrameObject *f = PyEval_GetFrame(); /* the starting frame */
		locals = f ? PyFrame_GetLocals(f) : NULL;
		if (!locals)
			PyErr_Clear();
	}
	fire_entry(r, locals_get, locals);
	Py_XDECREF(locals);
}

/* (code, offset) */
static PyObject *cb_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct fbt_rec *r = nargs >= 1 ? rec_of(args[0]) : NULL;
	if (r && r->traced)
		entry_from_monitoring(r);
	Py_RETURN_NONE;
}

/* (code, offset, value): return or yield */
static PyObject *cb_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct fbt_rec *r = nargs >= 3 ? rec_of(args[0]) : NULL;
	if (r && r->traced)
		fire_return(r, args[2], false);
	Py_RETURN_NONE;
}

/* (code, offset, exception): global, so filter on the record. */
static PyObject *cb_unwind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct fbt_rec *r = nargs >= 3 ? rec_of(args[0]) : NULL;
	if (r && r->traced)
		fire_return(r, args[2], true);
	Py_RETURN_NONE;
}

/* (code, offset, exception): resumed by throw(), an entry. */
static PyObject *cb_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct fbt_rec *r = nargs >= 1 ? rec_of(args[0]) : NULL;
	if (r && r->traced)
		entry_from_monitoring(r);
	Py_RETURN_NONE;
}

static PyMethodDef cb_defs[] = {
	{ "usdt_fbt_start", (PyCFunction)(void (*)(void))cb_start, METH_FASTCALL, NULL },
	{ "usdt_fbt_return", (PyCFunction)(void (*)(void))cb_return, METH_FASTCALL, NULL },
	{ "usdt_fbt_unwind", (PyCFunction)(void (*)(void))cb_unwind, METH_FASTCALL, NULL },
	{ "usdt_fbt_throw", (PyCFunction)(void (*)(void))cb_throw, METH_FASTCALL, NULL },
};

static int hooks_update(struct fbt_rec *r)
{
	if (r->traced && tool < 0) {
		for (int e = 0; e < EV_N; e++)
			if ((ev_bit[e] = usdt_mon_event(ev_names[e])) < 0)
				return -1;
		int t = usdt_mon_claim("usdt-fbt");
		if (t < 0)
			return -1;
		if (usdt_mon_register(t, ev_bit[EV_START], &cb_defs[0]) ||
		    usdt_mon_register(t, ev_bit[EV_RESUME], &cb_defs[0]) ||
		    usdt_mon_register(t, ev_bit[EV_RETURN], &cb_defs[1]) ||
		    usdt_mon_register(t, ev_bit[EV_YIELD], &cb_defs[1]) ||
		    usdt_mon_register(t, ev_bit[EV_UNWIND], &cb_defs[2]) ||
		    usdt_mon_register(t, ev_bit[EV_THROW], &cb_defs[3])) {
			usdt_mon_release(t);
			return -1;
		}
		tool = t;
	}
	if (tool < 0)
		return 0;
	if (usdt_mon_call("set_local_events", "(iOi)", tool, r->code, r->traced ? LOCAL_EVENTS : 0))
		return -1;
	if (n_traced > 0)
		return usdt_mon_call("set_events", "(ii)", tool, GLOBAL_EVENTS);
	/* Nothing traced: give the tool id back, leaving no trace of us. */
	int t = tool;
	tool = -1;
	return usdt_mon_release(t);
}

static int hooks_init(void)
{
	return 0;
}

static PyObject *hook_desc(void)
{
	if (tool < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(tool);
}
#endif

/* ---- tracers attaching and detaching (libusdt's watcher thread) ---- */

static void rec_update(struct fbt_rec *r)
{
	bool now = usdt_probe_enabled(r->entry) || usdt_probe_enabled(r->ret);
	if (now == r->traced)
		return;
	r->traced = now;
	n_traced += now ? 1 : -1;
	if (hooks_update(r) < 0)
		PyErr_WriteUnraisable(r->code);
}

static void prov_update(struct fbt_prov *fp)
{
	if (!finalizing)
		for (size_t i = 0; i < fp->nrecs; i++)
			rec_update(fp->recs[i]);
}

static int pending_update(void *ctx)
{
	prov_update(ctx);
	return 0;
}

/* Two ways to the GIL, whichever comes first does the (idempotent) work: a
 * pending call runs within microseconds when the main thread is running
 * Python code, where taking the GIL would wait for the switch interval
 * (5 ms); taking it works when the main thread is blocked. */
static void on_change(usdt_probe *probe, bool enabled, void *ctx)
{
	if (finalizing)
		return;
	Py_AddPendingCall(pending_update, ctx);
	PyGILState_STATE g = PyGILState_Ensure();
	prov_update(ctx);
	PyGILState_Release(g);
}

/* ---- registration ---- */

static const char *prov_name(struct fbt_prov *fp)
{
	return usdt_provider_name(usdt__provider_ptr(fp->prov));
}

/* A provider called name with room for one more function. */
static struct fbt_prov *prov_get(const char *name)
{
	for (size_t i = nprovs; i-- > 0;)
		if (!strcmp(prov_name(provs[i]), name) && provs[i]->nrecs < CHUNK)
			return provs[i];
	struct fbt_prov **np = PyMem_Realloc(provs, (nprovs + 1) * sizeof(*np));
	if (!np)
		return (void *)PyErr_NoMemory();
	provs = np;
	struct fbt_prov *fp = PyMem_Calloc(1, sizeof(*fp));
	if (!fp)
		return (void *)PyErr_NoMemory();
	fp->prov = usdt__provider_create(name);
	if (!fp->prov) {
		PyMem_Free(fp);
		return NULL;
	}
	provs[nprovs++] = fp;
	return fp;
}

/* Is probe name taken in any provider called pname? */
static bool name_taken(const char *pname, const char *probe)
{
	for (size_t i = 0; i < nprovs; i++)
		if (!strcmp(prov_name(provs[i]), pname) &&
		    usdt_provider_probe(usdt__provider_ptr(provs[i]->prov), probe))
			return true;
	return false;
}

/* Free probe names base__entry/base__return for provider pname, else
 * base_2__..., base_3__... */
static int pick_names(const char *pname, const char *base, char *entry, char *ret)
{
	for (int n = 1; n < 1000; n++) {
		char b[USDT_MAX_NAME + 16];
		if (n == 1)
			snprintf(b, sizeof(b), "%s", base);
		else
			snprintf(b, sizeof(b), "%.*s_%d", USDT_MAX_NAME - 14, base, n);
		snprintf(entry, USDT_MAX_NAME + 32, "%s__entry", b);
		snprintf(ret, USDT_MAX_NAME + 32, "%s__return", b);
		if (usdt_name_check(entry) || usdt_name_check(ret)) {
			PyErr_Format(PyExc_ValueError, "fbt: bad probe name %s: %s", ret, usdt_errmsg());
			return -1;
		}
		if (!name_taken(pname, entry) && !name_taken(pname, ret))
			return 0;
	}
	PyErr_Format(PyExc_ValueError, "fbt: too many functions named %s", base);
	return -1;
}

static const char *utf8_or_null(PyObject *s)
{
	const char *u = PyUnicode_AsUTF8(s);
	if (!u)
		PyErr_Clear();
	return u;
}

static PyObject *call0(PyObject *o, const char *meth)
{
	return PyObject_CallMethod(o, meth, NULL);
}

/* _fbt_register(code, provider, base, with_args, module, qualname, filename,
 * line, params) -> True if registered now, False if it already was. */
static PyObject *fbt_register(PyObject *m, PyObject *args)
{
	PyObject *code, *module, *qualname, *filename, *params;
	const char *pname, *base;
	int with_args, line;
	if (!PyArg_ParseTuple(args, "O!sspUUUiO!:_fbt_register", &PyCode_Type, &code, &pname, &base,
			      &with_args, &module, &qualname, &filename, &line, &PyTuple_Type, &params))
		return NULL;
	if (rec_of(code))
		Py_RETURN_FALSE;
	char entry[USDT_MAX_NAME + 32], ret[USDT_MAX_NAME + 32];
	if (usdt_name_check(pname) < 0)
		return usdt__raise(-EINVAL, NULL);
	if (pick_names(pname, base, entry, ret) < 0)
		return NULL;
	struct fbt_prov *fp = prov_get(pname);
	if (!fp)
		return NULL;
	usdt_provider *prov = usdt__provider_ptr(fp->prov);
	struct fbt_rec *r = PyMem_Calloc(1, sizeof(*r));
	if (!r)
		return PyErr_NoMemory();
	/* A name that cannot be encoded (a lone surrogate) reaches tracers as
	 * NULL, as CPython 3.15 passes it to its own probes. */
	r->module_s = utf8_or_null(module);
	r->qualname_s = utf8_or_null(qualname);
	r->filename_s = utf8_or_null(filename);
	if (fp->nrecs == fp->cap) {
		size_t cap = fp->cap ? 2 * fp->cap : 8;
		struct fbt_rec **nr = PyMem_Realloc(fp->recs, cap * sizeof(*nr));
		if (!nr) {
			PyErr_NoMemory();
			goto fail;
		}
		fp->recs = nr;
		fp->cap = cap;
	}
	/* A loaded provider takes no new probes: unload, add, load again. */
	if (usdt_provider_is_loaded(prov)) {
		PyObject *o = call0(fp->prov, "unload");
		if (!o)
			goto fail;
		Py_DECREF(o);
	}
	static const usdt_type t_entry[] = { USDT_STRING, USDT_STRING, USDT_STRING, USDT_INT32,
					     USDT_STRING };
	static const usdt_type t_ret[] = { USDT_STRING, USDT_STRING, USDT_STRING, USDT_INT32,
					   USDT_INT32, USDT_STRING };
	r->entry = usdt_probe_new(prov, entry, t_entry, with_args ? 5 : 4);
	if (!r->entry) {
		usdt__raise(-errno, NULL);
		goto reload_fail;
	}
	r->ret = usdt_probe_new(prov, ret, t_ret, with_args ? 6 : 5);
	if (!r->ret) {
		usdt__raise(-errno, NULL);
		goto reload_fail; /* entry stays, unused: libusdt cannot remove a probe */
	}
	PyObject *o = call0(fp->prov, "load");
	if (!o)
		goto fail;
	Py_DECREF(o);
	if (!fp->watched) {
		int err;
		/* The watcher may be waiting for the GIL while holding the lock
		 * usdt_provider_watch takes. */
		Py_BEGIN_ALLOW_THREADS
		err = usdt_provider_watch(prov, on_change, fp);
		Py_END_ALLOW_THREADS
		if (err) {
			usdt__raise(err, NULL);
			goto fail;
		}
		fp->watched = true;
	}
	Py_INCREF(code);
	Py_INCREF(module);
	Py_INCREF(qualname);
	Py_INCREF(filename);
	Py_INCREF(params);
	r->fp = fp;
	r->code = code;
	r->module = module;
	r->qualname = qualname;
	r->filename = filename;
	r->params = params;
	r->line = line;
	r->with_args = with_args;
	if (usdt_code_set_extra(code, extra_index, r) < 0) {
		/* Keep the references: the probes exist; the record is just unused. */
		return NULL;
	}
	fp->recs[fp->nrecs++] = r;
	/* A tracer already attached (by path, before the program defined the
	 * function) is served now, not when the watcher next looks: the first
	 * call is seen. */
	prov_update(fp);
	Py_RETURN_TRUE;

reload_fail:
	if (usdt_provider_probe_count(prov)) {
		PyObject *save_t, *save_v, *save_tb;
		PyErr_Fetch(&save_t, &save_v, &save_tb);
		PyObject *l = call0(fp->prov, "load");
		Py_XDECREF(l);
		PyErr_Clear();
		PyErr_Restore(save_t, save_v, save_tb);
	}
fail:
	PyMem_Free(r);
	return NULL;
}

static struct fbt_rec *rec_arg(PyObject *code)
{
	struct fbt_rec *r = PyCode_Check(code) ? rec_of(code) : NULL;
	if (!r)
		PyErr_SetString(PyExc_ValueError, "not an @fbt function's code object");
	return r;
}

/* _fbt_info(code) -> (provider, entry probe, return probe, traced) */
static PyObject *fbt_info(PyObject *m, PyObject *code)
{
	struct fbt_rec *r = rec_arg(code);
	if (!r)
		return NULL;
	return Py_BuildValue("(OssO)", r->fp->prov,
			     usdt_probe_name(r->entry), usdt_probe_name(r->ret),
			     r->traced ? Py_True : Py_False);
}

/* _fbt_state() -> (number of traced functions, hook: 3.8-3.11 bool
 * eval-frame installed, 3.12+ monitoring tool id or None) */
static PyObject *fbt_state(PyObject *m, PyObject *unused)
{
	return Py_BuildValue("(iN)", n_traced, hook_desc());
}

/* At exit, before finalization: stop the watcher calling into Python. */
static PyObject *fbt_shutdown(PyObject *m, PyObject *unused)
{
	finalizing = 1;
	for (size_t i = 0; i < nprovs; i++) {
		if (!provs[i]->watched)
			continue;
		usdt_provider *prov = usdt__provider_ptr(provs[i]->prov);
		Py_BEGIN_ALLOW_THREADS
		usdt_provider_watch(prov, NULL, NULL);
		Py_END_ALLOW_THREADS
		provs[i]->watched = false;
	}
	Py_RETURN_NONE;
}

static PyMethodDef fbt_methods[] = {
	{ "_fbt_register", fbt_register, METH_VARARGS, NULL },
	{ "_fbt_info", fbt_info, METH_O, NULL },
	{ "_fbt_state", fbt_state, METH_NOARGS, NULL },
	{ "_fbt_shutdown", fbt_shutdown, METH_NOARGS, NULL },
	{ NULL },
};

int usdt__fbt_exec(PyObject *m)
{
	if (extra_index < 0) {
		extra_index = usdt_request_extra_index(NULL);
		if (extra_index < 0) {
			PyErr_SetString(PyExc_RuntimeError, "usdt: no code extra slot left");
			return -1;
		}
		if (hooks_init() < 0)
			return -1;
	}
	return PyModule_AddFunctions(m, fbt_methods);
}
