/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A mirror rollout's own fields in the state file (and, the same object,
 * the API's rollout view): what it mirrors and compares, its verdict so
 * far, and the rollout that follows a passing one. */
#ifndef VS_STATE_MIRROR_H
#define VS_STATE_MIRROR_H

#include <jansson.h>
#include "lib/err.h"
#include "core/rollout.h"

/* {"settings", "verdict", "why", "then"}; null for another strategy. */
json_t *state_mirror_json(const struct rollout *ro);
/* A "then" as the API shows it and the state file keeps it. */
json_t *state_then_json(const struct ro_request *then);
/* ro's mirror fields back from j (NULL or null: none; for a mirror
 * rollout, the defaults); an error names w. */
int state_mirror_load(json_t *j, const char *w, struct rollout *ro, struct vs_err *err);

#endif
