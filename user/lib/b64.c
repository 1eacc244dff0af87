// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include "lib/b64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode(const void *in, size_t n, char *out, size_t size)
{
	const uint8_t *p = in;
	size_t o = 0, i;
	uint32_t w;

	if (n > (size_t)INT_MAX / 4 * 3 - 3 || size < B64_ENCODED_SIZE(n))
		return -ENOSPC;
	for (i = 0; i + 2 < n; i += 3) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = alphabet[w >> 18];
		out[o++] = alphabet[w >> 12 & 63];
		out[o++] = alphabet[w >> 6 & 63];
		out[o++] = alphabet[w & 63];
	}
	if (i < n) {
		w = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = alphabet[w >> 18];
		out[o++] = alphabet[w >> 12 & 63];
		out[o++] = i + 1 < n ? alphabet[w >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t len, void *out, size_t size)
{
	uint8_t *q = out;
	size_t o = 0;

	if (len % 4 || len / 4 * 3 > (size_t)INT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int s[4], pad = 0;
		uint32_t w = 0;

		for (int k = 0; k < 4; k++) {
			/* '=' only as the last one or two of the last group */
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				s[k] = 0;
				pad++;
				continue;
			}
			if (pad || (s[k] = sextet(in[i + k])) < 0)
				return -EINVAL;
			w |= (uint32_t)s[k] << (18 - 6 * k);
		}
		/* Bits the padding says are not data must be zero: one
		 * spelling per value, as RFC 4648 asks of a decoder that
		 * checks. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -EINVAL;
		if (o + 3 - pad > size)
			return -ENOSPC;
		q[o++] = w >> 16;
		if (pad < 2)
			q[o++] = w >> 8 & 0xff;
		if (pad < 1)
			q[o++] = w & 0xff;
	}
	return (int)o;
}
