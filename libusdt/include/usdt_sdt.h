/*
 * usdt_sdt.h - static USDT probes, placed at compile time.
 *
 * A static probe is a one-byte nop in the code plus a `.note.stapsdt` note
 * that tells tracers where it is and where its arguments are, in the format
 * of systemtap's <sys/sdt.h>: bpftrace, bcc, perf and gdb read these probes
 * like any other. Each probe has its own semaphore, a counter the kernel
 * raises while a tracer is attached; the probe's arguments are evaluated only
 * then, so an untraced probe costs one load and one branch.
 *
 *   USDT_DEFINE_SEMAPHORE(myapp, request__start);      // at file scope
 *   ...
 *   USDT_PROBE2(myapp, request__start, id, url);       // 0-12 arguments
 *   if (USDT_PROBE_ENABLED(myapp, request__start))     // for costly setup
 *       ...
 *
 * USDT_DEFINE_SEMAPHORE() makes a weak hidden definition, so any number of
 * files of one program or library may define the same semaphore; a probe
 * placed in several places shares it. USDT_DECLARE_SEMAPHORE() only declares
 * it. Either must be at file scope in the global namespace, because the note
 * names the semaphore's symbol. The semaphore is `unsigned short
 * <provider>_<probe>_semaphore` in the section `.probes`, as <sys/sdt.h>.
 *
 * Arguments are integers of 1, 2, 4 or 8 bytes, or pointers (strings are
 * pointers; bpftrace reads them with str()). The note records each
 * argument's size and signedness from its C type, so cast an argument to the
 * type a tracer expects; usdt-gen writes typed macros from a .d file that do
 * this. USDT_PROBE(provider, name, args...) counts the arguments itself, but
 * like any macro taking arguments it expands a provider or probe name that
 * is itself a macro (`linux`, `unix`); USDT_PROBE0..USDT_PROBE12 do not.
 *
 * The argument operands are registers or constants (`-4@%esi`, `8@$0`),
 * which every tracer reads. Define USDT_SDT_ARG_CONSTRAINT to "nor" before
 * including this header if a compiler runs out of registers for 12 arguments.
 */
#ifndef USDT_SDT_H
#define USDT_SDT_H

#ifndef USDT_SDT_ARG_CONSTRAINT
#define USDT_SDT_ARG_CONSTRAINT "nr"
#endif

#if defined(__LP64__) || defined(_LP64)
#define USDT__SDT_ADDR ".8byte "
#else
#define USDT__SDT_ADDR ".4byte "
#endif

/* The semaphore of a probe, as an lvalue; non-zero while traced. */
#define USDT_SEMAPHORE(provider, name) provider##_##name##_semaphore

#define USDT__SDT_SEMA_ATTR __attribute__((section(".probes"), visibility("hidden")))

#define USDT_DECLARE_SEMAPHORE(provider, name) \
	extern volatile unsigned short provider##_##name##_semaphore USDT__SDT_SEMA_ATTR

#define USDT_DEFINE_SEMAPHORE(provider, name)                                           \
	__attribute__((weak, used)) volatile unsigned short provider##_##name##_semaphore \
		USDT__SDT_SEMA_ATTR = 0

/* True while a tracer is attached to the probe. */
#define USDT_PROBE_ENABLED(provider, name) \
	__builtin_expect(provider##_##name##_semaphore != 0, 0)

/*
 * Size and signedness of an argument as the note spells them: 4 for an
 * unsigned int, -4 for an int, 8 for any pointer (arrays and functions decay).
 */
#ifdef __cplusplus
extern "C++" {
template <typename T> struct usdt__sdt_arg {
	enum { size = sizeof(T) * (((T)-1 < (T)1) ? -1 : 1) };
};
template <typename T> struct usdt__sdt_arg<T *> {
	enum { size = sizeof(T *) };
};
/* Never defined: named only in __typeof__, where passing by value decays
 * arrays and functions and drops qualifiers. */
template <typename T> T usdt__sdt_decay(T);
}
#define USDT__SDT_SIZE(x) ((int)usdt__sdt_arg<__typeof__(usdt__sdt_decay(x))>::size)
#else
/* In C a comma expression decays arrays and keeps small integer types. */
#define USDT__SDT_SIGNED(x)                                                           \
	__extension__ _Generic(((void)0, (x)), char : (char)-1 < 0, signed char : 1,   \
			       short : 1, int : 1, long : 1, long long : 1, default : 0)
#define USDT__SDT_SIZE(x) ((int)sizeof((void)0, (x)) * (USDT__SDT_SIGNED(x) ? -1 : 1))
#endif

/* One note per probe site; the site itself is a one-byte nop (a five-byte
 * nop would invite the kernel's uprobe optimisation, which may clobber the
 * red zone of the function around the probe). The "?" flag keeps the note
 * in the section group of the code, so it goes away with a discarded copy
 * of an inline function. `.stapsdt.base` is one byte every object gets once,
 * which tracers use to detect prelink-style moves. */
#define USDT__SDT_ASM(sema, prov, name, spec)                                      \
	"990:\tnop\n"                                                              \
	"\t.pushsection .note.stapsdt,\"?\",\"note\"\n"                            \
	"\t.balign 4\n"                                                            \
	"\t.4byte 992f-991f, 994f-993f, 3\n"                                       \
	"991:\t.asciz \"stapsdt\"\n"                                               \
	"992:\t.balign 4\n"                                                        \
	"993:\t" USDT__SDT_ADDR "990b\n"                                           \
	"\t" USDT__SDT_ADDR "_.stapsdt.base\n"                                     \
	"\t" USDT__SDT_ADDR sema "\n"                                              \
	"\t.asciz \"" prov "\"\n"                                                  \
	"\t.asciz \"" name "\"\n"                                                  \
	"\t.asciz \"" spec "\"\n"                                                  \
	"994:\t.balign 4\n"                                                        \
	"\t.popsection\n"                                                          \
	"\t.ifndef _.stapsdt.base\n"                                               \
	"\t.pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"  \
	"\t.weak _.stapsdt.base\n"                                                 \
	"\t.hidden _.stapsdt.base\n"                                               \
	"_.stapsdt.base:\n"                                                        \
	"\t.space 1\n"                                                             \
	"\t.size _.stapsdt.base, 1\n"                                              \
	"\t.popsection\n"                                                          \
	"\t.endif\n"

/* Names are turned into strings and the semaphore symbol here, at the first
 * level, so that they are never macro-expanded. */
#define USDT__SDT_NAMES(provider, name)                                             \
	provider##_##name##_semaphore, #provider "_" #name "_semaphore", #provider, #name

#define USDT__SDT_SITE(sema, sema_str, prov_str, name_str, spec, ...)                  \
	do {                                                                            \
		if (__builtin_expect(sema != 0, 0))                                     \
			__asm__ __volatile__(USDT__SDT_ASM(sema_str, prov_str, name_str, spec) \
					     : : __VA_ARGS__);                          \
	} while (0)

#define USDT__SDT_SITE0(sema, sema_str, prov_str, name_str)                         \
	do {                                                                        \
		if (__builtin_expect(sema != 0, 0))                                 \
			__asm__ __volatile__(USDT__SDT_ASM(sema_str, prov_str, name_str, "")); \
	} while (0)

#define USDT__SDT_SITE_(args) USDT__SDT_SITE args
#define USDT__SDT_SITE0_(args) USDT__SDT_SITE0 args

/* The operands of argument n: its size as a constant, and its value. */
#define USDT__SDT_OP(n, x) [usdt_s##n] "n"(USDT__SDT_SIZE(x)), [usdt_a##n] USDT_SDT_ARG_CONSTRAINT(x)
#define USDT__SDT_SP(n) "%c[usdt_s" #n "]@%[usdt_a" #n "]"

#define USDT__SDT_SPEC1 USDT__SDT_SP(1)
#define USDT__SDT_SPEC2 USDT__SDT_SPEC1 " " USDT__SDT_SP(2)
#define USDT__SDT_SPEC3 USDT__SDT_SPEC2 " " USDT__SDT_SP(3)
#define USDT__SDT_SPEC4 USDT__SDT_SPEC3 " " USDT__SDT_SP(4)
#define USDT__SDT_SPEC5 USDT__SDT_SPEC4 " " USDT__SDT_SP(5)
#define USDT__SDT_SPEC6 USDT__SDT_SPEC5 " " USDT__SDT_SP(6)
#define USDT__SDT_SPEC7 USDT__SDT_SPEC6 " " USDT__SDT_SP(7)
#define USDT__SDT_SPEC8 USDT__SDT_SPEC7 " " USDT__SDT_SP(8)
#define USDT__SDT_SPEC9 USDT__SDT_SPEC8 " " USDT__SDT_SP(9)
#define USDT__SDT_SPEC10 USDT__SDT_SPEC9 " " USDT__SDT_SP(10)
#define USDT__SDT_SPEC11 USDT__SDT_SPEC10 " " USDT__SDT_SP(11)
#define USDT__SDT_SPEC12 USDT__SDT_SPEC11 " " USDT__SDT_SP(12)

#define USDT__SDT_OPS1(a) USDT__SDT_OP(1, a)
#define USDT__SDT_OPS2(a, b) USDT__SDT_OPS1(a), USDT__SDT_OP(2, b)
#define USDT__SDT_OPS3(a, b, c) USDT__SDT_OPS2(a, b), USDT__SDT_OP(3, c)
#define USDT__SDT_OPS4(a, b, c, d) USDT__SDT_OPS3(a, b, c), USDT__SDT_OP(4, d)
#define USDT__SDT_OPS5(a, b, c, d, e) USDT__SDT_OPS4(a, b, c, d), USDT__SDT_OP(5, e)
#define USDT__SDT_OPS6(a, b, c, d, e, f) USDT__SDT_OPS5(a, b, c, d, e), USDT__SDT_OP(6, f)
#define USDT__SDT_OPS7(a, b, c, d, e, f, g) USDT__SDT_OPS6(a, b, c, d, e, f), USDT__SDT_OP(7, g)
#define USDT__SDT_OPS8(a, b, c, d, e, f, g, h) \
	USDT__SDT_OPS7(a, b, c, d, e, f, g), USDT__SDT_OP(8, h)
#define USDT__SDT_OPS9(a, b, c, d, e, f, g, h, i) \
	USDT__SDT_OPS8(a, b, c, d, e, f, g, h), USDT__SDT_OP(9, i)
#define USDT__SDT_OPS10(a, b, c, d, e, f, g, h, i, j) \
	USDT__SDT_OPS9(a, b, c, d, e, f, g, h, i), USDT__SDT_OP(10, j)
#define USDT__SDT_OPS11(a, b, c, d, e, f, g, h, i, j, k) \
	USDT__SDT_OPS10(a, b, c, d, e, f, g, h, i, j), USDT__SDT_OP(11, k)
#define USDT__SDT_OPS12(a, b, c, d, e, f, g, h, i, j, k, l) \
	USDT__SDT_OPS11(a, b, c, d, e, f, g, h, i, j, k), USDT__SDT_OP(12, l)

/* Place a probe with 0-12 arguments. The arguments are evaluated only while
 * the probe is traced. */
#define USDT_PROBE0(p, n) USDT__SDT_SITE0_((USDT__SDT_NAMES(p, n)))
#define USDT_PROBE1(p, n, a) USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC1, USDT__SDT_OPS1(a)))
#define USDT_PROBE2(p, n, a, b) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC2, USDT__SDT_OPS2(a, b)))
#define USDT_PROBE3(p, n, a, b, c) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC3, USDT__SDT_OPS3(a, b, c)))
#define USDT_PROBE4(p, n, a, b, c, d) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC4, USDT__SDT_OPS4(a, b, c, d)))
#define USDT_PROBE5(p, n, a, b, c, d, e) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC5, USDT__SDT_OPS5(a, b, c, d, e)))
#define USDT_PROBE6(p, n, a, b, c, d, e, f) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC6, USDT__SDT_OPS6(a, b, c, d, e, f)))
#define USDT_PROBE7(p, n, a, b, c, d, e, f, g) \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC7, USDT__SDT_OPS7(a, b, c, d, e, f, g)))
#define USDT_PROBE8(p, n, a, b, c, d, e, f, g, h)                \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC8, \
			 USDT__SDT_OPS8(a, b, c, d, e, f, g, h)))
#define USDT_PROBE9(p, n, a, b, c, d, e, f, g, h, i)             \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC9, \
			 USDT__SDT_OPS9(a, b, c, d, e, f, g, h, i)))
#define USDT_PROBE10(p, n, a, b, c, d, e, f, g, h, i, j)          \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC10, \
			 USDT__SDT_OPS10(a, b, c, d, e, f, g, h, i, j)))
#define USDT_PROBE11(p, n, a, b, c, d, e, f, g, h, i, j, k)       \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC11, \
			 USDT__SDT_OPS11(a, b, c, d, e, f, g, h, i, j, k)))
#define USDT_PROBE12(p, n, a, b, c, d, e, f, g, h, i, j, k, l)    \
	USDT__SDT_SITE_((USDT__SDT_NAMES(p, n), USDT__SDT_SPEC12, \
			 USDT__SDT_OPS12(a, b, c, d, e, f, g, h, i, j, k, l)))

/* USDT_PROBE(provider, name, args...): USDT_PROBEn for n arguments. */
#define USDT__SDT_CAT(a, b) USDT__SDT_CAT_(a, b)
#define USDT__SDT_CAT_(a, b) a##b
#define USDT__SDT_NARG(...) \
	USDT__SDT_NARG_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, x, x)
#define USDT__SDT_NARG_(_p, _n, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define USDT_PROBE(...) USDT__SDT_CAT(USDT_PROBE, USDT__SDT_NARG(__VA_ARGS__))(__VA_ARGS__)

#endif /* USDT_SDT_H */
