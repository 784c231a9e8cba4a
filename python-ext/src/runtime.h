/*
 * runtime.h - CPython's own `python` provider, restored by the extension.
 *
 * runtime.c owns the provider and decides which hook families are wanted (a
 * family is wanted while one of its probes is traced); runtime_func.c (function
 * entry/return, line) and runtime_obj.c (gc, instances, imports, audit) install
 * and remove the hooks. Everything here runs with the GIL held except the fire
 * paths' semaphore reads.
 */
#ifndef USDT_RUNTIME_H
#define USDT_RUNTIME_H

#include "runtime_compat.h"
#include <stdbool.h>
#include "usdt.h"

/* CPython's probes, in the order of its pydtrace.d (3.15's). */
enum rt_probe {
	RT_FUNC_ENTRY,
	RT_FUNC_RETURN,
	RT_INST_NEW_START,
	RT_INST_NEW_DONE,
	RT_INST_DEL_START,
	RT_INST_DEL_DONE,
	RT_GC_START,
	RT_GC_DONE,
	RT_IMPORT_START,
	RT_IMPORT_DONE,
	RT_AUDIT,
	RT_LINE, /* 3.8-3.11 built with dtrace had it; its place here is ours */
	RT_CFUNC_ENTRY,
	RT_CFUNC_RETURN,
	RT_STACK_LAYOUT, /* ours: the interpreter's layout for BPF stack walks */
	RT_NPROBES
};

/* Hook families: installed together, while any of their probes is traced. */
enum rt_family { RT_F_FUNC, RT_F_INST, RT_F_GC, RT_F_IMPORT, RT_F_AUDIT, RT_F_LINE,
		 RT_F_CFUNC, RT_F_STACK, RT_NFAMILIES };

/* Our probe i, or NULL when the interpreter has it itself (Debian's dtrace
 * build) and we must not define a second python:NAME. */
extern usdt_probe *usdt__rt_probe[RT_NPROBES];

static inline bool rt_on(int i)
{
	return usdt__rt_probe[i] && usdt_probe_enabled(usdt__rt_probe[i]);
}

/* UTF-8 of a str, or NULL when there is none (not a str, a lone surrogate):
 * tracers get NULL for a name that cannot be encoded, as CPython 3.15 gives
 * them. Never raises, and keeps a pending exception as it was. */
const char *usdt__rt_utf8(PyObject *s);

/* UTF-8 of globals["__name__"] (the module of code running with them), or NULL. */
const char *usdt__rt_module_name(PyObject *globals);

/* Function probes should report code whose module passes the filter. */
bool usdt__rt_module_wanted(PyObject *globals);
extern unsigned usdt__rt_filter_gen; /* bumped when the filter changes */
extern bool usdt__rt_filtered;        /* a module filter is set */

/* Each family: install (0 or -1 with an exception) and remove. */
int usdt__rt_func_install(void);
void usdt__rt_func_remove(void);
int usdt__rt_line_install(void);
void usdt__rt_line_remove(void);
int usdt__rt_cfunc_install(void);
void usdt__rt_cfunc_remove(void);
/* 3.8-3.11: a C function sits in threads' trace or profile slots (line,
 * cfunction, Debian 3.11's entry); refresh puts it back in slots that became
 * free (a profiler stopped). */
bool usdt__rt_slots_in_use(void);
void usdt__rt_slots_refresh(void);
/* Debian 3.11: make the interpreter's own function__entry fire (gh-98894). */
int usdt__rt_nativeentry_install(void);
void usdt__rt_nativeentry_remove(void);
int usdt__rt_gc_install(void);
void usdt__rt_gc_remove(void);
int usdt__rt_inst_install(void);
void usdt__rt_inst_remove(void);
int usdt__rt_import_install(void);
void usdt__rt_import_remove(void);
int usdt__rt_audit_install(void);
void usdt__rt_audit_remove(void);
/* The stack family hooks nothing: while on, our thread fires stack__layout
 * about every 100 ms (without the GIL). */
int usdt__rt_stack_install(void);
void usdt__rt_stack_remove(void);
void usdt__rt_stack_fire(void);
extern volatile bool usdt__rt_stack_on;

/* What is installed now, for tests: adds keys to dict d. */
int usdt__rt_func_state(PyObject *d);
int usdt__rt_obj_state(PyObject *d);
const char *usdt__rt_func_mechanism(void);

#endif
