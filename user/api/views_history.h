/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* GET /v1/services/{name}/history as JSON, columns as charts take them
 * (uPlot's): the samples' times, and per version one array per figure,
 * each as long as the times, null where the version was not there or
 * had nothing to measure. Rendered from a copy (ctl/snap.h's
 * snap_history()): no lock, no kernel, no controller. */
#ifndef VS_VIEWS_HISTORY_H
#define VS_VIEWS_HISTORY_H

#include <jansson.h>
#include "core/history.h"

/* The samples after since (unix seconds; < 0: all). */
json_t *views_history_json(const struct history *h, int64_t since);

#endif
