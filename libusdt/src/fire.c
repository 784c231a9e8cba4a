/*
 * fire.c - the fire functions.
 *
 * Untraced, a fire is a call, two loads and a return: the semaphore is zero.
 * Traced, it counts itself into the provider's in-flight counter, reads the
 * probe's stub address and calls the stub with the arguments where the note
 * says they are; the kernel's uprobe on the stub's first instruction does
 * the rest. The counter lets unload wait for threads still inside the
 * image; it sits on the traced path only, which costs a trap anyway.
 */
#include <errno.h>

#include "provider.h"

#define SEMA(p) (*__atomic_load_n(&(p)->head.sema, __ATOMIC_RELAXED))

static inline void *enter(usdt_probe *p)
{
	atomic_fetch_add_explicit(&p->prov->inflight, 1, memory_order_seq_cst);
	return __atomic_load_n(&p->head.site, __ATOMIC_SEQ_CST);
}

static inline void leave(usdt_probe *p)
{
	atomic_fetch_sub_explicit(&p->prov->inflight, 1, memory_order_release);
}

typedef uint64_t u64;

/* Pn: parameters after p; An: arguments; Cn: arguments after p; Tn: types. */
#define P0
#define P1 , u64 a1
#define P2 P1, u64 a2
#define P3 P2, u64 a3
#define P4 P3, u64 a4
#define P5 P4, u64 a5
#define P6 P5, u64 a6
#define P7 P6, u64 a7
#define P8 P7, u64 a8
#define P9 P8, u64 a9
#define P10 P9, u64 a10
#define P11 P10, u64 a11
#define P12 P11, u64 a12
#define A0
#define A1 a1
#define A2 A1, a2
#define A3 A2, a3
#define A4 A3, a4
#define A5 A4, a5
#define A6 A5, a6
#define A7 A6, a7
#define A8 A7, a8
#define A9 A8, a9
#define A10 A9, a10
#define A11 A10, a11
#define A12 A11, a12
#define C0
#define C1 , a1
#define C2 C1, a2
#define C3 C2, a3
#define C4 C3, a4
#define C5 C4, a5
#define C6 C5, a6
#define C7 C6, a7
#define C8 C7, a8
#define C9 C8, a9
#define C10 C9, a10
#define C11 C10, a11
#define C12 C11, a12
#define T0 void
#define T1 u64
#define T2 T1, u64
#define T3 T2, u64
#define T4 T3, u64
#define T5 T4, u64
#define T6 T5, u64
#define T7 T6, u64
#define T8 T7, u64
#define T9 T8, u64
#define T10 T9, u64
#define T11 T10, u64
#define T12 T11, u64

#define DEFINE_FIRE(n)                                                           \
	__attribute__((noinline, cold)) static void traced##n(usdt_probe *p P##n) \
	{                                                                        \
		void (*site)(T##n) = (void (*)(T##n))enter(p);                   \
		site(A##n);                                                      \
		leave(p);                                                        \
	}                                                                        \
	void usdt_probe_fire##n(usdt_probe *p P##n)                              \
	{                                                                        \
		if (likely(!SEMA(p)))                                            \
			return;                                                  \
		traced##n(p C##n);                                            \
	}

DEFINE_FIRE(0)
DEFINE_FIRE(1)
DEFINE_FIRE(2)
DEFINE_FIRE(3)
DEFINE_FIRE(4)
DEFINE_FIRE(5)
DEFINE_FIRE(6)
DEFINE_FIRE(7)
DEFINE_FIRE(8)
DEFINE_FIRE(9)
DEFINE_FIRE(10)
DEFINE_FIRE(11)
DEFINE_FIRE(12)

int usdt_probe_fire_argv(usdt_probe *p, const uint64_t *v, size_t argc)
{
	if (unlikely(!p || argc != p->argc || (argc && !v)))
		return -EINVAL;
	if (likely(!SEMA(p)))
		return 0;
	switch (argc) {
	case 0: traced0(p); break;
	case 1: traced1(p, v[0]); break;
	case 2: traced2(p, v[0], v[1]); break;
	case 3: traced3(p, v[0], v[1], v[2]); break;
	case 4: traced4(p, v[0], v[1], v[2], v[3]); break;
	case 5: traced5(p, v[0], v[1], v[2], v[3], v[4]); break;
	case 6: traced6(p, v[0], v[1], v[2], v[3], v[4], v[5]); break;
	case 7: traced7(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6]); break;
	case 8: traced8(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]); break;
	case 9: traced9(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]); break;
	case 10: traced10(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]); break;
	case 11: traced11(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]); break;
	case 12: traced12(p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]); break;
	}
	return 0;
}
