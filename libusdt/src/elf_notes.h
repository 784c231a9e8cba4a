/*
 * elf_notes.h - reading `.note.stapsdt` probe notes out of an ELF file.
 */
#ifndef USDT_ELF_NOTES_H
#define USDT_ELF_NOTES_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

struct usdt__note {
	const char *provider, *name, *args; /* NUL-terminated, valid during the call */
	uint64_t pc;    /* link-time address of the site, adjusted for .stapsdt.base */
	uint64_t sema;  /* link-time address of the semaphore, 0 if none */
	unsigned ptr_size; /* 4 (ELF32) or 8 (ELF64): the size of a pointer argument */
	bool libusdt_image; /* the file is a libusdt dynamic image (exports __usdt_stubs) */
};

/* Called per note; non-zero stops the walk and is returned. */
typedef int (*usdt__note_fn)(const struct usdt__note *note, void *ctx);

/* Walk the probe notes of the ELF file open on fd (read with pread: the
 * file is never mapped). ELF32 and ELF64, little- and big-endian.
 * Returns 0, what fn returned, -ENOEXEC (not an ELF file), -EINVAL
 * (malformed: a bound is crossed), -ENOMEM or -EIO. Every offset and size is
 * checked against the file, so hostile files are refused, never followed. */
USDT__HIDDEN int usdt__elf_notes_fd(int fd, usdt__note_fn fn, void *ctx);

/* The same over a file in memory (tests and fuzzing): never reads outside
 * data[0..len), never crashes, whatever the bytes. */
USDT__HIDDEN int usdt__elf_notes_mem(const void *data, size_t len, usdt__note_fn fn, void *ctx);

/* The link-time address the file's first loadable segment maps its offset 0
 * to (p_vaddr - p_offset of the first PT_LOAD, page aligned): a process's
 * load bias is the start of the file's offset-0 mapping minus this.
 * 0 or -ENOEXEC, -EINVAL (no PT_LOAD, a bound crossed), -EIO. */
USDT__HIDDEN int usdt__elf_load_base_fd(int fd, uint64_t *base);
USDT__HIDDEN int usdt__elf_load_base_mem(const void *data, size_t len, uint64_t *base);

#endif
