/*
 * fuzz_notes.c - the ELF note reader (elf_notes.c) on arbitrary bytes,
 * through memory and through a file descriptor: never a crash or an
 * out-of-bounds read; both ways find the same notes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_notes.h"
#include "internal.h"

#define NEED(c) do { if (!(c)) abort(); } while (0)

struct acc {
	uint64_t sum;
	size_t n;
};

static int visit(const struct usdt__note *n, void *ctx)
{
	struct acc *a = ctx;
	/* Every string is terminated and readable. */
	a->sum += strlen(n->provider) * 3 + strlen(n->name) * 5 + strlen(n->args) * 7;
	a->sum += n->pc ^ n->sema;
	a->n++;
	return 0;
}

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct acc m = { 0, 0 }, f = { 0, 0 };
	int rm = usdt__elf_notes_mem(copy, size, visit, &m);
	NEED(rm == 0 || rm == -ENOEXEC || rm == -EINVAL || rm == -ENOMEM || rm == -EIO);
	free(copy);

	if (memfd < 0)
		memfd = memfd_create("fuzz_notes", MFD_CLOEXEC);
	NEED(memfd >= 0 && ftruncate(memfd, 0) == 0);
	NEED(pwrite(memfd, data, size, 0) == (ssize_t)size);
	int rf = usdt__elf_notes_fd(memfd, visit, &f);
	NEED(rf == rm);
	NEED(f.n == m.n && f.sum == m.sum);
	return 0;
}
