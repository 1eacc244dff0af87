/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the API shows, as JSON, rendered from a snapshot (ctl/snap.h):
 * no lock, no kernel, no controller. */
#ifndef VS_VIEWS_H
#define VS_VIEWS_H

#include <jansson.h>
#include "core/reconcile.h"
#include "ctl/snap.h"

/* {"services": [...]} */
json_t *views_services(const struct snap *s);
/* The service snap_take() was asked for by name. */
json_t *views_service(const struct snap *s);
/* {"clusters": [...]} */
json_t *views_clusters(const struct snap *s);
/* The cluster snap_take() was asked for by id. */
json_t *views_cluster(const struct snap *s);
/* {"events": [...], "last": ID, "missed": N}: the events of svc (NULL:
 * all), newest first; with since >= 0 the ones after that id, oldest
 * first, and how many of those were not kept. */
json_t *views_events(const struct event_ring *r, const char *svc, int64_t since);
/* POST /v1/reload's reply: what it added, and the differences it kept. */
json_t *views_reload(const struct reconcile_result *r);
/* GET /v1/features; 503 with err when the kernel was not probed. */
json_t *views_features(const struct snap *s);

#endif
