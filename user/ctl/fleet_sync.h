/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet's desired state (docs/fleet.md): each service's weights under
 * PREFIX/services/NAME, written by any host's API in a transaction
 * guarded by the key's revision, and applied by every host, the writer
 * included, from a watch. A thread of its own reads the services, then
 * watches them from the revision after; a change this host cannot apply
 * (no such service or version here, a local rollout in progress) is a
 * problem its status reports.
 */
#ifndef VS_FLEET_SYNC_H
#define VS_FLEET_SYNC_H

#include <errno.h>
#include <stdint.h>
#include "lib/err.h"
#include "codec/request.h"
#include "ctl/txn.h"

struct ctl;

/* What a change returns that was written to the fleet and could not be
 * applied here (err says why): every other host applies it. */
#define FLEET_SYNC_WRITTEN (-EREMOTEIO)

int fleet_sync_start(struct ctl *c);
/* 409 fleet_not_applied while this host could not apply service svc's
 * state in the fleet: a change made here would be made on another. */
int fleet_sync_check_applied(struct ctl *c, const char *svc, struct vs_err *err);
/* Each service's desired state this host could not apply, tried again
 * (its cause may have gone: a rollout ended, a version was added). From
 * the fleet's thread, every round. */
void fleet_sync_retry(struct ctl *c);
void fleet_sync_stop(struct ctl *c);
/* PUT /v1/services/{svc}/weights on a host in a fleet: checked here as a
 * local change would be, then written to etcd if the service's key is
 * still at revision base (-1: the one this host last applied), then
 * applied here (an error if that fails: it is written, and every other
 * host applies it). 409 fleet_conflict if another host changed it since,
 * 503 fleet_stale while this host has lost etcd. */
int fleet_sync_set_weights(struct ctl *c, const char *svc, json_t *body,
			   const struct weights_req *w, int64_t base, struct vs_err *err);
/* A rollout's change (started, controlled, or stepped by the fleet's
 * driver) made by fn on a copy of the model, as txn_run()'s: the
 * service's rollout (now the fleet's), weights and session timeout
 * written to the fleet on the revision this host applied last, then
 * applied here. fn's error, and then nothing is written; 409
 * fleet_conflict, 503 fleet_stale as above, 409 fleet_not_applied while
 * this host could not apply the service's state. driver: the driver key's
 * create revision, which must still be it (a driver deposed meanwhile
 * writes nothing), or 0. */
int fleet_sync_change(struct ctl *c, const char *svc, txn_fn fn, const void *arg, int64_t driver,
		      struct vs_err *err);

#endif
