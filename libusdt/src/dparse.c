/*
 * dparse.c - a parser for DTrace provider definitions:
 *
 *   #pragma D attributes ...            (any line starting with '#': skipped)
 *   provider myapp {                    (any number of providers per file)
 *       probe request__start(int64_t id, char *url);   // names optional
 *       probe tick();                   (or "(void)")
 *   };
 *
 * Types are what usdt_type_parse() accepts. One pass, linear in the text;
 * duplicate probes are found through a hash table per provider.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dparse.h"

enum tok_kind { T_EOF, T_IDENT, T_PUNCT, T_BAD };

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t len;
	int line, col;
};

struct lexer {
	const char *p, *end, *line_start;
	int line;
	const char *file;
};

static int col_of(const struct lexer *lx, const char *p)
{
	return (int)(p - lx->line_start) + 1;
}

static void newline(struct lexer *lx, const char *after)
{
	lx->line++;
	lx->line_start = after;
}

/* Skips blanks, comments and '#' lines. Returns -EINVAL for an unclosed comment. */
static int skip(struct lexer *lx)
{
	bool at_line_start = lx->p == lx->line_start;
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			newline(lx, ++lx->p);
			at_line_start = true;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			lx->p++;
		} else if (c == '#' && at_line_start) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int line = lx->line, col = col_of(lx, lx->p);
			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					lx->p = lx->end;
					return usdt__fail(EINVAL, "%s:%d:%d: comment is never closed",
							  lx->file, line, col);
				}
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					lx->p += 2;
					break;
				}
				if (*lx->p == '\n')
					newline(lx, lx->p + 1);
				lx->p++;
			}
		} else {
			return 0;
		}
		if (c != '\n' && c != ' ' && c != '\t' && c != '\r')
			at_line_start = false;
	}
	return 0;
}

static bool ident_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static int next(struct lexer *lx, struct tok *t)
{
	int err = skip(lx);
	if (err)
		return err;
	t->s = lx->p;
	t->line = lx->line;
	t->col = col_of(lx, lx->p);
	if (lx->p >= lx->end) {
		t->kind = T_EOF;
		t->len = 0;
		return 0;
	}
	char c = *lx->p;
	if (ident_start(c)) {
		const char *q = lx->p;
		while (q < lx->end && ident_char(*q))
			q++;
		t->kind = T_IDENT;
		t->len = (size_t)(q - lx->p);
		lx->p = q;
		return 0;
	}
	t->len = 1;
	lx->p++;
	t->kind = strchr("{}(),;*", c) && c ? T_PUNCT : T_BAD;
	return 0;
}

/* What a token looks like in a message: 'foo', end of file, a byte escaped. */
static const char *describe(const struct tok *t, char *buf, size_t n)
{
	if (t->kind == T_EOF)
		return "end of file";
	unsigned char c = (unsigned char)t->s[0];
	if (t->kind == T_BAD && (c < 0x20 || c >= 0x7f)) {
		snprintf(buf, n, "byte \\x%02x", c);
		return buf;
	}
	snprintf(buf, n, "'%.*s'%s", (int)(t->len > 40 ? 40 : t->len), t->s, t->len > 40 ? "..." : "");
	return buf;
}

static int expected(const struct lexer *lx, const struct tok *t, const char *what)
{
	char buf[64];
	return usdt__fail(EINVAL, "%s:%d:%d: expected %s, found %s", lx->file, t->line, t->col, what,
			  describe(t, buf, sizeof(buf)));
}

static bool is_punct(const struct tok *t, char c)
{
	return t->kind == T_PUNCT && t->s[0] == c;
}

static bool is_word(const struct tok *t, const char *w)
{
	return t->kind == T_IDENT && strlen(w) == t->len && !memcmp(t->s, w, t->len);
}

/* The library's own name rules, with the name's position. */
static int check_name(const struct lexer *lx, const struct tok *t, const char *kind)
{
	if (t->len > USDT_MAX_NAME)
		return usdt__fail(EINVAL, "%s:%d:%d: %s name '%.40s...' is longer than %d bytes",
				  lx->file, t->line, t->col, kind, t->s, USDT_MAX_NAME);
	char name[USDT_MAX_NAME + 1];
	memcpy(name, t->s, t->len);
	name[t->len] = 0;
	if (usdt__name_check(kind, name)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", usdt_errmsg());
		return usdt__fail(EINVAL, "%s:%d:%d: %s", lx->file, t->line, t->col, msg);
	}
	return 0;
}

/* One parameter's words and '*'s, joined by single spaces so comments and
 * line breaks inside it do not matter. A name is the last word, if any. */
struct param {
	char buf[160];
	size_t len, before_last; /* buf[0..before_last): all but the last token */
	unsigned nidents;
	bool last_ident, overflow, overflow_last;
};

static void param_add(struct param *pa, const struct tok *t)
{
	if (pa->overflow) {
		pa->overflow_last = false; /* more tokens after the one that did not fit */
		return;
	}
	pa->before_last = pa->len;
	pa->last_ident = t->kind == T_IDENT;
	pa->nidents += pa->last_ident;
	size_t sep = pa->len ? 1 : 0;
	size_t room = sizeof(pa->buf) - 1 - pa->len; /* the buffer may be exactly full */
	size_t n = t->len;
	if (sep + n > room) {
		/* Too long for any type: keep what fits for the message. */
		pa->overflow = pa->overflow_last = true;
		n = room > sep ? room - sep : 0;
		if (!n)
			return;
	}
	if (sep)
		pa->buf[pa->len++] = ' ';
	memcpy(pa->buf + pa->len, t->s, n);
	pa->len += n;
	pa->buf[pa->len] = 0;
}

static bool has_word(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	for (size_t i = 0; i + n <= len; i++)
		if ((i == 0 || s[i - 1] == ' ') && !memcmp(s + i, w, n) && (i + n == len || s[i + n] == ' '))
			return true;
	return false;
}

static int param_type(const struct lexer *lx, const struct tok *first, const struct param *pa,
		      usdt_type *out, bool *is_bool)
{
	usdt_type t = pa->overflow ? USDT_TYPE_NONE : usdt__type_parse_n(pa->buf, pa->len);
	size_t type_len = pa->len;
	/* "int count", "char *name": the last word was a name (maybe a long one). */
	if (t == USDT_TYPE_NONE && pa->last_ident && pa->nidents > 1 &&
	    (!pa->overflow || pa->overflow_last)) {
		type_len = pa->before_last;
		t = usdt__type_parse_n(pa->buf, type_len);
	}
	if (t == USDT_TYPE_NONE)
		return usdt__fail(EINVAL, "%s:%d:%d: unknown type '%.60s%s' (expected an integer type, "
				  "char *, string or a pointer)",
				  lx->file, first->line, first->col, pa->buf,
				  pa->overflow || pa->len > 60 ? "..." : "");
	*out = t;
	*is_bool = t == USDT_UINT8 && (has_word(pa->buf, type_len, "bool") ||
				       has_word(pa->buf, type_len, "_Bool"));
	return 0;
}

static int parse_params(struct lexer *lx, struct usdt__d_probe *pr)
{
	struct tok t, first;
	int err = next(lx, &t);
	if (err)
		return err;
	if (is_punct(&t, ')'))
		return 0;
	/* "(void)" is no arguments. */
	if (is_word(&t, "void")) {
		struct lexer save = *lx;
		struct tok t2;
		if ((err = next(lx, &t2)))
			return err;
		if (is_punct(&t2, ')'))
			return 0;
		*lx = save;
	}
	for (;;) {
		if (t.kind != T_IDENT)
			return expected(lx, &t, "an argument type");
		first = t;
		struct param pa; /* buf is not cleared: 20,000 arguments would memset 3 MB */
		pa.len = pa.before_last = 0;
		pa.nidents = 0;
		pa.last_ident = pa.overflow = pa.overflow_last = false;
		while (t.kind == T_IDENT || is_punct(&t, '*')) {
			param_add(&pa, &t);
			if ((err = next(lx, &t)))
				return err;
		}
		if (!is_punct(&t, ',') && !is_punct(&t, ')'))
			return expected(lx, &t, "',' or ')' after an argument");
		if (pr->argc == USDT_MAX_ARGS)
			return usdt__fail(E2BIG, "%s:%d:%d: probe %.*s has more than %d arguments",
					  lx->file, first.line, first.col, (int)pr->name_len, pr->name,
					  USDT_MAX_ARGS);
		bool is_bool = false;
		usdt_type ty = USDT_TYPE_NONE;
		if ((err = param_type(lx, &first, &pa, &ty, &is_bool)))
			return err;
		pr->types[pr->argc] = (uint8_t)ty;
		if (is_bool)
			pr->bool_args |= 1u << pr->argc;
		pr->argc++;
		if (is_punct(&t, ')'))
			return 0;
		if ((err = next(lx, &t)))
			return err;
	}
}

/* Names seen (probes of one provider, or providers of a file), for
 * duplicates in linear time: open addressing on (hash, index), 8 bytes a
 * slot; the names themselves are read back from their arrays through at(). */
typedef const char *(*name_at_fn)(const void *ctx, uint32_t idx, size_t *len);

struct name_set {
	struct name_slot {
		uint32_t hash, idx1; /* idx1 0: empty */
	} *slot;
	size_t cap, n;
};

/* cap: a power of two. 0 or -ENOMEM. */
static int name_set_grow(struct name_set *s, size_t cap)
{
	/* Populated pages when big (a fault per page costs more than the parse). */
	struct name_slot *slot = usdt__block_alloc(cap * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	memset(slot, 0, cap * sizeof(*slot));
	for (size_t k = 0; k < s->cap; k++) {
		if (!s->slot[k].idx1)
			continue;
		size_t h = s->slot[k].hash & (cap - 1);
		while (slot[h].idx1)
			h = (h + 1) & (cap - 1);
		slot[h] = s->slot[k];
	}
	usdt__block_free(s->slot, s->cap * sizeof(*s->slot));
	s->slot = slot;
	s->cap = cap;
	return 0;
}

/* Add name (item idx). 0, -ENOMEM, or -EEXIST with *dup the first one's index. */
static int name_set_add(struct name_set *s, const char *name, size_t len, uint32_t idx,
			name_at_fn at, const void *ctx, uint32_t *dup)
{
	if ((s->n + 1) * 2 > s->cap && name_set_grow(s, s->cap ? s->cap * 2 : 64))
		return -ENOMEM;
	uint32_t hash = usdt__strhash(name, len);
	size_t h = hash & (s->cap - 1);
	while (s->slot[h].idx1) {
		size_t n;
		const char *other;
		if (s->slot[h].hash == hash && (other = at(ctx, s->slot[h].idx1 - 1, &n)) &&
		    n == len && !memcmp(other, name, len)) {
			*dup = s->slot[h].idx1 - 1;
			return -EEXIST;
		}
		h = (h + 1) & (s->cap - 1);
	}
	s->slot[h] = (struct name_slot){ hash, idx + 1 };
	s->n++;
	return 0;
}

static const char *probe_name_at(const void *ctx, uint32_t idx, size_t *len)
{
	const struct usdt__d_probe *pr = &((const struct usdt__d_provider *)ctx)->probes[idx];
	*len = pr->name_len;
	return pr->name;
}

static const char *provider_name_at(const void *ctx, uint32_t idx, size_t *len)
{
	const struct usdt__d_provider *pv = &((const struct usdt__d_file *)ctx)->provs[idx];
	*len = pv->name_len;
	return pv->name;
}

/* How many times "probe" occurs before the next '}'. Linear: each
 * provider body is scanned once more. */
static size_t probes_hint(const char *p, const char *end)
{
	const char *close = memchr(p, '}', (size_t)(end - p));
	if (close)
		end = close;
	size_t n = 0;
	while ((p = memmem(p, (size_t)(end - p), "probe", 5))) {
		n++;
		p += 5;
	}
	return n;
}

static int parse_provider(struct lexer *lx, struct usdt__d_provider *pv)
{
	struct tok t;
	struct name_set names = { 0 };
	int err;
	if ((err = next(lx, &t)))
		return err;
	if (!is_punct(&t, '{'))
		return expected(lx, &t, "'{' after the provider name");
	/* Size both arrays once for the probes the body seems to hold: growing
	 * them by doubling copies and touches twice the memory, and page faults
	 * are most of a big file's parse time in a VM. A hint only ('}' or
	 * "probe" in a comment): the arrays still grow if it was short. */
	size_t hint = probes_hint(lx->p, lx->end);
	if (hint > 16) {
		size_t cap = 64;
		while (cap < hint * 2 + 2)
			cap *= 2;
		pv->probes = usdt__block_alloc(hint * sizeof(*pv->probes));
		pv->cap = pv->probes ? hint : 0; /* freed by its size */
		if (!pv->probes || name_set_grow(&names, cap)) {
			err = usdt__fail(ENOMEM, "out of memory parsing %s", lx->file);
			goto out;
		}
	}
	for (;;) {
		if ((err = next(lx, &t)))
			goto out;
		if (is_punct(&t, '}'))
			break;
		if (!is_word(&t, "probe")) {
			err = expected(lx, &t, "'probe' or '}'");
			goto out;
		}
		if ((err = next(lx, &t)))
			goto out;
		if (t.kind != T_IDENT) {
			err = expected(lx, &t, "a probe name after 'probe'");
			goto out;
		}
		if ((err = check_name(lx, &t, "probe")))
			goto out;
		if (pv->nprobes == pv->cap) {
			size_t cap = pv->cap ? pv->cap * 2 : 16;
			struct usdt__d_probe *v = usdt__block_alloc(cap * sizeof(*pv->probes));
			if (!v) {
				err = usdt__fail(ENOMEM, "out of memory parsing %s", lx->file);
				goto out;
			}
			if (pv->nprobes)
				memcpy(v, pv->probes, pv->nprobes * sizeof(*v));
			usdt__block_free(pv->probes, pv->cap * sizeof(*v));
			pv->probes = v;
			pv->cap = cap;
		}
		struct usdt__d_probe *pr = &pv->probes[pv->nprobes];
		*pr = (struct usdt__d_probe){ .name = t.s, .name_len = t.len, .line = t.line, .col = t.col };
		struct tok name = t;
		if ((err = next(lx, &t)))
			goto out;
		if (!is_punct(&t, '(')) {
			err = expected(lx, &t, "'(' after the probe name");
			goto out;
		}
		if ((err = parse_params(lx, pr)))
			goto out;
		if ((err = next(lx, &t)))
			goto out;
		if (!is_punct(&t, ';')) {
			err = expected(lx, &t, "';' after the probe declaration");
			goto out;
		}
		uint32_t first;
		err = name_set_add(&names, pr->name, pr->name_len, (uint32_t)pv->nprobes, probe_name_at, pv,
				   &first);
		if (err == -EEXIST) {
			err = usdt__fail(EEXIST, "%s:%d:%d: probe %.*s is already defined in provider %.*s at line %d",
					 lx->file, name.line, name.col, (int)name.len, name.s,
					 (int)pv->name_len, pv->name, pv->probes[first].line);
			goto out;
		}
		if (err) {
			err = usdt__fail(ENOMEM, "out of memory parsing %s", lx->file);
			goto out;
		}
		pv->nprobes++;
	}
	/* DTrace ends a provider with "};"; the ';' is optional here. */
	{
		struct lexer save = *lx;
		if ((err = next(lx, &t)))
			goto out;
		if (!is_punct(&t, ';'))
			*lx = save;
	}
out:
	usdt__block_free(names.slot, names.cap * sizeof(*names.slot));
	return err;
}

int usdt__d_parse(const char *text, size_t len, const char *filename, struct usdt__d_file *out)
{
	memset(out, 0, sizeof(*out));
	struct lexer lx = { text, text + len, text, 1, filename ? filename : "<text>" };
	struct name_set provs = { 0 };
	struct tok t;
	int err;
	for (;;) {
		if ((err = next(&lx, &t)))
			goto fail;
		if (t.kind == T_EOF)
			break;
		if (!is_word(&t, "provider")) {
			err = expected(&lx, &t, "'provider'");
			goto fail;
		}
		if ((err = next(&lx, &t)))
			goto fail;
		if (t.kind != T_IDENT) {
			err = expected(&lx, &t, "a provider name after 'provider'");
			goto fail;
		}
		if ((err = check_name(&lx, &t, "provider")))
			goto fail;
		if (out->nprovs == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 4;
			void *v = usdt__realloc(out->provs, cap * sizeof(*out->provs));
			if (!v) {
				err = usdt__fail(ENOMEM, "out of memory parsing %s", lx.file);
				goto fail;
			}
			out->provs = v;
			out->cap = cap;
		}
		uint32_t first;
		err = name_set_add(&provs, t.s, t.len, (uint32_t)out->nprovs, provider_name_at, out, &first);
		if (err == -EEXIST) {
			err = usdt__fail(EEXIST, "%s:%d:%d: provider %.*s is already defined at line %d",
					 lx.file, t.line, t.col, (int)t.len, t.s, out->provs[first].line);
			goto fail;
		}
		if (err) {
			err = usdt__fail(ENOMEM, "out of memory parsing %s", lx.file);
			goto fail;
		}
		struct usdt__d_provider *pv = &out->provs[out->nprovs++];
		*pv = (struct usdt__d_provider){ .name = t.s, .name_len = t.len, .line = t.line, .col = t.col };
		if ((err = parse_provider(&lx, pv)))
			goto fail;
	}
	if (!out->nprovs) {
		err = usdt__fail(EINVAL, "%s: no provider defined", lx.file);
		goto fail;
	}
	usdt__block_free(provs.slot, provs.cap * sizeof(*provs.slot));
	return 0;
fail:
	usdt__block_free(provs.slot, provs.cap * sizeof(*provs.slot));
	usdt__d_free(out);
	return err;
}

void usdt__d_free(struct usdt__d_file *f)
{
	if (!f)
		return;
	for (size_t k = 0; k < f->nprovs; k++)
		usdt__block_free(f->provs[k].probes, f->provs[k].cap * sizeof(*f->provs[k].probes));
	usdt__free(f->provs);
	memset(f, 0, sizeof(*f));
}

int usdt__read_file(const char *path, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return usdt__fail(errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return usdt__fail(e, "%s: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return usdt__fail(EISDIR, "%s: is a directory", path);
	}
	size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
	char *buf = usdt__malloc(cap);
	for (;;) {
		if (!buf) {
			close(fd);
			return usdt__fail(ENOMEM, "out of memory reading %s", path);
		}
		if (n + 1 == cap) {
			char *b = usdt__realloc(buf, cap * 2);
			if (!b)
				usdt__free(buf);
			buf = b;
			cap *= 2;
			continue;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			usdt__free(buf);
			close(fd);
			return usdt__fail(e, "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

/* ---- the public entry points ---- */

static const struct usdt__d_provider *select_provider(const struct usdt__d_file *f,
						      const char *filename, const char *name)
{
	if (!name) {
		if (f->nprovs == 1)
			return &f->provs[0];
		usdt__fail(EINVAL, "%s defines %zu providers; name the one to use", filename,
			   f->nprovs);
		errno = EINVAL;
		return NULL;
	}
	for (size_t k = 0; k < f->nprovs; k++)
		if (strlen(name) == f->provs[k].name_len && !memcmp(name, f->provs[k].name, f->provs[k].name_len))
			return &f->provs[k];
	char q[80];
	usdt__fail(ENOENT, "%s defines no provider %s", filename, usdt__quote(name, q, sizeof(q)));
	errno = ENOENT;
	return NULL;
}

usdt_provider *usdt_provider_from_d(const char *text, size_t len, const char *filename,
				    const char *provider, const struct usdt_provider_opts *opts)
{
	if (!text) {
		usdt__fail(EINVAL, "no text to parse");
		errno = EINVAL;
		return NULL;
	}
	if (!filename)
		filename = "<text>";
	struct usdt__d_file f;
	int err = usdt__d_parse(text, len, filename, &f);
	if (err) {
		errno = -err;
		return NULL;
	}
	usdt_provider *prov = NULL;
	const struct usdt__d_provider *pv = select_provider(&f, filename, provider);
	if (!pv)
		goto out;
	char name[USDT_MAX_NAME + 1];
	memcpy(name, pv->name, pv->name_len);
	name[pv->name_len] = 0;
	prov = usdt_provider_new_opts(name, opts);
	if (!prov) {
		int e = errno;
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", usdt_errmsg());
		usdt__set_errmsg("%s:%d:%d: %s", filename, pv->line, pv->col, msg);
		errno = e;
		goto out;
	}
	for (size_t i = 0; i < pv->nprobes; i++) {
		const struct usdt__d_probe *pr = &pv->probes[i];
		memcpy(name, pr->name, pr->name_len);
		name[pr->name_len] = 0;
		usdt_type types[USDT_MAX_ARGS];
		for (unsigned a = 0; a < pr->argc; a++)
			types[a] = (usdt_type)pr->types[a];
		if (!usdt_probe_new(prov, name, types, pr->argc)) {
			int e = errno;
			char msg[256];
			snprintf(msg, sizeof(msg), "%s", usdt_errmsg());
			usdt__set_errmsg("%s:%d:%d: %s", filename, pr->line, pr->col, msg);
			usdt_provider_free(prov);
			prov = NULL;
			errno = e;
			break;
		}
	}
out:;
	int e = errno;
	usdt__d_free(&f);
	errno = e;
	return prov;
}

usdt_provider *usdt_provider_from_d_file(const char *path, const char *provider,
					 const struct usdt_provider_opts *opts)
{
	if (!path) {
		usdt__fail(EINVAL, "no path");
		errno = EINVAL;
		return NULL;
	}
	char *text;
	size_t len;
	int err = usdt__read_file(path, &text, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	usdt_provider *prov = usdt_provider_from_d(text, len, path, provider, opts);
	int e = errno;
	usdt__free(text);
	errno = e;
	return prov;
}
