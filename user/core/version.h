/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_VERSION_H
#define VS_VERSION_H

#include <stdbool.h>

#define VERSION_MAX_LEN 32

/* Dotted numbers, as the thesis orders versions: "1", "1.10", "2.0.3".
 * Each part at most 9 digits, at most 8 parts. */
bool version_valid(const char *v);
/* <0, 0, >0 as a is older than, equal to, newer than b. Missing parts
 * count as 0, so "1.0" equals "1"; "1.10" is newer than "1.9". */
int version_cmp(const char *a, const char *b);

#endif
