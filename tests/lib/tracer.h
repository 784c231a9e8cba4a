/*
 * tracer.h - running real tracers (bpftrace, bcc tools, gdb, perf) from C
 * tests: start a command with its output in a pipe, wait for a line, collect
 * everything it printed.
 */
#ifndef USDT_TEST_TRACER_H
#define USDT_TEST_TRACER_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tracer {
	pid_t pid;
	int fd;        /* stdout of the command (and stderr, unless kept apart) */
	int efd;       /* stderr kept apart (tr_start_split), else -1 */
	char out[65536];
	size_t len;
	char err[16384];
	size_t elen;
};

static inline bool tr_have(const char *prog)
{
	/* Under valgrind the patched probe sites never run (valgrind runs a
	 * translation) and a hit traps: no tracer there (tests/san/valgrind.sh). */
	if (getenv("USDT_UNDER_VALGRIND"))
		return false;
	/* A level without tracers (testlib.h: USDT_TEST_NO_TRACER). */
	const char *none = getenv("USDT_TEST_NO_TRACER");
	if (none && *none && strcmp(none, "0") != 0)
		return false;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Make sure tracefs is there (uprobes need it). */
static inline void tr_mount_tracefs(void)
{
	struct stat st;
	if (stat("/sys/kernel/tracing/uprobe_events", &st))
		(void)!system("mount -t tracefs tracefs /sys/kernel/tracing >/dev/null 2>&1");
}

static inline int tr_start_io(struct tracer *t, const char *const argv[], bool split)
{
	int p[2], e[2] = { -1, -1 };
	memset(t, 0, sizeof(*t));
	t->efd = -1;
	if (pipe(p))
		return -1;
	if (split && pipe(e)) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	fflush(stdout);
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0) {
		dup2(p[1], 1);
		dup2(split ? e[1] : p[1], 2);
		close(p[0]);
		close(p[1]);
		if (split) {
			close(e[0]);
			close(e[1]);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		/* Stays in the test's process group: a failing test takes its
		 * tracers down with it. */
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	t->fd = p[0];
	fcntl(t->fd, F_SETFL, O_NONBLOCK);
	if (split) {
		close(e[1]);
		t->efd = e[0];
		fcntl(t->efd, F_SETFL, O_NONBLOCK);
	}
	return 0;
}

/* stdout and stderr in one buffer: tools whose diagnostics are the result
 * (gdb, tplist, perf). */
static inline int tr_start(struct tracer *t, const char *const argv[])
{
	return tr_start_io(t, argv, false);
}

/* stderr apart, in t->err: for bpftrace, whose versions print different
 * things around the events ("Attaching N probes..." in 0.17, "Attached N
 * probes" and WARNING lines in 0.27); events are read from stdout only,
 * after our own marker (tr_events). */
static inline int tr_start_split(struct tracer *t, const char *const argv[])
{
	return tr_start_io(t, argv, true);
}

static inline double tr_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Drain stderr kept apart; it never decides when the command is done. */
static inline void tr_pump_err(struct tracer *t)
{
	while (t->efd >= 0) {
		ssize_t n = read(t->efd, t->err + t->elen, sizeof(t->err) - 1 - t->elen);
		if (n > 0) {
			t->elen += (size_t)n;
			t->err[t->elen] = 0;
			if (t->elen < sizeof(t->err) - 1)
				continue;
			/* Full: keep the first part, throw the rest away. */
			char sink[4096];
			while (read(t->efd, sink, sizeof(sink)) > 0)
				;
			return;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		close(t->efd);
		t->efd = -1;
	}
}

/* Read what is there, waiting up to ms. Returns false on EOF of stdout. */
static inline bool tr_pump(struct tracer *t, int ms)
{
	struct pollfd pfd[2] = { { .fd = t->fd, .events = POLLIN }, { .fd = t->efd, .events = POLLIN } };
	int r = poll(pfd, t->efd >= 0 ? 2 : 1, ms);
	tr_pump_err(t);
	if (r <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return true;
	ssize_t n = read(t->fd, t->out + t->len, sizeof(t->out) - 1 - t->len);
	if (n > 0) {
		t->len += (size_t)n;
		t->out[t->len] = 0;
		return true;
	}
	return n < 0;
}

/* How many times slower than this machine the tests run: full-system
 * emulation (tests/aarch64/guest.sh) sets USDT_TEST_TIME_SCALE, since there a
 * tracer takes tens of seconds to start. Every wait below is scaled by it. */
static inline double tr_time_scale(void)
{
	const char *v = getenv("USDT_TEST_TIME_SCALE");
	double f = v ? atof(v) : 1.0;
	return f >= 1.0 ? f : 1.0;
}

/* Wait until the output contains needle; false on timeout or exit. */
static inline bool tr_wait_for(struct tracer *t, const char *needle, double seconds)
{
	double end = tr_now() + seconds * tr_time_scale();
	while (!strstr(t->out, needle)) {
		if (tr_now() > end || !tr_pump(t, 50))
			return strstr(t->out, needle) != NULL;
	}
	return true;
}

/* Wait for the command to exit (killing it with SIGINT, then SIGKILL, after
 * seconds); collect all output. Returns its exit status or -1. */
static inline int tr_finish(struct tracer *t, double seconds)
{
	double end = tr_now() + seconds * tr_time_scale();
	int st = 0;
	bool sent_int = false;
	for (;;) {
		while (tr_pump(t, 20) && t->len < sizeof(t->out) - 1) {
			struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
			if (poll(&pfd, 1, 0) <= 0)
				break;
		}
		pid_t r = waitpid(t->pid, &st, WNOHANG);
		if (r == t->pid)
			break;
		if (tr_now() > end) {
			kill(t->pid, sent_int ? SIGKILL : SIGINT);
			sent_int = true;
			end = tr_now() + 5 * tr_time_scale();
		}
	}
	while (tr_pump(t, 50) && t->len < sizeof(t->out) - 1) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0)
			break;
	}
	close(t->fd);
	tr_pump_err(t);
	if (t->efd >= 0)
		close(t->efd);
	t->efd = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* bpftrace runs BEGIN after attaching every probe, so a script that starts
 * with BEGIN { printf("READY\n"); } is fully attached once READY shows.
 * (The semaphore alone is not enough: the kernel raises it when the uprobe
 * is registered, before bpftrace connects its program, and hits in between
 * are lost.) */
#define TR_READY "BEGIN { printf(\"READY\\n\"); } "

static inline bool tr_wait_ready(struct tracer *t, double seconds)
{
	return tr_wait_for(t, "READY\n", seconds);
}

/* The events: stdout after our READY line, nothing before it is taken for
 * one. "" until READY came. */
static inline const char *tr_events(const struct tracer *t)
{
	const char *r = t->out;
	while ((r = strstr(r, "READY\n")) && r != t->out && r[-1] != '\n')
		r++;
	return r ? r + 6 : "";
}

/* How many times line (a whole line, with its newline) is among the events:
 * tests that expect one event check for exactly one, so a tracer that
 * attaches twice is caught. */
static inline int tr_count_events(const struct tracer *t, const char *line)
{
	int n = 0;
	size_t l = strlen(line);
	for (const char *e = tr_events(t); (e = strstr(e, line)); e += l)
		n += e == tr_events(t) || e[-1] == '\n';
	return n;
}

/*
 * The path to name in a bpftrace probe given with -p PID for an image the
 * process maps at path (usdt_provider_path()). Forms that attach exactly
 * once on every bpftrace from 0.17 to 0.27:
 *  - a file: /proc/PID/root/PATH. The plain path with -p attaches twice
 *    since 0.25 (it and the /proc/PID/root form both match);
 *  - a memfd image (usdt_provider_path() gives /proc/PID/fd/N, the
 *    process's descriptor): that path as it is. 0.25+ skip "(deleted)"
 *    mappings when -p lists a process's files, so "usdt:*:prov:name" finds
 *    nothing there.
 */
static inline const char *tr_pid_path(char *buf, size_t n, pid_t pid, const char *path)
{
	int p, fd, end = 0;
	if (sscanf(path, "/proc/%d/fd/%d%n", &p, &fd, &end) == 2 && !path[end])
		snprintf(buf, n, "%s", path);
	else
		snprintf(buf, n, "/proc/%d/root%s", (int)pid, path);
	return buf;
}

static inline void tr_stop(struct tracer *t)
{
	kill(t->pid, SIGINT);
	tr_finish(t, 5);
}

/* Wait until *sema becomes non-zero (or zero when want_zero). */
static inline bool tr_wait_sema(const volatile unsigned short *sema, bool want_zero, double seconds)
{
	double end = tr_now() + seconds * tr_time_scale();
	while ((*sema != 0) == want_zero) {
		if (tr_now() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* Count open fds of this process. */
static inline int tr_count_fds(void)
{
	int n = 0;
	char path[64];
	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		struct stat st;
		if (!lstat(path, &st))
			n++;
	}
	return n;
}

/* Mappings of the process: lines of /proc/self/maps. */
static inline int tr_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

/* Whether the process maps the file at path. */
static inline bool tr_is_mapped(const char *path)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, path) != NULL;
	if (f)
		fclose(f);
	return found;
}

#endif
