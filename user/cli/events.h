/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl events [SERVICE] [-f] [--since ID], and the long poll that
 * status follows a rollout with (GET /v1/events?since=ID&wait=S). */
#ifndef VS_CLI_EVENTS_H
#define VS_CLI_EVENTS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cli_opts;

int cli_events_cmd(struct cli_opts *o);
/* GET /v1/events?since=since&wait=wait (service: NULL for all; since -1:
 * the newest ones, no wait): 0 and the reply's events oldest first in
 * *events (a new reference), *last the newest id there is; -errno with
 * o->api.err set. */
int cli_events_poll(struct cli_opts *o, const char *service, int64_t since, int wait,
		    json_t **events, int64_t *last);
/* An event in one line: "03:07:18 step: step 1 of 3: ..." (long: the
 * whole date and the service). */
const char *cli_event_line(const json_t *e, bool long_form, char *buf, size_t size);

#endif
