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

bool str_is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

bool str_is_printable(const char *s, size_t len, bool tab)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= ' ' && s[i] <= '~') || (tab && s[i] == '\t')))
			return false;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int str_unescape(char *out, size_t size, const char *s, size_t len, bool plus)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;

			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (!c)
			return -EINVAL;
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		out[n++] = c;
	}
	if (!size)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return n;
}
