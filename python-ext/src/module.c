/*
 * module.c - the usdt._usdt module: one module for every part of the extension.
 */
#include <errno.h>
#include "usdt_ext.h"

PyObject *usdt__ProbeError;

PyObject *usdt__raise(int err, const char *what)
{
	if (err > 0)
		err = -err;
	const char *msg = usdt_errmsg();
	if (!msg || !*msg)
		msg = usdt_strerror(err);
	PyObject *exc;
	switch (-err) {
	case EINVAL: case E2BIG: case EEXIST: case ENAMETOOLONG:
		exc = PyExc_ValueError;
		break;
	case ENOMEM:
		return PyErr_NoMemory();
	case EALREADY: case EBUSY:
		exc = usdt__ProbeError;
		break;
	case ENOENT:
		exc = what && !strcmp(what, "open") ? PyExc_FileNotFoundError : usdt__ProbeError;
		break;
	default:
		PyErr_Format(PyExc_OSError, "%s", msg);
		return NULL;
	}
	PyErr_SetString(exc, msg);
	return NULL;
}

/* Parts other helpers add (python-ext/src/runtime*.c) define this; weak so
 * the module builds without them. */
int usdt__runtime_exec(PyObject *m) __attribute__((weak));

static int usdt_exec(PyObject *m)
{
	if (!usdt__ProbeError)
		usdt__ProbeError = PyErr_NewExceptionWithDoc(
			"usdt.ProbeError",
			"A probe or provider used in the wrong state (e.g. fire after unload).",
			PyExc_RuntimeError, NULL);
	if (!usdt__ProbeError)
		return -1;
	Py_INCREF(usdt__ProbeError);
	if (PyModule_AddObject(m, "ProbeError", usdt__ProbeError) < 0)
		return -1;

	/* ---- Registration point: each part adds its types and functions. ---- */
	if (usdt__hooks_exec(m) < 0)
		return -1;
	if (usdt__provider_exec(m) < 0)
		return -1;
	if (usdt__fbt_exec(m) < 0)
		return -1;
	if (usdt__runtime_exec && usdt__runtime_exec(m) < 0)
		return -1;
	/* ---- end of registration point ---- */
	return 0;
}

static PyModuleDef_Slot usdt_slots[] = {
	{ Py_mod_exec, (void *)usdt_exec },
	{ 0, NULL },
};

static struct PyModuleDef usdt_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "usdt._usdt",
	.m_doc = "USDT probes defined at run time (libusdt), and @fbt hooks.",
	.m_size = 0,
	.m_slots = usdt_slots,
};

/* Exported explicitly: 3.8's PyMODINIT_FUNC does not, and we build with
 * -fvisibility=hidden. */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__usdt(void)
{
	return PyModuleDef_Init(&usdt_module);
}
