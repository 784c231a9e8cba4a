/*
 * stacks_layout.h - the layout struct python:stack__layout publishes
 * (docs/python-stacks.md; read by view/usdt_view/pystacks.py, whose FIELDS
 * list must follow this order). Every field is a uint64; NONE (all ones)
 * means "this interpreter has no such field". Fields are only ever added at
 * the end, with USDT_STACK_LAYOUT_VERSION bumped.
 */
#ifndef USDT_STACKS_LAYOUT_H
#define USDT_STACKS_LAYOUT_H

#include <stdint.h>

#define USDT_STACK_LAYOUT_MAGIC 0x31594c4b53595055ull /* "UPYSKLY1" little-endian */
#define USDT_STACK_LAYOUT_VERSION 1

enum { USDT_STACK_ARCH_X86_64 = 1, USDT_STACK_ARCH_AARCH64 = 2 };
enum { USDT_STACK_FRAME_OBJECT = 1, /* 3.8-3.10: PyFrameObject chain */
       USDT_STACK_FRAME_INTERP = 2  /* 3.11+: _PyInterpreterFrame chain */ };
enum { USDT_STACK_INSTR_BYTES = 0, /* f_lasti in bytes (3.8, 3.9) */
       USDT_STACK_INSTR_UNITS = 1, /* f_lasti in code units (3.10) */
       USDT_STACK_INSTR_PTR = 2    /* a pointer into co_code_adaptive (3.11+) */ };
enum { USDT_STACK_LINES_LNOTAB = 0, USDT_STACK_LINES_PEP626 = 1,
       USDT_STACK_LINES_LOCATIONS = 2 };

struct usdt_stack_layout {
	uint64_t magic, version, size, py_version, arch;
	uint64_t tp_delta;            /* pthread_self() - thread pointer */
	uint64_t tstate_head;         /* address of the main interpreter's first tstate pointer */
	uint64_t tstate_next, tstate_thread_id;
	uint64_t tstate_frame;        /* tstate->frame / ->cframe / ->current_frame */
	uint64_t cframe_current;      /* 3.11-3.12: cframe->current_frame, else NONE */
	uint64_t frame_kind, frame_previous, frame_code, frame_instr, frame_instr_size;
	uint64_t frame_owner, owner_generator, owner_skip_min, code_tag_mask;
	uint64_t instr_kind, codeunit_size;
	uint64_t ob_type, code_type;
	uint64_t code_adaptive, code_firsttraceable, code_firstlineno;
	uint64_t code_name, code_qualname, code_filename, code_linetable, linetable_kind;
	uint64_t str_type, str_length, str_state, str_kind_mask, str_compact_mask,
		str_ascii_mask, str_ascii_data, str_compact_data;
	uint64_t bytes_type, bytes_size, bytes_data;
};

/* Filled at the first call (with the GIL: it asks for the main interpreter). */
const struct usdt_stack_layout *usdt__stack_layout(void);

#endif
