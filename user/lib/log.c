// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "lib/log.h"

static enum vs_log_level cur_level = VS_LOG_INFO;
static const char *const level_names[] = { "warn", "info", "debug" };

void log_set_level(enum vs_log_level level)
{
	cur_level = level;
}

enum vs_log_level log_get_level(void)
{
	return cur_level;
}

void log_print(enum vs_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (level > cur_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld.%03ld vsteerd %s: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
		level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
