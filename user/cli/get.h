/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl get services | service NAME | clusters | fleet: tables, or
 * the raw view with -o json. */
#ifndef VS_CLI_GET_H
#define VS_CLI_GET_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct cli_opts;

int cli_get_cmd(struct cli_opts *o);
/* A rollout in one line: "1.0 -> 2.0 (gradual): progressing, step 1 of 3,
 * 2.0 at 10%"; "none" for NULL. */
const char *cli_rollout_line(const json_t *ro, char *buf, size_t size);
/* A version's last 5 s window: req/s, p50, p99 (ms), error rate; false
 * when there is none yet. */
bool cli_version_window(const json_t *v, double *rps, double *p50, double *p99, double *err);
/* The same as table cells: req/s, p50, p99, errors; "-" for what was not
 * measured (no window yet, or no request answered in it: a latency of
 * 0.00 would read as a measurement). */
void cli_window_cells(const json_t *v, char cells[4][16]);
/* 0 if svc, the reply to GET path, is a service's view; else
 * CLI_EXIT_USAGE once it said so (another server at --api, say). */
int cli_check_service_view(const json_t *svc, const char *path);

#endif
