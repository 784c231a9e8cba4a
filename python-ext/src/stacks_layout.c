/*
 * stacks_layout.c - the running interpreter's memory layout, for a BPF
 * program that walks Python stacks (view/usdt_view/pystacks.py).
 *
 * Built with Py_BUILD_CORE against CPython's internal headers, so every
 * offset is the compiler's offsetof() of the very interpreter we are built
 * for: nothing is guessed at run time. Kept in a file of its own because
 * Py_BUILD_CORE changes the meaning of public macros.
 *
 * The struct is published through python:stack__layout(layout, size,
 * version) while a tracer has that probe enabled (runtime.c). Its format is
 * docs/python-stacks.md's: every field a uint64, in this order; a reader
 * checks magic, version and size before trusting anything.
 */
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1 /* before Python.h: it changes what Python.h defines */
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x030E0000
#include <internal/pycore_interp_structs.h>
#include <internal/pycore_interpframe_structs.h>
#include <internal/pycore_stackref.h>
#elif PY_VERSION_HEX >= 0x030B0000
#include <internal/pycore_frame.h>
#include <internal/pycore_interp.h>
#elif PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_interp.h>
#include <frameobject.h>
#else
#include <internal/pycore_pystate.h>
#include <frameobject.h>
#endif

#include "stacks_layout.h"

#define NONE UINT64_MAX

static struct usdt_stack_layout layout;

/* Bit mask of a one-field bitfield assignment inside PyASCIIObject.state,
 * as a 32-bit little/big-endian-agnostic word read at the state's offset. */
#define STATE_MASK(field, value)                                                   \
	({                                                                          \
		PyASCIIObject o_;                                                   \
		uint32_t w_ = 0;                                                    \
		memset(&o_, 0, sizeof(o_));                                         \
		o_.state.field = (value);                                           \
		memcpy(&w_, (char *)&o_ + offsetof(PyASCIIObject, state), sizeof(w_)); \
		(uint64_t)w_;                                                       \
	})

static uint64_t thread_pointer(void)
{
	return (uint64_t)(uintptr_t)__builtin_thread_pointer();
}

const struct usdt_stack_layout *usdt__stack_layout(void)
{
	struct usdt_stack_layout *l = &layout;
	if (l->magic == USDT_STACK_LAYOUT_MAGIC)
		return l;
	memset(l, 0xff, sizeof(*l)); /* every field not set below reads "none" */
	l->magic = USDT_STACK_LAYOUT_MAGIC;
	l->version = USDT_STACK_LAYOUT_VERSION;
	l->size = sizeof(*l);
	l->py_version = PY_VERSION_HEX;
#if defined(__x86_64__)
	l->arch = USDT_STACK_ARCH_X86_64;
#elif defined(__aarch64__)
	l->arch = USDT_STACK_ARCH_AARCH64;
#else
	l->arch = 0;
#endif
	/* glibc: pthread_self() is the thread's TCB; on x86-64 the TCB is where
	 * fs points (delta 0), on aarch64 it sits below tpidr_el0. */
	l->tp_delta = (uint64_t)(uintptr_t)pthread_self() - thread_pointer();

	PyInterpreterState *interp = PyInterpreterState_Main();
#if PY_VERSION_HEX >= 0x030B0000
	l->tstate_head = (uint64_t)(uintptr_t)&interp->threads.head;
#else
	l->tstate_head = (uint64_t)(uintptr_t)&interp->tstate_head;
#endif
	l->tstate_next = offsetof(PyThreadState, next);
	l->tstate_thread_id = offsetof(PyThreadState, thread_id);

	l->ob_type = offsetof(PyObject, ob_type);
	l->code_type = (uint64_t)(uintptr_t)&PyCode_Type;
	l->code_firstlineno = offsetof(PyCodeObject, co_firstlineno);
	l->code_name = offsetof(PyCodeObject, co_name);
	l->code_filename = offsetof(PyCodeObject, co_filename);
	l->owner_generator = NONE;
	l->owner_skip_min = NONE;
	l->code_tag_mask = 0;

#if PY_VERSION_HEX >= 0x030B0000
	/* _PyInterpreterFrame: code, previous, the instruction pointer into
	 * co_code_adaptive, owner. */
	l->frame_kind = USDT_STACK_FRAME_INTERP;
#if PY_VERSION_HEX >= 0x030D0000
	l->tstate_frame = offsetof(PyThreadState, current_frame);
	l->cframe_current = NONE;
	l->frame_code = offsetof(struct _PyInterpreterFrame, f_executable);
	l->frame_instr = offsetof(struct _PyInterpreterFrame, instr_ptr);
#else
	l->tstate_frame = offsetof(PyThreadState, cframe);
	l->cframe_current = offsetof(_PyCFrame, current_frame);
	l->frame_code = offsetof(struct _PyInterpreterFrame, f_code);
	l->frame_instr = offsetof(struct _PyInterpreterFrame, prev_instr);
#endif
	l->frame_previous = offsetof(struct _PyInterpreterFrame, previous);
	l->frame_owner = offsetof(struct _PyInterpreterFrame, owner);
	l->frame_instr_size = sizeof(_Py_CODEUNIT *);
	l->instr_kind = USDT_STACK_INSTR_PTR;
	l->owner_generator = FRAME_OWNED_BY_GENERATOR;
#if PY_VERSION_HEX >= 0x030E0000
	l->owner_skip_min = FRAME_OWNED_BY_INTERPRETER; /* and CSTACK above it */
	l->code_tag_mask = Py_TAG_BITS;
#elif PY_VERSION_HEX >= 0x030C0000
	l->owner_skip_min = FRAME_OWNED_BY_CSTACK;
#endif
	l->code_adaptive = offsetof(PyCodeObject, co_code_adaptive);
	l->code_firsttraceable = offsetof(PyCodeObject, _co_firsttraceable);
	l->code_qualname = offsetof(PyCodeObject, co_qualname);
	l->code_linetable = offsetof(PyCodeObject, co_linetable);
	l->linetable_kind = USDT_STACK_LINES_LOCATIONS;
	l->codeunit_size = sizeof(_Py_CODEUNIT);
#else
	/* PyFrameObject: f_back, f_code, f_lasti (an int). */
	l->frame_kind = USDT_STACK_FRAME_OBJECT;
	l->tstate_frame = offsetof(PyThreadState, frame);
	l->cframe_current = NONE;
	l->frame_previous = offsetof(PyFrameObject, f_back);
	l->frame_code = offsetof(PyFrameObject, f_code);
	l->frame_instr = offsetof(PyFrameObject, f_lasti);
	l->frame_instr_size = sizeof(((PyFrameObject *)0)->f_lasti);
	l->frame_owner = NONE;
	l->code_adaptive = NONE;
	l->code_firsttraceable = NONE;
	l->code_qualname = NONE;
	l->codeunit_size = sizeof(_Py_CODEUNIT);
#if PY_VERSION_HEX >= 0x030A0000
	l->instr_kind = USDT_STACK_INSTR_UNITS; /* f_lasti counts code units */
	l->code_linetable = offsetof(PyCodeObject, co_linetable);
	l->linetable_kind = USDT_STACK_LINES_PEP626;
#else
	l->instr_kind = USDT_STACK_INSTR_BYTES; /* f_lasti counts bytes */
	l->code_linetable = offsetof(PyCodeObject, co_lnotab);
	l->linetable_kind = USDT_STACK_LINES_LNOTAB;
#endif
#endif

	l->str_type = (uint64_t)(uintptr_t)&PyUnicode_Type;
	l->str_length = offsetof(PyASCIIObject, length);
	l->str_state = offsetof(PyASCIIObject, state);
	l->str_kind_mask = STATE_MASK(kind, 7);
	l->str_compact_mask = STATE_MASK(compact, 1);
	l->str_ascii_mask = STATE_MASK(ascii, 1);
	l->str_ascii_data = sizeof(PyASCIIObject);
	l->str_compact_data = sizeof(PyCompactUnicodeObject);
	l->bytes_type = (uint64_t)(uintptr_t)&PyBytes_Type;
	l->bytes_size = offsetof(PyVarObject, ob_size);
	l->bytes_data = offsetof(PyBytesObject, ob_sval);
	return l;
}
