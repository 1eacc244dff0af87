/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Webhook targets as JSON input: for the config file, the state file and
 * request bodies alike (codec/parse.h's conventions). */
#ifndef VS_PARSE_NOTIFY_H
#define VS_PARSE_NOTIFY_H

#include <jansson.h>
#include "lib/err.h"
#include "core/notify.h"

/* A list of webhook targets (core/notify.h), as the config file, the
 * state file and request bodies carry it under "notifications":
 *   [{"url": "https://hooks.example.com/x",  http:// or https://
 *     "events": ["auto_rollback", "step"],   kinds; ["*"] or left out: all
 *     "headers": {"Authorization": "Bearer ..."},
 *     "timeoutMs": 5000}]                    one attempt's, 100 to 30000
 * At most NOTIFY_MAX_TARGETS targets. Errors name where[i] and the field
 * (codes bad_notifications, or limit); *out is written only on success. */
int parse_notifications(json_t *v, const char *where, struct notify_list *out, struct vs_err *err);

#endif
