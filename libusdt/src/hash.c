/*
 * hash.c - a fast 128-bit content hash. Images are named and given a
 * build-id from it. It need not resist attackers: an image file is trusted
 * only after its bytes are compared with ours (store.c).
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

void usdt__hash128(const void *data, size_t len, uint64_t out[2])
{
	const uint8_t *p = data;
	uint64_t a = K0 ^ len, b = K1 + len;
	size_t n = len;
	/* Two independent lanes, one multiply each per 16 bytes. */
	while (n >= 16) {
		uint64_t w0 = rd64(p), w1 = rd64(p + 8);
		a = mix(w0 ^ a ^ K2, w1 ^ K1);
		b = mix(w1 ^ b ^ K3, w0 ^ K0) + a;
		p += 16;
		n -= 16;
	}
	uint8_t tail[16] = { 0 };
	memcpy(tail, p, n);
	a = mix(rd64(tail) ^ a ^ K2, rd64(tail + 8) ^ K1 ^ n);
	b = mix(rd64(tail + 8) ^ b ^ K3, rd64(tail) ^ K0) + a;
	out[0] = mix(a ^ K3, b ^ K2);
	out[1] = mix(b ^ K0, out[0] ^ K1);
}

uint32_t usdt__strhash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}
