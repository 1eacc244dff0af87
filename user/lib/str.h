/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_STR_H
#define VS_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy with truncation check: -ENAMETOOLONG if src does not fit. */
int str_copy(char *dst, size_t size, const char *src);

/* s for a message that must be UTF-8 (jansson refuses anything else):
 * as much as fits in out, anything but printable ASCII as '?', ".." if
 * cut. Returns out. */
const char *str_printable(char *out, size_t size, const char *s);

/* Percent-decode the len bytes at s into out (NUL-terminated; out may be
 * s itself, as decoding never lengthens), with '+' as a space if plus:
 * the decoded length, -EINVAL for a '%' without two hex digits after it
 * or a decoded NUL, -ENAMETOOLONG if out is too small. */
int str_unescape(char *out, size_t size, const char *s, size_t len, bool plus);

/* Whether s is an HTTP token (RFC 9110 tchar, one or more): what a
 * method and a header name may be. */
bool str_is_token(const char *s);

/* Whether the len bytes at s are printable ASCII (and tabs, if tab): no
 * CR or LF to end a header early and start another, no NUL, nothing a
 * log line would mangle. */
bool str_is_printable(const char *s, size_t len, bool tab);

#endif
