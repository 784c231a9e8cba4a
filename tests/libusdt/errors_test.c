/*
 * errors_test.c - every misuse gets its own error code and a message naming
 * what was wrong, never a crash; failed calls leave nothing behind.
 */
#include <malloc.h>

#include "arch.h"
#include "testlib.h"
#include "tracer.h"
#include "usdt.h"

#define CHECK_ERRNO_NULL(expr, e)                                                   \
	do {                                                                        \
		errno = 0;                                                          \
		void *r_ = (void *)(expr);                                          \
		CHECK_MSG(r_ == NULL, "%s succeeded", #expr);                       \
		CHECK_MSG(errno == (e), "%s: errno %d, expected %d (%s)", #expr, errno, e, \
			  usdt_errmsg());                                           \
	} while (0)

TEST(provider_names_are_validated)
{
	char longname[100];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_ERRNO_NULL(usdt_provider_new(NULL), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new(""), EINVAL);
	CHECK(strstr(usdt_errmsg(), "empty"));
	CHECK_ERRNO_NULL(usdt_provider_new("has space"), EINVAL);
	CHECK(strstr(usdt_errmsg(), "invalid character ' ' at offset 3"));
	CHECK_ERRNO_NULL(usdt_provider_new("a/b"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new("../etc"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new("9lives"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new("a-b"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new("quo\"te"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new("ctl\x01"), EINVAL);
	CHECK(strstr(usdt_errmsg(), "\\x01"));
	CHECK_ERRNO_NULL(usdt_provider_new("caf\xc3\xa9"), EINVAL);
	CHECK_ERRNO_NULL(usdt_provider_new(longname), EINVAL);
	CHECK(strstr(usdt_errmsg(), "longer than 64"));
	longname[64] = 0;
	usdt_provider *p = usdt_provider_new(longname);
	CHECK(p != NULL);
	usdt_provider_free(p);
	CHECK_EQ_INT(usdt_name_check("ok_name9"), 0);
	CHECK_EQ_INT(usdt_name_check("no way"), -EINVAL);
}

TEST(ten_megabyte_name_is_rejected_quickly)
{
	size_t n = 10 * 1024 * 1024;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = 0;
	CHECK_ERRNO_NULL(usdt_provider_new(big), EINVAL);
	CHECK(strlen(usdt_errmsg()) < 512);
	usdt_provider *p = usdt_provider_new("bigprobe");
	CHECK_ERRNO_NULL(usdt_probe_new(p, big, NULL, 0), EINVAL);
	usdt_provider_free(p);
	free(big);
}

TEST(probe_definitions_are_validated)
{
	usdt_provider *p = usdt_provider_new("validate");
	usdt_type t13[13];
	for (int i = 0; i < 13; i++)
		t13[i] = USDT_INT64;
	CHECK_ERRNO_NULL(usdt_probe_new(p, "thirteen", t13, 13), E2BIG);
	CHECK(strstr(usdt_errmsg(), "13 arguments"));
	CHECK(usdt_probe_new(p, "twelve", t13, 12));
	usdt_type bad[] = { USDT_INT64, (usdt_type)99 };
	CHECK_ERRNO_NULL(usdt_probe_new(p, "badtype", bad, 2), EINVAL);
	CHECK(strstr(usdt_errmsg(), "argument 2"));
	usdt_type none[] = { USDT_TYPE_NONE };
	CHECK_ERRNO_NULL(usdt_probe_new(p, "nonetype", none, 1), EINVAL);
	CHECK_ERRNO_NULL(usdt_probe_new(p, "nulltypes", NULL, 2), EINVAL);
	CHECK_ERRNO_NULL(usdt_probe_new(NULL, "x", NULL, 0), EINVAL);
	CHECK_ERRNO_NULL(usdt_probe_new(p, "bad name", NULL, 0), EINVAL);
	CHECK(usdt_probe_new(p, "dup", NULL, 0));
	CHECK_ERRNO_NULL(usdt_probe_new(p, "dup", NULL, 0), EEXIST);
	CHECK(strstr(usdt_errmsg(), "already has a probe named \"dup\""));
	CHECK_ERRNO_NULL(usdt_probe_new_sig(p, "sig1", "int, floaty"), EINVAL);
	CHECK(strstr(usdt_errmsg(), "argument 2: unknown type \"floaty\""));
	CHECK_ERRNO_NULL(usdt_probe_new_sig(p, "sig2", "int,,int"), EINVAL);
	CHECK_ERRNO_NULL(usdt_probe_new_sig(p, "sig3", "unsigned signed int"), EINVAL);
	CHECK_ERRNO_NULL(usdt_probe_new_sig(p, "sig4",
					    "int,int,int,int,int,int,int,int,int,int,int,int,int"),
			 E2BIG);
	CHECK(usdt_probe_new_sig(p, "sigok", " const char * , unsigned long long, void*, bool "));
	usdt_probe *v = usdt_probe_new_sig(p, "voidsig", "void");
	CHECK(v && usdt_probe_argc(v) == 0);
	CHECK_EQ_INT(usdt_provider_probe_count(p), 4);
	usdt_provider_free(p);
}

TEST(type_names_parse_like_c)
{
	CHECK_EQ_INT(usdt_type_parse("int"), USDT_INT32);
	CHECK_EQ_INT(usdt_type_parse("unsigned"), USDT_UINT32);
	CHECK_EQ_INT(usdt_type_parse("long"), USDT_INT64);
	CHECK_EQ_INT(usdt_type_parse("unsigned long long int"), USDT_UINT64);
	CHECK_EQ_INT(usdt_type_parse("signed char"), USDT_INT8);
	CHECK_EQ_INT(usdt_type_parse("char"), USDT_INT8);
	CHECK_EQ_INT(usdt_type_parse("short"), USDT_INT16);
	CHECK_EQ_INT(usdt_type_parse("uint16_t"), USDT_UINT16);
	CHECK_EQ_INT(usdt_type_parse("const char *"), USDT_STRING);
	CHECK_EQ_INT(usdt_type_parse("char*"), USDT_STRING);
	CHECK_EQ_INT(usdt_type_parse("struct foo *"), USDT_POINTER);
	CHECK_EQ_INT(usdt_type_parse("char **"), USDT_POINTER);
	CHECK_EQ_INT(usdt_type_parse("void *"), USDT_POINTER);
	CHECK_EQ_INT(usdt_type_parse("size_t"), USDT_UINT64);
	CHECK_EQ_INT(usdt_type_parse("uintptr_t"), USDT_UINT64);
	CHECK_EQ_INT(usdt_type_parse("void"), USDT_TYPE_NONE);
	CHECK_EQ_INT(usdt_type_parse("float"), USDT_TYPE_NONE);
	CHECK_EQ_INT(usdt_type_parse("long short"), USDT_TYPE_NONE);
	CHECK_EQ_INT(usdt_type_parse(""), USDT_TYPE_NONE);
	CHECK_EQ_INT(usdt_type_parse(NULL), USDT_TYPE_NONE);
	CHECK_STREQ(usdt_type_name(USDT_UINT32), "uint32_t");
	CHECK_STREQ(usdt_type_name((usdt_type)77), "invalid");
}

TEST(lifecycle_misuse_is_reported)
{
	usdt_provider *p = usdt_provider_new("misuse");
	CHECK_EQ_INT(usdt_provider_load(p), -ENOENT);
	CHECK(strstr(usdt_errmsg(), "no probes"));
	CHECK_EQ_INT(usdt_provider_unload(p), -EALREADY);
	usdt_probe *a = usdt_probe_new_sig(p, "a", "int");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_EQ_INT(usdt_provider_load(p), -EALREADY);
	CHECK_ERRNO_NULL(usdt_probe_new_sig(p, "b", "int"), EBUSY);
	uint64_t v[2] = { 1, 2 };
	CHECK_EQ_INT(usdt_probe_fire_argv(a, v, 2), -EINVAL);
	CHECK_EQ_INT(usdt_probe_fire_argv(a, v, 1), 0);
	CHECK_EQ_INT(usdt_probe_fire_argv(NULL, v, 1), -EINVAL);
	CHECK_EQ_INT(usdt_provider_unload(p), 0);
	CHECK_EQ_INT(usdt_provider_unload(p), -EALREADY);
	/* After unload a probe is a valid, disabled, harmless object. */
	CHECK(!usdt_probe_enabled(a));
	usdt_probe_fire1(a, 5);
	CHECK(usdt_provider_path(p) == NULL);
	CHECK(usdt_probe_address(a) == 0);
	CHECK_EQ_INT(usdt_provider_load(NULL), -EINVAL);
	CHECK_EQ_INT(usdt_provider_unload(NULL), -EINVAL);
	CHECK_EQ_INT(usdt_provider_watch(NULL, NULL, NULL), -EINVAL);
	usdt_provider_free(p);
	usdt_provider_free(NULL);
}

TEST(lookups_and_getters)
{
	usdt_provider *p = usdt_provider_new("getters");
	usdt_probe *a = usdt_probe_new_sig(p, "alpha", "int8_t, uint64_t");
	usdt_probe *b = usdt_probe_new_sig(p, "beta", "");
	CHECK(usdt_provider_probe(p, "alpha") == a);
	CHECK(usdt_provider_probe(p, "beta") == b);
	CHECK_ERRNO_NULL(usdt_provider_probe(p, "gamma"), ENOENT);
	CHECK(usdt_provider_probe_at(p, 1) == b);
	CHECK_ERRNO_NULL(usdt_provider_probe_at(p, 2), ERANGE);
	CHECK_STREQ(usdt_probe_name(a), "alpha");
	CHECK(usdt_probe_provider(a) == p);
	CHECK_EQ_INT(usdt_probe_argc(a), 2);
	CHECK_EQ_INT(usdt_probe_arg_type(a, 0), USDT_INT8);
	CHECK_EQ_INT(usdt_probe_arg_type(a, 1), USDT_UINT64);
	CHECK_EQ_INT(usdt_probe_arg_type(a, 2), USDT_TYPE_NONE);
	char want[64];
	static const char *const sizes[] = { "-1", "8" };
	CHECK_STREQ(usdt_probe_arg_spec(a), ta_spec(sizes, 2, want, sizeof(want)));
	CHECK_STREQ(usdt_provider_name(p), "getters");
	CHECK(!usdt_provider_is_loaded(p));
	usdt_provider_free(p);
}

TEST(options_are_validated)
{
	struct usdt_provider_opts o = { .sz = 3 };
	CHECK_ERRNO_NULL(usdt_provider_new_opts("opts", &o), EINVAL);
	o = (struct usdt_provider_opts){ .sz = sizeof(o), .site = (usdt_site)9 };
	CHECK_ERRNO_NULL(usdt_provider_new_opts("opts", &o), EINVAL);
	o = (struct usdt_provider_opts){ .sz = sizeof(o), .storage = (usdt_storage)9 };
	CHECK_ERRNO_NULL(usdt_provider_new_opts("opts", &o), EINVAL);
	/* A larger struct from a newer header is fine if the tail is zero. */
	struct {
		struct usdt_provider_opts o;
		long future;
	} big = { { .sz = sizeof(big) }, 0 };
	usdt_provider *p = usdt_provider_new_opts("opts", &big.o);
	CHECK(p);
	usdt_provider_free(p);
}

TEST(strerror_describes_every_code)
{
	int codes[] = { EINVAL, E2BIG, EEXIST, EBUSY, EALREADY, ENOENT, ENOMEM, ENOSPC, EACCES };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		CHECK(strlen(usdt_strerror(-codes[i])) > 5);
		CHECK_STREQ(usdt_strerror(-codes[i]), usdt_strerror(codes[i]));
	}
	CHECK(strstr(usdt_strerror(-E2BIG), "12"));
	CHECK_STREQ(usdt_strerror(0), "success");
}

static int logged;
static void count_log(int level, const char *msg, void *ctx)
{
	(void)level;
	(void)msg;
	(*(int *)ctx)++;
}

TEST(library_logs_only_through_the_callback)
{
	usdt_set_log(count_log, &logged);
	CHECK(!usdt_provider_new("bad name"));
	CHECK(logged > 0);
	usdt_set_log(NULL, NULL);
	int before = logged;
	CHECK(!usdt_provider_new("bad name"));
	CHECK_EQ_INT(logged, before);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks;
}

TEST(errors_and_cycles_leak_nothing)
{
	/* Warm-up rounds let the C library's own caches (dlopen, stdio) settle;
	 * then 1000 more rounds must not grow the heap or the fd table. */
	int fds = 0;
	size_t heap = 0;
	for (int i = 0; i < 1200; i++) {
		if (i == 200) {
			fds = tr_count_fds();
			heap = heap_in_use();
		}
		usdt_provider *p = usdt_provider_new("leakcheck");
		usdt_probe_new_sig(p, "a", "int, char *");
		usdt_probe_new_sig(p, "a", "int");          /* EEXIST */
		usdt_probe_new_sig(p, "b", "nonsense");     /* EINVAL */
		usdt_provider_load(p);
		usdt_provider_load(p);                      /* EALREADY */
		usdt_probe_new_sig(p, "c", "int");          /* EBUSY */
		usdt_provider_unload(p);
		usdt_provider_load(p);                      /* revives */
		usdt_provider_free(p);
		usdt_provider_free(usdt_provider_new("bad name"));
	}
	CHECK_EQ_INT(tr_count_fds(), fds);
	size_t after = heap_in_use();
	CHECK_MSG(after <= heap + 4096, "heap grew from %zu to %zu bytes", heap, after);
}

TEST_MAIN()
