/*
 * arch.h - what the tests expect of the architecture they run on, written
 * down independently of libusdt's table (libusdt/src/arch.c) so a wrong
 * entry there fails a test instead of agreeing with itself. The facts come
 * from the ABIs and from what gcc's <sys/sdt.h> writes on each architecture.
 */
#ifndef USDT_TEST_ARCH_H
#define USDT_TEST_ARCH_H

#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
/* SysV: six argument registers; at a called stub's entry the return address
 * is at 0(%rsp), so argument 7 is at 8(%rsp). */
static const char *const ta_regs[] = { "%rdi", "%rsi", "%rdx", "%rcx", "%r8", "%r9" };
#define TA_NREGS 6
#define TA_STACK_FMT "%d(%%rsp)"
#define TA_STACK_FIRST 8
/* The default site: nopl 0(%rax,%rax,1); ret. */
static const unsigned char ta_default_stub[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 };
static const unsigned char ta_nop1_stub[] = { 0x90, 0xc3 };
/* Segment alignment: 4 KiB pages only. */
#define TA_PAGE_ALIGN 4096
#define TA_HAS_NOP5 1
#elif defined(__aarch64__)
/* AAPCS64: eight argument registers; the return address is in x30, so the
 * ninth argument is at [sp, 0]. Written with an explicit 0: bcc before
 * iovisor/bcc#5034 (2024) reads "[sp]" as the register, not the memory. */
static const char *const ta_regs[] = { "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7" };
#define TA_NREGS 8
#define TA_STACK_FMT "[sp, %d]"
#define TA_STACK_FIRST 0
/* nop; ret, little-endian words: the only site kind. */
static const unsigned char ta_default_stub[] = { 0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6 };
static const unsigned char ta_nop1_stub[] = { 0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6 };
/* 64 KiB: the largest page size arm64 kernels use, so one image maps on
 * 4K, 16K and 64K kernels alike. */
#define TA_PAGE_ALIGN 65536
#define TA_HAS_NOP5 0
#else
#error "tests/lib/arch.h: no expectations for this architecture"
#endif

/* Operand of argument i (0-based) of a called stub as the note spells it. */
static inline const char *ta_operand(int i, char *buf, size_t len)
{
	if (i < TA_NREGS)
		snprintf(buf, len, "%s", ta_regs[i]);
	else
		snprintf(buf, len, TA_STACK_FMT, TA_STACK_FIRST + 8 * (i - TA_NREGS));
	return buf;
}

/* The argument spec of a stub whose arguments have these note sizes
 * ("-4", "8", ...), as libusdt should write it. */
static inline const char *ta_spec(const char *const *sizes, int n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (int i = 0; i < n && off < len; i++) {
		char op[32];
		off += (size_t)snprintf(buf + off, len - off, "%s%s@%s", i ? " " : "", sizes[i],
					ta_operand(i, op, sizeof(op)));
	}
	return buf;
}

/* The C compiler that builds test libraries for this architecture: the
 * cross compiler when the tests run under emulation (tests/aarch64). */
static inline const char *ta_cc(void)
{
	const char *cc = getenv("USDT_TEST_CC");
	return cc && *cc ? cc : "cc";
}

#endif
