/*
 * fuzz_names.c - name and type validation against an independent model.
 * Input: bytes taken as a name, a type name and a probe signature.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The rule, written again from the header's words. */
static int model_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > USDT_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;

	int r = usdt_name_check(s);
	if ((r == 0) != model_name_ok(s))
		abort();
	if (r != 0 && (r != -EINVAL || strlen(usdt_errmsg()) >= 512 || !usdt_errmsg()[0]))
		abort();

	/* Types: the NUL-terminated and the counted parser agree; the
	 * counted one never reads past len (s2 is exactly size bytes). */
	usdt_type t = usdt_type_parse(s);
	if (t != USDT_TYPE_NONE && !usdt__type_valid(t))
		abort();
	char *s2 = malloc(size ? size : 1);
	memcpy(s2, data, size);
	if (!memchr(data, 0, size) && usdt__type_parse_n(s2, size) != t)
		abort();
	free(s2);

	/* Signatures: either a probe with at most 12 valid types, or an
	 * error with a bounded message. */
	usdt_provider *p = usdt_provider_new("fuzz");
	usdt_probe *pr = usdt_probe_new_sig(p, "probe", s);
	if (pr) {
		if (usdt_probe_argc(pr) > USDT_MAX_ARGS)
			abort();
		for (size_t i = 0; i < usdt_probe_argc(pr); i++)
			if (!usdt__type_valid(usdt_probe_arg_type(pr, i)))
				abort();
	} else if ((errno != EINVAL && errno != E2BIG) || strlen(usdt_errmsg()) >= 512) {
		abort();
	}
	/* A probe named by the input: accepted exactly when the name is. */
	errno = 0;
	usdt_probe *named = usdt_probe_new(p, s, NULL, 0);
	if ((named != NULL) != (model_name_ok(s) && !(pr && !strcmp(s, "probe"))))
		abort();
	usdt_provider_free(p);

	char q[64];
	const char *qs = usdt__quote(s, q, sizeof(q));
	if (strlen(qs) >= sizeof(q))
		abort();
	free(s);
	return 0;
}
