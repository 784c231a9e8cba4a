/*
 * dparse_test.c - providers from DTrace .d text: what parses into which
 * probes and types, what each kind of bad input says (file:line:col), and a
 * provider defined in .d text traced by bpftrace.
 */
#include <errno.h>
#include <stdint.h>

#include "testlib.h"
#include "tracer.h"
#include "usdt.h"
#include "dparse.h"

#define D(s) s, sizeof(s) - 1

static usdt_provider *parse(const char *text, const char *prov)
{
	return usdt_provider_from_d(text, strlen(text), "t.d", prov, NULL);
}

/* The message of a failing parse, or "" if it parsed. */
static const char *error_of(const char *text, int want_errno)
{
	errno = 0;
	usdt_provider *p = parse(text, NULL);
	if (p) {
		usdt_provider_free(p);
		return "";
	}
	if (errno != want_errno)
		return "(wrong errno)";
	return usdt_errmsg();
}

TEST(every_type_comments_pragmas_and_names_parse)
{
	static const char text[] =
		"#pragma D attributes Evolving/Evolving/Common provider app provider\n"
		"/* a C comment\n   over lines */\n"
		"provider app {\n"
		"  // a C++ comment\n"
		"  probe ints(int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t,\n"
		"             char, unsigned char, short, unsigned short);\n"
		"  probe more(int a, unsigned int b, long c, unsigned long d, long long e,\n"
		"             unsigned long long f, size_t g, ssize_t h, uintptr_t i, pid_t j, bool k);\n"
		"  probe ptrs(char *s, const char *t, string u, void *v, struct foo *w, int **x);\n"
		"  probe none();\n"
		"  probe also_none(void);\n"
		"  probe request__start(int64_t id, char *url);\n"
		"};\n";
	usdt_provider *p = usdt_provider_from_d(D(text), "app.d", NULL, NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_STREQ(usdt_provider_name(p), "app");
	CHECK_EQ_INT((int)usdt_provider_probe_count(p), 6);
	static const usdt_type ints[] = { USDT_INT8, USDT_UINT8, USDT_INT16, USDT_UINT16,
					  USDT_INT32, USDT_UINT32, USDT_INT64, USDT_UINT64,
					  USDT_INT8, USDT_UINT8, USDT_INT16, USDT_UINT16 };
	static const usdt_type more[] = { USDT_INT32, USDT_UINT32, USDT_INT64, USDT_UINT64,
					  USDT_INT64, USDT_UINT64, USDT_UINT64, USDT_INT64,
					  USDT_UINT64, USDT_INT32, USDT_UINT8 };
	static const usdt_type ptrs[] = { USDT_STRING, USDT_STRING, USDT_STRING,
					  USDT_POINTER, USDT_POINTER, USDT_POINTER };
	usdt_probe *pr = usdt_provider_probe(p, "ints");
	CHECK_EQ_INT((int)usdt_probe_argc(pr), 12);
	for (size_t i = 0; i < 12; i++)
		CHECK_MSG(usdt_probe_arg_type(pr, i) == ints[i], "ints arg %zu is %s", i,
			  usdt_type_name(usdt_probe_arg_type(pr, i)));
	pr = usdt_provider_probe(p, "more");
	CHECK_EQ_INT((int)usdt_probe_argc(pr), 11);
	for (size_t i = 0; i < 11; i++)
		CHECK_MSG(usdt_probe_arg_type(pr, i) == more[i], "more arg %zu is %s", i,
			  usdt_type_name(usdt_probe_arg_type(pr, i)));
	pr = usdt_provider_probe(p, "ptrs");
	for (size_t i = 0; i < 6; i++)
		CHECK_MSG(usdt_probe_arg_type(pr, i) == ptrs[i], "ptrs arg %zu is %s", i,
			  usdt_type_name(usdt_probe_arg_type(pr, i)));
	CHECK_EQ_INT((int)usdt_probe_argc(usdt_provider_probe(p, "none")), 0);
	CHECK_EQ_INT((int)usdt_probe_argc(usdt_provider_probe(p, "also_none")), 0);
	CHECK(usdt_provider_probe(p, "request__start")); /* names keep their "__" */
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	usdt_provider_free(p);
}

TEST(comments_and_line_breaks_inside_arguments_and_long_names)
{
	char name[400];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	char text[1000];
	snprintf(text, sizeof(text),
		 "provider p {\n"
		 "  probe x(int /* count */ n, unsigned // width\n"
		 "          long\n#pragma ignored\n   m, bool b, _Bool c, uint8_t d,\n"
		 "          const char /* c */ * s, int %s);\n"
		 "};\n", name);
	struct usdt__d_file f;
	int err = usdt__d_parse(text, strlen(text), "t.d", &f);
	CHECK_MSG(err == 0, "%s", usdt_errmsg());
	CHECK_EQ_INT((int)f.nprovs, 1);
	const struct usdt__d_probe *pr = &f.provs[0].probes[0];
	static const usdt_type want[] = { USDT_INT32, USDT_UINT64, USDT_UINT8, USDT_UINT8,
					  USDT_UINT8, USDT_STRING, USDT_INT32 };
	CHECK_EQ_INT((int)pr->argc, 7);
	for (unsigned i = 0; i < pr->argc; i++)
		CHECK_MSG(pr->types[i] == want[i], "arg %u is %s", i, usdt_type_name(pr->types[i]));
	/* usdt-gen makes bool arguments 0 or 1; uint8_t ones stay as passed. */
	CHECK_EQ_INT((int)pr->bool_args, 0x0c);
	usdt__d_free(&f);
	/* A long name after a type that is not one: the message shows the start. */
	snprintf(text, sizeof(text), "provider p { probe x(int %s z); };", name);
	CHECK(!parse(text, NULL));
	CHECK_MSG(!strncmp(usdt_errmsg(), "t.d:1:22: unknown type 'int nnnnnnnnnn", 38) &&
			  strstr(usdt_errmsg(), "n...' (expected"),
		  "%s", usdt_errmsg());
}

TEST(one_provider_is_chosen_from_several)
{
	static const char text[] = "provider a { probe x(int); };\nprovider b { probe y(); probe z(); }\n";
	usdt_provider *p = usdt_provider_from_d(D(text), "two.d", "b", NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_EQ_INT((int)usdt_provider_probe_count(p), 2);
	usdt_provider_free(p);
	errno = 0;
	CHECK(!usdt_provider_from_d(D(text), "two.d", NULL, NULL));
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_STREQ(usdt_errmsg(), "two.d defines 2 providers; name the one to use");
	CHECK(!usdt_provider_from_d(D(text), "two.d", "c", NULL));
	CHECK_EQ_INT(errno, ENOENT);
	CHECK_STREQ(usdt_errmsg(), "two.d defines no provider \"c\"");
}

TEST(each_bad_input_names_line_column_and_what_was_expected)
{
	static const struct {
		const char *text;
		int err;
		const char *msg;
	} cases[] = {
		{ "", EINVAL, "t.d: no provider defined" },
		{ "probe x();", EINVAL, "t.d:1:1: expected 'provider', found 'probe'" },
		{ "provider { }", EINVAL, "t.d:1:10: expected a provider name after 'provider', found '{'" },
		{ "provider p\n  probe x();", EINVAL, "t.d:2:3: expected '{' after the provider name, found 'probe'" },
		{ "provider p {\n  probe x(int)\n};", EINVAL,
		  "t.d:3:1: expected ';' after the probe declaration, found '}'" },
		{ "provider p {\n  probe x(int, );\n};", EINVAL, "t.d:2:16: expected an argument type, found ')'" },
		{ "provider p {\n  probe x(float f);\n};", EINVAL,
		  "t.d:2:11: unknown type 'float f' (expected an integer type, char *, string or a pointer)" },
		{ "provider p {\n  probe x(int a b c);\n};", EINVAL,
		  "t.d:2:11: unknown type 'int a b c' (expected an integer type, char *, string or a pointer)" },
		{ "provider p {\n  probe x(int;\n};", EINVAL, "t.d:2:14: expected ',' or ')' after an argument, found ';'" },
		{ "provider p {\n  probe 9x();\n};", EINVAL, "t.d:2:9: expected a probe name after 'probe', found '9'" },
		{ "provider p {\n  probe x();\n  probe x(int);\n};", EEXIST,
		  "t.d:3:9: probe x is already defined in provider p at line 2" },
		{ "provider p { probe x(); };\nprovider p { probe y(); };", EEXIST,
		  "t.d:2:10: provider p is already defined at line 1" },
		{ "provider p { probe x(int,int,int,int,int,int,int,int,int,int,int,int,int); };", E2BIG,
		  "t.d:1:70: probe x has more than 12 arguments" },
		{ "provider p { /* never closed", EINVAL, "t.d:1:14: comment is never closed" },
		{ "provider p { probe x(); ", EINVAL, "t.d:1:25: expected 'probe' or '}', found end of file" },
		{ "provider p { probe x(); } #", EINVAL, "t.d:1:27: expected 'provider', found '#'" },
		{ "provider p { probe x\x01(); }", EINVAL, "t.d:1:21: expected '(' after the probe name, found byte \\x01" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = error_of(cases[i].text, cases[i].err);
		CHECK_MSG(!strcmp(got, cases[i].msg), "case %zu: got \"%s\" (errno %d), want \"%s\"", i, got,
			  errno, cases[i].msg);
	}
}

TEST(names_too_long_are_refused_with_their_position)
{
	char text[1200];
	char name[600];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	snprintf(text, sizeof(text), "provider p {\n probe %s();\n};", name);
	errno = 0;
	CHECK(!parse(text, NULL));
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_MSG(strstr(usdt_errmsg(), "t.d:2:8: probe name 'nnnn") && strstr(usdt_errmsg(), "is longer than"),
		  "%s", usdt_errmsg());
}

TEST(files_are_read_whole_and_errors_name_the_path)
{
	char dir[] = "/tmp/dparse.XXXXXX";
	CHECK(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/big.d", dir);
	FILE *f = fopen(path, "w");
	CHECK(f);
	/* Bigger than any read buffer: 20,000 probes. */
	fprintf(f, "provider big {\n");
	for (int i = 0; i < 20000; i++)
		fprintf(f, "\tprobe p%d(int64_t, char *);\n", i);
	fprintf(f, "};\n");
	fclose(f);
	usdt_provider *p = usdt_provider_from_d_file(path, NULL, NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_EQ_INT((int)usdt_provider_probe_count(p), 20000);
	usdt_provider_free(p);

	errno = 0;
	CHECK(!usdt_provider_from_d_file(dir, NULL, NULL));
	CHECK_EQ_INT(errno, EISDIR);
	char want[300];
	snprintf(want, sizeof(want), "%s: is a directory", dir);
	CHECK_STREQ(usdt_errmsg(), want);
	snprintf(path, sizeof(path), "%s/missing.d", dir);
	CHECK(!usdt_provider_from_d_file(path, NULL, NULL));
	CHECK_EQ_INT(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CHECK_STREQ(usdt_errmsg(), want);
	snprintf(path, sizeof(path), "%s/big.d", dir);
	unlink(path);
	rmdir(dir);
}

TEST(many_providers_are_told_apart)
{
	/* 50,000 providers: duplicates are found by hashing, not by comparing all pairs. */
	enum { N = 50000 };
	size_t cap = (size_t)N * 40 + 100, len = 0;
	char *text = malloc(cap);
	CHECK(text);
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "provider p%d { probe x(int); };\n", i);
	usdt_provider *p = usdt_provider_from_d(text, len, "many.d", "p49999", NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_STREQ(usdt_provider_name(p), "p49999");
	usdt_provider_free(p);
	len += (size_t)snprintf(text + len, cap - len, "provider p123 { };\n");
	errno = 0;
	CHECK(!usdt_provider_from_d(text, len, "many.d", "p1", NULL));
	CHECK_EQ_INT(errno, EEXIST);
	CHECK_STREQ(usdt_errmsg(), "many.d:50001:10: provider p123 is already defined at line 124");
	free(text);
}

TEST(python_d_is_cpythons_python_provider)
{
	/* Include/pydtrace.d of CPython main (3.15): names, order and types
	 * (tools read by size). */
	static const struct {
		const char *name;
		usdt_type t[4];
	} want[] = {
		{ "function__entry", { USDT_STRING, USDT_STRING, USDT_INT32, USDT_STRING } },
		{ "function__return", { USDT_STRING, USDT_STRING, USDT_INT32, USDT_STRING } },
		{ "instance__new__start", { USDT_STRING, USDT_STRING } },
		{ "instance__new__done", { USDT_STRING, USDT_STRING } },
		{ "instance__delete__start", { USDT_STRING, USDT_STRING } },
		{ "instance__delete__done", { USDT_STRING, USDT_STRING } },
		{ "line", { USDT_STRING, USDT_STRING, USDT_INT32 } },
		{ "gc__start", { USDT_INT32 } },
		{ "gc__done", { USDT_INT64 } },
		{ "import__find__load__start", { USDT_STRING } },
		{ "import__find__load__done", { USDT_STRING, USDT_INT32 } },
		{ "audit", { USDT_STRING, USDT_POINTER } },
		{ "cfunction__entry", { USDT_STRING, USDT_STRING, USDT_INT32, USDT_STRING } },
		{ "cfunction__return", { USDT_STRING, USDT_STRING, USDT_INT32, USDT_STRING } },
	};
	usdt_provider *p = usdt_provider_from_d_file("providers/python.d", "python", NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_EQ_INT((int)usdt_provider_probe_count(p), 14);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		usdt_probe *pr = usdt_provider_probe(p, want[i].name);
		CHECK_MSG(pr, "no probe %s", want[i].name);
		size_t n = 0;
		while (n < 4 && want[i].t[n])
			n++;
		CHECK_MSG(usdt_probe_argc(pr) == n, "%s has %zu arguments", want[i].name, usdt_probe_argc(pr));
		for (size_t a = 0; a < n; a++)
			CHECK_MSG(usdt_probe_arg_type(pr, a) == want[i].t[a], "%s arg %zu is %s", want[i].name, a,
				  usdt_type_name(usdt_probe_arg_type(pr, a)));
	}
	usdt_provider_free(p);
}

TEST(arrays_sized_from_a_wrong_guess_still_hold_every_probe)
{
	/* The parser sizes its arrays from the "probe"s before the first '}':
	 * a '}' in a comment makes that guess short, names holding "probe" long. */
	char text[8192];
	size_t k = (size_t)snprintf(text, sizeof(text), "provider p { /* } */\n");
	for (int i = 0; i < 100; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, " probe probe_probe%d(int);\n", i);
	k += (size_t)snprintf(text + k, sizeof(text) - k, " probe probe_probe7(int);\n};\n");
	errno = 0;
	CHECK(!usdt_provider_from_d(text, k, "t.d", NULL, NULL));
	CHECK_EQ_INT(errno, EEXIST);
	CHECK_STREQ(usdt_errmsg(), "t.d:102:8: probe probe_probe7 is already defined in provider p at line 9");
	k = (size_t)snprintf(text, sizeof(text), "provider p { /* } */\n");
	for (int i = 0; i < 100; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, " probe probe_probe%d(int);\n", i);
	k += (size_t)snprintf(text + k, sizeof(text) - k, "};\n");
	usdt_provider *p = usdt_provider_from_d(text, k, "t.d", NULL, NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_EQ_INT((int)usdt_provider_probe_count(p), 100);
	CHECK(usdt_provider_probe(p, "probe_probe99"));
	usdt_provider_free(p);
}

TEST(text_need_not_be_nul_terminated)
{
	/* Only the first len bytes count: the rest would be a syntax error. */
	static const char text[] = "provider p { probe x(int); };GARBAGE";
	usdt_provider *p = usdt_provider_from_d(text, sizeof(text) - 1 - 7, "t.d", NULL, NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	usdt_provider_free(p);
}

TEST(provider_from_d_is_traced_by_bpftrace)
{
	if (!tr_have("bpftrace"))
		SKIP_TRACER("bpftrace is not installed");
	tr_mount_tracefs();
	static const char text[] = "provider dtext {\n"
				   "  probe vals(int8_t a, uint16_t b, int64_t c, uint64_t d, char *s);\n"
				   "};\n";
	usdt_provider *p = usdt_provider_from_d(D(text), "dtext.d", NULL, NULL);
	CHECK_MSG(p, "%s", usdt_errmsg());
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	usdt_probe *v = usdt_provider_probe(p, "vals");
	char pidbuf[16], script[1024], pp[600];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:dtext:vals { printf(\"V %%d %%u %%ld %%lu %%s\\n\", arg0, arg1, arg2, arg3, str(arg4)); exit(); }",
		 tr_pid_path(pp, sizeof(pp), getpid(), usdt_provider_path(p)));
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace: %s %s", t.out, t.err);
	CHECK(tr_wait_sema(usdt_probe_semaphore(v), false, 5));
	static const char s[] = "from .d";
	usdt_probe_fire5(v, (uint64_t)-1, 65535, (uint64_t)INT64_MIN, UINT64_MAX, (uintptr_t)s);
	tr_finish(&t, 10);
	CHECK_MSG(tr_count_events(&t, "V -1 65535 -9223372036854775808 18446744073709551615 from .d\n") == 1,
		  "output: %s", t.out);
	usdt_provider_free(p);
}

TEST_MAIN()
