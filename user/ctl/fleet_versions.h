/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The versions a fleet has (docs/fleet.md): PREFIX/services/SVC/versions/
 * VERSION, created by the first host that registers the version (its API,
 * or its config at the start) with that host's servers. Every host that
 * lacks the version registers it from there, mode manual (the fleet's
 * weights and rollouts give it traffic); where those servers do not fit
 * (another host's address), that is a problem in its status until the
 * host registers its own. A version deleted on any host leaves the
 * fleet, and every host deletes its own.
 */
#ifndef VS_FLEET_VERSIONS_H
#define VS_FLEET_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "core/model.h"
#include "codec/etcd.h"

struct ctl;

/* A change to key from the watch, if key is a version's (true): taken
 * here, or deleted here. */
bool fleet_versions_apply(struct ctl *c, const char *key, bool put, const char *text, size_t len,
			  int64_t mod_rev);
/* After a read of every service key: each version taken, those that went
 * meanwhile deleted, and (once a start) this host's versions that the
 * fleet lacks written to it. */
void fleet_versions_read(struct ctl *c, const struct etcd_range *r);
/* Each version this host could not follow, tried again. */
void fleet_versions_retry(struct ctl *c);
/* PUT /v1/clusters on a host in a fleet: registered here (manual), then
 * written to the fleet if it lacks the version; an instant or session
 * cluster that would take over starts a rollout of the fleet instead.
 * All undone if a step fails. */
int fleet_versions_add(struct ctl *c, const char *svc, json_t *body, const struct cluster *spec,
		       const struct analysis_req *an, char id[ID_LEN], struct vs_err *err);
/* DELETE /v1/clusters/{id} on a host in a fleet: deleted here, then from
 * the fleet, and so on every host. */
int fleet_versions_delete(struct ctl *c, const char *id, bool force, struct vs_err *err);

#endif
