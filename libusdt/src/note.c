/*
 * note.c - the .note.stapsdt encoder: one note per probe, as sys/sdt.h lays
 * it out, and the argument spec each note carries.
 *
 *   Elf64_Nhdr { namesz = 8, descsz, type = 3 }
 *   "stapsdt\0"
 *   desc: u64 pc, u64 .stapsdt.base, u64 semaphore,
 *         provider\0 name\0 args\0, padded to 4 bytes
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define NOTE_NAME "stapsdt"
#define NOTE_TYPE 3

static inline size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

size_t usdt__note_size(size_t provider_len, size_t name_len, size_t spec_len)
{
	size_t desc = 24 + provider_len + 1 + name_len + 1 + spec_len + 1;
	return 12 + sizeof(NOTE_NAME) + align4(desc);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

size_t usdt__note_write(uint8_t *dst, uint64_t pc, uint64_t base, uint64_t sema,
			const char *provider, size_t provider_len, const char *name, size_t name_len,
			const char *spec, size_t spec_len)
{
	size_t desc = 24 + provider_len + 1 + name_len + 1 + spec_len + 1;
	uint8_t *p = dst;
	put32(p, sizeof(NOTE_NAME));
	put32(p + 4, (uint32_t)desc);
	put32(p + 8, NOTE_TYPE);
	memcpy(p + 12, NOTE_NAME, sizeof(NOTE_NAME));
	p += 12 + sizeof(NOTE_NAME);
	put64(p, pc);
	put64(p + 8, base);
	put64(p + 16, sema);
	p += 24;
	memcpy(p, provider, provider_len + 1);
	p += provider_len + 1;
	memcpy(p, name, name_len + 1);
	p += name_len + 1;
	memcpy(p, spec, spec_len + 1);
	p += spec_len + 1;
	size_t total = 12 + sizeof(NOTE_NAME) + align4(desc);
	memset(p, 0, (size_t)(dst + total - p));
	return total;
}

int usdt__spec_format(const struct usdt__arch *arch, const uint8_t *types, size_t argc,
		      char *buf, size_t bufsz)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < argc; i++) {
		usdt_type t = (usdt_type)types[i];
		char operand[32];
		if (i < arch->nregs)
			snprintf(operand, sizeof(operand), "%s", arch->regs[i]);
		else
			snprintf(operand, sizeof(operand), arch->stack_fmt,
				 (unsigned)(arch->stack_first + 8 * (i - arch->nregs)));
		int n = snprintf(buf + o, bufsz - o, "%s%s%d@%s", i ? " " : "",
				 usdt__type_signed(t) ? "-" : "", usdt__type_size(t), operand);
		if (n < 0 || (size_t)n >= bufsz - o)
			return -1;
		o += (size_t)n;
	}
	return (int)o;
}
