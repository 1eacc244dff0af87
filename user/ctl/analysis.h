/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Judging rollouts: every analysis interval, each analysed rollout's
 * target is compared with its stable version over the window just ended
 * (core/judge.h), or with what the stable version did before the rollout
 * when it has too little traffic of its own, and the verdict is
 * committed as a transaction (it may roll back). A target with no live
 * socket for ANALYSIS_DEAD_TICKS ticks is judged at once.
 */
#ifndef VS_ANALYSIS_H
#define VS_ANALYSIS_H

#include <stdint.h>
#include "core/model.h"
#include "core/window.h"

struct ctl;

#define ANALYSIS_DEAD_TICKS 4 /* a target dead this many ticks (1 s) rolls back */

enum { ANALYSIS_TARGET, ANALYSIS_STABLE };

struct analysis_state {
	/* Per service: the target's and the stable version's windows of the
	 * rollout that started at started[svc]. */
	struct window_track win[VS_MAX_SERVICES][2];
	int64_t started[VS_MAX_SERVICES];
	uint32_t dead_ticks[VS_MAX_SERVICES]; /* ticks the target had no live socket */
};

/* Called by the tick with c->lock held; now is monotonic seconds. */
void analysis_tick(struct ctl *c, int64_t now);
/* The last judged window of slot if it is a side of service svc's
 * analysed rollout, else NULL. */
const struct window *analysis_last(const struct analysis_state *a, const struct model *m,
				   uint32_t svc, uint32_t slot);

#endif
