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
#include "ctl/drainer.h"
#include "ctl/fleet.h"
#include "ctl/health.h"
#include "ctl/mirror.h"
#include "ctl/notifier.h"
#include "ctl/publish.h"
#include "ctl/recent.h"
#include "ctl/sock.h"
#include "ctl/txn.h"

struct config;
struct ctl_pending;
struct dataplane;
struct vs_features;

struct ctl {
	pthread_mutex_t lock;
	struct model *m; /* what the maps and the state file say */
	struct dataplane *dp;
	const char *state_path;		    /* NULL: none (tests) */
	const struct vs_features *features; /* NULL: not probed (tests, fuzzers) */
	uint64_t ticks;			    /* for /healthz: proof the loop runs */
	const char *version;		    /* vsteerd's, for /metrics; NULL in tests */
	struct sock_state sock;
	struct health_state health;
	struct analysis_state an;
	struct recent_state recent;
	struct publish_state publish;
	struct drainer_state drain;
	struct notifier_state notify;
	struct mirror_state mirror;
	struct fleet_state fleet; /* fleet_open() by vsteerd; no client: not in a fleet */
	struct txn_sync_state sync;
	int64_t ifaces_at;		  /* tick: when new interfaces were last looked for */
	char pins_missing[DP_PINS_NAMES]; /* not pinned, and said so: once, not every tick */
	struct ctl_pending *pending;	  /* from ctl_open() to ctl_start() */
	/* --config, and the config vsteerd started with (NULL: none): what
	 * a reload re-reads, and what the API runs with (reload.h). */
	const char *config_path;
	const struct config *config;
};

/* Before anything is pinned or steered: refuse a service that the pinned
 * maps do not steer yet and whose address another socket of this network
 * namespace listens on (exactly, or as a wildcard that would take its
 * connections), unless its config entry says "takeover": true. A socket of
 * one of the service's own servers is not another's. */
int ctl_check_addresses(struct dataplane *dp, const struct model *m, const struct config *cfg,
			struct vs_err *err);

/* A start, in two steps around dp_attach(). ctl_open(): the model m
 * (copied) as it will be steered, with what the pinned maps hold adopted
 * (each service's salt and socket counts) and rollout steps that came due
 * caught up, staged as the new state file; nothing in the kernel changes,
 * so a state file that cannot be written stops the start here. c->m stays
 * empty until ctl_start(). */
int ctl_open(struct ctl **out, struct dataplane *dp, const struct model *m, const char *state_path,
	     struct vs_err *err);
/* Steer by it: take over the sockets the sockmap holds and place those
 * missing, write the services, and commit the state file, the last thing
 * that can fail. If anything fails, the sockets placed come out again
 * and the services are written back as they were: the pinned steering is
 * as it was, and no state file was written. Once committed, what nobody
 * serves any more goes (sockets of other clusters, services nobody
 * knows) and the temp files a crash left. */
int ctl_start(struct ctl *c, struct vs_err *err);
/* dp_commit(), under the controller's lock: the health thread may write
 * maps (and switch the TC meter) meanwhile. */
void ctl_commit(struct ctl *c);
/* The threads of its own: the health checker (ctl/health.h) and the
 * notifier (ctl/notifier.h), with the daemon's webhooks; both idle until
 * ctl_start(), and the notifier, subscribed now, sends the events the
 * start makes. Stopping waits for pending webhooks up to
 * NOTIFIER_STOP_MS, and stops the fleet's thread (fleet_start()) first. */
int ctl_threads_start(struct ctl *c, const struct notify_list *notify, const char *version,
		      struct vs_err *err);
void ctl_threads_stop(struct ctl *c);
/* Frees c; a state file staged and not committed is removed. */
void ctl_close(struct ctl *c);
/* Empty a slot's sockmap indexes and forget what every subsystem knew of
 * it: its cluster is gone, or another is about to take the slot. */
void ctl_clear_slot(struct ctl *c, uint32_t slot);

#endif
