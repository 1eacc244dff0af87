/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The controller: the model vsteerd steers by, the data plane it steers
 * with, and each subsystem's state. One mutex serialises every change
 * (txn.h), the tick (tick.h), the health checker's results and every
 * read (snap.h).
 */
#ifndef VS_CTL_H
#define VS_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/model.h"
#include "ctl/analysis.h"
#include "ctl/health.h"
#include "ctl/recent.h"
#include "ctl/sock.h"

struct dataplane;
struct vs_features;

struct ctl {
	pthread_mutex_t lock;
	struct model *m; /* what the maps and the state file say */
	struct dataplane *dp;
	const char *state_path;		    /* NULL: none (tests) */
	const struct vs_features *features; /* NULL: not probed (tests, fuzzers) */
	uint64_t ticks;			    /* for /healthz: proof the loop runs */
	struct sock_state sock;
	struct health_state health;
	struct analysis_state an;
	struct recent_state recent;
};

/* Steer by m (copied): adopt what the pinned maps hold (salts, socket
 * counts, sockets), drop what neither m nor the state file knows, and
 * write the state file and the maps. A failed start changes nothing. */
int ctl_open(struct ctl **out, struct dataplane *dp, const struct model *m, const char *state_path,
	     struct vs_err *err);
void ctl_close(struct ctl *c);
/* Forget all a subsystem knew of a slot: about to hold another cluster. */
void ctl_forget_slot(struct ctl *c, uint32_t slot);

#endif
