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
#include "kernel/dp_pins.h"
#include "ctl/analysis.h"
#include "ctl/health.h"
#include "ctl/notifier.h"
#include "ctl/publish.h"
#include "ctl/recent.h"
#include "ctl/sock.h"

struct config;
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
	struct publish_state publish;
	struct notifier_state notify;
	char pins_missing[DP_PINS_NAMES]; /* not pinned, and said so: once, not every tick */
};

/* Before anything is pinned or steered: refuse a service that the pinned
 * maps do not steer yet and whose address another socket of this network
 * namespace listens on (exactly, or as a wildcard that would take its
 * connections), unless its config entry says "takeover": true. A socket of
 * one of the service's own servers is not another's. */
int ctl_check_addresses(struct dataplane *dp, const struct model *m, const struct config *cfg,
			struct vs_err *err);

/* Steer by m (copied): adopt what the pinned maps hold (salts, socket
 * counts, sockets), drop what neither m nor the state file knows, and
 * write the state file and the maps. A start that fails leaves steering
 * running as it was: the state file is staged before the kernel is
 * touched and the services are written last; only sockets and services
 * that nothing in m serves may be gone. */
int ctl_open(struct ctl **out, struct dataplane *dp, const struct model *m, const char *state_path,
	     struct vs_err *err);
void ctl_close(struct ctl *c);
/* Empty a slot's sockmap indexes and forget what every subsystem knew of
 * it: its cluster is gone, or another is about to take the slot. */
void ctl_clear_slot(struct ctl *c, uint32_t slot);

#endif
