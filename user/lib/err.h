/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What went wrong, in the words the API returns. Functions return 0 or a
 * -errno; those that can fail for a reason a person must read also fill
 * a struct vs_err. */
#ifndef VS_ERR_H
#define VS_ERR_H

#include "lib/compiler.h"

/* An HTTP status, a short machine-readable code and a message that names
 * the offending input. */
struct vs_err {
	int status;
	char code[32];
	char msg[512];
};

/* Fill err (if not NULL) and return ret, which is a -errno. */
int vs_errf(struct vs_err *err, int ret, int status, const char *code, const char *fmt, ...)
	__printf(5, 6);

/* "prefix: message", for errors found deep inside a nested input. */
void vs_err_prefix(struct vs_err *err, const char *prefix);

#endif
