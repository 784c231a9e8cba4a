/*
 * testlib.h - the tiny test harness of libusdt's C tests.
 *
 * A test file defines tests with TEST(name) { ... } and ends with TEST_MAIN().
 * Each test prints one line the runner (tests/run) counts:
 *   PASS <file>:<name>
 *   FAIL <file>:<name>: <why>
 *   SKIP <file>:<name>: <why>
 * CHECK(cond) fails the test and returns; SKIP_TEST(why) skips it;
 * SKIP_TRACER(why) skips a test that needs a tracer, and fails it when
 * CI=true, because CI must run every tracer test for real. At a level that
 * runs no tracer by design (USDT_TEST_NO_TRACER=1: the arm64 tests under
 * user-mode emulation, where a host tracer cannot patch emulated code) such a
 * test prints "DEFER <file>:<name>: <why>" instead: neither passed nor
 * skipped, but left for the level that has one (tests/aarch64).
 * Each test runs in a forked child so a crash fails one test, not the file.
 */
#ifndef USDT_TESTLIB_H
#define USDT_TESTLIB_H

/* Messages quote tracer output; cutting it short is fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

struct tl_test {
	const char *name;
	void (*fn)(void);
};

#define TL_MAX_TESTS 256
static struct tl_test tl_tests[TL_MAX_TESTS];
static int tl_ntests;
static int tl_status_fd = -1; /* child -> parent: 'P', 'F'+msg, 'S'+msg, 'D'+msg */

static void tl_register(const char *name, void (*fn)(void))
{
	if (tl_ntests < TL_MAX_TESTS)
		tl_tests[tl_ntests++] = (struct tl_test){ name, fn };
}

static void tl_report(char kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tl_report(char kind, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	buf[0] = kind;
	va_start(ap, fmt);
	vsnprintf(buf + 1, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
#ifdef __SANITIZE_ADDRESS__
	/* _exit skips LeakSanitizer's exit check: run it here, per test. */
	if (kind == 'P' && __lsan_do_recoverable_leak_check())
		snprintf(buf, sizeof(buf), "FLeakSanitizer found leaks (stderr has the stacks)");
#endif
	if (write(tl_status_fd, buf, strlen(buf)) < 0) { /* nothing to do */ }
	_exit(0);
}

#define TEST(name)                                                         \
	static void test_##name(void);                                     \
	__attribute__((constructor)) static void tl_reg_##name(void)       \
	{                                                                  \
		tl_register(#name, test_##name);                            \
	}                                                                  \
	static void test_##name(void)

#define FAILF(...) tl_report('F', __VA_ARGS__)

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond))                                                        \
			tl_report('F', "%s:%d: CHECK(%s) failed", __FILE__, __LINE__, #cond); \
	} while (0)

#define CHECK_MSG(cond, ...)                                                        \
	do {                                                                        \
		if (!(cond)) {                                                      \
			char tl_m_[1900];                                           \
			snprintf(tl_m_, sizeof(tl_m_), __VA_ARGS__);                \
			tl_report('F', "%s:%d: %s", __FILE__, __LINE__, tl_m_);     \
		}                                                                   \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                          \
	do {                                                                        \
		long long tl_a_ = (long long)(a), tl_b_ = (long long)(b);           \
		if (tl_a_ != tl_b_)                                                 \
			tl_report('F', "%s:%d: %s == %lld, expected %s == %lld", __FILE__, \
				  __LINE__, #a, tl_a_, #b, tl_b_);                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                           \
	do {                                                                        \
		const char *tl_a_ = (a), *tl_b_ = (b);                              \
		if (!tl_a_ || !tl_b_ || strcmp(tl_a_, tl_b_))                       \
			tl_report('F', "%s:%d: %s is \"%s\", expected \"%s\"", __FILE__, \
				  __LINE__, #a, tl_a_ ? tl_a_ : "(null)",           \
				  tl_b_ ? tl_b_ : "(null)");                        \
	} while (0)

#define SKIP_TEST(...) tl_report('S', __VA_ARGS__)

static inline int tl_in_ci(void)
{
	const char *ci = getenv("CI");
	return ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
}

/* Under tests/san/valgrind.sh: threads run one at a time, dlopen costs
 * milliseconds. */
static inline bool tl_under_valgrind(void)
{
	return getenv("USDT_UNDER_VALGRIND") != NULL;
}

/* Iterations for a loop of loads, dlopens or walks: a tenth under valgrind. */
static inline int tl_scaled(int n)
{
	return tl_under_valgrind() && n >= 10 ? n / 10 : n;
}

/* This level runs no tracer by design; see SKIP_TRACER. */
static inline bool tl_no_tracer_level(void)
{
	const char *v = getenv("USDT_TEST_NO_TRACER");
	return v && *v && strcmp(v, "0") != 0;
}

#define SKIP_TRACER(...)                                                            \
	do {                                                                        \
		char tl_m_[1900];                                                   \
		snprintf(tl_m_, sizeof(tl_m_), __VA_ARGS__);                        \
		if (tl_no_tracer_level())                                           \
			tl_report('D', "needs a tracer, none at this level (%s)", tl_m_); \
		if (tl_in_ci())                                                     \
			tl_report('F', "tracer test cannot skip in CI: %s", tl_m_); \
		tl_report('S', "%s", tl_m_);                                        \
	} while (0)

/* A test that needs the kernel itself where user-mode emulation passes a
 * system call through as missing (seccomp()): at the level without tracers
 * (user-mode emulation) it is deferred to the level with a real kernel, as
 * SKIP_TRACER's tests are; elsewhere it skips. */
#define SKIP_KERNEL(...)                                                            \
	do {                                                                        \
		char tl_m_[1900];                                                   \
		snprintf(tl_m_, sizeof(tl_m_), __VA_ARGS__);                        \
		if (tl_no_tracer_level())                                           \
			tl_report('D', "needs the real kernel, not at this level (%s)", tl_m_); \
		tl_report('S', "%s", tl_m_);                                        \
	} while (0)

static int tl_main(const char *file, int argc, char **argv)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	int failed = 0;
	for (int i = 0; i < tl_ntests; i++) {
		if (argc > 1 && !strstr(tl_tests[i].name, argv[1]))
			continue;
		int fds[2];
		if (pipe2(fds, O_CLOEXEC))
			return 2;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			/* Own process group: helpers the test forks die with it. */
			setpgid(0, 0);
			close(fds[0]);
			tl_status_fd = fds[1];
			tl_tests[i].fn();
			tl_report('P', "%s", "");
		}
		close(fds[1]);
		/* One write carries the result; grandchildren may keep the pipe
		 * open, so read once rather than to EOF. */
		char buf[2048];
		size_t n = 0;
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int timeout_s = getenv("USDT_TEST_CASE_TIMEOUT") ? atoi(getenv("USDT_TEST_CASE_TIMEOUT")) : 300;
		if (poll(&pfd, 1, timeout_s * 1000) > 0) {
			ssize_t r = read(fds[0], buf, sizeof(buf) - 1);
			n = r > 0 ? (size_t)r : 0;
		} else {
			snprintf(buf, sizeof(buf), "Ftimed out after %d s", timeout_s);
			n = strlen(buf);
		}
		buf[n] = 0;
		/* One line per result: the runner counts lines. */
		for (size_t k = 0; k < n; k++)
			if (buf[k] == '\n')
				buf[k] = (k + 1 < n) ? '|' : ' ';
		close(fds[0]);
		int st = 0;
		bool reaped = false;
		/* Under valgrind the child checks for leaks as it exits: let it. */
		if (n && tl_under_valgrind())
			reaped = waitpid(pid, &st, 0) == pid;
		kill(-pid, SIGKILL);
		if (!reaped)
			waitpid(pid, &st, 0);
		if (n == 0) {
			printf("FAIL %s:%s: died (%s %d)\n", base, tl_tests[i].name,
			       WIFSIGNALED(st) ? "signal" : "exit",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			failed++;
		} else if (buf[0] == 'P') {
			printf("PASS %s:%s\n", base, tl_tests[i].name);
		} else if (buf[0] == 'D') {
			printf("DEFER %s:%s: %s\n", base, tl_tests[i].name, buf + 1);
		} else if (buf[0] == 'S') {
			printf("SKIP %s:%s: %s\n", base, tl_tests[i].name, buf + 1);
		} else {
			printf("FAIL %s:%s: %s\n", base, tl_tests[i].name, buf + 1);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define TEST_MAIN()                                         \
	int main(int argc, char **argv)                     \
	{                                                   \
		return tl_main(__FILE__, argc, argv);       \
	}

#endif
