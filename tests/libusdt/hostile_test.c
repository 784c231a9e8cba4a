/*
 * hostile_test.c - hostile input through every entry that takes text:
 * provider and probe names, signatures, .d text. Each gets a documented
 * error with a bounded message, or documented behaviour; never a crash.
 * (Provider-name cases and the 10 MB provider name are in errors_test.c.)
 */
#include "testlib.h"
#include "usdt.h"

static const char *const hostile_names[] = {
	"a/b", "../x", "/abs", "a\\b", "q\"uote", "s'q", "sp ace", "tab\t", "nl\n", "cr\r",
	"ctl\x01", "del\x7f", "esc\x1b[31m", "caf\xc3\xa9", "bad\xff\xfe", "\xc0\x80", "a-b", "a.b",
	"a:b", "9start", "$x", "%s%n", "",
};

TEST(probe_names_refuse_every_hostile_byte)
{
	usdt_provider *p = usdt_provider_new("hostile");
	for (size_t i = 0; i < sizeof(hostile_names) / sizeof(hostile_names[0]); i++) {
		errno = 0;
		CHECK_MSG(!usdt_probe_new_sig(p, hostile_names[i], "int"), "accepted probe name %zu", i);
		CHECK_EQ_INT(errno, EINVAL);
		const char *m = usdt_errmsg();
		CHECK(strlen(m) < 512);
		/* The message quotes the name printably: no raw control bytes. */
		for (const char *c = m; *c; c++)
			CHECK_MSG((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
				  "raw byte 0x%02x in message \"%s\"", (unsigned char)*c, m);
	}
	CHECK_EQ_INT(usdt_provider_probe_count(p), 0);
	usdt_provider_free(p);
}

static char *big_string(size_t n, char fill)
{
	char *s = malloc(n + 1);
	memset(s, fill, n);
	s[n] = 0;
	return s;
}

TEST(ten_megabyte_signatures_fail_fast_with_bounded_messages)
{
	usdt_provider *p = usdt_provider_new("hugesig");
	size_t n = 10 * 1024 * 1024;
	char *s = big_string(n, 'x'); /* one unknown type of 10 MB */
	errno = 0;
	CHECK(!usdt_probe_new_sig(p, "a", s));
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(strlen(usdt_errmsg()) < 512);
	for (size_t i = 1; i < n; i += 2) /* "x,x,x,...": 5 million arguments */
		s[i] = ',';
	errno = 0;
	CHECK(!usdt_probe_new_sig(p, "b", s));
	CHECK(errno == E2BIG || errno == EINVAL);
	CHECK(strlen(usdt_errmsg()) < 512);
	memset(s, ' ', n); /* all blanks: no arguments */
	usdt_probe *q = usdt_probe_new_sig(p, "c", s);
	CHECK(q && usdt_probe_argc(q) == 0);
	free(s);
	usdt_provider_free(p);
}

TEST(thirteen_arguments_are_refused_everywhere)
{
	usdt_provider *p = usdt_provider_new("thirteen");
	errno = 0;
	CHECK(!usdt_probe_new_sig(p, "a", "int,int,int,int,int,int,int,int,int,int,int,int,int"));
	CHECK_EQ_INT(errno, E2BIG);
	usdt_type t[100];
	for (int i = 0; i < 100; i++)
		t[i] = USDT_INT32;
	errno = 0;
	CHECK(!usdt_probe_new(p, "b", t, 100));
	CHECK_EQ_INT(errno, E2BIG);
	errno = 0;
	CHECK(!usdt_probe_new(p, "c", t, (size_t)-1));
	CHECK_EQ_INT(errno, E2BIG);
	usdt_probe *ok = usdt_probe_new(p, "twelve", t, 12);
	CHECK(ok);
	uint64_t v[13] = { 0 };
	CHECK_EQ_INT(usdt_probe_fire_argv(ok, v, 13), -EINVAL);
	CHECK_EQ_INT(usdt_probe_fire_argv(ok, v, 12), 0);
	static const char d[] =
		"provider p { probe x(int,int,int,int,int,int,int,int,int,int,int,int,int); };";
	errno = 0;
	CHECK(!usdt_provider_from_d(d, strlen(d), "t.d", NULL, NULL));
	CHECK_EQ_INT(errno, E2BIG);
	CHECK(strstr(usdt_errmsg(), "t.d:1:"));
	usdt_provider_free(p);
}

TEST(d_text_with_hostile_bytes_gives_positioned_errors)
{
	/* Embedded NUL: the text is counted, not NUL-terminated; a NUL is not
	 * a valid character of the syntax. */
	static const char nul[] = "provider a { probe b(int); };\0provider c { probe d(); };";
	errno = 0;
	usdt_provider *p = usdt_provider_from_d(nul, sizeof(nul) - 1, "nul.d", NULL, NULL);
	CHECK_MSG(!p, "accepted a NUL byte inside the text");
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(strstr(usdt_errmsg(), "nul.d:1:"));
	/* The same text cut before the NUL is a good provider. */
	p = usdt_provider_from_d(nul, strlen(nul), "nul.d", NULL, NULL);
	CHECK(p && usdt_provider_probe_count(p) == 1);
	usdt_provider_free(p);
	static const char *const bad[] = {
		"provider a/b { probe c(); };",     "provider a { probe \"q\"(); };",
		"provider a { probe c\x01(); };",    "provider caf\xc3\xa9 { probe c(); };",
		"provider a { probe c(\xff); };",    "provider a { probe c(int",
		"provider a { probe c(int) };",      "provider a { probe c(char * * const x y z); };",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		p = usdt_provider_from_d(bad[i], strlen(bad[i]), "bad.d", NULL, NULL);
		CHECK_MSG(!p, "accepted %s", bad[i]);
		CHECK_MSG(errno == EINVAL, "%s: errno %d", bad[i], errno);
		CHECK_MSG(!strncmp(usdt_errmsg(), "bad.d:1:", 8) && strlen(usdt_errmsg()) < 512,
			  "%s: message \"%s\"", bad[i], usdt_errmsg());
	}
}

TEST(ten_megabyte_d_names_fail_fast_with_bounded_messages)
{
	size_t n = 10 * 1024 * 1024;
	char *s = big_string(n + 64, 'n');
	memcpy(s, "provider ", 9);
	memcpy(s + n, " { probe x(); };", 17);
	errno = 0;
	CHECK(!usdt_provider_from_d(s, strlen(s), "big.d", NULL, NULL));
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(strlen(usdt_errmsg()) < 512);
	CHECK(strstr(usdt_errmsg(), "big.d:1:"));
	free(s);
}

TEST(string_arguments_with_embedded_nul_end_there)
{
	/* A string argument is a pointer: the tracer reads up to the first NUL,
	 * which is all a C string can say. Firing it, traced or not, is safe. */
	usdt_provider *p = usdt_provider_new("nulstr");
	usdt_probe *s = usdt_probe_new_sig(p, "s", "char *");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	static const char withnul[] = "ab\0cd";
	usdt_probe_fire1(s, (uintptr_t)withnul);
	*(volatile unsigned short *)usdt_probe_semaphore(s) += 1; /* as a tracer would */
	usdt_probe_fire1(s, (uintptr_t)withnul);
	usdt_probe_fire1(s, 0); /* NULL: the tracer reads nothing, the process is untouched */
	*(volatile unsigned short *)usdt_probe_semaphore(s) -= 1;
	usdt_provider_free(p);
}

TEST_MAIN()
