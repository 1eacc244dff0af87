/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl status SERVICE [--watch] [--timeout DURATION]: follows the
 * service's rollout to its end with the events long poll, and says how it
 * ended in the exit code (0 completed, 1 rolled back or aborted, 2 bad
 * input or no API, 3 timed out). */
#ifndef VS_CLI_STATUS_H
#define VS_CLI_STATUS_H
#include <jansson.h>
#include <stddef.h>

struct cli_opts;

int cli_status(struct cli_opts *o);
/* How a rollout stands: CLI_EXIT_OK when completed, CLI_EXIT_FAILED when
 * rolled back or aborted (why in why: the history entry that ended it),
 * -1 while it goes on. */
int cli_status_outcome(const json_t *ro, char *why, size_t size);

#endif
