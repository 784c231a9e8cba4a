/*
 * arch.c - the architecture table: stub encodings, page size and where each
 * argument sits at the probe address. The rest of libusdt is
 * architecture-neutral and asks usdt__arch_host().
 *
 * A probe site is the first instruction of a tiny stub the fire functions
 * call with the probe's arguments in the ABI's argument registers (and stack
 * slots beyond them). At a function's entry no red zone is live, so the
 * kernel's rewrite of an optimised 5-byte-nop uprobe (a call that pushes on
 * the stack) cannot clobber anything there.
 */
#include <elf.h>

#include "internal.h"

#if defined(__x86_64__)
/* nopl 0x0(%rax,%rax,1); ret */
static const uint8_t x86_64_nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 };
/* nop; ret */
static const uint8_t x86_64_nop1[] = { 0x90, 0xc3 };
static const char *const x86_64_regs[] = { "%rdi", "%rsi", "%rdx", "%rcx", "%r8", "%r9" };

static const struct usdt__arch host_arch = {
	.name = "x86_64",
	.e_machine = EM_X86_64,
	.page_size = 0x1000,
	.stub_nop5 = x86_64_nop5,
	.stub_nop5_len = sizeof(x86_64_nop5),
	.stub_nop1 = x86_64_nop1,
	.stub_nop1_len = sizeof(x86_64_nop1),
	.pad_byte = 0xcc, /* int3 */
	.default_site = USDT_SITE_NOP5,
	.nregs = 6,
	.regs = x86_64_regs,
	.stack_fmt = "%u(%%rsp)",
	.stack_first = 8, /* above the return address */
};
#elif defined(__aarch64__)
/* nop; ret (little-endian words) */
static const uint8_t aarch64_nop1[] = { 0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6 };
static const char *const aarch64_regs[] = { "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7" };

static const struct usdt__arch host_arch = {
	.name = "aarch64",
	.e_machine = EM_AARCH64,
	/* The largest page size arm64 kernels use: aligned to it, one image maps
	 * on 4K, 16K and 64K kernels alike. */
	.page_size = 0x10000,
	.stub_nop5 = NULL,
	.stub_nop5_len = 0,
	.stub_nop1 = aarch64_nop1,
	.stub_nop1_len = sizeof(aarch64_nop1),
	.pad_byte = 0x00, /* udf #0 once words are zero */
	.default_site = USDT_SITE_NOP1,
	.nregs = 8,
	.regs = aarch64_regs,
	/* gcc's <sys/sdt.h> writes the first slot "[sp]"; bcc before
	 * iovisor/bcc#5034 (2024) reads a bare [reg] as the register itself, so
	 * the offset is always written. */
	.stack_fmt = "[sp, %u]",
	.stack_first = 0, /* the return address is in x30, not on the stack */
};
#else
#error "libusdt: no architecture table entry for this target (see arch.c)"
#endif

const struct usdt__arch *usdt__arch_host(void)
{
	return &host_arch;
}
