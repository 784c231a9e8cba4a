/*
 * alloc.c - the library's allocator. Every allocation passes here so a test
 * build can make the Nth one fail (USDT_FAULT_ALLOC=N, with -DUSDT_FAULTS)
 * and prove each error path frees what it took.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#ifdef USDT_FAULTS
#include <errno.h>
static long fault_countdown = -1;
static int fault_init;

static int fault_hit(void)
{
	if (!fault_init) {
		const char *s = getenv("USDT_FAULT_ALLOC");
		fault_countdown = s ? atol(s) : -1;
		fault_init = 1;
	}
	if (fault_countdown < 0)
		return 0;
	if (fault_countdown-- == 0) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}
#define FAULT() fault_hit()

/* Tests: fail the allocation n calls from now (-1: never); returns how many
 * allocations were left before the previous setting would have failed. */
long usdt__fault_set(long n);
long usdt__fault_set(long n)
{
	long left = fault_countdown;
	fault_init = 1;
	fault_countdown = n;
	return left;
}
#else
#define FAULT() 0
#endif

void *usdt__malloc(size_t n)
{
	return FAULT() ? NULL : malloc(n);
}

void *usdt__calloc(size_t n, size_t sz)
{
	return FAULT() ? NULL : calloc(n, sz);
}

void *usdt__realloc(void *p, size_t n)
{
	return FAULT() ? NULL : realloc(p, n);
}

char *usdt__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = usdt__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void usdt__free(void *p)
{
	free(p);
}

/* Large blocks for arenas: mapped and populated in one system call, which
 * in a VM costs a fraction of taking one page fault per page later. */
void *usdt__pages_alloc(size_t n)
{
	if (FAULT())
		return NULL;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void usdt__pages_free(void *p, size_t n)
{
	if (p)
		munmap(p, n);
}

/* Blocks whose size is known at free time: populated pages when large. */
#define BIG_BLOCK (64 * 1024)

void *usdt__block_alloc(size_t n)
{
	return n >= BIG_BLOCK ? usdt__pages_alloc(n) : usdt__malloc(n);
}

void usdt__block_free(void *p, size_t n)
{
	if (n >= BIG_BLOCK)
		usdt__pages_free(p, n);
	else
		usdt__free(p);
}
