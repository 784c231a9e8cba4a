/*
 * runtime_compat.h - what differs between CPython 3.8 and 3.13 for the
 * runtime probes: frame evaluation hooks and frame layout (3.8-3.11, from the
 * interpreter's internal headers).
 */
#ifndef USDT_RUNTIME_COMPAT_H
#define USDT_RUNTIME_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#define USDT_UNDEF_BUILD_CORE 1
#endif
#if PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include <internal/pycore_frame.h>
typedef struct _PyInterpreterFrame rt_frame;
#else
#include <frameobject.h>
typedef PyFrameObject rt_frame;
#endif
#ifdef USDT_UNDEF_BUILD_CORE
#undef Py_BUILD_CORE
#endif
#endif

/* Code object extras: hooks.h. */

#if PY_VERSION_HEX < 0x030A00A3
static inline PyObject *usdt__rt_new_ref(PyObject *o)
{
	Py_INCREF(o);
	return o;
}
#define Py_NewRef(o) usdt__rt_new_ref((PyObject *)(o))
#endif
#if PY_VERSION_HEX < 0x03090000
#define Py_XSETREF(op, op2) do { PyObject *_t = (PyObject *)(op); (op) = (op2); Py_XDECREF(_t); } while (0)
#endif

#endif
