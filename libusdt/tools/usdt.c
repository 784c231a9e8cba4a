/*
 * usdt - list the USDT probes of a running process or of an ELF file, each
 * with a bpftrace line ready to paste.
 *
 *   usdt list [-p PROVIDER] [--no-str] [--json] PID|FILE
 *   usdt top PID ...        (a live view: usdt-view, in Python)
 *   usdt heatmap PID PAIR ...
 *   usdt stacks PID --event EVENT ...   (Python+kernel stacks, counted)
 *   usdt flame PID [--event EVENT] ...  (a flame graph of them)
 *
 * For a process, every executable file mapping is read for probe notes:
 * programs, shared libraries, and libusdt's dynamic images (files or
 * memfds). Semaphores are read from the process's memory, so the listing
 * says which probes are being traced right now.
 *
 * Exit status: 0 listed (possibly nothing), 1 error (no such process, not
 * an ELF file, permission denied), 2 usage.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <libgen.h>

#include "elf_notes.h"

static const char *filter_provider;
static bool no_str;
static bool json;         /* one JSON array on stdout instead of text */
static int pid;           /* 0: a file */
static unsigned listed;

struct target {
	const char *path;   /* the file as listed: its path, or for a memfd a descriptor */
	const char *attach; /* what the bpftrace line names */
	bool by_pid;        /* the line says -p PID */
	bool memfd;         /* no file name: say how to attach, once */
	uintptr_t bias;
};

/* One argument of a note's spec ("-4@%esi") as bpftrace prints it. */
struct arg {
	int size; /* negative: signed */
};

static int parse_args(const char *spec, struct arg *out, int max)
{
	int n = 0;
	const char *p = spec;
	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *end;
		long size = strtol(p, &end, 10);
		out[n++].size = (end != p && *end == '@') ? (int)size : 0;
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

/* An unsigned argument as wide as a pointer is taken for a string (see
 * usage()): the notes carry sizes only, not C types. */
static bool is_str(int size, unsigned ptr_size)
{
	return !no_str && size == (int)ptr_size;
}

static const char *type_name(int size, unsigned ptr_size)
{
	if (is_str(size, ptr_size))
		return "ptr";
	switch (size) {
	case -1: return "int8";
	case 1: return "uint8";
	case -2: return "int16";
	case 2: return "uint16";
	case -4: return "int32";
	case 4: return "uint32";
	case -8: return "int64";
	case 8: return "uint64";
	default: return "?";
	}
}

static unsigned short read_sema(uintptr_t addr)
{
	unsigned short v = 0;
	if (!pid) {
		return 0;
	}
	struct iovec local = { &v, sizeof(v) }, remote = { (void *)addr, sizeof(v) };
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(v))
		return 0xffff; /* unreadable */
	return v;
}

/* A JSON string: quotes, backslashes and control bytes escaped; other bytes
 * as they are (notes carry no encoding). */
static void json_str(const char *v)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

static void print_json(const struct usdt__note *n, const struct target *t, const struct arg *args,
		       int argc, const char *state, const char *line)
{
	printf("%s\n  {\"provider\": ", listed ? "," : "[");
	json_str(n->provider);
	printf(", \"name\": ");
	json_str(n->name);
	printf(", \"args\": ");
	json_str(n->args);
	printf(", \"types\": [");
	for (int i = 0; i < argc; i++)
		printf("%s\"%s\"", i ? ", " : "", type_name(args[i].size, n->ptr_size));
	printf("], \"path\": ");
	json_str(t->path);
	/* Hex strings: a JSON number loses bits above 2^53. Run-time addresses
	 * for a process, link-time ones for a file. */
	printf(", \"address\": \"0x%" PRIx64 "\", \"semaphore\": ", n->pc + t->bias);
	if (n->sema)
		printf("\"0x%" PRIx64 "\"", n->sema + t->bias);
	else
		printf("null");
	printf(", \"state\": \"%s\", \"bpftrace\": ", state);
	json_str(line);
	printf("}");
}

static int print_probe(const struct usdt__note *n, void *ctx)
{
	struct target *t = ctx;
	if (filter_provider && strcmp(filter_provider, n->provider))
		return 0;
	struct arg args[12];
	int argc = parse_args(n->args, args, 12);
	const char *state;
	if (!n->sema)
		state = "no semaphore";
	else if (!pid)
		state = "semaphore";
	else {
		unsigned short v = read_sema((uintptr_t)(n->sema + t->bias));
		state = v == 0xffff ? "semaphore unreadable" : v ? "TRACED" : "untraced";
	}
	/* bpftrace 0.17 reads arg0..arg5: the line names at most six. */
	char fmt[256] = "", vals[512] = "";
	int shown = argc < 6 ? argc : 6;
	for (int i = 0; i < shown; i++) {
		const char *f;
		char v[32];
		bool str = is_str(args[i].size, n->ptr_size);
		switch (args[i].size) {
		case -1: case -2: case -4: f = "%d"; break;
		case 1: case 2: case 4: f = "%u"; break;
		case -8: f = "%ld"; break;
		default: f = "%lu"; break;
		}
		if (str)
			f = "%s";
		snprintf(v, sizeof(v), str ? ", str(arg%d)" : ", arg%d", i);
		snprintf(fmt + strlen(fmt), sizeof(fmt) - strlen(fmt), "%s%s", i ? " " : "", f);
		snprintf(vals + strlen(vals), sizeof(vals) - strlen(vals), "%s", v);
	}
	char pidopt[32] = "", *line = NULL;
	if (t->by_pid)
		snprintf(pidopt, sizeof(pidopt), "-p %d ", pid);
	if (asprintf(&line, "bpftrace %s-e 'usdt:%s:%s:%s { printf(\"%s:%s%s\\n\"%s); }'", pidopt,
		     t->attach, n->provider, n->name, n->name, argc ? " " : "", fmt, vals) < 0) {
		fprintf(stderr, "usdt: out of memory\n");
		exit(1);
	}
	if (json) {
		print_json(n, t, args, argc, state, line);
	} else {
		if (t->memfd) {
			printf("# %s: no file name (a memfd or deleted file). Attach by this path:\n"
			       "# bpftrace 0.25+ do not find it through usdt:*:... or bpftrace -l -p.\n",
			       t->path);
			t->memfd = false;
		}
		printf("%s:%s  (", n->provider, n->name);
		for (int i = 0; i < argc; i++)
			printf("%s%s", i ? ", " : "", type_name(args[i].size, n->ptr_size));
		printf(")  %s\n    path %s\n    %s\n", state, t->path, line);
	}
	free(line);
	listed++;
	return 0;
}

static int list_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "usdt: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char real[PATH_MAX];
	struct target t = { realpath(path, real) ? real : path, NULL, false, false, 0 };
	t.attach = t.path;
	int err = usdt__elf_notes_fd(fd, print_probe, &t);
	close(fd);
	if (err == -ENOEXEC) {
		fprintf(stderr, "usdt: %s: not an ELF file\n", path);
		return 1;
	}
	if (err) {
		fprintf(stderr, "usdt: %s: malformed ELF file (%s)\n", path, strerror(-err));
		return 1;
	}
	return 0;
}

/* A memfd has no path a tracer can open by name: find a descriptor of it. */
static bool fd_path_for(const char *mapped, char *out, size_t n)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	struct dirent *e;
	bool found = false;
	while (!found && (e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (!strcmp(target, mapped)) {
			snprintf(out, n, "%s", link);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static int list_pid(void)
{
	char maps_path[64];
	snprintf(maps_path, sizeof(maps_path), "/proc/%d/maps", pid);
	FILE *maps = fopen(maps_path, "r");
	if (!maps) {
		if (errno == ENOENT)
			fprintf(stderr, "usdt: no process %d\n", pid);
		else if (errno == EACCES || errno == EPERM)
			fprintf(stderr, "usdt: process %d: permission denied (run as its user or as root)\n", pid);
		else
			fprintf(stderr, "usdt: process %d: %s\n", pid, strerror(errno));
		return 1;
	}
	/* Files with an executable mapping, each once, with the start of the
	 * mapping of its offset 0. */
	struct file {
		char path[PATH_MAX];
		unsigned long start0, xstart, xend;
		bool exec;
	} *files = NULL;
	size_t nfiles = 0;
	char line[PATH_MAX + 256];
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, off, inode;
		char perms[8], dev[16];
		int consumed = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &start, &end, perms, &off, dev, &inode, &consumed) < 6 ||
		    !inode)
			continue;
		char *path = line + consumed;
		path[strcspn(path, "\n")] = 0;
		size_t k;
		for (k = 0; k < nfiles && strcmp(files[k].path, path); k++)
			;
		if (k == nfiles) {
			struct file *v = realloc(files, (nfiles + 1) * sizeof(*files));
			if (!v) {
				fprintf(stderr, "usdt: out of memory\n");
				return 1;
			}
			files = v;
			memset(&files[k], 0, sizeof(files[k]));
			snprintf(files[k].path, sizeof(files[k].path), "%s", path);
			files[k].start0 = (unsigned long)-1;
			nfiles++;
		}
		if (off == 0 && files[k].start0 == (unsigned long)-1)
			files[k].start0 = start;
		if (perms[2] == 'x' && !files[k].exec) {
			files[k].exec = true;
			files[k].xstart = start;
			files[k].xend = end;
		}
	}
	fclose(maps);
	int rc = 0;
	for (size_t k = 0; k < nfiles; k++) {
		if (!files[k].exec || files[k].start0 == (unsigned long)-1)
			continue;
		/* map_files opens the very file mapped, even if deleted or a memfd
		 * (it needs CAP_SYS_ADMIN); else the path, or for a memfd or deleted
		 * file a descriptor the process still holds. */
		char mf[128], fdpath[PATH_MAX + 32], attach[PATH_MAX + 64];
		const char *p = files[k].path;
		bool gone = strstr(p, " (deleted)") != NULL || !strncmp(p, "/memfd:", 7);
		bool have_fd_path = gone && fd_path_for(p, fdpath, sizeof(fdpath));
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, files[k].xstart, files[k].xend);
		int fd = open(mf, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = open(have_fd_path ? fdpath : p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == EACCES || errno == EPERM) {
				fprintf(stderr, "usdt: %s: %s\n", p, strerror(errno));
				rc = 1;
			}
			continue;
		}
		/* Lines that attach exactly once on every bpftrace 0.17-0.27 (README
		 * "Tracer notes"): with -p a file is named /proc/PID/root/PATH (its
		 * plain path with -p attaches twice since 0.25), a memfd or deleted
		 * file the process's /proc/PID/fd/N (0.25+ skip "(deleted)" mappings,
		 * so usdt:*:... finds nothing); map_files only without -p (0.17
		 * attaches nothing with -p there). */
		struct target t = { p, attach, true, gone, 0 };
		if (!gone) {
			snprintf(attach, sizeof(attach), "/proc/%d/root%s", pid, p);
		} else if (have_fd_path) {
			t.path = fdpath;
			snprintf(attach, sizeof(attach), "%s", fdpath);
		} else {
			t.path = mf;
			t.by_pid = false;
			snprintf(attach, sizeof(attach), "%s", mf);
		}
		uint64_t base;
		if (usdt__elf_load_base_fd(fd, &base) == 0) { /* non-ELF mappings: nothing */
			t.bias = files[k].start0 - (uintptr_t)base;
			usdt__elf_notes_fd(fd, print_probe, &t);
		}
		close(fd);
	}
	free(files);
	return rc;
}

/*
 * top, heatmap, stacks and flame are a Python program (curses, http.server, json: the
 * standard library) installed beside this one in ../libexec/usdt/; it calls
 * back `usdt list --json` for discovery, through USDT_BIN. USDT_VIEW names
 * another copy, USDT_PYTHON another interpreter.
 */
static int run_view(int argc, char **argv)
{
	char self[PATH_MAX], script[PATH_MAX + 64];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		fprintf(stderr, "usdt: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[len] = 0;
	setenv("USDT_BIN", self, 1);
	const char *view = getenv("USDT_VIEW");
	if (!view || !*view) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", self);
		snprintf(script, sizeof(script), "%s/../libexec/usdt/usdt-view", dirname(dir));
		view = script;
	}
	if (access(view, R_OK)) {
		fprintf(stderr, "usdt: %s needs %s: %s (make install puts it there)\n", argv[1], view,
			strerror(errno));
		return 1;
	}
	const char *py = getenv("USDT_PYTHON");
	if (!py || !*py)
		py = "python3";
	char **args = calloc((size_t)argc + 4, sizeof(*args));
	if (!args) {
		fprintf(stderr, "usdt: out of memory\n");
		return 1;
	}
	int n = 0;
	args[n++] = (char *)py;
	args[n++] = "-I"; /* neither PYTHONPATH nor the current directory decide what runs as root */
	args[n++] = (char *)view;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	execvp(py, args);
	fprintf(stderr, "usdt: %s needs %s: %s\n", argv[1], py, strerror(errno));
	free(args);
	return 1;
}

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: usdt list [-p PROVIDER] [--no-str] [--json] PID|FILE\n"
		   "       usdt top [-p PROVIDER] [-g GLOB] [-s KEY] [-i SEC] [--json] PID\n"
		   "       usdt heatmap PID PROVIDER:PAIR [--svg FILE|--html FILE --seconds N]\n"
		   "       usdt stacks PID --event EVENT [--seconds N] [--folded]\n"
		   "       usdt flame PID [--event EVENT] [--seconds N] --svg FILE|--html FILE|--folded FILE\n"
		   "       usdt --help     (usdt top --help, usdt heatmap --help, ... for theirs)\n"
		   "\n"
		   "Lists the USDT probes of a running process (every program, library and\n"
		   "libusdt image it has mapped, memfd images included) or of an ELF file\n"
		   "(ELF32 or ELF64): provider:name, argument types, whether it is traced now\n"
		   "(its semaphore read from the process), the path to attach to, and a\n"
		   "bpftrace line ready to paste. For a process the line says -p PID and\n"
		   "names a file /proc/PID/root/PATH, a memfd image /proc/PID/fd/N: forms\n"
		   "that attach once on every bpftrace from 0.17 to 0.27 (with -p the plain\n"
		   "path attaches twice on 0.25+, and usdt:*:... misses memfd images there).\n"
		   "\n"
		   "  -p PROVIDER  only this provider's probes (-P is the same)\n"
		   "  --no-str     print pointer-sized arguments as numbers\n"
		   "  --json       one JSON array: per probe provider, name, args (the note's\n"
		   "               spec), types, path, address and semaphore (hex strings,\n"
		   "               run-time for a process), state (as in the text) and the\n"
		   "               bpftrace line\n"
		   "\n"
		   "Notes record argument sizes, not C types: an unsigned argument as wide as\n"
		   "a pointer is shown as ptr and read with str() in the bpftrace line, right\n"
		   "for strings, the common case. The line names arg0..arg5 (bpftrace's limit).\n"
		   "\n"
		   "usdt top: a live, refreshing view of a process's probes, traced with\n"
		   "bpftrace: fires per second, and calls per second and latency p50/p99/max\n"
		   "of pairs matched by name (X__entry/X__return, X__start/X__done, @fbt's,\n"
		   "python's functions). usdt heatmap: a live latency heat map of one pair,\n"
		   "served on 127.0.0.1 with a token in its URL, or written as SVG or HTML.\n"
		   "usdt stacks: the distinct Python+kernel stacks of a process at an event\n"
		   "(a tracepoint, kprobe, uprobe, usdt probe, or read/offcpu for time\n"
		   "blocked), most frequent first. usdt flame: a flame graph of them, on-CPU\n"
		   "by default, as SVG, HTML or folded stacks (FlameGraph's, speedscope's).\n"
		   "\n"
		   "Exit status: 0 listed (\"no probes\" on stderr if none), 1 error (no such\n"
		   "process, not an ELF file, malformed ELF file, permission denied), 2 usage.\n");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout, 0);
	if (argc >= 2 && (!strcmp(argv[1], "top") || !strcmp(argv[1], "heatmap") ||
			  !strcmp(argv[1], "stacks") || !strcmp(argv[1], "flame")))
		return run_view(argc, argv);
	if (argc < 3 || strcmp(argv[1], "list"))
		return usage(stderr, 2);
	const char *what = NULL;
	for (int i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "-p") || !strcmp(argv[i], "-P")) && i + 1 < argc)
			filter_provider = argv[++i];
		else if (!strcmp(argv[i], "--no-str"))
			no_str = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' || what)
			return usage(stderr, 2);
		else
			what = argv[i];
	}
	if (!what)
		return usage(stderr, 2);
	char *end;
	long n = strtol(what, &end, 10);
	int rc;
	if (*what && !*end && n > 0 && n <= INT32_MAX) {
		pid = (int)n;
		rc = list_pid();
	} else {
		rc = list_file(what);
	}
	if (json && (listed || !rc))
		printf(listed ? "\n]\n" : "[]\n");
	if (!rc && !listed && filter_provider)
		fprintf(stderr, "usdt: %s: no probes of provider %s\n", what, filter_provider);
	else if (!rc && !listed)
		fprintf(stderr, "usdt: %s: no probes\n", what);
	return rc;
}
