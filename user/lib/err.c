// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include "lib/err.h"

int vs_errf(struct vs_err *err, int ret, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return ret;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return ret;
}

void vs_err_prefix(struct vs_err *err, const char *prefix)
{
	char msg[sizeof(err->msg)];

	if (!err)
		return;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, msg);
}
