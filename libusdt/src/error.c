/*
 * error.c - error codes, per-thread detail messages and the log callback.
 * The library never prints: messages go to usdt_errmsg() and to the log
 * callback the application sets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static __thread char errmsg_buf[512];

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static usdt_log_fn log_fn;
static void *log_ctx;

void usdt__clear_errmsg(void)
{
	errmsg_buf[0] = 0;
}

static void vset(const char *fmt, va_list ap)
{
	vsnprintf(errmsg_buf, sizeof(errmsg_buf), fmt, ap);
}

void usdt__set_errmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	usdt__log(USDT_LOG_DEBUG, "%s", errmsg_buf);
}

int usdt__fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	usdt__log(USDT_LOG_DEBUG, "%s", errmsg_buf);
	return -err;
}

const char *usdt_errmsg(void)
{
	return errmsg_buf;
}

void usdt_set_log(usdt_log_fn fn, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

void usdt__log(int level, const char *fmt, ...)
{
	/* Unlocked peek: the common case is no callback at all. */
	if (!__atomic_load_n(&log_fn, __ATOMIC_RELAXED))
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	if (log_fn)
		log_fn(level, msg, log_ctx);
	pthread_mutex_unlock(&log_lock);
}

const char *usdt__quote(const char *s, char *buf, size_t bufsz)
{
	size_t o = 0;
	if (bufsz < 8)
		return "\"...\"";
	buf[o++] = '"';
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 >= bufsz) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

const char *usdt_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case EINVAL: return "invalid argument (bad name, type or option)";
	case E2BIG: return "too many probe arguments (at most 12)";
	case EEXIST: return "a probe of that name already exists in the provider";
	case EBUSY: return "provider is loaded; unload it before changing it";
	case EALREADY: return "provider is already in the requested state";
	case ENOENT: return "no such provider or probe, or provider has no probes";
	case ENOMEM: return "out of memory";
	case ENOSPC: return "no space left to write the probe image";
	case EACCES: return "no safe, writable, executable location for the probe image";
	case EPERM: return "operation not permitted";
	case ERANGE: return "index out of range";
	case EAGAIN: return "resource temporarily unavailable";
	case ENOEXEC: return "the probe image could not be loaded";
	case EMFILE: return "too many open files";
	default: return "system error";
	}
}
