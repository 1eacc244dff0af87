/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Base64 (RFC 4648's standard alphabet, padded), as etcd's JSON gateway
 * carries keys and values. */
#ifndef VS_B64_H
#define VS_B64_H

#include <stddef.h>

/* Characters b64_encode() writes for n bytes, its NUL included. */
#define B64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)

/* The n bytes at in into out (NUL-terminated): the length written, or
 * -ENOSPC if out is smaller than B64_ENCODED_SIZE(n). */
int b64_encode(const void *in, size_t n, char *out, size_t size);

/* The len characters at in, decoded into out: the bytes written, -EINVAL
 * for anything but whole padded groups of the alphabet (no whitespace,
 * no bits left over in the last group), -ENOSPC if out is too small
 * (len / 4 * 3 is always enough). */
int b64_decode(const char *in, size_t len, void *out, size_t size);

#endif
