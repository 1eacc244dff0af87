/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Drain deadlines, as plain data. A rollout (or the upgradeTransition of
 * a cluster that takes over) may ask that, SECONDS after it completes,
 * the version it moved from has its connections that are idle between
 * requests closed, and its sessions follow the weights. The controller
 * closes them each tick (ctl/drainer.h); here is what was asked for, what
 * a version's drain has come to, and when it is due. Pure: `now` is
 * always passed in.
 */
#ifndef VS_DRAIN_H
#define VS_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

#define DRAIN_MAX_DEADLINE (7 * 24 * 3600) /* seconds */

/* "drainDeadline": none, or this many seconds after the rollout completes. */
struct drain_spec {
	bool on;
	uint32_t secs;
};

/* A version's drain. */
struct drain {
	bool on;	 /* scheduled: a rollout away from it completed */
	bool due;	 /* a tick saw the deadline pass: its idle connections
			  * close, its sessions follow the weights */
	bool drained;	 /* said: none of its connections left after that */
	uint32_t secs;	 /* the deadline asked for */
	int64_t started; /* when the clock started: the rollout completed */
	uint64_t closed; /* connections it closed, over the cluster's life */
};

/* The clock starts now: the version stopped getting new sessions. */
void drain_schedule(struct drain *d, const struct drain_spec *spec, int64_t now);
/* Wall-clock time from which its idle connections close. */
int64_t drain_at(const struct drain *d);
/* Scheduled and its deadline reached by now, not yet marked due. */
bool drain_comes_due(const struct drain *d, int64_t now);
/* Called off (the version takes new sessions again); the count stays. */
void drain_cancel(struct drain *d);

#endif
