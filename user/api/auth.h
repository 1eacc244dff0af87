/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Who may change steering: a bearer token read from a file only its owner
 * can read, compared in constant time. */
#ifndef VS_AUTH_H
#define VS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/err.h"

#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 255

/* Read the token; refuses a file that is not a regular file (a link
 * included), that neither root nor the effective uid owns, that group or
 * others may read or write, or whose token is shorter than 16 or has white
 * space inside. Never blocks (a FIFO is refused, not waited on). out needs
 * AUTH_TOKEN_MAX + 1 bytes. */
int auth_token_load(const char *path, char *out, struct vs_err *err);
/* Does the Authorization header value carry this token? Takes the same
 * time whatever the header holds, for headers up to AUTH_TOKEN_MAX. */
bool auth_token_matches(const char *token, const char *authorization);

#endif
