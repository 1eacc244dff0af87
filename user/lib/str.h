/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_STR_H
#define VS_STR_H

#include <stddef.h>

/* Copy with truncation check: -ENAMETOOLONG if src does not fit. */
int str_copy(char *dst, size_t size, const char *src);

/* s for a message that must be UTF-8 (jansson refuses anything else):
 * as much as fits in out, anything but printable ASCII as '?', ".." if
 * cut. Returns out. */
const char *str_printable(char *out, size_t size, const char *s);

#endif
