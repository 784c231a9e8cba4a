/*
 * registry_test.c - usdt_foreach_probe() lists static probes of the program
 * and of a dlopen()ed library, and loaded dynamic providers, with the path
 * to attach to and the live enabled state; the note reader refuses damaged
 * files without reading out of bounds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "elf_notes.h"
#include "testlib.h"
#include "tracer.h"
#include "usdt.h"
#include "usdt_sdt.h"

USDT_DEFINE_SEMAPHORE(regtest, main__probe);

static void __attribute__((noinline)) fire_main(int i)
{
	USDT_PROBE2(regtest, main__probe, i, (const char *)"x");
}

struct found {
	char want_provider[64], want_name[64];
	struct usdt_probe_info info;
	char path[512], args[128];
	int count;
};

static int find(const struct usdt_probe_info *in, void *ctx)
{
	struct found *f = ctx;
	if (strcmp(in->provider, f->want_provider) || strcmp(in->name, f->want_name))
		return 0;
	f->count++;
	f->info = *in;
	snprintf(f->path, sizeof(f->path), "%s", in->path);
	snprintf(f->args, sizeof(f->args), "%s", in->args);
	return 0;
}

static struct found lookup(const char *prov, const char *name)
{
	struct found f = { 0 };
	snprintf(f.want_provider, sizeof(f.want_provider), "%s", prov);
	snprintf(f.want_name, sizeof(f.want_name), "%s", name);
	int r = usdt_foreach_probe(find, &f);
	if (r)
		f.count = -1000 + r;
	return f;
}

static void self_path(char *buf, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", buf, n - 1);
	buf[len > 0 ? len : 0] = 0;
}

TEST(static_probes_of_the_program_are_listed_with_semaphore_and_path)
{
	fire_main(0);
	struct found f = lookup("regtest", "main__probe");
	CHECK_EQ_INT(f.count, 1);
	char exe[512];
	self_path(exe, sizeof(exe));
	CHECK_STREQ(f.path, exe);
	CHECK_EQ_INT((long)f.info.semaphore == (long)(uintptr_t)&regtest_main__probe_semaphore, 1);
	CHECK(strncmp(f.args, "-4@", 3) == 0 && strstr(f.args, " 8@"));
	CHECK(!f.info.enabled);
	CHECK(!f.info.dynamic);
	CHECK(f.info.address != 0);
	/* libusdt's own meta probes are in the program too (static link). */
	CHECK_EQ_INT(lookup("libusdt", "provider__load").count, 1);
}

TEST(probes_of_a_dlopened_library_and_dynamic_providers_are_listed)
{
	char dir[] = "/tmp/regtest.XXXXXX";
	CHECK(mkdtemp(dir));
	char src[600], lib[600], cmd[2048];
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(lib, sizeof(lib), "%s/libreg.so", dir);
	FILE *f = fopen(src, "w");
	CHECK(f);
	fputs("#include \"usdt_sdt.h\"\nUSDT_DEFINE_SEMAPHORE(reglib, hello);\n"
	      "void reglib_fire(long v) { USDT_PROBE1(reglib, hello, v); }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -O2 -shared -fPIC -Ilibusdt/include -o %s %s", lib, src);
	CHECK_EQ_INT(system(cmd), 0);
	void *h = dlopen(lib, RTLD_NOW);
	CHECK_MSG(h, "%s", dlerror());
	struct found fl = lookup("reglib", "hello");
	CHECK_EQ_INT(fl.count, 1);
	CHECK_STREQ(fl.path, lib);
	CHECK_STREQ(fl.args, "-8@%rdi");
	/* The semaphore address is where the library's variable is. */
	void *sema = dlsym(h, "reglib_hello_semaphore");
	CHECK(!sema || (uintptr_t)sema == fl.info.semaphore); /* hidden: usually not found */
	CHECK(fl.info.semaphore != 0);

	usdt_provider *p = usdt_provider_new("regdyn");
	usdt_probe_new_sig(p, "tick", "int64_t, char *");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	struct found fd = lookup("regdyn", "tick");
	CHECK_EQ_INT(fd.count, 1); /* once: its image is not also read as a file */
	CHECK(fd.info.dynamic);
	CHECK_STREQ(fd.path, usdt_provider_path(p));
	CHECK_STREQ(fd.args, usdt_probe_arg_spec(usdt_provider_probe(p, "tick")));
	CHECK(fd.info.address == usdt_probe_address(usdt_provider_probe(p, "tick")));
	CHECK_EQ_INT(usdt_provider_unload(p), 0);
	CHECK_EQ_INT(lookup("regdyn", "tick").count, 0);
	usdt_provider_free(p);

	dlclose(h);
	CHECK_EQ_INT(lookup("reglib", "hello").count, 0);
	unlink(lib);
	unlink(src);
	rmdir(dir);
}

static int stop_at_first(const struct usdt_probe_info *in, void *ctx)
{
	(void)in;
	++*(int *)ctx;
	return -42;
}

TEST(the_visitor_stops_the_walk_with_its_value)
{
	int n = 0;
	CHECK_EQ_INT(usdt_foreach_probe(stop_at_first, &n), -42);
	CHECK_EQ_INT(n, 1);
	errno = 0;
	CHECK_EQ_INT(usdt_foreach_probe(NULL, NULL), -EINVAL);
}

TEST(enabled_follows_a_tracer)
{
	if (!tr_have("bpftrace"))
		SKIP_TRACER("bpftrace is not installed");
	tr_mount_tracefs();
	char exe[512], pidbuf[16], script[1024];
	self_path(exe, sizeof(exe));
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script), TR_READY "usdt:%s:regtest:main__probe { printf(\"H %%d\\n\", arg0); exit(); }", exe);
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace: %s", t.out);
	CHECK(tr_wait_sema(&regtest_main__probe_semaphore, false, 5));
	CHECK(lookup("regtest", "main__probe").info.enabled);
	fire_main(7);
	tr_finish(&t, 10);
	CHECK_MSG(strstr(t.out, "H 7\n"), "%s", t.out);
	CHECK(tr_wait_sema(&regtest_main__probe_semaphore, true, 5));
	CHECK(!lookup("regtest", "main__probe").info.enabled);
}

static int count_note(const struct usdt__note *n, void *ctx)
{
	(void)n;
	++*(int *)ctx;
	return 0;
}

TEST(damaged_files_are_refused_not_followed)
{
	/* Our own executable, cut and corrupted in many ways. */
	char exe[512];
	self_path(exe, sizeof(exe));
	int fd = open(exe, O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	size_t len = (size_t)st.st_size;
	unsigned char *buf = malloc(len);
	CHECK(buf && pread(fd, buf, len, 0) == (ssize_t)len);
	close(fd);
	int n = 0;
	CHECK_EQ_INT(usdt__elf_notes_mem(buf, len, count_note, &n), 0);
	CHECK(n >= 3);
	CHECK_EQ_INT(usdt__elf_notes_mem("hello", 5, count_note, &n), -ENOEXEC);
	CHECK_EQ_INT(usdt__elf_notes_mem(buf, 3, count_note, &n), -ENOEXEC);
	/* Every prefix: a clean error or fewer notes, never a read past the end. */
	for (size_t cut = 16; cut < len; cut += len / 97 + 1) {
		unsigned char *copy = malloc(cut);
		memcpy(copy, buf, cut);
		int m = 0, r = usdt__elf_notes_mem(copy, cut, count_note, &m);
		CHECK_MSG(r == 0 || r == -EINVAL, "cut at %zu: %d", cut, r);
		free(copy);
	}
	/* Flipped bytes anywhere in the headers and notes. */
	unsigned seed = 1;
	for (int round = 0; round < 2000; round++) {
		unsigned char *copy = malloc(len);
		memcpy(copy, buf, len);
		for (int k = 0; k < 8; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 4) % len] ^= (unsigned char)(seed >> 20);
		}
		int m = 0, r = usdt__elf_notes_mem(copy, len, count_note, &m);
		CHECK_MSG(r == 0 || r == -EINVAL || r == -ENOEXEC || r == -ENOMEM, "round %d: %d", round, r);
		free(copy);
	}
	free(buf);
}

TEST_MAIN()
