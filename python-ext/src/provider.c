/*
 * provider.c - usdt.Provider, usdt.Probe and the argument types.
 *
 * Probe.fire's fast path is one load of a cached semaphore pointer and one of
 * the semaphore: while untraced it returns before looking at any argument.
 * While the provider is not loaded the cached pointer aims at a constant 1,
 * so the fast path falls through to the slow path, which raises ProbeError.
 *
 * A Probe holds its Provider; the Provider knows its live Probe objects
 * (borrowed) to repoint them on load/unload. So a Provider is freed (and
 * unloaded) only after its last Probe object is gone: no cycle, no race.
 */
#include <errno.h>
#include <limits.h>
#include "usdt_ext.h"

static const volatile unsigned short unloaded_sema = 1;

typedef struct ProviderObject ProviderObject;

typedef struct {
	PyObject_HEAD
	const volatile unsigned short *sema; /* first: the fast path reads it */
	usdt_probe *probe;
	ProviderObject *owner;               /* strong */
	size_t argc;
} ProbeObject;

struct ProviderObject {
	PyObject_HEAD
	usdt_provider *prov;
	ProbeObject **live; /* borrowed: Probe objects alive for this provider */
	size_t nlive, caplive;
	PyObject *weakrefs;
};

/* An argument type such as usdt.uint32. */
typedef struct {
	PyObject_HEAD
	usdt_type type;
	const char *name;
} ArgTypeObject;

static PyTypeObject ProbeType, ProviderType, ArgTypeType;

/* ------------------------------------------------------------------ */
/* Argument types                                                      */

static PyObject *argtype_repr(ArgTypeObject *self)
{
	return PyUnicode_FromFormat("usdt.%s", self->name);
}

static PyObject *argtype_get_ctype(ArgTypeObject *self, void *c)
{
	return PyUnicode_FromString(usdt_type_name(self->type));
}

static PyGetSetDef argtype_getset[] = {
	{ "ctype", (getter)argtype_get_ctype, NULL, "C type name as in the probe note", NULL },
	{ NULL },
};

static PyTypeObject ArgTypeType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "usdt.ArgType",
	.tp_basicsize = sizeof(ArgTypeObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A fixed-width integer argument type (usdt.int8 ... usdt.uint64).",
	.tp_repr = (reprfunc)argtype_repr,
	.tp_getset = argtype_getset,
};

/* Map a Python type designator to a libusdt type, or -1 with ValueError. */
static int type_from_py(PyObject *t, usdt_type *out)
{
	if (t == (PyObject *)&PyLong_Type) {
		*out = USDT_INT64;
		return 0;
	}
	if (t == (PyObject *)&PyUnicode_Type || t == (PyObject *)&PyBytes_Type) {
		*out = USDT_STRING;
		return 0;
	}
	if (Py_TYPE(t) == &ArgTypeType) {
		*out = ((ArgTypeObject *)t)->type;
		return 0;
	}
	if (PyUnicode_Check(t)) {
		const char *s = PyUnicode_AsUTF8(t);
		if (!s)
			return -1;
		usdt_type ty = usdt_type_parse(s);
		if (ty != USDT_TYPE_NONE) {
			*out = ty;
			return 0;
		}
	}
	PyErr_Format(PyExc_ValueError,
		     "bad probe argument type %R: use int, str, bytes, usdt.int8..usdt.uint64 "
		     "or a C type name such as 'uint32_t'", t);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Probe                                                               */

static const char *probe_qual(ProbeObject *self, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%s", usdt_provider_name(self->owner->prov), usdt_probe_name(self->probe));
	return buf;
}

static int int_arg(ProbeObject *self, size_t i, usdt_type ty, PyObject *o, uint64_t *out)
{
	char q[2 * USDT_MAX_NAME + 2];
	if (!PyLong_Check(o)) {
		if (!PyIndex_Check(o) || PyFloat_Check(o)) {
			PyErr_Format(PyExc_TypeError, "probe %s argument %zu: expected int (%s), got %.100s",
				     probe_qual(self, q, sizeof(q)), i + 1, usdt_type_name(ty),
				     Py_TYPE(o)->tp_name);
			return -1;
		}
		o = PyNumber_Index(o);
		if (!o)
			return -1;
		int r = int_arg(self, i, ty, o, out);
		Py_DECREF(o);
		return r;
	}
	if (ty == USDT_UINT64 || ty == USDT_POINTER) {
		unsigned long long v = PyLong_AsUnsignedLongLong(o);
		if (v == (unsigned long long)-1 && PyErr_Occurred())
			goto overflow;
		*out = v;
		return 0;
	}
	int ovf;
	long long v = PyLong_AsLongLongAndOverflow(o, &ovf);
	if (v == -1 && PyErr_Occurred())
		return -1;
	long long lo, hi;
	switch (ty) {
	case USDT_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
	case USDT_UINT8: lo = 0; hi = UINT8_MAX; break;
	case USDT_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
	case USDT_UINT16: lo = 0; hi = UINT16_MAX; break;
	case USDT_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
	case USDT_UINT32: lo = 0; hi = UINT32_MAX; break;
	default: lo = INT64_MIN; hi = INT64_MAX; break;
	}
	if (ovf || v < lo || v > hi)
		goto overflow;
	*out = (uint64_t)v;
	return 0;
overflow:
	PyErr_Clear();
	PyErr_Format(PyExc_OverflowError, "probe %s argument %zu: %R does not fit in %s",
		     probe_qual(self, q, sizeof(q)), i + 1, o, usdt_type_name(ty));
	return -1;
}

static int str_arg(ProbeObject *self, size_t i, PyObject *o, uint64_t *out)
{
	char q[2 * USDT_MAX_NAME + 2];
	if (PyBytes_Check(o)) {
		/* As is: CPython keeps a NUL after every bytes buffer; a tracer's
		 * str() stops at the first NUL inside. */
		*out = (uint64_t)(uintptr_t)PyBytes_AS_STRING(o);
		return 0;
	}
	if (PyUnicode_Check(o)) {
		Py_ssize_t n;
		const char *s = PyUnicode_AsUTF8AndSize(o, &n);
		if (!s && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
			/* A lone surrogate (os.fsdecode of a non-UTF-8 name): the
			 * tracer gets NULL, as CPython 3.15 gives its own probes;
			 * bytes (os.fsencode) carry such a name as it is. */
			PyErr_Clear();
			*out = 0;
			return 0;
		}
		if (!s)
			return -1;
		if ((size_t)n != strlen(s)) {
			PyErr_Format(PyExc_ValueError,
				     "probe %s argument %zu: str contains a NUL character "
				     "(a tracer would see it truncated; pass bytes to send it as is)",
				     probe_qual(self, q, sizeof(q)), i + 1);
			return -1;
		}
		*out = (uint64_t)(uintptr_t)s;
		return 0;
	}
	PyErr_Format(PyExc_TypeError, "probe %s argument %zu: expected str or bytes, got %.100s",
		     probe_qual(self, q, sizeof(q)), i + 1, Py_TYPE(o)->tp_name);
	return -1;
}

static int probe_convert(ProbeObject *self, PyObject *const *args, Py_ssize_t nargs, uint64_t *argv)
{
	char q[2 * USDT_MAX_NAME + 2];
	if ((size_t)nargs != self->argc) {
		PyErr_Format(PyExc_TypeError, "probe %s takes %zu argument%s (%zd given)",
			     probe_qual(self, q, sizeof(q)), self->argc, self->argc == 1 ? "" : "s",
			     nargs);
		return -1;
	}
	for (size_t i = 0; i < self->argc; i++) {
		usdt_type ty = usdt_probe_arg_type(self->probe, i);
		int r = ty == USDT_STRING ? str_arg(self, i, args[i], &argv[i])
					  : int_arg(self, i, ty, args[i], &argv[i]);
		if (r < 0)
			return -1;
	}
	return 0;
}

static PyObject *not_loaded(ProbeObject *self)
{
	char q[2 * USDT_MAX_NAME + 2];
	PyErr_Format(usdt__ProbeError, "probe %s: provider is not loaded", probe_qual(self, q, sizeof(q)));
	return NULL;
}

static PyObject *fire_slow(ProbeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (self->sema == &unloaded_sema)
		return not_loaded(self);
	uint64_t argv[USDT_MAX_ARGS];
	if (probe_convert(self, args, nargs, argv) < 0)
		return NULL;
	usdt_probe_fire_argv(self->probe, argv, self->argc);
	Py_RETURN_NONE;
}

static PyObject *probe_fire(ProbeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (__builtin_expect(*self->sema == 0, 1))
		Py_RETURN_NONE;
	return fire_slow(self, args, nargs);
}

/* Checks the arguments as fire would, whether or not a tracer is attached. */
static PyObject *probe_check(ProbeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	uint64_t argv[USDT_MAX_ARGS];
	if (probe_convert(self, args, nargs, argv) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *probe_get_enabled(ProbeObject *self, void *c)
{
	if (self->sema != &unloaded_sema && *self->sema)
		Py_RETURN_TRUE;
	Py_RETURN_FALSE;
}

static PyObject *probe_get_name(ProbeObject *self, void *c)
{
	return PyUnicode_FromString(usdt_probe_name(self->probe));
}

static PyObject *probe_get_provider(ProbeObject *self, void *c)
{
	Py_INCREF(self->owner);
	return (PyObject *)self->owner;
}

static PyObject *probe_get_types(ProbeObject *self, void *c)
{
	PyObject *t = PyTuple_New((Py_ssize_t)self->argc);
	for (size_t i = 0; t && i < self->argc; i++) {
		PyObject *s = PyUnicode_FromString(usdt_type_name(usdt_probe_arg_type(self->probe, i)));
		if (!s) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
	}
	return t;
}

static PyObject *probe_get_argspec(ProbeObject *self, void *c)
{
	return PyUnicode_FromString(usdt_probe_arg_spec(self->probe));
}

static PyObject *probe_repr(ProbeObject *self)
{
	char sig[USDT_MAX_ARGS * 12 + 4] = "";
	for (size_t i = 0; i < self->argc; i++) {
		if (i)
			strcat(sig, ", ");
		strcat(sig, usdt_type_name(usdt_probe_arg_type(self->probe, i)));
	}
	bool loaded = self->sema != &unloaded_sema;
	return PyUnicode_FromFormat("<usdt.Probe %s:%s(%s) %s%s>",
				    usdt_provider_name(self->owner->prov),
				    usdt_probe_name(self->probe), sig,
				    loaded ? "loaded" : "unloaded",
				    loaded && *self->sema ? " enabled" : "");
}

static void probe_dealloc(ProbeObject *self)
{
	ProviderObject *p = self->owner;
	for (size_t i = 0; i < p->nlive; i++) {
		if (p->live[i] == self) {
			p->live[i] = p->live[--p->nlive];
			break;
		}
	}
	Py_DECREF(p);
	PyObject_Free(self);
}

static PyMethodDef probe_methods[] = {
	{ "fire", (PyCFunction)(void (*)(void))probe_fire, METH_FASTCALL,
	  "fire(*args): hand the values to attached tracers; a no-op while untraced.\n"
	  "Raises ProbeError if the provider is not loaded (checked only while traced\n"
	  "or unloaded), TypeError/OverflowError/ValueError for bad values while traced." },
	{ "check", (PyCFunction)(void (*)(void))probe_check, METH_FASTCALL,
	  "check(*args): validate values as fire would, traced or not." },
	{ NULL },
};

static PyGetSetDef probe_getset[] = {
	{ "enabled", (getter)probe_get_enabled, NULL, "True while a tracer is attached.", NULL },
	{ "name", (getter)probe_get_name, NULL, "probe name", NULL },
	{ "provider", (getter)probe_get_provider, NULL, "the Provider", NULL },
	{ "types", (getter)probe_get_types, NULL, "C type names of the arguments", NULL },
	{ "argspec", (getter)probe_get_argspec, NULL, "argument spec as in the note", NULL },
	{ NULL },
};

static PyTypeObject ProbeType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "usdt.Probe",
	.tp_basicsize = sizeof(ProbeObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A probe of a usdt.Provider (made by Provider.probe()).",
	.tp_dealloc = (destructor)probe_dealloc,
	.tp_repr = (reprfunc)probe_repr,
	.tp_methods = probe_methods,
	.tp_getset = probe_getset,
};

static const volatile unsigned short *probe_sema(ProviderObject *p, usdt_probe *probe)
{
	return usdt_provider_is_loaded(p->prov) ? usdt_probe_semaphore(probe) : &unloaded_sema;
}

/* The live Probe object for probe, made if there is none. New reference. */
static PyObject *probe_object(ProviderObject *p, usdt_probe *probe)
{
	for (size_t i = 0; i < p->nlive; i++) {
		if (p->live[i]->probe == probe) {
			Py_INCREF(p->live[i]);
			return (PyObject *)p->live[i];
		}
	}
	if (p->nlive == p->caplive) {
		size_t cap = p->caplive ? 2 * p->caplive : 8;
		ProbeObject **l = PyMem_Realloc(p->live, cap * sizeof(*l));
		if (!l)
			return PyErr_NoMemory();
		p->live = l;
		p->caplive = cap;
	}
	ProbeObject *self = PyObject_New(ProbeObject, &ProbeType);
	if (!self)
		return NULL;
	self->probe = probe;
	self->argc = usdt_probe_argc(probe);
	self->sema = probe_sema(p, probe);
	Py_INCREF(p);
	self->owner = p;
	p->live[p->nlive++] = self;
	return (PyObject *)self;
}

static void repoint(ProviderObject *p)
{
	for (size_t i = 0; i < p->nlive; i++)
		p->live[i]->sema = probe_sema(p, p->live[i]->probe);
}

/* ------------------------------------------------------------------ */
/* Provider                                                            */

static PyObject *provider_wrap(PyTypeObject *type, usdt_provider *prov)
{
	ProviderObject *self = (ProviderObject *)type->tp_alloc(type, 0);
	if (!self) {
		usdt_provider_free(prov);
		return NULL;
	}
	self->prov = prov;
	return (PyObject *)self;
}

static PyObject *provider_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "dir", NULL };
	const char *name, *dir = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z:Provider", kwlist, &name, &dir))
		return NULL;
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir };
	usdt_provider *prov = usdt_provider_new_opts(name, &o);
	if (!prov)
		return usdt__raise(-errno, NULL);
	return provider_wrap(type, prov);
}

static PyObject *provider_from_d(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "source", "provider", "dir", NULL };
	PyObject *src;
	const char *which = NULL, *dir = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zz:from_d", kwlist, &src, &which, &dir))
		return NULL;
	struct usdt_provider_opts o = { .sz = sizeof(o), .dir = dir };
	usdt_provider *prov;
	const char *text = NULL;
	Py_ssize_t len = 0;
	if (PyBytes_Check(src)) {
		text = PyBytes_AS_STRING(src);
		len = PyBytes_GET_SIZE(src);
	} else if (PyUnicode_Check(src) && PyUnicode_FindChar(src, '{', 0, PY_SSIZE_T_MAX, 1) >= 0) {
		text = PyUnicode_AsUTF8AndSize(src, &len);
		if (!text)
			return NULL;
	}
	if (text) {
		prov = usdt_provider_from_d(text, (size_t)len, "<string>", which, &o);
		if (!prov)
			return usdt__raise(-errno, NULL);
	} else {
		PyObject *path;
		if (!PyUnicode_FSConverter(src, &path))
			return NULL;
		prov = usdt_provider_from_d_file(PyBytes_AS_STRING(path), which, &o);
		Py_DECREF(path);
		if (!prov)
			return usdt__raise(-errno, "open");
	}
	return provider_wrap(type, prov);
}

static void provider_dealloc(ProviderObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* No Probe object is left (each holds us), so no fire can race. */
	usdt_provider_free(self->prov);
	PyMem_Free(self->live);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *provider_probe(ProviderObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs < 1 || !PyUnicode_Check(args[0])) {
		PyErr_SetString(PyExc_TypeError, "probe(name, *types): name must be a str");
		return NULL;
	}
	const char *name = PyUnicode_AsUTF8(args[0]);
	if (!name)
		return NULL;
	if (nargs - 1 > USDT_MAX_ARGS) {
		PyErr_Format(PyExc_ValueError, "probe %s: %zd arguments, at most %d", name, nargs - 1,
			     USDT_MAX_ARGS);
		return NULL;
	}
	usdt_type types[USDT_MAX_ARGS];
	for (Py_ssize_t i = 1; i < nargs; i++)
		if (type_from_py(args[i], &types[i - 1]) < 0)
			return NULL;
	if (usdt_provider_is_loaded(self->prov)) {
		PyErr_Format(usdt__ProbeError, "provider %s is loaded: unload it to add probe %s",
			     usdt_provider_name(self->prov), name);
		return NULL;
	}
	usdt_probe *probe = usdt_probe_new(self->prov, name, types, (size_t)(nargs - 1));
	if (!probe)
		return usdt__raise(-errno, NULL);
	return probe_object(self, probe);
}

static PyObject *provider_load(ProviderObject *self, PyObject *unused)
{
	int err = usdt_provider_load(self->prov);
	if (err)
		return usdt__raise(err, NULL);
	repoint(self);
	Py_RETURN_NONE;
}

static PyObject *provider_unload(ProviderObject *self, PyObject *unused)
{
	int err = usdt_provider_unload(self->prov);
	if (err)
		return usdt__raise(err, NULL);
	repoint(self);
	/* Every fire runs under the GIL, held here: no thread can still be
	 * reading the old image, so it goes now rather than after a grace
	 * period during which a tracer would see it beside a reloaded one. */
	usdt_provider_close_retired(self->prov);
	Py_RETURN_NONE;
}

static PyObject *provider_enter(ProviderObject *self, PyObject *unused)
{
	if (!usdt_provider_is_loaded(self->prov) && !provider_load(self, NULL))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *provider_exit(ProviderObject *self, PyObject *args)
{
	if (usdt_provider_is_loaded(self->prov) && !provider_unload(self, NULL))
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *provider_getitem(ProviderObject *self, PyObject *key)
{
	if (!PyUnicode_Check(key)) {
		PyErr_SetString(PyExc_TypeError, "probe names are str");
		return NULL;
	}
	const char *name = PyUnicode_AsUTF8(key);
	if (!name)
		return NULL;
	usdt_probe *probe = usdt_provider_probe(self->prov, name);
	if (!probe) {
		PyErr_SetObject(PyExc_KeyError, key);
		return NULL;
	}
	return probe_object(self, probe);
}

static Py_ssize_t provider_len(ProviderObject *self)
{
	return (Py_ssize_t)usdt_provider_probe_count(self->prov);
}

static PyObject *provider_get_probes(ProviderObject *self, void *c)
{
	size_t n = usdt_provider_probe_count(self->prov);
	PyObject *t = PyTuple_New((Py_ssize_t)n);
	for (size_t i = 0; t && i < n; i++) {
		PyObject *p = probe_object(self, usdt_provider_probe_at(self->prov, i));
		if (!p) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, (Py_ssize_t)i, p);
	}
	return t;
}

static PyObject *provider_get_name(ProviderObject *self, void *c)
{
	return PyUnicode_FromString(usdt_provider_name(self->prov));
}

static PyObject *provider_get_loaded(ProviderObject *self, void *c)
{
	return PyBool_FromLong(usdt_provider_is_loaded(self->prov));
}

static PyObject *provider_get_path(ProviderObject *self, void *c)
{
	const char *path = usdt_provider_path(self->prov);
	if (!path)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(path);
}

static PyObject *provider_get_memfd(ProviderObject *self, void *c)
{
	return PyBool_FromLong(usdt_provider_is_memfd(self->prov));
}

static PyObject *provider_repr(ProviderObject *self)
{
	size_t n = usdt_provider_probe_count(self->prov);
	const char *path = usdt_provider_path(self->prov);
	if (path)
		return PyUnicode_FromFormat("<usdt.Provider '%s' %zu probe%s loaded path='%s'>",
					    usdt_provider_name(self->prov), n, n == 1 ? "" : "s",
					    path);
	return PyUnicode_FromFormat("<usdt.Provider '%s' %zu probe%s unloaded>",
				    usdt_provider_name(self->prov), n, n == 1 ? "" : "s");
}

static PyMethodDef provider_methods[] = {
	{ "probe", (PyCFunction)(void (*)(void))provider_probe, METH_FASTCALL,
	  "probe(name, *types) -> Probe: add a probe (provider must be unloaded).\n"
	  "types: int (int64), str or bytes (a string), usdt.int8..usdt.uint64,\n"
	  "or a C type name ('uint32_t', 'char *')." },
	{ "load", (PyCFunction)provider_load, METH_NOARGS,
	  "Make the probes visible to tracers (ProbeError if already loaded)." },
	{ "unload", (PyCFunction)provider_unload, METH_NOARGS,
	  "Withdraw the probes; fire then raises ProbeError until load()." },
	{ "from_d", (PyCFunction)(void (*)(void))provider_from_d,
	  METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  "from_d(source, provider=None, dir=None) -> Provider (unloaded)\n"
	  "source: DTrace provider text (str containing '{', or bytes) or a path." },
	{ "__enter__", (PyCFunction)provider_enter, METH_NOARGS, "load if needed" },
	{ "__exit__", (PyCFunction)provider_exit, METH_VARARGS, "unload if loaded" },
	{ NULL },
};

static PyGetSetDef provider_getset[] = {
	{ "name", (getter)provider_get_name, NULL, "provider name", NULL },
	{ "loaded", (getter)provider_get_loaded, NULL, "True while loaded", NULL },
	{ "path", (getter)provider_get_path, NULL,
	  "what a tracer attaches to (None while unloaded)", NULL },
	{ "memfd", (getter)provider_get_memfd, NULL, "True if the image is a memfd", NULL },
	{ "probes", (getter)provider_get_probes, NULL, "tuple of Probe, in definition order", NULL },
	{ NULL },
};

static PyMappingMethods provider_mapping = {
	.mp_length = (lenfunc)provider_len,
	.mp_subscript = (binaryfunc)provider_getitem,
};

static PyTypeObject ProviderType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "usdt.Provider",
	.tp_basicsize = sizeof(ProviderObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Provider(name, dir=None): a set of probes defined at run time.",
	.tp_new = provider_new,
	.tp_dealloc = (destructor)provider_dealloc,
	.tp_repr = (reprfunc)provider_repr,
	.tp_methods = provider_methods,
	.tp_getset = provider_getset,
	.tp_as_mapping = &provider_mapping,
	.tp_weaklistoffset = offsetof(ProviderObject, weakrefs),
};

PyObject *usdt__provider_create(const char *name)
{
	usdt_provider *prov = usdt_provider_new(name);
	if (!prov)
		return usdt__raise(-errno, NULL);
	return provider_wrap(&ProviderType, prov);
}

usdt_provider *usdt__provider_ptr(PyObject *prov)
{
	return ((ProviderObject *)prov)->prov;
}

static int add_argtypes(PyObject *m)
{
	static const struct { const char *name; usdt_type type; } t[] = {
		{ "int8", USDT_INT8 },   { "uint8", USDT_UINT8 },   { "int16", USDT_INT16 },
		{ "uint16", USDT_UINT16 }, { "int32", USDT_INT32 }, { "uint32", USDT_UINT32 },
		{ "int64", USDT_INT64 }, { "uint64", USDT_UINT64 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ArgTypeObject *o = PyObject_New(ArgTypeObject, &ArgTypeType);
		if (!o)
			return -1;
		o->type = t[i].type;
		o->name = t[i].name;
		if (PyModule_AddObject(m, t[i].name, (PyObject *)o) < 0) {
			Py_DECREF(o);
			return -1;
		}
	}
	return 0;
}

static int add_type(PyObject *m, const char *name, PyTypeObject *t)
{
	if (PyType_Ready(t) < 0)
		return -1;
	Py_INCREF(t);
	if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
		Py_DECREF(t);
		return -1;
	}
	return 0;
}

int usdt__provider_exec(PyObject *m)
{
	if (add_type(m, "ArgType", &ArgTypeType) < 0 || add_type(m, "Probe", &ProbeType) < 0 ||
	    add_type(m, "Provider", &ProviderType) < 0)
		return -1;
	return add_argtypes(m);
}
