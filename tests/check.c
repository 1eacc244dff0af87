// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

bool cur_failed;
static char cur_detail[1024];
static char cur_row[256];
static int passed, failed;

void row(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur_row, sizeof(cur_row), fmt, ap);
	va_end(ap);
}

void fail_at(int line, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	if (cur_failed)
		return;
	cur_failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(cur_detail, sizeof(cur_detail), "line %d: %s%s%s%s", line, cur_row[0] ? "[" : "",
		 cur_row, cur_row[0] ? "] " : "", msg);
}

bool check_run(const char *name, void (*fn)(const void *arg), const void *arg, void (*after)(void))
{
	cur_failed = false;
	cur_detail[0] = '\0';
	cur_row[0] = '\0';
	fn(arg);
	if (after)
		after();
	if (cur_failed) {
		failed++;
		printf("not ok %d - %s: %s\n", passed + failed, name, cur_detail);
	} else {
		passed++;
		printf("ok %d - %s\n", passed + failed, name);
	}
	fflush(stdout);
	return !cur_failed;
}

int check_summary(const char *label)
{
	printf("%s: %d passed, %d failed\n", label, passed, failed);
	return failed ? 1 : 0;
}
