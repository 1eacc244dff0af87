/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The fleet as JSON: the status a host publishes in etcd, and GET
 * /v1/fleet's view of every host (docs/fleet.md). */
#ifndef VS_VIEWS_FLEET_H
#define VS_VIEWS_FLEET_H

#include <jansson.h>
#include "ctl/fleet.h"
#include "ctl/snap.h"

/* This host's status from a snapshot of all its versions, as
 * fleet_host_parse() reads it back: fleet_render_fn. */
json_t *views_fleet_host(const struct snap *s, const char *host);
/* GET /v1/fleet: this host's link to etcd, each service's desired state
 * as applied here, and every member's state: ok, behind (it has not
 * applied the newest change), failing (it reports problems) or missing
 * (no status: its lease lapsed). */
json_t *views_fleet_view(const struct fleet_view *v);

#endif
