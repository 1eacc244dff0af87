/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The changes the API makes, each a transaction (txn.h): 0 or a -errno
 * with err filled, and then nothing changed. */
#ifndef VS_OPS_H
#define VS_OPS_H

#include <stdbool.h>
#include "core/model.h"

struct ctl;

/* The free slots a new cluster should not take (bits of avoid): a
 * deleted cluster's that still has connections open. c->lock held. */
void ctl_avoid_slots(struct ctl *c, const struct model *next, uint64_t avoid[VS_MAX_SLOTS / 64]);
/* spec as parse_cluster() leaves it; svc names the service; an: the
 * analysis of the rollout its taking over starts (an instant or session
 * cluster newer than the others). The new cluster's id in id. */
int ctl_add_cluster(struct ctl *c, const char *svc, const struct cluster *spec,
		    const struct analysis_req *an, char id[ID_LEN], struct vs_err *err);
int ctl_del_cluster(struct ctl *c, const char *id, bool force, struct vs_err *err);
/* Whether ctl_set_weights() would take them now, changing nothing. */
int ctl_check_weights(struct ctl *c, const char *svc, const char *const *names, const uint16_t *bp,
		      uint32_t n, struct vs_err *err);
/* Weights from the fleet (ctl/fleet_sync.h): its session hash salt,
 * which every host shares so that a client lands on the same version on
 * each, and the host that set them, for the event. */
struct ctl_fleet_weights {
	bool has_salt;
	uint32_t salt;
	const char *by; /* "": not known */
};
/* fleet: NULL for a change made here. */
int ctl_set_weights(struct ctl *c, const char *svc, const char *const *names, const uint16_t *bp,
		    uint32_t n, const struct ctl_fleet_weights *fleet, struct vs_err *err);
int ctl_rollout_start(struct ctl *c, const char *svc, const struct ro_request *req,
		      struct vs_err *err);
int ctl_rollout_control(struct ctl *c, const char *svc, enum ro_op op, bool full,
			struct vs_err *err);

#endif
