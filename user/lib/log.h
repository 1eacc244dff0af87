/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One set of logging macros for the controller; libbpf's output is routed
 * into the same sink (see dp_route_libbpf_log()). Everything goes to stderr,
 * where systemd and container runtimes collect it: under systemd (stderr is
 * the journal's stream) each line starts with its sd-daemon priority, so
 * `journalctl -p warning` finds the warnings; elsewhere with an RFC 3339
 * time and the level's word. */
#ifndef VS_LOG_H
#define VS_LOG_H

#include <stdbool.h>

/* In syslog's order, so a level's value is its sd-daemon priority. */
enum vs_log_level {
	VS_LOG_ERR = 3,
	VS_LOG_WARN = 4,
	VS_LOG_NOTICE = 5,
	VS_LOG_INFO = 6,
	VS_LOG_DEBUG = 7,
};

/* Looks at JOURNAL_STREAM once: call before the first line. */
void log_init(void);
void log_set_level(enum vs_log_level level);
enum vs_log_level log_get_level(void);
/* The level's word ("warning"), or NULL for one that is not a level. */
const char *log_level_name(enum vs_log_level level);
/* The level whose word is name, or -EINVAL. */
int log_level_parse(const char *name);
/* Whether lines go to the journal, with priority prefixes. */
bool log_to_journal(void);
void log_print(enum vs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(fmt, ...)    log_print(VS_LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)   log_print(VS_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...) log_print(VS_LOG_NOTICE, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)   log_print(VS_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)  log_print(VS_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
