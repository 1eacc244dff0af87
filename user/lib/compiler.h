/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Macros every file may use; no functions. */
#ifndef VS_COMPILER_H
#define VS_COMPILER_H

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define __printf(a, b) __attribute__((format(printf, a, b)))

#endif
