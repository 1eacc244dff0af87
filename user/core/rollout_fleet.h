/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A host of a fleet taking the fleet's rollout (docs/fleet.md): pure, as
 * core/rollout.h's engine, which the fleet's driver runs. */
#ifndef VS_ROLLOUT_FLEET_H
#define VS_ROLLOUT_FLEET_H

#include <stdint.h>
#include "core/rollout.h"

/* Service svc's rollout was replaced by the fleet's (the driver's, or
 * another host's change): `before` is the one it replaced. Keeps this
 * host's judged status of the same rollout, records the history's new
 * marks as events and does what they did to this host's model (affinity
 * on a rollback, the drain of a completed rollout's old version); by,
 * the host that wrote it, is said in each event ("" or NULL: not). */
void rollout_fleet_adopt(struct model *m, uint32_t svc, const struct rollout *before,
			 const char *by, int64_t now);

#endif
