/*
 * registry_test.c - usdt_foreach_probe() lists static probes of the program
 * and of a dlopen()ed library, and loaded dynamic providers, with the path
 * to attach to and the live enabled state; the note reader refuses damaged
 * files without reading out of bounds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "arch.h"
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

struct first_note {
	int n;
	struct usdt__note note;
	char provider[64], name[64], args[128];
};

static int keep_first(const struct usdt__note *n, void *ctx)
{
	struct first_note *f = ctx;
	if (!f->n++) {
		f->note = *n;
		snprintf(f->provider, sizeof(f->provider), "%s", n->provider);
		snprintf(f->name, sizeof(f->name), "%s", n->name);
		snprintf(f->args, sizeof(f->args), "%s", n->args);
	}
	return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	*len = (size_t)st.st_size;
	if (buf && pread(fd, buf, *len, 0) != (ssize_t)*len) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

static struct first_note lookup_first_of_exe(void)
{
	struct first_note f = { 0 };
	char exe[512];
	self_path(exe, sizeof(exe));
	int fd = open(exe, O_RDONLY);
	if (fd >= 0) {
		usdt__elf_notes_fd(fd, keep_first, &f);
		close(fd);
	}
	return f;
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
	      "void reglib_fire(long v) { USDT_PROBE1(reglib, hello, v); }\n"
	      "void *reglib_sema(void) { return (void *)&reglib_hello_semaphore; }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -O2 -shared -fPIC -Ilibusdt/include -o %s %s", ta_cc(), lib, src);
	CHECK_EQ_INT(system(cmd), 0);
	/* Opened by a relative name, which the loader keeps as given. */
	char cwd[512];
	CHECK(getcwd(cwd, sizeof(cwd)));
	CHECK(chdir(dir) == 0);
	void *h = dlopen("./libreg.so", RTLD_NOW);
	CHECK(chdir(cwd) == 0);
	CHECK_MSG(h, "%s", dlerror());
	struct found fl = lookup("reglib", "hello");
	CHECK_EQ_INT(fl.count, 1);
	CHECK_STREQ(fl.path, lib);
	/* v is the function's first argument: the compiler leaves it in place. */
	char want[32];
	snprintf(want, sizeof(want), "-8@%s", ta_regs[0]);
	CHECK_STREQ(fl.args, want);
	CHECK(!fl.info.dynamic && !fl.info.enabled);
	/* The semaphore is the library's variable; the site is in its code. */
	void *(*sema_of)(void) = (void *(*)(void))dlsym(h, "reglib_sema");
	CHECK(sema_of);
	CHECK((uintptr_t)sema_of() == fl.info.semaphore);
	Dl_info di;
	CHECK(dladdr((void *)fl.info.address, &di) && di.dli_fbase);
	Dl_info dfire;
	CHECK(dladdr(dlsym(h, "reglib_fire"), &dfire));
	CHECK(di.dli_fbase == dfire.dli_fbase);
	CHECK(fl.info.address > (uintptr_t)dlsym(h, "reglib_fire") - 4096 &&
	      fl.info.address < (uintptr_t)dlsym(h, "reglib_fire") + 4096);

	usdt_provider *p = usdt_provider_new("regdyn");
	usdt_probe_new_sig(p, "tick", "int64_t, char *");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	struct found fd = lookup("regdyn", "tick");
	CHECK_EQ_INT(fd.count, 1); /* once: its image is not also read as a file */
	CHECK(fd.info.dynamic);
	CHECK_STREQ(fd.path, usdt_provider_path(p));
	CHECK_STREQ(fd.args, usdt_probe_arg_spec(usdt_provider_probe(p, "tick")));
	CHECK(fd.info.address == usdt_probe_address(usdt_provider_probe(p, "tick")));
	CHECK(fd.info.semaphore == (uintptr_t)usdt_probe_semaphore(usdt_provider_probe(p, "tick")));
	CHECK(!fd.info.enabled);
	/* Its file is known as a libusdt image by the note reader. */
	int ifd = open(fd.path, O_RDONLY);
	CHECK(ifd >= 0);
	struct first_note img = { 0 };
	CHECK_EQ_INT(usdt__elf_notes_fd(ifd, keep_first, &img), 0);
	close(ifd);
	CHECK(img.n == 1 && img.note.libusdt_image);
	CHECK_STREQ(img.name, "tick");
	struct first_note exe_note = lookup_first_of_exe();
	CHECK(exe_note.n >= 1 && !exe_note.note.libusdt_image);
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

TEST(enabled_follows_a_tracer_static_and_dynamic)
{
	if (!tr_have("bpftrace"))
		SKIP_TRACER("bpftrace is not installed");
	tr_mount_tracefs();
	usdt_provider *p = usdt_provider_new("regdyn2");
	usdt_probe *tick = usdt_probe_new_sig(p, "tick", "int64_t");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(!lookup("regdyn2", "tick").info.enabled);
	char exe[512], pidbuf[16], script[2048], pe[600], pp[600];
	self_path(exe, sizeof(exe));
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	snprintf(script, sizeof(script),
		 TR_READY "usdt:%s:regtest:main__probe { printf(\"H %%d\\n\", arg0); }\n"
			  "usdt:%s:regdyn2:tick { printf(\"T %%ld\\n\", arg0); exit(); }",
		 tr_pid_path(pe, sizeof(pe), getpid(), exe),
		 tr_pid_path(pp, sizeof(pp), getpid(), usdt_provider_path(p)));
	const char *argv[] = { "bpftrace", "-p", pidbuf, "-e", script, NULL };
	struct tracer t;
	CHECK(tr_start_split(&t, argv) == 0);
	CHECK_MSG(tr_wait_ready(&t, 20), "bpftrace: %s %s", t.out, t.err);
	CHECK(tr_wait_sema(&regtest_main__probe_semaphore, false, 5));
	CHECK(tr_wait_sema(usdt_probe_semaphore(tick), false, 5));
	CHECK(lookup("regtest", "main__probe").info.enabled);
	CHECK(lookup("regdyn2", "tick").info.enabled);
	fire_main(7);
	usdt_probe_fire1(tick, 42);
	tr_finish(&t, 10);
	CHECK_MSG(tr_count_events(&t, "H 7\n") == 1 && tr_count_events(&t, "T 42\n") == 1, "%s %s", t.out, t.err);
	CHECK(tr_wait_sema(&regtest_main__probe_semaphore, true, 5));
	CHECK(tr_wait_sema(usdt_probe_semaphore(tick), true, 5));
	CHECK(!lookup("regtest", "main__probe").info.enabled);
	CHECK(!lookup("regdyn2", "tick").info.enabled);
	usdt_provider_free(p);
	CHECK_EQ_INT(lookup("regdyn2", "tick").count, 0);
}

/* Providers loaded and unloaded by another thread while this one walks. */
static atomic_bool churn_stop;
static atomic_int churn_err;

static void *churn(void *arg)
{
	(void)arg;
	usdt_provider *p = usdt_provider_new("regchurn");
	usdt_probe_new_sig(p, "x", "int");
	bool yield = tl_under_valgrind(); /* else this loop starves the walker */
	while (!atomic_load(&churn_stop)) {
		if (usdt_provider_load(p) || usdt_provider_unload(p))
			atomic_store(&churn_err, 1);
		if (yield)
			sched_yield();
	}
	usdt_provider_free(p);
	return NULL;
}

TEST(walks_are_safe_while_providers_come_and_go)
{
	pthread_t th;
	CHECK(pthread_create(&th, NULL, churn, NULL) == 0);
	int seen = 0, walks = 0;
	for (const int want = tl_scaled(200); walks < want; walks++) {
		struct found f = lookup("regchurn", "x");
		if (f.count < 0 || f.count > 1)
			break;
		seen += f.count;
		if (f.count && !f.info.dynamic)
			break;
	}
	atomic_store(&churn_stop, true);
	pthread_join(th, NULL);
	CHECK_EQ_INT(walks, tl_scaled(200));
	CHECK_EQ_INT(atomic_load(&churn_err), 0);
	CHECK_EQ_INT(lookup("regchurn", "x").count, 0);
	(void)seen;
}

/* A library with a semaphore dlopen()ed and dlclose()d by another thread
 * while this one walks: its semaphore must not be read once unmapped. */
static atomic_bool lib_stop;
static char churn_lib[600];

static void *lib_churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&lib_stop)) {
		void *h = dlopen(churn_lib, RTLD_NOW);
		if (h)
			dlclose(h);
	}
	return NULL;
}

TEST(walks_are_safe_while_libraries_come_and_go)
{
	char dir[] = "/tmp/regtestlib.XXXXXX", src[600], cmd[2048];
	CHECK(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(churn_lib, sizeof(churn_lib), "%s/libchurn.so", dir);
	FILE *f = fopen(src, "w");
	CHECK(f);
	fputs("#include \"usdt_sdt.h\"\nUSDT_DEFINE_SEMAPHORE(regchurnlib, hello);\n"
	      "void regchurnlib_fire(long v) { USDT_PROBE1(regchurnlib, hello, v); }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -O2 -shared -fPIC -Ilibusdt/include -o %s %s", ta_cc(), churn_lib, src);
	CHECK_EQ_INT(system(cmd), 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, lib_churn, NULL) == 0);
	int walks = 0, seen = 0;
	for (const int want = tl_scaled(300); walks < want; walks++) {
		struct found fl = lookup("regchurnlib", "hello");
		if (fl.count < 0 || fl.count > 1 || (fl.count && strcmp(fl.path, churn_lib)))
			break;
		seen += fl.count;
	}
	atomic_store(&lib_stop, true);
	pthread_join(th, NULL);
	CHECK_EQ_INT(walks, tl_scaled(300));
	CHECK_EQ_INT(lookup("regchurnlib", "hello").count, 0);
	(void)seen;
	unlink(churn_lib);
	unlink(src);
	rmdir(dir);
}

/* dlopen("sub/x.so") and a relative LD_LIBRARY_PATH keep a relative name
 * without "./": the library is listed by its absolute path all the same. */
TEST(a_library_opened_by_a_relative_path_is_listed)
{
	char dir[] = "/tmp/regtestrel.XXXXXX", src[600], lib[600], cmd[2048], cwd[512];
	CHECK(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/sub", dir);
	CHECK_EQ_INT(system(cmd), 0);
	snprintf(lib, sizeof(lib), "%s/sub/librel.so", dir);
	FILE *f = fopen(src, "w");
	CHECK(f);
	fputs("#include \"usdt_sdt.h\"\nUSDT_DEFINE_SEMAPHORE(regrel, hello);\n"
	      "void regrel_fire(long v) { USDT_PROBE1(regrel, hello, v); }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -O2 -shared -fPIC -Ilibusdt/include -o %s %s", ta_cc(), lib, src);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK(getcwd(cwd, sizeof(cwd)));
	CHECK(chdir(dir) == 0);
	void *h = dlopen("sub/librel.so", RTLD_NOW);
	CHECK(chdir(cwd) == 0);
	CHECK_MSG(h, "%s", dlerror());
	struct found fl = lookup("regrel", "hello");
	CHECK_EQ_INT(fl.count, 1);
	CHECK_STREQ(fl.path, lib);
	dlclose(h);
	CHECK_EQ_INT(lookup("regrel", "hello").count, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
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

/* The offset of the first stapsdt note's descriptor in an ELF64 file. */
static size_t find_stapsdt_desc(const unsigned char *buf, size_t len)
{
	static const unsigned char hdr[] = { 8, 0, 0, 0 };
	for (size_t i = 0; i + 20 < len; i += 4)
		if (!memcmp(buf + i, hdr, 4) && buf[i + 8] == 3 && !memcmp(buf + i + 12, "stapsdt", 8))
			return i + 20;
	return 0;
}

TEST(the_site_moves_with_stapsdt_base_as_prelink_would)
{
	char exe[512];
	self_path(exe, sizeof(exe));
	size_t len;
	unsigned char *buf = slurp(exe, &len);
	CHECK(buf);
	struct first_note a = { 0 }, b = { 0 };
	CHECK_EQ_INT(usdt__elf_notes_mem(buf, len, keep_first, &a), 0);
	CHECK_EQ_INT(a.note.ptr_size, 8);
	size_t d = find_stapsdt_desc(buf, len);
	CHECK(d);
	/* The note says .stapsdt.base was 0x40 lower when it was written:
	 * the site moved up by 0x40 since. */
	uint64_t base;
	memcpy(&base, buf + d + 8, 8);
	base -= 0x40;
	memcpy(buf + d + 8, &base, 8);
	CHECK_EQ_INT(usdt__elf_notes_mem(buf, len, keep_first, &b), 0);
	CHECK_STREQ(b.provider, a.provider);
	CHECK(b.note.pc == a.note.pc + 0x40);
	CHECK(b.note.sema == a.note.sema);
	free(buf);
}

TEST(elf32_files_are_read)
{
	char dir[] = "/tmp/regtest32.XXXXXX";
	CHECK(mkdtemp(dir));
	char cmd[2048], so[600];
	snprintf(so, sizeof(so), "%s/l32.so", dir);
	snprintf(cmd, sizeof(cmd),
		 "printf '#include \"usdt_sdt.h\"\\nUSDT_DEFINE_SEMAPHORE(r32, hello);\\n"
		 "void f(int v, const char *s) { USDT_PROBE2(r32, hello, v, s); }\\n' >%s/l.c && "
		 "cc -m32 -O2 -fPIC -Ilibusdt/include -c %s/l.c -o %s/l.o 2>/dev/null && "
		 "ld -m elf_i386 -shared -o %s %s/l.o 2>/dev/null",
		 dir, dir, dir, so, dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
		SKIP_TEST("no 32-bit compiler (cc -m32)");
	}
	size_t len;
	unsigned char *buf = slurp(so, &len);
	CHECK(buf);
	struct first_note f = { 0 };
	CHECK_EQ_INT(usdt__elf_notes_mem(buf, len, keep_first, &f), 0);
	CHECK_EQ_INT(f.n, 1);
	CHECK_STREQ(f.provider, "r32");
	CHECK_STREQ(f.name, "hello");
	CHECK(!strncmp(f.args, "-4@", 3) && strstr(f.args, " 4@"));
	CHECK_EQ_INT(f.note.ptr_size, 4);
	CHECK(f.note.pc != 0 && f.note.sema != 0);
	uint64_t base = 1;
	CHECK_EQ_INT(usdt__elf_load_base_mem(buf, len, &base), 0);
	CHECK(base == 0);
	/* The semaphore is where the symbol table says. */
	snprintf(cmd, sizeof(cmd), "nm %s | awk '/r32_hello_semaphore/ { print $1 }'", so);
	FILE *nm = popen(cmd, "r");
	char hex[64] = "";
	CHECK(nm && fgets(hex, sizeof(hex), nm));
	pclose(nm);
	CHECK(strtoull(hex, NULL, 16) == f.note.sema);
	/* And hostile variants of it, as for ELF64. */
	unsigned seed = 7;
	for (int round = 0; round < 1000; round++) {
		unsigned char *copy = malloc(len);
		memcpy(copy, buf, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 4) % len] ^= (unsigned char)(seed >> 20);
		}
		int m = 0, r = usdt__elf_notes_mem(copy, len, count_note, &m);
		CHECK_MSG(r == 0 || r == -EINVAL || r == -ENOEXEC || r == -ENOMEM, "round %d: %d", round, r);
		r = usdt__elf_load_base_mem(copy, len, &base);
		CHECK_MSG(r == 0 || r == -EINVAL || r == -ENOEXEC, "round %d: base %d", round, r);
		free(copy);
	}
	free(buf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN()
