/*
 * hash.c - a fast 128-bit hash, one-shot or streaming. Images are named and
 * given a build-id from it. It need not resist attackers: an image file is
 * trusted only after its bytes are compared with ours (store.c).
 */
#include <string.h>

#include "internal.h"

static inline uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

#define K0 0xa0761d6478bd642full
#define K1 0xe7037ed1a0b428dbull
#define K2 0x8ebc6af09c88c6e3ull
#define K3 0x589965cc75374cc3ull

/* Two independent lanes, one multiply each per 16 bytes. */
static inline void block(struct usdt__hasher *h, const uint8_t *p)
{
	uint64_t w0 = rd64(p), w1 = rd64(p + 8);
	h->a = mix(w0 ^ h->a ^ K2, w1 ^ K1);
	h->b = mix(w1 ^ h->b ^ K3, w0 ^ K0) + h->a;
}

void usdt__hasher_init(struct usdt__hasher *h)
{
	memset(h, 0, sizeof(*h));
	h->a = K0;
	h->b = K1;
}

void usdt__hasher_update(struct usdt__hasher *h, const void *data, size_t len)
{
	const uint8_t *p = data;
	h->total += len;
	if (h->n) {
		size_t take = 16 - h->n < len ? 16 - h->n : len;
		memcpy(h->buf + h->n, p, take);
		h->n += take;
		p += take;
		len -= take;
		if (h->n < 16)
			return;
		block(h, h->buf);
		h->n = 0;
	}
	for (; len >= 16; p += 16, len -= 16)
		block(h, p);
	memcpy(h->buf, p, len);
	h->n = len;
}

void usdt__hasher_final(struct usdt__hasher *h, uint64_t out[2])
{
	memset(h->buf + h->n, 0, 16 - h->n);
	h->a ^= h->total;
	h->b += (uint64_t)h->n;
	block(h, h->buf);
	out[0] = mix(h->a ^ K3, h->b ^ K2);
	out[1] = mix(h->b ^ K0, out[0] ^ K1);
}

void usdt__hash128(const void *data, size_t len, uint64_t out[2])
{
	struct usdt__hasher h;
	usdt__hasher_init(&h);
	usdt__hasher_update(&h, data, len);
	usdt__hasher_final(&h, out);
}

uint32_t usdt__strhash(const char *s, size_t len)
{
	/* FNV-1a, widened a word at a time for long names. */
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i = 0;
	for (; i + 8 <= len; i += 8)
		h = (h ^ rd64((const uint8_t *)s + i)) * 0x100000001b3ull;
	for (; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	/* FNV's low bits barely depend on the last bytes; tables index by them. */
	h = mix(h ^ (h >> 29), K1);
	return (uint32_t)(h ^ (h >> 32));
}
