/*
 * runtime_func.c - function__entry / function__return, line and
 * cfunction__entry / cfunction__return, installed only while one of them is
 * traced. The cheapest hook per version (see the reference):
 *   3.12+     sys.monitoring on a tool id of our own, C callbacks; code of
 *             modules outside the filter returns DISABLE and costs nothing more.
 *             C functions: CALL (of a C callable), C_RETURN, C_RAISE.
 *   3.8-3.11  functions: a PEP 523 frame evaluator around the interpreter's
 *             (chained); line: a C trace function in every thread whose slot
 *             is free (a debugger's or coverage's is left alone), and in
 *             threads started later through threading.settrace; C functions:
 *             a C profile function the same way (cProfile's or a user's
 *             profiler is left alone, and such a thread reports no C calls).
 *   Debian 3.11 (--with-dtrace) has the function and line probes itself, but
 *   its entry probe fires only on the tracing path (gh-98894): while its
 *   semaphore is raised the same C profile function, in every thread, puts it
 *   on that path.
 * Entry reports the frame's current line (the def line at a start, the yield
 * line at a resume), return the line that returned, as CPython's probes do;
 * the fourth argument is the module (globals' __name__). A C function's
 * probes report the calling code's file and line with the C function's name
 * and module.
 */
#include <stdarg.h>
#include <string.h>
#include "runtime.h"
#include "hooks.h"

/* Per-code cache of the module filter's answer, in the code's co_extra:
 * (filter generation << 1) | wanted. Only used while a filter is set. */
static Py_ssize_t extra_index = -2;

static bool code_wanted(PyCodeObject *co, PyObject *globals)
{
	if (!usdt__rt_filtered)
		return true;
	if (extra_index == -2) {
		extra_index = usdt_request_extra_index(NULL);
		if (extra_index < 0)
			PyErr_Clear();
	}
	void *v = NULL;
	if (extra_index >= 0 && usdt_code_get_extra((PyObject *)co, extra_index, &v) == 0 && v &&
	    ((uintptr_t)v >> 1) == usdt__rt_filter_gen)
		return (uintptr_t)v & 1;
	PyErr_Clear();
	bool w = usdt__rt_module_wanted(globals);
	if (extra_index >= 0 &&
	    usdt_code_set_extra((PyObject *)co, extra_index,
				(void *)(((uintptr_t)usdt__rt_filter_gen << 1) | w)) < 0)
		PyErr_Clear();
	return w;
}

/* line: file, function, line of a code object. */
static void fire_line(PyCodeObject *co, int line)
{
	usdt_probe_fire3(usdt__rt_probe[RT_LINE], (uintptr_t)usdt__rt_utf8(co->co_filename),
			 (uintptr_t)usdt__rt_utf8(co->co_name), (uint64_t)(int64_t)line);
}

/* function__entry/return: the same and the module of the code's globals. */
static void fire_code(int which, PyCodeObject *co, int line, PyObject *globals)
{
	usdt_probe_fire4(usdt__rt_probe[which], (uintptr_t)usdt__rt_utf8(co->co_filename),
			 (uintptr_t)usdt__rt_utf8(co->co_name), (uint64_t)(int64_t)line,
			 (uintptr_t)usdt__rt_module_name(globals));
}

/* A type's module as type.__module__ gives it: a class's __module__, or the
 * part of a built-in type's tp_name before the last dot ("builtins" when
 * there is none). Returns UTF-8 valid until the next call (the GIL is held). */
static const char *type_module(PyTypeObject *tp)
{
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
		return usdt__rt_utf8(tp->tp_dict ? PyDict_GetItemString(tp->tp_dict, "__module__")
						 : NULL);
	static char buf[128];
	const char *dot = strrchr(tp->tp_name, '.');
	if (!dot)
		return "builtins";
	size_t n = (size_t)(dot - tp->tp_name);
	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, tp->tp_name, n);
	buf[n] = '\0';
	return buf;
}

/* A C function's name and module, or false for other callables. The module
 * is the function's own (len -> builtins, math.sqrt -> math), else that of
 * the type it is a method of ([].append, str.join -> builtins). */
static bool cfunc_names(PyObject *c, const char **name, const char **module)
{
	if (PyCFunction_Check(c)) {
		PyCFunctionObject *f = (PyCFunctionObject *)c;
		*name = f->m_ml->ml_name;
		if (f->m_module && PyUnicode_Check(f->m_module))
			*module = usdt__rt_utf8(f->m_module);
		else if (f->m_self && PyModule_Check(f->m_self))
			*module = usdt__rt_utf8(PyDict_GetItemString(PyModule_GetDict(f->m_self),
								     "__name__"));
		else if (f->m_self)
			*module = type_module(PyType_Check(f->m_self) ? (PyTypeObject *)f->m_self
								      : Py_TYPE(f->m_self));
		else
			*module = NULL;
		return true;
	}
	if (Py_TYPE(c) == &PyMethodDescr_Type) {
		PyMethodDescrObject *d = (PyMethodDescrObject *)c;
		*name = d->d_method->ml_name;
		*module = type_module(PyDescr_TYPE(d));
		return true;
	}
	return false;
}

/* cfunction__entry/return of callable c, called from code co at line. */
static void fire_cfunc(int which, PyCodeObject *co, int line, PyObject *c)
{
	const char *name, *module;
	if (!cfunc_names(c, &name, &module))
		return;
	usdt_probe_fire4(usdt__rt_probe[which], (uintptr_t)usdt__rt_utf8(co->co_filename),
			 (uintptr_t)name, (uint64_t)(int64_t)line, (uintptr_t)module);
}

#ifdef USDT_HOOK_MONITORING
/* ---- 3.12+: sys.monitoring ---------------------------------------------- */

static int tool_id = -1;
static PyObject *mon, *disable_obj;
static unsigned restarted_gen;

static bool want_func, want_line, want_cfunc;
static long func_mask, line_mask, cfunc_mask; /* event bits, from sys.monitoring.events */

enum { EV_START, EV_RESUME, EV_THROW, EV_RETURN, EV_YIELD, EV_UNWIND, EV_LINE, EV_CALL,
       EV_C_RETURN, EV_C_RAISE, EV_N };
static const char *ev_names[EV_N] = { "PY_START", "PY_RESUME", "PY_THROW",  "PY_RETURN",
				      "PY_YIELD", "PY_UNWIND", "LINE",      "CALL",
				      "C_RETURN", "C_RAISE" };

/* A callback: args are (code, instruction offset[, value]). */
static PyObject *mon_event(int ev, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs < 2 || !PyCode_Check(args[0]))
		Py_RETURN_NONE;
	PyCodeObject *co = (PyCodeObject *)args[0];
	bool entry = ev <= EV_THROW;
	int which = entry ? RT_FUNC_ENTRY : RT_FUNC_RETURN;
	if (!rt_on(which))
		Py_RETURN_NONE;
	if (!code_wanted(co, PyEval_GetGlobals())) {
		/* Every event but PY_THROW and PY_UNWIND may be turned off here. */
		if (ev == EV_THROW || ev == EV_UNWIND)
			Py_RETURN_NONE;
		return Py_NewRef(disable_obj);
	}
	int line;
	if (ev == EV_START) {
		line = co->co_firstlineno;
	} else {
		int off = PyLong_AsLong(args[1]);
		line = off < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, off);
		PyErr_Clear();
	}
	fire_code(which, co, line, PyEval_GetGlobals());
	Py_RETURN_NONE;
}

/* CALL, C_RETURN, C_RAISE: args are (code, instruction offset, callable,
 * first argument). CALL comes for every call; only C callables fire. C_RETURN
 * and C_RAISE follow a CALL that was not disabled, and cannot be disabled. */
static PyObject *mon_ccall(int ev, PyObject *const *args, Py_ssize_t nargs)
{
	int which = ev == EV_CALL ? RT_CFUNC_ENTRY : RT_CFUNC_RETURN;
	if (nargs < 3 || !PyCode_Check(args[0]) || !rt_on(which))
		Py_RETURN_NONE;
	PyCodeObject *co = (PyCodeObject *)args[0];
	if (!code_wanted(co, PyEval_GetGlobals()))
		return ev == EV_CALL ? Py_NewRef(disable_obj) : Py_NewRef(Py_None);
	if (PyFunction_Check(args[2]) || PyMethod_Check(args[2]))
		Py_RETURN_NONE; /* Python code: function__entry's business */
	int off = PyLong_AsLong(args[1]);
	int line = off < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, off);
	PyErr_Clear();
	fire_cfunc(which, co, line, args[2]);
	Py_RETURN_NONE;
}

#define MON_CB(ev)                                                                        \
	static PyObject *cb_##ev(PyObject *self, PyObject *const *args, Py_ssize_t nargs) \
	{                                                                                 \
		return mon_event(ev, args, nargs);                                        \
	}
MON_CB(EV_START)
MON_CB(EV_RESUME)
MON_CB(EV_THROW)
MON_CB(EV_RETURN)
MON_CB(EV_YIELD)
MON_CB(EV_UNWIND)

/* LINE: args are (code, line number). */
static PyObject *cb_EV_LINE(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs < 2 || !PyCode_Check(args[0]) || !rt_on(RT_LINE))
		Py_RETURN_NONE;
	PyCodeObject *co = (PyCodeObject *)args[0];
	if (!code_wanted(co, PyEval_GetGlobals()))
		return Py_NewRef(disable_obj);
	long line = PyLong_AsLong(args[1]);
	if (line < 0) {
		PyErr_Clear();
		Py_RETURN_NONE;
	}
	fire_line(co, (int)line);
	Py_RETURN_NONE;
}

#define MON_CCB(ev)                                                                       \
	static PyObject *cb_##ev(PyObject *self, PyObject *const *args, Py_ssize_t nargs) \
	{                                                                                 \
		return mon_ccall(ev, args, nargs);                                        \
	}
MON_CCB(EV_CALL)
MON_CCB(EV_C_RETURN)
MON_CCB(EV_C_RAISE)

static PyMethodDef cb_defs[EV_N] = {
	{ "usdt_py_start", (PyCFunction)(void (*)(void))cb_EV_START, METH_FASTCALL, NULL },
	{ "usdt_py_resume", (PyCFunction)(void (*)(void))cb_EV_RESUME, METH_FASTCALL, NULL },
	{ "usdt_py_throw", (PyCFunction)(void (*)(void))cb_EV_THROW, METH_FASTCALL, NULL },
	{ "usdt_py_return", (PyCFunction)(void (*)(void))cb_EV_RETURN, METH_FASTCALL, NULL },
	{ "usdt_py_yield", (PyCFunction)(void (*)(void))cb_EV_YIELD, METH_FASTCALL, NULL },
	{ "usdt_py_unwind", (PyCFunction)(void (*)(void))cb_EV_UNWIND, METH_FASTCALL, NULL },
	{ "usdt_line", (PyCFunction)(void (*)(void))cb_EV_LINE, METH_FASTCALL, NULL },
	{ "usdt_call", (PyCFunction)(void (*)(void))cb_EV_CALL, METH_FASTCALL, NULL },
	{ "usdt_c_return", (PyCFunction)(void (*)(void))cb_EV_C_RETURN, METH_FASTCALL, NULL },
	{ "usdt_c_raise", (PyCFunction)(void (*)(void))cb_EV_C_RAISE, METH_FASTCALL, NULL },
};

static int call_mon(const char *fn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	PyObject *f = args ? PyObject_GetAttrString(mon, fn) : NULL;
	PyObject *r = f ? PyObject_Call(f, args, NULL) : NULL;
	Py_XDECREF(f);
	Py_XDECREF(args);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}

static void mon_release(void);

/* Our tool id with every callback registered (none of its events set). */
static int mon_acquire(void)
{
	if (!mon) {
		mon = PySys_GetObject("monitoring"); /* borrowed */
		if (!mon)
			return PyErr_Format(PyExc_RuntimeError, "no sys.monitoring"), -1;
		Py_INCREF(mon);
		disable_obj = PyObject_GetAttrString(mon, "DISABLE");
		if (!disable_obj)
			return -1;
	}
	/* A free tool id: 0-2 and 5 are named for debuggers, coverage, profilers
	 * and optimizers; prefer the others. */
	static const int order[] = { 4, 3, 2, 1, 0, 5 };
	tool_id = -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && tool_id < 0; i++) {
		PyObject *r = PyObject_CallMethod(mon, "get_tool", "i", order[i]);
		if (!r)
			return -1;
		if (r == Py_None)
			tool_id = order[i];
		Py_DECREF(r);
	}
	if (tool_id < 0)
		return PyErr_Format(PyExc_RuntimeError, "no free sys.monitoring tool id"), -1;
	if (call_mon("use_tool_id", "(is)", tool_id, "usdt") < 0)
		return -1;
	PyObject *events = PyObject_GetAttrString(mon, "events");
	if (!events)
		goto fail;
	func_mask = line_mask = cfunc_mask = 0;
	for (int e = 0; e < EV_N; e++) {
		PyObject *v = PyObject_GetAttrString(events, ev_names[e]);
		long bit = v ? PyLong_AsLong(v) : -1;
		Py_XDECREF(v);
		PyObject *cb = bit >= 0 ? PyCFunction_New(&cb_defs[e], NULL) : NULL;
		int err = cb ? call_mon("register_callback", "(ilO)", tool_id, bit, cb) : -1;
		Py_XDECREF(cb);
		if (err < 0) {
			Py_DECREF(events);
			goto fail;
		}
		*(e == EV_LINE ? &line_mask : e >= EV_CALL ? &cfunc_mask : &func_mask) |= bit;
	}
	Py_DECREF(events);
	return 0;
fail:;
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	mon_release();
	PyErr_Restore(t, v, tb);
	return -1;
}

static void mon_release(void)
{
	if (tool_id < 0)
		return;
	if (call_mon("set_events", "(ii)", tool_id, 0) < 0)
		PyErr_Clear();
	PyObject *events = PyObject_GetAttrString(mon, "events");
	for (int e = 0; events && e < EV_N; e++) {
		PyObject *v = PyObject_GetAttrString(events, ev_names[e]);
		if (!v || call_mon("register_callback", "(iOO)", tool_id, v, Py_None) < 0)
			PyErr_Clear();
		Py_XDECREF(v);
	}
	Py_XDECREF(events);
	if (call_mon("free_tool_id", "(i)", tool_id) < 0)
		PyErr_Clear();
	PyErr_Clear();
	tool_id = -1;
}

/* Set the events of what is wanted; the tool id goes when nothing is. */
static int mon_apply(void)
{
	if (!want_func && !want_line && !want_cfunc) {
		mon_release();
		return 0;
	}
	if (tool_id < 0 && mon_acquire() < 0)
		return -1;
	/* Code turned off (DISABLE) under another module filter: look again. */
	if (restarted_gen && restarted_gen != usdt__rt_filter_gen &&
	    call_mon("restart_events", "()") < 0)
		return -1;
	restarted_gen = usdt__rt_filter_gen;
	long mask = (want_func ? func_mask : 0) | (want_line ? line_mask : 0) |
		    (want_cfunc ? cfunc_mask : 0);
	return call_mon("set_events", "(il)", tool_id, mask);
}

/* Want (or not) one family; on failure what was set before stays set. */
static int mon_want(bool *flag, bool on)
{
	bool old = *flag;
	*flag = on;
	if (mon_apply() == 0)
		return 0;
	*flag = old;
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	if (mon_apply() < 0)
		PyErr_Clear();
	PyErr_Restore(t, v, tb);
	return -1;
}

int usdt__rt_func_install(void)
{
	return mon_want(&want_func, true);
}

void usdt__rt_func_remove(void)
{
	if (mon_want(&want_func, false) < 0)
		PyErr_Clear();
}

int usdt__rt_line_install(void)
{
	return mon_want(&want_line, true);
}

void usdt__rt_line_remove(void)
{
	if (mon_want(&want_line, false) < 0)
		PyErr_Clear();
}

int usdt__rt_cfunc_install(void)
{
	return mon_want(&want_cfunc, true);
}

void usdt__rt_cfunc_remove(void)
{
	if (mon_want(&want_cfunc, false) < 0)
		PyErr_Clear();
}

const char *usdt__rt_func_mechanism(void)
{
	return "sys.monitoring";
}

int usdt__rt_func_state(PyObject *d)
{
	PyObject *v = PyLong_FromLong(tool_id);
	int r = v ? PyDict_SetItemString(d, "monitoring_tool_id", v) : -1;
	Py_XDECREF(v);
	return r;
}

#else
/* ---- 3.8-3.11: a frame evaluator (PEP 523) ------------------------------- */

/* The shared frame evaluator of hooks.c (one PEP 523 function for @fbt and
 * us, chained with any other user). */
static int client = -1;

static int frame_line(rt_frame *f, PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
	int lasti = _PyInterpreterFrame_LASTI(f);
	return lasti < 0 ? co->co_firstlineno
			 : PyCode_Addr2Line(co, lasti * (int)sizeof(_Py_CODEUNIT));
#else
	return PyFrame_GetLineNumber(f);
#endif
}

static bool rt_enter(PyCodeObject *co, usdt_frame *uf)
{
	rt_frame *f = (rt_frame *)uf;
	if (!(rt_on(RT_FUNC_ENTRY) || rt_on(RT_FUNC_RETURN)) || !code_wanted(co, f->f_globals))
		return false;
	if (rt_on(RT_FUNC_ENTRY))
		fire_code(RT_FUNC_ENTRY, co, frame_line(f, co), f->f_globals);
	return true;
}

static void rt_leave(PyCodeObject *co, usdt_frame *uf, PyObject *res)
{
	rt_frame *f = (rt_frame *)uf;
	if (rt_on(RT_FUNC_RETURN))
		fire_code(RT_FUNC_RETURN, co, frame_line(f, co), f->f_globals);
}

int usdt__rt_func_install(void)
{
	if (client < 0 && (client = usdt_hook_client(rt_enter, rt_leave)) < 0)
		return -1;
	usdt_hook_enable(client, true);
	return 0;
}

void usdt__rt_func_remove(void)
{
	if (client >= 0)
		usdt_hook_enable(client, false);
}

const char *usdt__rt_func_mechanism(void)
{
	return "eval-frame";
}

int usdt__rt_func_state(PyObject *d)
{
	return PyDict_SetItemString(d, "eval_frame_hook", usdt_hook_installed() ? Py_True : Py_False);
}
#endif

#ifndef USDT_HOOK_MONITORING
/* ---- 3.8-3.11: a C function in every thread's trace or profile slot ----- */

/* Set t's C trace (trace) or profile slot to fn, or clear it (fn NULL). */
static int set_slot(PyThreadState *t, bool trace, Py_tracefunc fn)
{
#if PY_VERSION_HEX >= 0x03090000
	return trace ? _PyEval_SetTrace(t, fn, NULL) : _PyEval_SetProfile(t, fn, NULL);
#else
	/* 3.8 only sets the calling thread's: what PyEval_SetTrace/SetProfile
	 * do, for thread t (we hold the GIL, so t is not evaluating). */
	PyObject *old;
	if (trace) {
		_PyRuntime.ceval.tracing_possible += (fn != NULL) - (t->c_tracefunc != NULL);
		old = t->c_traceobj;
		t->c_tracefunc = fn;
		t->c_traceobj = NULL;
	} else {
		old = t->c_profileobj;
		t->c_profilefunc = fn;
		t->c_profileobj = NULL;
	}
	t->use_tracing = t->c_tracefunc != NULL || t->c_profilefunc != NULL;
	Py_XDECREF(old);
	return 0;
#endif
}

static Py_tracefunc slot_of(PyThreadState *t, bool trace)
{
	return trace ? t->c_tracefunc : t->c_profilefunc;
}

static PyObject *threading_mod(void)
{
	PyObject *m = PyImport_GetModuleDict();
	return m ? PyDict_GetItemString(m, "threading") : NULL; /* borrowed */
}

/* A C function in one slot of every thread, now and started later. */
struct slot_user {
	bool trace; /* trace slot, else profile slot */
	Py_tracefunc fn;
	PyObject *hook; /* for threading.settrace/setprofile: puts fn in place */
};

static const char *hook_attr(const struct slot_user *u)
{
	return u->trace ? "_trace_hook" : "_profile_hook";
}

static const char *hook_setter(const struct slot_user *u)
{
	return u->trace ? "settrace" : "setprofile";
}

/* threading calls it in a new thread as that thread's Python-level trace or
 * profile function (its first event); it replaces itself by the C one. */
static PyObject *thread_hook(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct slot_user *u = PyCapsule_GetPointer(self, "usdt.slot_user");
	if (!u || set_slot(PyThreadState_Get(), u->trace, u->fn) < 0)
		return NULL;
	Py_RETURN_NONE;
}
static PyMethodDef thread_hook_def = { "usdt_thread_hook",
				       (PyCFunction)(void (*)(void))thread_hook, METH_FASTCALL, NULL };

static void slot_remove(struct slot_user *u)
{
	PyThreadState *me = PyThreadState_Get();
	for (PyThreadState *t = PyInterpreterState_ThreadHead(me->interp); t;
	     t = PyThreadState_Next(t))
		if (slot_of(t, u->trace) == u->fn && set_slot(t, u->trace, NULL) < 0)
			PyErr_Clear();
	PyObject *th = threading_mod();
	PyObject *cur = th ? PyObject_GetAttrString(th, hook_attr(u)) : NULL;
	if (cur && cur == u->hook) {
		PyObject *r = PyObject_CallMethod(th, hook_setter(u), "O", Py_None);
		Py_XDECREF(r);
	}
	Py_XDECREF(cur);
	PyErr_Clear();
}

static int slot_set_all(struct slot_user *u)
{
	PyThreadState *me = PyThreadState_Get();
	for (PyThreadState *t = PyInterpreterState_ThreadHead(me->interp); t;
	     t = PyThreadState_Next(t))
		if (!slot_of(t, u->trace) && set_slot(t, u->trace, u->fn) < 0)
			return -1;
	PyObject *th = threading_mod();
	PyObject *cur = th ? PyObject_GetAttrString(th, hook_attr(u)) : NULL;
	if (!cur) {
		PyErr_Clear();
		return 0;
	}
	int err = 0;
	if (cur == Py_None) {
		if (!u->hook) {
			PyObject *cap = PyCapsule_New(u, "usdt.slot_user", NULL);
			u->hook = cap ? PyCFunction_New(&thread_hook_def, cap) : NULL;
			Py_XDECREF(cap);
		}
		PyObject *r = u->hook ? PyObject_CallMethod(th, hook_setter(u), "O", u->hook) : NULL;
		err = r ? 0 : -1;
		Py_XDECREF(r);
	}
	Py_DECREF(cur);
	return err;
}

/* Threads whose slot is taken (a debugger, coverage, a profiler) keep theirs;
 * so does threading's hook for new threads if someone set it. On failure
 * nothing of ours stays set. */
static int slot_install(struct slot_user *u)
{
	if (slot_set_all(u) == 0)
		return 0;
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	slot_remove(u);
	PyErr_Restore(t, v, tb);
	return -1;
}

/* ---- line (3.8-3.11) ---------------------------------------------------- */

static PyCodeObject *frame_code(PyFrameObject *f)
{
#if PY_VERSION_HEX >= 0x030B0000
	return f->f_frame->f_code;
#else
	return f->f_code;
#endif
}

static PyObject *frame_globals(PyFrameObject *f)
{
#if PY_VERSION_HEX >= 0x030B0000
	return f->f_frame->f_globals;
#else
	return f->f_globals;
#endif
}

static int line_trace(PyObject *obj, PyFrameObject *f, int what, PyObject *arg)
{
	if (what != PyTrace_CALL && what != PyTrace_LINE)
		return 0;
	PyCodeObject *co = frame_code(f);
	if (!code_wanted(co, frame_globals(f))) {
		f->f_trace_lines = 0; /* no line events for this frame */
		return 0;
	}
	if (what == PyTrace_LINE && rt_on(RT_LINE))
		fire_line(co, PyFrame_GetLineNumber(f));
	return 0;
}

static struct slot_user line_user = { .trace = true, .fn = line_trace };

static bool line_on;

int usdt__rt_line_install(void)
{
	if (slot_install(&line_user) < 0)
		return -1;
	line_on = true;
	return 0;
}

void usdt__rt_line_remove(void)
{
	line_on = false;
	slot_remove(&line_user);
}

/* ---- the profile slot (3.8-3.11): C calls, and Debian 3.11's entry probe -- */

/* One C profile function serves two users: cfunction__entry/return read its
 * C_CALL / C_RETURN / C_EXCEPTION events, and on Debian's 3.11 its presence
 * alone puts the interpreter's own function__entry on the path that fires it
 * (gh-98894). It sits in a thread's slot while either wants it. */
enum { PROF_CFUNC = 1, PROF_NATIVE_ENTRY = 2 };
static unsigned prof_users;

static int rt_profile(PyObject *obj, PyFrameObject *f, int what, PyObject *arg)
{
	if (what != PyTrace_C_CALL && what != PyTrace_C_RETURN && what != PyTrace_C_EXCEPTION)
		return 0;
	int which = what == PyTrace_C_CALL ? RT_CFUNC_ENTRY : RT_CFUNC_RETURN;
	if (!(prof_users & PROF_CFUNC) || !rt_on(which))
		return 0;
	PyCodeObject *co = frame_code(f);
	if (code_wanted(co, frame_globals(f)))
		fire_cfunc(which, co, PyFrame_GetLineNumber(f), arg);
	return 0;
}

static struct slot_user prof_user = { .trace = false, .fn = rt_profile };

static int prof_want(unsigned user)
{
	if (!prof_users && slot_install(&prof_user) < 0)
		return -1;
	prof_users |= user;
	return 0;
}

static void prof_unwant(unsigned user)
{
	prof_users &= ~user;
	if (!prof_users)
		slot_remove(&prof_user);
}

/* A slot a profiler or debugger held when we installed (cProfile enabled and
 * disabled, a debugger detached) is free again: take it, so that thread
 * reports again. Our thread calls this while a slot user is installed. */
bool usdt__rt_slots_in_use(void)
{
	return line_on || prof_users;
}

void usdt__rt_slots_refresh(void)
{
	if (line_on && slot_set_all(&line_user) < 0)
		PyErr_Clear();
	if (prof_users && slot_set_all(&prof_user) < 0)
		PyErr_Clear();
}

int usdt__rt_cfunc_install(void)
{
	return prof_want(PROF_CFUNC);
}

void usdt__rt_cfunc_remove(void)
{
	prof_unwant(PROF_CFUNC);
}

#if PY_VERSION_HEX >= 0x030B0000
int usdt__rt_nativeentry_install(void)
{
	return prof_want(PROF_NATIVE_ENTRY);
}

void usdt__rt_nativeentry_remove(void)
{
	prof_unwant(PROF_NATIVE_ENTRY);
}
#endif
#endif

#ifdef USDT_HOOK_MONITORING
/* sys.monitoring has no per-thread slots to take back. */
bool usdt__rt_slots_in_use(void)
{
	return false;
}

void usdt__rt_slots_refresh(void)
{
}
#endif

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
/* Only Debian's 3.11 needs its own entry probe helped. */
int usdt__rt_nativeentry_install(void)
{
	return 0;
}
void usdt__rt_nativeentry_remove(void)
{
}
#endif
