/*
 * hooks.c - frame start/end hooks per CPython version (see hooks.h).
 */
#include "hooks.h"

#ifdef USDT_HOOK_EVAL_FRAME

/* The frame layouts are internal to CPython: 3.8 keeps eval_frame in the
 * interpreter struct, 3.11 hands the hook its internal frame. */
#define Py_BUILD_CORE 1
#if PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include <internal/pycore_code.h>
#include <internal/pycore_frame.h>
typedef struct _PyInterpreterFrame real_frame;
#else
#include <frameobject.h>
typedef PyFrameObject real_frame;
#endif
#undef Py_BUILD_CORE

static struct {
	usdt_enter_fn enter;
	usdt_leave_fn leave;
	bool on;
} clients[USDT_HOOK_CLIENTS];
static int nclients;

#if PY_VERSION_HEX >= 0x03090000
#define EVAL_PARAMS PyThreadState *ts, real_frame *f, int throwflag
#define EVAL_PREV() prev_eval(ts, f, throwflag)
#else
#define EVAL_PARAMS real_frame *f, int throwflag
#define EVAL_PREV() prev_eval(f, throwflag)
#endif

/* The evaluator we were installed over (another PEP 523 user, or the
 * default): we call it, so hooks chain both ways. */
static _PyFrameEvalFunction prev_eval = _PyEval_EvalFrameDefault;
static bool any_on;

static _PyFrameEvalFunction current(PyInterpreterState *interp);
static void set_eval(PyInterpreterState *interp, _PyFrameEvalFunction fn);

static PyObject *usdt_eval_frame(EVAL_PARAMS)
{
	if (!any_on) {
		/* Left in a chain by someone installed after us, who has gone and
		 * put us back: step out now. */
		PyInterpreterState *interp = PyThreadState_Get()->interp;
		if (current(interp) == (_PyFrameEvalFunction)usdt_eval_frame)
			set_eval(interp, prev_eval);
		return EVAL_PREV();
	}
	PyCodeObject *code = f->f_code;
#if PY_VERSION_HEX >= 0x030B0000
	/* 3.11 runs a generator function's frame once just to create the
	 * generator (RETURN_GENERATOR): not a start of its body. */
	if ((code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) &&
	    f->owner != FRAME_OWNED_BY_GENERATOR)
		return EVAL_PREV();
#endif
	unsigned want = 0;
	for (int i = 0; i < nclients; i++)
		if (clients[i].on && clients[i].enter(code, (usdt_frame *)f))
			want |= 1u << i;
	if (!want)
		return EVAL_PREV();
	Py_INCREF(code); /* a finished generator's frame drops its code */
	PyObject *res = EVAL_PREV();
	for (int i = 0; want; i++, want >>= 1)
		if (want & 1)
			clients[i].leave(code, (usdt_frame *)f, res);
	Py_DECREF(code);
	return res;
}

static _PyFrameEvalFunction current(PyInterpreterState *interp)
{
#if PY_VERSION_HEX >= 0x03090000
	return _PyInterpreterState_GetEvalFrameFunc(interp);
#else
	return interp->eval_frame ? interp->eval_frame : _PyEval_EvalFrameDefault;
#endif
}

static void set_eval(PyInterpreterState *interp, _PyFrameEvalFunction fn)
{
#if PY_VERSION_HEX >= 0x03090000
	_PyInterpreterState_SetEvalFrameFunc(interp, fn);
#else
	interp->eval_frame = fn;
#endif
}

bool usdt_hook_installed(void)
{
	return any_on;
}

int usdt_hook_client(usdt_enter_fn enter, usdt_leave_fn leave)
{
	if (nclients == USDT_HOOK_CLIENTS) {
		PyErr_SetString(PyExc_RuntimeError, "usdt: too many frame hook clients");
		return -1;
	}
	clients[nclients].enter = enter;
	clients[nclients].leave = leave;
	return nclients++;
}

void usdt_hook_enable(int client, bool on)
{
	clients[client].on = on;
	bool any = false;
	for (int i = 0; i < nclients; i++)
		any |= clients[i].on;
	PyInterpreterState *interp = PyThreadState_Get()->interp;
	_PyFrameEvalFunction cur = current(interp), mine = (_PyFrameEvalFunction)usdt_eval_frame;
	if (any && cur != mine) {
		prev_eval = cur;
		set_eval(interp, mine);
	} else if (!any && cur == mine) {
		set_eval(interp, prev_eval);
	}
	/* Else someone installed after us and calls us: stay, as a pass-through. */
	any_on = any;
}

PyObject *usdt_frame_arg(usdt_frame *frame, int i)
{
	real_frame *f = (real_frame *)frame;
#if PY_VERSION_HEX >= 0x030B0000
	PyObject *v = f->localsplus[i];
	/* After MAKE_CELL an argument that is also a cell lives in the cell. */
	if (v && PyCell_Check(v) && (_PyLocals_GetKind(f->f_code->co_localspluskinds, i) & CO_FAST_CELL))
		v = PyCell_GET(v);
	return v;
#else
	PyObject *v = f->f_localsplus[i];
	PyCodeObject *co = f->f_code;
	if (!v && co->co_cell2arg) {
		/* 3.8-3.10 move an argument that is also a cell into the cell. */
		Py_ssize_t ncells = PyTuple_GET_SIZE(co->co_cellvars);
		for (Py_ssize_t j = 0; j < ncells; j++)
			if (co->co_cell2arg[j] == i) {
				PyObject *cell = f->f_localsplus[co->co_nlocals + j];
				v = cell ? PyCell_GET(cell) : NULL;
			}
	}
	return v;
#endif
}

static PyObject *hook_state(PyObject *m, PyObject *unused)
{
	return PyBool_FromLong(current(PyThreadState_Get()->interp) ==
			       (_PyFrameEvalFunction)usdt_eval_frame);
}

#else /* USDT_HOOK_MONITORING */

int usdt_mon_call(const char *fn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	if (!args)
		return -1;
	if (!PyTuple_Check(args)) {
		PyObject *t = PyTuple_Pack(1, args);
		Py_DECREF(args);
		if (!(args = t))
			return -1;
	}
	PyObject *sys = PyImport_ImportModule("sys");
	PyObject *mon = sys ? PyObject_GetAttrString(sys, "monitoring") : NULL;
	PyObject *f = mon ? PyObject_GetAttrString(mon, fn) : NULL;
	PyObject *r = f ? PyObject_Call(f, args, NULL) : NULL;
	Py_XDECREF(f);
	Py_XDECREF(mon);
	Py_XDECREF(sys);
	Py_DECREF(args);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}

int usdt_mon_event(const char *name)
{
	PyObject *sys = PyImport_ImportModule("sys");
	PyObject *mon = sys ? PyObject_GetAttrString(sys, "monitoring") : NULL;
	PyObject *evs = mon ? PyObject_GetAttrString(mon, "events") : NULL;
	PyObject *v = evs ? PyObject_GetAttrString(evs, name) : NULL;
	long bit = v ? PyLong_AsLong(v) : -1;
	Py_XDECREF(v);
	Py_XDECREF(evs);
	Py_XDECREF(mon);
	Py_XDECREF(sys);
	if (bit <= 0 || bit > INT_MAX) {
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_RuntimeError, "usdt: bad sys.monitoring event %s", name);
		return -1;
	}
	return (int)bit;
}

int usdt_mon_claim(const char *name)
{
	/* 3 and 4 have no assigned role; 2 is cProfile's, 0/1 debuggers' and
	 * coverage's, 5 the optimizer's. */
	static const int ids[] = { 4, 3, 2, 1, 0, 5 };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (!usdt_mon_call("use_tool_id", "(is)", ids[i], name))
			return ids[i];
		PyErr_Clear();
	}
	PyErr_SetString(usdt__ProbeError, "usdt: no free sys.monitoring tool id");
	return -1;
}

int usdt_mon_register(int tool, int event, PyMethodDef *def)
{
	PyObject *fn = PyCFunction_New(def, NULL);
	if (!fn)
		return -1;
	int r = usdt_mon_call("register_callback", "(iiO)", tool, event, fn);
	Py_DECREF(fn);
	return r;
}

int usdt_mon_release(int tool)
{
	int r = usdt_mon_call("set_events", "(ii)", tool, 0);
	/* Every event bit the version has: 3.14 added two, its last is BRANCH. */
	const int last = PY_VERSION_HEX >= 0x030E0000 ? 1 << 18 : 1 << 16;
	for (int ev = 1; ev <= last; ev <<= 1)
		if (usdt_mon_call("register_callback", "(iiO)", tool, ev, Py_None))
			r = -1;
	if (usdt_mon_call("free_tool_id", "(i)", tool))
		r = -1;
	return r;
}

static PyObject *hook_state(PyObject *m, PyObject *unused)
{
	Py_RETURN_FALSE;
}

#endif

static PyMethodDef hooks_methods[] = {
	{ "_eval_frame_hooked", hook_state, METH_NOARGS,
	  "True while usdt's PEP 523 frame evaluation function is installed (3.8-3.11)." },
	{ NULL },
};

int usdt__hooks_exec(PyObject *m)
{
	return PyModule_AddFunctions(m, hooks_methods);
}
