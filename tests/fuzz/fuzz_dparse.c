/*
 * fuzz_dparse.c - the .d provider parser (dparse.c) on arbitrary text:
 * never a crash, a leak or an unbounded message; what it accepts is a
 * well-formed provider that usdt_provider_from_d() builds the same way.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dparse.h"
#include "internal.h"

#define NEED(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: reading one byte past the text is caught. */
	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);
	struct usdt__d_file f;
	memset(&f, 0, sizeof(f));
	int err = usdt__d_parse(text, size, "fuzz.d", &f);
	if (err) {
		NEED(err == -EINVAL || err == -E2BIG || err == -EEXIST || err == -ENOMEM);
		NEED(strlen(usdt_errmsg()) < 512 && !strncmp(usdt_errmsg(), "fuzz.d:", 7));
	} else {
		for (size_t i = 0; i < f.nprovs; i++) {
			const struct usdt__d_provider *p = &f.provs[i];
			NEED(p->name_len >= 1 && p->name_len <= USDT_MAX_NAME);
			NEED(p->name >= text && p->name + p->name_len <= text + size);
			for (size_t k = 0; k < p->nprobes; k++) {
				const struct usdt__d_probe *q = &p->probes[k];
				NEED(q->argc <= USDT_MAX_ARGS);
				NEED(q->name_len >= 1 && q->name_len <= USDT_MAX_NAME);
				NEED(q->name >= text && q->name + q->name_len <= text + size);
				for (unsigned a = 0; a < q->argc; a++)
					NEED(usdt__type_valid(q->types[a]));
			}
		}
	}
	size_t nprovs = err ? 0 : f.nprovs;
	size_t nprobes0 = nprovs ? f.provs[0].nprobes : 0;
	usdt__d_free(&f);

	usdt_provider *p = usdt_provider_from_d(text, size, "fuzz.d", NULL, NULL);
	if (nprovs == 1 && nprobes0 <= 50000) {
		NEED(p != NULL);
		NEED(usdt_provider_probe_count(p) == nprobes0);
	} else if (err || nprovs != 1) {
		NEED(p == NULL);
	}
	usdt_provider_free(p);
	free(text);
	return 0;
}
