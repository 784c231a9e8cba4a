/*
 * hooks.h - running C code when Python frames start and end, per CPython
 * version, for fbt.c and runtime*.c. Install hooks only while a tracer is
 * attached: every mechanism here costs nothing until turned on.
 *
 * 3.8-3.11 (USDT_HOOK_EVAL_FRAME): one PEP 523 frame evaluation function,
 *   shared by up to USDT_HOOK_CLIENTS clients. A client registers enter/leave
 *   callbacks once (usdt_hook_client) and turns itself on and off
 *   (usdt_hook_enable); the evaluation function is installed while any client
 *   is on and removed when none is. It chains: it calls the evaluator it was
 *   installed over, and stays as a pass-through if another was installed over
 *   it meanwhile.
 *   enter() runs before a frame starts or resumes (generators and coroutines:
 *   each resume; 3.11's run that only creates a generator is skipped) and
 *   returns true to get leave() for that frame; leave() runs after it returns,
 *   yields or raises (result NULL, exception set: keep it set). Both run with
 *   the GIL, in the frame's thread, and must not leave a new exception.
 *
 * 3.12+ (USDT_HOOK_MONITORING): sys.monitoring helpers. Each client claims its
 *   own tool id (usdt_mon_claim), registers C callbacks (usdt_mon_register,
 *   a PyMethodDef with METH_FASTCALL, called with sys.monitoring's arguments),
 *   sets global or per-code events (usdt_mon_call("set_events", ...)), and
 *   gives the id back (usdt_mon_release) when no tracer is left, so that
 *   sys.monitoring.get_tool(id) shows no trace of us while untraced.
 *
 * All functions need the GIL.
 */
#ifndef USDT_HOOKS_H
#define USDT_HOOKS_H

#include <stdbool.h>
#include "usdt_ext.h"

#if PY_VERSION_HEX < 0x030C0000
#define USDT_HOOK_EVAL_FRAME 1
#else
#define USDT_HOOK_MONITORING 1
#endif

/* Code object extras (per-code pointers for our records). */
#if PY_VERSION_HEX >= 0x030C0000
#define usdt_code_get_extra PyUnstable_Code_GetExtra
#define usdt_code_set_extra PyUnstable_Code_SetExtra
#define usdt_request_extra_index PyUnstable_Eval_RequestCodeExtraIndex
#else
#define usdt_code_get_extra _PyCode_GetExtra
#define usdt_code_set_extra _PyCode_SetExtra
#define usdt_request_extra_index _PyEval_RequestCodeExtraIndex
#endif

#ifdef USDT_HOOK_EVAL_FRAME
#define USDT_HOOK_CLIENTS 4
/* An opaque frame: PyFrameObject (3.8-3.10) or _PyInterpreterFrame (3.11). */
typedef struct usdt_frame usdt_frame;
typedef bool (*usdt_enter_fn)(PyCodeObject *code, usdt_frame *frame);
typedef void (*usdt_leave_fn)(PyCodeObject *code, usdt_frame *frame, PyObject *result);

/* Register a client; returns its id (>= 0) or -1 with an exception. */
int usdt_hook_client(usdt_enter_fn enter, usdt_leave_fn leave);
/* Turn a client on or off; installs or removes the evaluation function. */
void usdt_hook_enable(int client, bool on);
/* True while any client is on (our evaluation function is installed, or
 * chained under another PEP 523 user installed after us). */
bool usdt_hook_installed(void);
/* The i-th positional parameter's current value (borrowed; NULL if unset). */
PyObject *usdt_frame_arg(usdt_frame *frame, int i);
#endif

#ifdef USDT_HOOK_MONITORING
/* The bit of sys.monitoring.events.<name> (the numbering moved in 3.14, which
 * added BRANCH_LEFT/BRANCH_RIGHT before PY_UNWIND and PY_THROW), or -1 with an
 * exception. */
int usdt_mon_event(const char *name);
/* Claim a free tool id (4, 3, 2, 1, 0, 5 in that order). -1 with exception. */
int usdt_mon_claim(const char *name);
/* Unregister every callback, clear global events, free the id. */
int usdt_mon_release(int tool);
/* sys.monitoring.<fn>(*Py_BuildValue(fmt, ...)); 0 or -1 with exception. */
int usdt_mon_call(const char *fn, const char *fmt, ...);
/* Register def (METH_FASTCALL) as tool's callback for one event bit. */
int usdt_mon_register(int tool, int event, PyMethodDef *def);
#endif

#endif
