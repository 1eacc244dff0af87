/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The drainer: what drain deadlines (core/drain.h) ask, done each tick. A
 * version whose deadline has passed is marked due, which makes its
 * sessions follow the weights; then every tick one pass over the TCP
 * sockets of the namespace (kernel/dp_iter.h) closes its connections that
 * are idle between requests, until it holds none, and it is reported
 * drained. What is closed is counted per version and said in events. A
 * version that takes new sessions again (a rollback, weights by hand) has
 * its drain called off.
 */
#ifndef VS_DRAINER_H
#define VS_DRAINER_H

#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"

struct ctl;

/* Seconds between two drain_closed events of one version after its
 * first: a version with many busy connections that finish one by one
 * would otherwise fill the event ring. */
#define DRAINER_SAY_EVERY 10

struct drainer_state {
	bool deadline_new[VS_MAX_SLOTS]; /* marked due this tick: say the first pass */
	int64_t said_at[VS_MAX_SLOTS];	 /* the last drain_closed event */
	uint32_t unsaid[VS_MAX_SLOTS];	 /* closed since then */
	bool said_cannot[VS_MAX_SLOTS];	 /* drain_unsupported said */
	int last_err;			 /* a failed pass or close, logged once */
};

/* One tick of every drain at wall-clock time now; c->lock held. */
void drainer_tick(struct ctl *c, int64_t now);
/* Forget a slot: its cluster is gone, or another takes the slot. */
void drainer_forget(struct drainer_state *ds, uint32_t slot);

#endif
