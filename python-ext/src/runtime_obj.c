/*
 * runtime_obj.c - gc, instance, import and audit probes, each family hooked
 * only while one of its probes is traced.
 *   gc        a C callable in gc.callbacks.
 *   instance  Python classes (heap types deallocated by subtype_dealloc) get
 *             wrapped tp_alloc (new start/done around the allocation) and
 *             tp_free (delete start/done around the release); classes created
 *             while traced are caught by wrapping type's tp_new.
 *   import    importlib._bootstrap._find_and_load, which the interpreter looks
 *             up by name each time a module is not yet in sys.modules: the
 *             place CPython fires its own import probes.
 *   audit     audit hooks cannot be removed, so one C hook is added the first
 *             time audit is traced; afterwards it costs one flag test per event.
 */
#include "runtime.h"

#if PY_VERSION_HEX < 0x03090000
#define PyObject_Vectorcall _PyObject_Vectorcall
#endif

/* UTF-8 without touching the error indicator (deallocation may run with an
 * exception set). */
static const char *quiet_utf8(PyObject *s)
{
	return usdt__rt_utf8(s);
}

/* ---- gc ------------------------------------------------------------------- */

static PyObject *gc_cb_obj;

static long info_long(PyObject *info, const char *key)
{
	PyObject *v = PyDict_Check(info) ? PyDict_GetItemString(info, key) : NULL;
	long r = v ? PyLong_AsLong(v) : 0;
	if (r == -1 && PyErr_Occurred())
		PyErr_Clear();
	return r;
}

static PyObject *gc_cb(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs < 2 || !PyUnicode_Check(args[0]))
		Py_RETURN_NONE;
	if (PyUnicode_CompareWithASCIIString(args[0], "start") == 0) {
		if (rt_on(RT_GC_START))
			usdt_probe_fire1(usdt__rt_probe[RT_GC_START],
					 (uint64_t)(int64_t)info_long(args[1], "generation"));
	} else if (rt_on(RT_GC_DONE)) {
		long n = info_long(args[1], "collected") + info_long(args[1], "uncollectable");
		usdt_probe_fire1(usdt__rt_probe[RT_GC_DONE], (uint64_t)(int64_t)n);
	}
	Py_RETURN_NONE;
}
static PyMethodDef gc_cb_def = { "usdt_gc_callback", (PyCFunction)(void (*)(void))gc_cb,
				 METH_FASTCALL, NULL };

static PyObject *gc_callbacks(void)
{
	PyObject *gc = PyImport_ImportModule("gc");
	PyObject *l = gc ? PyObject_GetAttrString(gc, "callbacks") : NULL;
	Py_XDECREF(gc);
	if (l && !PyList_Check(l)) {
		Py_DECREF(l);
		PyErr_SetString(PyExc_TypeError, "gc.callbacks is not a list");
		return NULL;
	}
	return l;
}

static Py_ssize_t gc_find(PyObject *l)
{
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++)
		if (PyList_GET_ITEM(l, i) == gc_cb_obj)
			return i;
	return -1;
}

int usdt__rt_gc_install(void)
{
	if (!gc_cb_obj && !(gc_cb_obj = PyCFunction_New(&gc_cb_def, NULL)))
		return -1;
	PyObject *l = gc_callbacks();
	if (!l)
		return -1;
	int r = gc_find(l) >= 0 ? 0 : PyList_Append(l, gc_cb_obj);
	Py_DECREF(l);
	return r;
}

void usdt__rt_gc_remove(void)
{
	PyObject *l = gc_callbacks();
	Py_ssize_t i;
	while (l && gc_cb_obj && (i = gc_find(l)) >= 0)
		if (PySequence_DelItem(l, i) < 0)
			break;
	Py_XDECREF(l);
	PyErr_Clear();
}

/* ---- instances --------------------------------------------------------------- */

static destructor subtype_dealloc_fn; /* what every class defined in Python has */
static PyObject *probe_class;         /* the class it was read from */
static newfunc orig_type_new;
static bool inst_on;
static long inst_patched;

static const char *type_module(PyTypeObject *tp)
{
	PyObject *m = tp->tp_dict ? PyDict_GetItemString(tp->tp_dict, "__module__") : NULL;
	return quiet_utf8(m);
}

static inline bool inst_traced(int a, int b)
{
	return inst_on && (rt_on(a) || rt_on(b));
}

static PyObject *inst_alloc(PyTypeObject *tp, Py_ssize_t n)
{
	if (!inst_traced(RT_INST_NEW_START, RT_INST_NEW_DONE))
		return PyType_GenericAlloc(tp, n);
	uintptr_t cn = (uintptr_t)tp->tp_name, mn = (uintptr_t)type_module(tp);
	if (rt_on(RT_INST_NEW_START))
		usdt_probe_fire2(usdt__rt_probe[RT_INST_NEW_START], cn, mn);
	PyObject *o = PyType_GenericAlloc(tp, n);
	if (rt_on(RT_INST_NEW_DONE))
		usdt_probe_fire2(usdt__rt_probe[RT_INST_NEW_DONE], cn, mn);
	return o;
}

/* tp_free runs after the finalizers, while the type is still referenced. */
static void inst_free(void *p, freefunc real)
{
	if (!inst_traced(RT_INST_DEL_START, RT_INST_DEL_DONE)) {
		real(p);
		return;
	}
	PyTypeObject *tp = Py_TYPE((PyObject *)p);
	uintptr_t cn = (uintptr_t)tp->tp_name, mn = (uintptr_t)type_module(tp);
	if (rt_on(RT_INST_DEL_START))
		usdt_probe_fire2(usdt__rt_probe[RT_INST_DEL_START], cn, mn);
	real(p);
	if (rt_on(RT_INST_DEL_DONE))
		usdt_probe_fire2(usdt__rt_probe[RT_INST_DEL_DONE], cn, mn);
}
static void inst_free_gc(void *p)
{
	inst_free(p, PyObject_GC_Del);
}
static void inst_free_plain(void *p)
{
	inst_free(p, PyObject_Free);
}

static bool is_py_class(PyTypeObject *tp)
{
	return (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) && tp->tp_dealloc == subtype_dealloc_fn;
}

static void patch_class(PyTypeObject *tp)
{
	if (!is_py_class(tp))
		return;
	bool changed = false;
	if (tp->tp_alloc == PyType_GenericAlloc) {
		tp->tp_alloc = inst_alloc;
		changed = true;
	}
	if (tp->tp_free == PyObject_GC_Del) {
		tp->tp_free = inst_free_gc;
		changed = true;
	} else if (tp->tp_free == PyObject_Free) {
		tp->tp_free = inst_free_plain;
		changed = true;
	}
	if (changed) {
		inst_patched++;
		PyType_Modified(tp); /* drop specializations that skip tp_alloc */
	}
}

static void unpatch_class(PyTypeObject *tp)
{
	bool changed = false;
	if (tp->tp_alloc == inst_alloc) {
		tp->tp_alloc = PyType_GenericAlloc;
		changed = true;
	}
	if (tp->tp_free == inst_free_gc) {
		tp->tp_free = PyObject_GC_Del;
		changed = true;
	} else if (tp->tp_free == inst_free_plain) {
		tp->tp_free = PyObject_Free;
		changed = true;
	}
	if (changed)
		PyType_Modified(tp);
}

static PyObject *inst_type_new(PyTypeObject *meta, PyObject *args, PyObject *kw);

static void patch_meta(PyTypeObject *tp)
{
	if (tp->tp_new == orig_type_new)
		tp->tp_new = inst_type_new;
}

static void unpatch_meta(PyTypeObject *tp)
{
	if (tp->tp_new == inst_type_new)
		tp->tp_new = orig_type_new;
}

/* Classes created while traced are Python classes to wrap as well. */
static PyObject *inst_type_new(PyTypeObject *meta, PyObject *args, PyObject *kw)
{
	PyObject *t = orig_type_new(meta, args, kw);
	if (t && inst_on && PyType_Check(t))
		patch_class((PyTypeObject *)t);
	return t;
}

/* Call fn on root and every class below it, once each. */
static int walk(PyTypeObject *root, void (*fn)(PyTypeObject *))
{
	static PyObject *subclasses_fn;
	if (!subclasses_fn) {
		/* the method descriptor itself (type's tp_dict is hidden on 3.12+) */
		subclasses_fn = PyObject_GetAttrString((PyObject *)&PyType_Type, "__subclasses__");
		if (!subclasses_fn)
			return -1;
	}
	PyObject *seen = PySet_New(NULL), *stack = PyList_New(0);
	if (!seen || !stack || PyList_Append(stack, (PyObject *)root) < 0)
		goto fail;
	while (PyList_GET_SIZE(stack)) {
		Py_ssize_t n = PyList_GET_SIZE(stack);
		PyObject *t = Py_NewRef(PyList_GET_ITEM(stack, n - 1));
		if (PyList_SetSlice(stack, n - 1, n, NULL) < 0) {
			Py_DECREF(t);
			goto fail;
		}
		fn((PyTypeObject *)t);
		/* type.__subclasses__(t): t.__subclasses__ would be unbound for type */
		PyObject *subs = PyObject_CallFunctionObjArgs(subclasses_fn, t, NULL);
		Py_DECREF(t);
		if (!subs)
			goto fail;
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
			PyObject *s = PyList_GET_ITEM(subs, i);
			PyObject *id = PyLong_FromVoidPtr(s);
			int has = id ? PySet_Contains(seen, id) : -1;
			if (has == 0 && (PySet_Add(seen, id) < 0 || PyList_Append(stack, s) < 0))
				has = -1;
			Py_XDECREF(id);
			if (has < 0) {
				Py_DECREF(subs);
				goto fail;
			}
		}
		Py_DECREF(subs);
	}
	Py_DECREF(seen);
	Py_DECREF(stack);
	return 0;
fail:
	Py_XDECREF(seen);
	Py_XDECREF(stack);
	return -1;
}

int usdt__rt_inst_install(void)
{
	if (!subtype_dealloc_fn) {
		probe_class = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N",
						    "_usdt_probe_class", PyDict_New());
		if (!probe_class)
			return -1;
		subtype_dealloc_fn = ((PyTypeObject *)probe_class)->tp_dealloc;
	}
	if (!orig_type_new)
		orig_type_new = PyType_Type.tp_new;
	inst_on = true;
	inst_patched = 0;
	if (walk(&PyType_Type, patch_meta) < 0 || walk(&PyBaseObject_Type, patch_class) < 0) {
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		usdt__rt_inst_remove();
		PyErr_Restore(t, v, tb);
		return -1;
	}
	return 0;
}

void usdt__rt_inst_remove(void)
{
	inst_on = false;
	if (!orig_type_new)
		return;
	if (walk(&PyBaseObject_Type, unpatch_class) < 0 || walk(&PyType_Type, unpatch_meta) < 0)
		PyErr_Clear(); /* the wrappers left behind only pass through */
	PyType_Type.tp_new = orig_type_new;
}

/* ---- imports ---------------------------------------------------------------- */

static PyObject *orig_find_and_load, *find_and_load_obj;

static PyObject *find_and_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *orig = orig_find_and_load;
	if (!orig)
		return PyErr_Format(PyExc_RuntimeError, "usdt: import hook without original");
	if (nargs < 1 || !(rt_on(RT_IMPORT_START) || rt_on(RT_IMPORT_DONE)))
		return PyObject_Vectorcall(orig, args, nargs, NULL);
	const char *name = quiet_utf8(args[0]);
	if (rt_on(RT_IMPORT_START))
		usdt_probe_fire1(usdt__rt_probe[RT_IMPORT_START], (uintptr_t)name);
	Py_INCREF(args[0]); /* keeps name valid */
	PyObject *r = PyObject_Vectorcall(orig, args, nargs, NULL);
	if (rt_on(RT_IMPORT_DONE))
		usdt_probe_fire2(usdt__rt_probe[RT_IMPORT_DONE], (uintptr_t)name, r != NULL);
	Py_DECREF(args[0]);
	return r;
}
static PyMethodDef find_and_load_def = { "_find_and_load",
					 (PyCFunction)(void (*)(void))find_and_load,
					 METH_FASTCALL, NULL };

static PyObject *bootstrap(void)
{
	PyObject *m = PyImport_GetModuleDict();
	return m ? PyDict_GetItemString(m, "_frozen_importlib") : NULL; /* borrowed */
}

int usdt__rt_import_install(void)
{
	PyObject *b = bootstrap();
	if (!b)
		return PyErr_Format(PyExc_RuntimeError, "no _frozen_importlib"), -1;
	if (!find_and_load_obj && !(find_and_load_obj = PyCFunction_New(&find_and_load_def, NULL)))
		return -1;
	PyObject *cur = PyObject_GetAttrString(b, "_find_and_load");
	if (!cur)
		return -1;
	if (cur == find_and_load_obj) {
		Py_DECREF(cur);
		return 0;
	}
	Py_XSETREF(orig_find_and_load, cur);
	return PyObject_SetAttrString(b, "_find_and_load", find_and_load_obj);
}

void usdt__rt_import_remove(void)
{
	PyObject *b = bootstrap();
	PyObject *cur = b ? PyObject_GetAttrString(b, "_find_and_load") : NULL;
	if (cur && cur == find_and_load_obj && orig_find_and_load &&
	    PyObject_SetAttrString(b, "_find_and_load", orig_find_and_load) < 0)
		PyErr_Clear();
	Py_XDECREF(cur);
	PyErr_Clear();
	/* orig_find_and_load stays: a call already inside the wrapper uses it. */
}

/* ---- audit ----------------------------------------------------------------- */

static bool audit_added, audit_on;

static int audit_hook(const char *event, PyObject *args, void *data)
{
	if (audit_on && rt_on(RT_AUDIT))
		usdt_probe_fire2(usdt__rt_probe[RT_AUDIT], (uintptr_t)event, (uintptr_t)args);
	return 0;
}

int usdt__rt_audit_install(void)
{
	if (!audit_added) {
		if (PySys_AddAuditHook(audit_hook, NULL) < 0)
			return -1;
		audit_added = true;
	}
	audit_on = true;
	return 0;
}

void usdt__rt_audit_remove(void)
{
	audit_on = false;
}

/* ---- state, for tests -------------------------------------------------------- */

static int put(PyObject *d, const char *k, PyObject *v)
{
	int r = v ? PyDict_SetItemString(d, k, v) : -1;
	Py_XDECREF(v);
	return r;
}

int usdt__rt_obj_state(PyObject *d)
{
	PyObject *l = gc_callbacks();
	if (!l)
		return -1;
	bool gc_in = gc_cb_obj && gc_find(l) >= 0;
	Py_DECREF(l);
	PyObject *b = bootstrap();
	PyObject *cur = b ? PyObject_GetAttrString(b, "_find_and_load") : NULL;
	PyErr_Clear();
	bool imp_in = cur && cur == find_and_load_obj;
	Py_XDECREF(cur);
	bool tn = orig_type_new && PyType_Type.tp_new != orig_type_new;
	return put(d, "gc_callback", PyBool_FromLong(gc_in)) < 0 ||
			       put(d, "import_hook", PyBool_FromLong(imp_in)) < 0 ||
			       put(d, "type_new_hook", PyBool_FromLong(tn)) < 0 ||
			       put(d, "classes_patched", PyLong_FromLong(inst_on ? inst_patched : 0)) < 0 ||
			       put(d, "audit_hook_added", PyBool_FromLong(audit_added)) < 0 ||
			       put(d, "audit_on", PyBool_FromLong(audit_on)) < 0
		       ? -1
		       : 0;
}
