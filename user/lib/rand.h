/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_RAND_H
#define VS_RAND_H

#include <stddef.h>

#define RAND_UUID_LEN 37 /* a UUID and its NUL */

int rand_bytes(void *buf, size_t len);
/* A random (version 4) UUID in lower-case hex. */
int rand_uuid(char out[RAND_UUID_LEN]);

#endif
