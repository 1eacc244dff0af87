/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl rollout SERVICE --to VERSION ..., and promote, pause, resume,
 * abort and rollback of the rollout in progress. */
#ifndef VS_CLI_ROLLOUT_H
#define VS_CLI_ROLLOUT_H
#include <jansson.h>

struct cli_opts;

int cli_rollout_start(struct cli_opts *o);
/* action: promote, pause, resume, abort or rollback. */
int cli_rollout_control(struct cli_opts *o, const char *action);
/* The body of POST .../rollout from o's options: 0, or CLI_EXIT_USAGE
 * once the error naming the argument is printed. */
int cli_rollout_body(const struct cli_opts *o, json_t **body);

#endif
