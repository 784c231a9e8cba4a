/*
 * types.c - argument types: their C names, note sizes, and name rules.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
	int8_t size; /* negative: signed */
	const char *name;
} type_info[USDT_TYPE_COUNT_] = {
	[USDT_INT8] = { -1, "int8_t" },    [USDT_UINT8] = { 1, "uint8_t" },
	[USDT_INT16] = { -2, "int16_t" },  [USDT_UINT16] = { 2, "uint16_t" },
	[USDT_INT32] = { -4, "int32_t" },  [USDT_UINT32] = { 4, "uint32_t" },
	[USDT_INT64] = { -8, "int64_t" },  [USDT_UINT64] = { 8, "uint64_t" },
	[USDT_POINTER] = { 8, "void *" },  [USDT_STRING] = { 8, "char *" },
};

bool usdt__type_valid(usdt_type t)
{
	return t > USDT_TYPE_NONE && t < USDT_TYPE_COUNT_;
}

int usdt__type_size(usdt_type t)
{
	int s = type_info[t].size;
	return s < 0 ? -s : s;
}

bool usdt__type_signed(usdt_type t)
{
	return type_info[t].size < 0;
}

const char *usdt_type_name(usdt_type t)
{
	return usdt__type_valid(t) ? type_info[t].name : "invalid";
}

/* Words of a C type name, in canonical order of what they say. */
struct words {
	int sign;        /* -1 signed, +1 unsigned, 0 unsaid */
	int chars, shorts, ints, longs, bools, voids;
	int pointers;
	const char *fixed; /* an exact name like int32_t */
	size_t fixed_len;
	int count;
};

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(w, lit, n);
}

static const struct {
	const char *name;
	usdt_type type;
} fixed_names[] = {
	{ "int8_t", USDT_INT8 },     { "uint8_t", USDT_UINT8 },     { "int16_t", USDT_INT16 },
	{ "uint16_t", USDT_UINT16 }, { "int32_t", USDT_INT32 },     { "uint32_t", USDT_UINT32 },
	{ "int64_t", USDT_INT64 },   { "uint64_t", USDT_UINT64 },   { "size_t", USDT_UINT64 },
	{ "ssize_t", USDT_INT64 },   { "intptr_t", USDT_INT64 },    { "uintptr_t", USDT_UINT64 },
	{ "ptrdiff_t", USDT_INT64 }, { "off_t", USDT_INT64 },       { "pid_t", USDT_INT32 },
	{ "uid_t", USDT_UINT32 },    { "gid_t", USDT_UINT32 },      { "u_int8_t", USDT_UINT8 },
	{ "u_int16_t", USDT_UINT16 }, { "u_int32_t", USDT_UINT32 }, { "u_int64_t", USDT_UINT64 },
	{ "string", USDT_STRING },   { "uchar_t", USDT_UINT8 },     { "ushort_t", USDT_UINT16 },
	{ "uint_t", USDT_UINT32 },   { "ulong_t", USDT_UINT64 },
};

usdt_type usdt__type_parse_n(const char *s, size_t len)
{
	struct words w = { 0 };
	size_t i = 0;
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
			continue;
		}
		if (c == '*') {
			w.pointers++;
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') ||
				   (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')))
			j++;
		if (j == i)
			return USDT_TYPE_NONE;
		const char *word = s + i;
		size_t n = j - i;
		i = j;
		if (w.pointers)
			return USDT_TYPE_NONE; /* "char * x" names go elsewhere */
		if (word_is(word, n, "const") || word_is(word, n, "volatile") ||
		    word_is(word, n, "struct") || word_is(word, n, "enum"))
			continue;
		w.count++;
		if (word_is(word, n, "signed"))
			w.sign = w.sign > 0 ? 2 : -1;
		else if (word_is(word, n, "unsigned"))
			w.sign = w.sign < 0 ? 2 : 1;
		else if (word_is(word, n, "char"))
			w.chars++;
		else if (word_is(word, n, "short"))
			w.shorts++;
		else if (word_is(word, n, "int"))
			w.ints++;
		else if (word_is(word, n, "long"))
			w.longs++;
		else if (word_is(word, n, "bool") || word_is(word, n, "_Bool"))
			w.bools++;
		else if (word_is(word, n, "void"))
			w.voids++;
		else if (!w.fixed) {
			w.fixed = word;
			w.fixed_len = n;
		} else
			return USDT_TYPE_NONE;
	}
	if (w.sign == 2 || w.count == 0)
		return USDT_TYPE_NONE;
	if (w.pointers)
		return w.chars && w.pointers == 1 && !w.fixed ? USDT_STRING : USDT_POINTER;
	if (w.fixed) {
		if (w.count != 1)
			return USDT_TYPE_NONE;
		for (size_t k = 0; k < sizeof(fixed_names) / sizeof(fixed_names[0]); k++)
			if (word_is(w.fixed, w.fixed_len, fixed_names[k].name))
				return fixed_names[k].type;
		return USDT_TYPE_NONE;
	}
	if (w.voids)
		return USDT_TYPE_NONE; /* void without a pointer is no value */
	int kinds = (w.chars > 0) + (w.shorts > 0) + (w.bools > 0) + (w.longs > 0);
	if (kinds > 1 || w.chars > 1 || w.shorts > 1 || w.ints > 1 || w.longs > 2 || w.bools > 1)
		return USDT_TYPE_NONE;
	bool uns = w.sign > 0;
	if (w.bools)
		return w.sign || w.ints ? USDT_TYPE_NONE : USDT_UINT8;
	if (w.chars)
		return w.ints ? USDT_TYPE_NONE : uns ? USDT_UINT8 : USDT_INT8;
	if (w.shorts)
		return uns ? USDT_UINT16 : USDT_INT16;
	if (w.longs) /* LP64: long and long long are 64-bit */
		return uns ? USDT_UINT64 : USDT_INT64;
	return uns ? USDT_UINT32 : USDT_INT32;
}

usdt_type usdt_type_parse(const char *name)
{
	return name ? usdt__type_parse_n(name, strlen(name)) : USDT_TYPE_NONE;
}

int usdt__name_check(const char *kind, const char *name)
{
	char q[80];
	if (!name)
		return usdt__fail(EINVAL, "%s name is NULL", kind);
	size_t n = strnlen(name, USDT_MAX_NAME + 1);
	if (n == 0)
		return usdt__fail(EINVAL, "%s name is empty", kind);
	if (n > USDT_MAX_NAME)
		return usdt__fail(EINVAL, "%s name %s is longer than %d bytes", kind,
				  usdt__quote(name, q, sizeof(q)), USDT_MAX_NAME);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok) {
			char cq[8];
			if (c >= 0x20 && c < 0x7f)
				cq[0] = '\'', cq[1] = (char)c, cq[2] = '\'', cq[3] = 0;
			else
				snprintf(cq, sizeof(cq), "\\x%02x", c);
			return usdt__fail(EINVAL,
					  "%s name %s: invalid character %s at offset %zu "
					  "(names are [A-Za-z_][A-Za-z0-9_]*)",
					  kind, usdt__quote(name, q, sizeof(q)), cq, i);
		}
	}
	return 0;
}

int usdt_name_check(const char *name)
{
	return usdt__name_check("name", name);
}
