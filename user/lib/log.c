// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/log.h"

/* A line longer than this is cut (and says so): one write() per message
 * keeps the lines of several threads whole. */
#define LOG_LINE_MAX 4096

static enum vs_log_level cur_level = VS_LOG_INFO;
static bool journal;

/* clang-format off */
static const char *const level_names[] = {
	[VS_LOG_ERR] = "error", [VS_LOG_WARN] = "warning", [VS_LOG_NOTICE] = "notice",
	[VS_LOG_INFO] = "info", [VS_LOG_DEBUG] = "debug",
};
/* clang-format on */

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected stderr to; stderr is that stream only if they match (a child
 * that redirected its stderr inherits the variable all the same). */
void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
		  st.st_dev == dev && st.st_ino == ino;
}

bool log_to_journal(void)
{
	return journal;
}

void log_set_level(enum vs_log_level level)
{
	cur_level = level;
}

enum vs_log_level log_get_level(void)
{
	return cur_level;
}

const char *log_level_name(enum vs_log_level level)
{
	return level >= VS_LOG_ERR && level <= VS_LOG_DEBUG ? level_names[level] : NULL;
}

int log_level_parse(const char *name)
{
	for (int l = VS_LOG_ERR; l <= VS_LOG_DEBUG; l++)
		if (!strcmp(level_names[l], name))
			return l;
	return -EINVAL;
}

/* Each line of the message gets the prefix: journald takes every line for
 * an entry of its own, and only a prefixed one gets the priority. */
static size_t prefix_lines(char *out, size_t size, const char *prefix, const char *msg)
{
	size_t n = 0, plen = strlen(prefix);

	while (*msg && n + plen + 2 < size) {
		const char *nl = strchr(msg, '\n');
		size_t len = nl ? (size_t)(nl - msg) : strlen(msg);

		if (len > size - n - plen - 2)
			len = size - n - plen - 2;
		memcpy(out + n, prefix, plen);
		memcpy(out + n + plen, msg, len);
		n += plen + len;
		out[n++] = '\n';
		msg += len;
		if (*msg == '\n')
			msg++;
	}
	return n;
}

void log_print(enum vs_log_level level, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX], out[LOG_LINE_MAX + 128], prefix[64];
	char when[CLOCK_RFC3339_LEN];
	struct timespec ts;
	va_list ap;
	size_t n;
	int len;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(msg))
		snprintf(msg + sizeof(msg) - 16, 16, " [cut]\n");
	if (journal) {
		snprintf(prefix, sizeof(prefix), "<%d>%s: ", level, log_level_name(level));
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		clock_rfc3339(ts.tv_sec, ts.tv_nsec / 1000000, when);
		snprintf(prefix, sizeof(prefix), "%s vsteerd %s: ", when, log_level_name(level));
	}
	n = prefix_lines(out, sizeof(out), prefix, msg);
	/* stderr is unbuffered: one write, whole even with other threads. */
	if (n && write(STDERR_FILENO, out, n) < 0)
		return;
}
