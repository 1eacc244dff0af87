// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include "lib/str.h"

int str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

const char *str_printable(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 3 < size; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s && s[i])
		out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
	return out;
}
