/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One set of logging macros for the controller; libbpf's output is routed
 * into the same sink (see dp_route_libbpf_log()). Everything goes to stderr,
 * where systemd and container runtimes collect it. */
#ifndef VS_LOG_H
#define VS_LOG_H

enum vs_log_level { VS_LOG_WARN, VS_LOG_INFO, VS_LOG_DEBUG };

void log_set_level(enum vs_log_level level);
enum vs_log_level log_get_level(void);
void log_print(enum vs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(fmt, ...)  log_print(VS_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_print(VS_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_print(VS_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
