/*
 * usdt_ext.h - what the parts of the usdt._usdt extension share.
 *
 * Every C file of python-ext/src is compiled into the one module usdt._usdt. Each
 * part has an exec function that adds its types and functions to the module;
 * module.c calls them in order (see the registration point there).
 */
#ifndef USDT_EXT_H
#define USDT_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "usdt.h"

/* usdt.ProbeError (a RuntimeError): lifecycle misuse, e.g. fire after unload. */
extern PyObject *usdt__ProbeError;

/* Raise the Python exception for libusdt error err (negative errno), with
 * usdt_errmsg() as the message when there is one. Returns NULL. */
PyObject *usdt__raise(int err, const char *what);

/* provider.c, for other parts: a new unloaded usdt.Provider, and the
 * libusdt provider inside one. */
PyObject *usdt__provider_create(const char *name);
usdt_provider *usdt__provider_ptr(PyObject *prov);

/* Parts: each adds itself to the module; 0 or -1 with an exception set. */
int usdt__provider_exec(PyObject *m);
int usdt__fbt_exec(PyObject *m);
int usdt__hooks_exec(PyObject *m);

#endif
