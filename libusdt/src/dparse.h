/*
 * dparse.h - DTrace provider definitions (.d files), parsed into a plain
 * description that both the library (usdt_provider_from_d) and usdt-gen use.
 */
#ifndef USDT_DPARSE_H
#define USDT_DPARSE_H

#include <stddef.h>

#include "internal.h"

/* Small (40 bytes): a 10,000-probe file's array is touched once, not paged in twice. */
struct usdt__d_probe {
	const char *name; /* into the text; not NUL-terminated */
	int line, col;
	uint16_t name_len;  /* <= USDT_MAX_NAME */
	uint16_t bool_args; /* bit i: argument i was declared bool (USDT_UINT8) */
	uint8_t argc;
	uint8_t types[USDT_MAX_ARGS]; /* usdt_type values */
};

struct usdt__d_provider {
	const char *name;
	size_t name_len;
	int line, col;
	struct usdt__d_probe *probes;
	size_t nprobes, cap;
};

struct usdt__d_file {
	struct usdt__d_provider *provs;
	size_t nprovs, cap;
};

/* Parse text[0..len). filename only names the source in messages. On error
 * returns -EINVAL (syntax, type, name), -E2BIG (too many arguments), -EEXIST
 * (a probe or provider defined twice) or -ENOMEM, with usdt_errmsg() saying
 * "file:line:col: what was expected, what was found". Linear in len. */
USDT__HIDDEN int usdt__d_parse(const char *text, size_t len, const char *filename,
			       struct usdt__d_file *out);
USDT__HIDDEN void usdt__d_free(struct usdt__d_file *f);

/* Read a whole file into a NUL-terminated malloc'd buffer. -errno. */
USDT__HIDDEN int usdt__read_file(const char *path, char **text, size_t *len);

#endif
