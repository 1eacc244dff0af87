/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A mirror rollout as the API shows it: its settings, verdict and "then"
 * (as the state file keeps them), what became of the requests, and the
 * report by route. */
#ifndef VS_VIEWS_MIRROR_H
#define VS_VIEWS_MIRROR_H

#include <jansson.h>
#include "ctl/snap.h"

/* The rollout view's "mirror" of service svc; null unless its rollout is
 * a mirror. */
json_t *views_mirror_json(const struct snap *s, uint32_t svc);
/* The service view's "lastMirror": the report of the last mirror once
 * another rollout took its place (a passing mirror's then, say); null
 * while it is the current rollout, or none ran since vsteerd started. */
json_t *views_mirror_last_json(const struct snap *s, uint32_t svc);

#endif
