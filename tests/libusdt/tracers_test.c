/*
 * tracers_test.c - real tracers on dynamic probes: bpftrace (by pid, and by
 * path before the process loads), bcc's tplist and trace, gdb, perf. Values
 * are checked exactly, extremes of every type included.
 */
#include <limits.h>
#include <signal.h>

#include "testlib.h"
#include "tracer.h"
#include "usdt.h"

static const char UNI[] = "h\xc3\xa9llo \xe2\x9c\x93"; /* "héllo ✓" */

static usdt_provider *typed_provider(const char *name)
{
	usdt_provider *p = usdt_provider_new(name);
	usdt_type s[] = { USDT_INT8, USDT_INT16, USDT_INT32, USDT_INT64, USDT_STRING, USDT_UINT8 };
	usdt_type u[] = { USDT_UINT16, USDT_UINT32, USDT_UINT64, USDT_POINTER, USDT_INT8, USDT_INT64 };
	usdt_type t12[12];
	for (int i = 0; i < 12; i++)
		t12[i] = i == 1 ? USDT_STRING : i % 2 ? USDT_UINT32 : USDT_INT64;
	usdt_probe_new(p, "signed_min", s, 6);
	usdt_probe_new(p, "unsigned_max", u, 6);
	usdt_probe_new(p, "twelve", t12, 12);
	usdt_probe_new(p, "none", NULL, 0);
	return p;
}

static void fire_typed(usdt_provider *p)
{
	usdt_probe_fire6(usdt_provider_probe(p, "signed_min"), (uint64_t)(int8_t)INT8_MIN,
			 (uint64_t)(int16_t)INT16_MIN, (uint64_t)(int32_t)INT32_MIN,
			 (uint64_t)INT64_MIN, (uintptr_t)UNI, UINT8_MAX);
	usdt_probe_fire6(usdt_provider_probe(p, "unsigned_max"), UINT16_MAX, UINT32_MAX, UINT64_MAX,
			 0xdeadbeefcafef00dull, INT8_MAX, INT64_MAX);
	usdt_probe_fire12(usdt_provider_probe(p, "twelve"), (uint64_t)-1, (uintptr_t)"str", 3,
			  UINT32_MAX, 5, 6, 7, 8, 9, 10, (uint64_t)-11, 12);
	usdt_probe_fire0(usdt_provider_probe(p, "none"));
}

/* A child that fires p's probes every millisecond until killed. */
static pid_t spawn_firer(usdt_provider *p)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) {
			fire_typed(p);
			usleep(1000);
		}
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

#define REQUIRE(tool)                                                  \
	do {                                                           \
		if (!tr_have(tool))                                    \
			SKIP_TRACER("%s is not installed", tool);      \
		tr_mount_tracefs();                                    \
	} while (0)

TEST(bpftrace_by_pid_reads_every_type_exactly)
{
	REQUIRE("bpftrace");
	usdt_provider *p = typed_provider("bt_types");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	pid_t child = spawn_firer(p);
	char pidbuf[16], script[2048], pp[600];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)child);
	const char *path = tr_pid_path(pp, sizeof(pp), child, usdt_provider_path(p));
	/* The guards print each probe's first hit only (a second attachment
	 * would see @a set): traced_hits_... counts every hit exactly. */
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:bt_types:signed_min /@a == 0/ { @a = 1; printf(\"S %%d %%d %%d %%ld %%s %%u\\n\", "
		 "arg0, arg1, arg2, arg3, str(arg4), arg5); }"
		 "usdt:%s:bt_types:unsigned_max /@b == 0/ { @b = 1; printf(\"U %%u %%u %%lu %%lx %%d %%ld\\n\", "
		 "arg0, arg1, arg2, arg3, arg4, arg5); }"
		 "usdt:%s:bt_types:twelve /@c == 0/ { @c = 1; printf(\"T %%ld %%s %%ld %%lu %%ld %%ld\\n\", "
		 "arg0, str(arg1), arg2, arg3, arg4, arg5); }"
		 "usdt:%s:bt_types:none /@d == 0/ { @d = 1; printf(\"N\\n\"); }"
		 "interval:ms:100 { if (@a + @b + @c + @d == 4) { clear(@a); clear(@b); clear(@c); clear(@d); exit(); } }",
		 path, path, path, path);
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	int rc = tr_finish(&t, 20);
	reap(child);
	CHECK_MSG(rc == 0, "bpftrace exited %d: %s %s", rc, t.out, t.err);
	CHECK_MSG(tr_count_events(&t, "S -128 -32768 -2147483648 -9223372036854775808 h\xc3\xa9llo \xe2\x9c\x93 255\n") == 1,
		  "output: %s", t.out);
	CHECK_MSG(tr_count_events(&t, "U 65535 4294967295 18446744073709551615 deadbeefcafef00d 127 9223372036854775807\n") == 1,
		  "output: %s", t.out);
	CHECK_MSG(tr_count_events(&t, "T -1 str 3 4294967295 5 6\n") == 1, "output: %s", t.out);
	CHECK_MSG(tr_count_events(&t, "N\n") == 1, "output: %s", t.out);
	usdt_provider_free(p);
}

TEST(bpftrace_by_path_before_load_and_semaphore_follows_attach)
{
	REQUIRE("bpftrace");
	/* Learn the path: same definition, same file. */
	usdt_provider *p = typed_provider("bt_path");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s", usdt_provider_path(p));
	usdt_provider_free(p);

	char script[1024];
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:bt_path:signed_min { printf(\"pid %%d arg0 %%d s %%s\\n\", pid, arg0, str(arg4)); exit(); }",
		 path);
	const char *argv[] = { "bpftrace", "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace did not attach: %s %s", t.out, t.err);

	/* Loaded after the tracer attached by path: the kernel arms it. */
	p = typed_provider("bt_path");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK_STREQ(usdt_provider_path(p), path);
	usdt_probe *sm = usdt_provider_probe(p, "signed_min");
	CHECK_MSG(tr_wait_sema(usdt_probe_semaphore(sm), false, 5), "semaphore never set");
	CHECK(usdt_probe_enabled(sm));
	CHECK(!usdt_probe_enabled(usdt_provider_probe(p, "none"))); /* only what is traced */
	double end = tr_now() + 10;
	while (!strstr(tr_events(&t), "arg0") && tr_now() < end) {
		fire_typed(p);
		tr_pump(&t, 10);
	}
	int rc = tr_finish(&t, 10);
	CHECK_MSG(rc == 0, "bpftrace exited %d: %s %s", rc, t.out, t.err);
	char want[64];
	snprintf(want, sizeof(want), "pid %d arg0 -128 s h\xc3\xa9llo \xe2\x9c\x93\n", (int)getpid());
	CHECK_MSG(tr_count_events(&t, want) == 1, "output: %s", t.out);
	/* The tracer is gone: the kernel dropped the count. */
	CHECK_MSG(tr_wait_sema(usdt_probe_semaphore(sm), true, 5), "semaphore still %d",
		  *usdt_probe_semaphore(sm));
	usdt_provider_free(p);
}

TEST(traced_hits_deliver_every_value_and_keep_caller_state)
{
	REQUIRE("bpftrace");
	usdt_provider *p = usdt_provider_new("bt_many");
	usdt_probe *h = usdt_probe_new_sig(p, "hit", "int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char pidbuf[16], script[1024], pp[600];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:bt_many:hit { @n = count(); @s0 = sum(arg0); @s5 = sum(arg5); "
		 "if (arg1 != arg0 * 3 || arg2 != -arg0 || arg3 != 7 || arg4 != arg0 + 1 || arg5 != (arg0 ^ 0x55)) { @bad = count(); } }",
		 tr_pid_path(pp, sizeof(pp), getpid(), usdt_provider_path(p)));
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace did not attach: %s %s", t.out, t.err);
	CHECK(tr_wait_sema(usdt_probe_semaphore(h), false, 5));
	enum { N = 20000 };
	volatile int64_t guard = 0x1234;
	int64_t s0 = 0, s5 = 0, local = 0;
	for (int64_t i = 0; i < N; i++) {
		int64_t before = local;
		usdt_probe_fire7(h, (uint64_t)i, (uint64_t)(i * 3), (uint64_t)-i, 7, (uint64_t)(i + 1),
				 (uint64_t)(i ^ 0x55), 99);
		local = before + i; /* values live across the call survive */
		s0 += i;
		s5 += i ^ 0x55;
	}
	CHECK_EQ_INT(local, s0);
	CHECK_EQ_INT(guard, 0x1234);
	usleep(200000);
	tr_stop(&t);
	char want[128];
	snprintf(want, sizeof(want), "@n: %d\n", N);
	CHECK_MSG(tr_count_events(&t, want) == 1, "output: %s", t.out);
	snprintf(want, sizeof(want), "@s0: %lld\n", (long long)s0);
	CHECK_MSG(tr_count_events(&t, want) == 1, "output: %s", t.out);
	snprintf(want, sizeof(want), "@s5: %lld\n", (long long)s5);
	CHECK_MSG(tr_count_events(&t, want) == 1, "output: %s", t.out);
	/* bpftrace lists a map it compiled even if never written: "@bad: 0". */
	const char *bad = strstr(tr_events(&t), "@bad: ");
	CHECK_MSG(!bad || !strncmp(bad, "@bad: 0\n", 8), "corrupted arguments: %s", t.out);
	usdt_provider_free(p);
}

TEST(gdb_lists_probes_and_reads_all_twelve_arguments)
{
	REQUIRE("gdb");
	usdt_provider *p = typed_provider("gdb_prov");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	pid_t child = spawn_firer(p);
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)child);
	const char *argv[] = {
		"gdb", "-q", "-nx", "-batch", "-p", pidbuf, "-ex", "info probes stap gdb_prov",
		"-ex", "break -probe-stap gdb_prov:twelve", "-ex", "continue", "-ex",
		"printf \"ARGS %ld %s %ld %lu %ld %ld %ld %ld %ld %ld %ld %ld\\n\", $_probe_arg0, "
		"$_probe_arg1, $_probe_arg2, $_probe_arg3, $_probe_arg4, $_probe_arg5, $_probe_arg6, "
		"$_probe_arg7, $_probe_arg8, $_probe_arg9, $_probe_arg10, $_probe_arg11",
		"-ex", "detach", NULL
	};
	struct tracer t;
	CHECK(tr_start(&t, argv) == 0);
	int rc = tr_finish(&t, 60);
	reap(child);
	CHECK_MSG(rc == 0, "gdb exited %d: %s", rc, t.out);
	CHECK_MSG(strstr(t.out, "gdb_prov twelve"), "info probes: %s", t.out);
	CHECK_MSG(strstr(t.out, "gdb_prov signed_min"), "info probes: %s", t.out);
	CHECK_MSG(strstr(t.out, usdt_provider_path(p)), "info probes: %s", t.out);
	CHECK_MSG(strstr(t.out, "ARGS -1 str 3 4294967295 5 6 7 8 9 10 -11 12\n"), "output: %s", t.out);
	usdt_provider_free(p);
}

TEST(bcc_tplist_lists_and_trace_prints_values)
{
	REQUIRE("tplist-bpfcc");
	usdt_provider *p = typed_provider("bcc_prov");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	pid_t child = spawn_firer(p);
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)child);
	const char *tl[] = { "tplist-bpfcc", "-p", pidbuf, NULL };
	struct tracer t;
	CHECK(tr_start(&t, tl) == 0);
	CHECK_EQ_INT(tr_finish(&t, 60), 0);
	CHECK_MSG(strstr(t.out, "bcc_prov:twelve") && strstr(t.out, "bcc_prov:signed_min") &&
		  strstr(t.out, "bcc_prov:none") && strstr(t.out, usdt_provider_path(p)),
		  "tplist: %s", t.out);
	/* --foreground: timeout would otherwise put trace-bpfcc in a process group of
	 * its own, out of reach of the harness's kill when the test ends. */
	const char *tr[] = { "timeout", "--foreground", "-k", "5", "-s", "INT", "60", "trace-bpfcc", "-p",
			     pidbuf, "-M", "1",
			     "u::bcc_prov:unsigned_max \"V %u %u %lu %d %ld\", arg1, arg2, arg3, arg5, arg6",
			     NULL };
	CHECK(tr_start(&t, tr) == 0);
	double end = tr_now() + 60;
	while (!strstr(t.out, "V ") && tr_now() < end && tr_pump(&t, 50))
		;
	tr_stop(&t);
	reap(child);
	CHECK_MSG(strstr(t.out, "V 65535 4294967295 18446744073709551615 127 9223372036854775807"),
		  "trace: %s", t.out);
	usdt_provider_free(p);
}

TEST(perf_records_an_sdt_event_from_a_dynamic_probe)
{
	REQUIRE("perf");
	usdt_provider *p = typed_provider("perf_prov");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char path[512], cmd[2048], data[] = "/tmp/usdt-perf-XXXXXX";
	snprintf(path, sizeof(path), "%s", usdt_provider_path(p));
	CHECK(mkdtemp(data));
	pid_t child = spawn_firer(p);
	/* perf needs the build-id note to cache the object and its SDT events. */
	snprintf(cmd, sizeof(cmd),
		 "perf buildid-cache --add %s && perf probe -q -x %s -a sdt_perf_prov:unsigned_max && "
		 "timeout 20 perf record -q -e sdt_perf_prov:unsigned_max -p %d -o %s/perf.data -- sleep 1; "
		 "perf script -i %s/perf.data 2>/dev/null | head -3; perf probe -q -d 'sdt_perf_prov:*'; "
		 "perf buildid-cache --remove %s",
		 path, path, (int)child, data, data, path);
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct tracer t;
	CHECK(tr_start(&t, argv) == 0);
	tr_finish(&t, 60);
	reap(child);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", data);
	(void)!system(cmd);
	CHECK_MSG(strstr(t.out, "sdt_perf_prov:unsigned_max:") && strstr(t.out, "arg1=65535") &&
		  strstr(t.out, "arg2=4294967295"),
		  "perf: %s", t.out);
	usdt_provider_free(p);
}

/* A memfd image (the fallback where no directory allows executable
 * mappings) has no file name; bpftrace 0.25+ skip its "(deleted)" mapping
 * when -p lists the process's files, so usdt:*:prov:name finds nothing.
 * The process's descriptor, /proc/PID/fd/N, works with -p on 0.17 to 0.27:
 * every hit arrives exactly once. */
TEST(memfd_provider_is_traced_by_pid)
{
	REQUIRE("bpftrace");
	struct usdt_provider_opts o = { .sz = sizeof(o), .storage = USDT_STORAGE_MEMFD };
	usdt_provider *p = usdt_provider_new_opts("bt_memfd", &o);
	usdt_probe *a = usdt_probe_new_sig(p, "a", "int, char *");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	char pidbuf[16], script[512], pp[600];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script), TR_READY "usdt:%s:bt_memfd:a { printf(\"M %%d %%s\\n\", arg0, str(arg1)); }",
		 tr_pid_path(pp, sizeof(pp), getpid(), usdt_provider_path(p)));
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace: %s %s", t.out, t.err);
	CHECK(tr_wait_sema(usdt_probe_semaphore(a), false, 5));
	for (int i = 1; i <= 3; i++)
		USDT_FIRE(a, i, "memfd");
	CHECK(tr_wait_for(&t, "M 3 memfd\n", 10));
	usleep(200000);
	tr_stop(&t);
	CHECK_MSG(tr_count_events(&t, "M 1 memfd\n") == 1 && tr_count_events(&t, "M 2 memfd\n") == 1 &&
		  tr_count_events(&t, "M 3 memfd\n") == 1,
		  "each hit once: %s %s", t.out, t.err);
	usdt_provider_free(p);
}

TEST(meta_probes_announce_load_and_unload_with_name_and_path)
{
	REQUIRE("bpftrace");
	/* This test links libusdt statically: its probes are in our own executable. */
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = 0;
	char pidbuf[16], script[1536], pp[600];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	tr_pid_path(pp, sizeof(pp), getpid(), exe);
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:libusdt:provider__load { printf(\"L %%s %%s\\n\", str(arg0, 16), str(arg1)); }"
		 " usdt:%s:libusdt:provider__unload { printf(\"U %%s %%s\\n\", str(arg0, 16), str(arg1)); exit(); }",
		 pp, pp);
	/* Image paths are longer than bpftrace's default 64-byte strings. */
	const char *argv[] = { "env", "BPFTRACE_STRLEN=160", "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace did not attach: %s %s", t.out, t.err);
	usdt_provider *p = typed_provider("meta_watch");
	char want_l[700], want_u[700];
	double end = tr_now() + 10;
	while (!strstr(tr_events(&t), "U meta_watch") && tr_now() < end) {
		CHECK_EQ_INT(usdt_provider_load(p), 0);
		snprintf(want_l, sizeof(want_l), "L meta_watch %s\n", usdt_provider_path(p));
		snprintf(want_u, sizeof(want_u), "U meta_watch %s\n", usdt_provider_path(p));
		CHECK_EQ_INT(usdt_provider_unload(p), 0);
		tr_pump(&t, 20);
	}
	tr_finish(&t, 10);
	CHECK_MSG(strstr(tr_events(&t), want_l), "no load event %s in: %s", want_l, t.out);
	CHECK_MSG(strstr(tr_events(&t), want_u), "no unload event in: %s", t.out);
	usdt_provider_free(p);
}

TEST_MAIN()
