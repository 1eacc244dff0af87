/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What vsteerd steers, as plain data: services, and the clusters (one per
 * version) that serve them. Pure functions over it, no I/O, so that every
 * mutation can be computed on a copy, checked, and only then applied.
 *
 * A cluster's index is its version slot: it places the cluster's sockets
 * in the sockmap and its counters in vstats. A service's index is its id.
 */
#ifndef VS_MODEL_H
#define VS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"
#include "addr.h"
#include "util.h"
#include "version.h"

#define VS_MAX_BACKENDS 16	/* servers named per cluster */
#define NAME_MAX_LEN    64
#define ID_LEN          37	/* UUID and NUL */

enum cl_mode { CL_INSTANT, CL_MANUAL, CL_SESSION };

enum ro_strategy { RO_INSTANT, RO_SESSION, RO_GRADUAL };
enum ro_phase { RO_NONE, RO_PROGRESSING, RO_PAUSED, RO_COMPLETED, RO_ABORTED,
		RO_ROLLED_BACK };

#define RO_MAX_STEPS  32
#define RO_WAIT       (-1)	/* a step without hold: wait for promote */
#define RO_MAX_EVENTS 256

struct ro_step {
	uint16_t weight;		/* basis points for the target */
	int64_t hold;			/* seconds, or RO_WAIT */
};

/* Automatic analysis of a rollout: every `interval` seconds the target
 * is compared with the stable version over the same window. */
struct analysis {
	bool on;
	uint32_t interval;		/* seconds */
	uint32_t min_requests;		/* fewer in a window: inconclusive */
	double max_latency_ratio;	/* p50 and p99: fail above ratio ... */
	double max_latency_increase_ms;	/* ... and above this many ms more */
	double max_size_deviation;	/* |mean size - stable's| / stable's */
	double max_error_rate_increase;	/* errors per request, over stable's */
	uint32_t failure_limit;		/* consecutive failing windows: rollback */
	uint32_t max_inconclusive;	/* then a step advances without a verdict */
	/* status */
	uint32_t failures, inconclusive, windows;
	int64_t last_pass;		/* wall time of the last passing window */
	char last_verdict[160];
};

/* What happened to a rollout, in the rollout itself (and the state
 * file): the events of other services cannot push it out. */
enum ro_mark_type { ROM_STARTED = 1, ROM_STEP, ROM_PROMOTED, ROM_PROMOTED_FULL, ROM_PAUSED,
		    ROM_RESUMED, ROM_ABORTED, ROM_ROLLED_BACK, ROM_AUTO_ROLLBACK, ROM_COMPLETED,
		    ROM_TYPES };
#define RO_MAX_HISTORY 48	/* when full, the oldest after "started" go */

struct ro_mark {
	int64_t time;
	uint16_t weight;		/* the target's, after it (basis points) */
	uint8_t type;			/* enum ro_mark_type */
	uint8_t step;			/* index, at it */
	uint32_t pad;			/* no padding: models are compared whole */
};

/* A service's current (or last) rollout: from its stable version to a
 * target. Times are wall-clock seconds, so a restart continues on
 * schedule. */
struct rollout {
	enum ro_phase phase;
	enum ro_strategy strategy;
	uint32_t from, to;		/* cluster slots */
	uint32_t session_timeout;	/* seconds; 0: no affinity */
	uint32_t nsteps, step;
	struct ro_step steps[RO_MAX_STEPS];
	int64_t started;
	int64_t step_started;
	int64_t paused_left;		/* hold seconds left when paused */
	int64_t ended;
	struct analysis an;
	uint32_t nhist;
	struct ro_mark hist[RO_MAX_HISTORY];	/* oldest first */
	char why[128];			/* an automatic rollback's reason */
};

/* Something that happened, for GET /v1/events. */
struct event {
	int64_t time;
	char service[NAME_MAX_LEN];
	char type[24];
	char detail[160];
};

/* Active health checks of a cluster's servers: GET path every interval;
 * a server that fails unhealthy_after checks in a row is taken out of
 * the sockmap until healthy_after pass. */
struct health {
	bool on;
	char path[128];
	uint32_t interval_ms, timeout_ms, unhealthy_after, healthy_after;
};

struct cluster {
	bool used;
	char id[ID_LEN];
	char version[VERSION_MAX_LEN];
	uint32_t svc;
	uint16_t weight;		/* basis points of new sessions */
	enum cl_mode mode;
	bool no_affinity;		/* rolled back: its sessions move off */
	uint32_t session_timeout;	/* CL_SESSION: seconds */
	uint32_t nbk;
	struct vs_endpoint bk[VS_MAX_BACKENDS];
	struct health health;
};

struct service {
	bool used;
	char name[NAME_MAX_LEN];
	struct vs_endpoint addr;
	uint32_t salt;
	uint32_t session_timeout;	/* seconds of idleness that end a session */
	bool http;			/* "protocol": "http": status classes counted */
	struct rollout ro;
	uint32_t rollbacks, auto_rollbacks;	/* since vsteerd started, for /metrics */
};

struct model {
	struct service svc[VS_MAX_SERVICES];
	struct cluster cl[VS_MAX_SLOTS];
	uint32_t nevents, event_head;	/* ring, newest at event_head - 1 */
	struct event events[RO_MAX_EVENTS];
};

void model_event(struct model *m, int64_t now, const char *svc, const char *type,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

int model_find_service(const struct model *m, const char *name);
int model_find_cluster(const struct model *m, const char *id);
int model_find_version(const struct model *m, uint32_t svc, const char *version);

int model_add_service(struct model *m, const char *name,
		      const struct vs_endpoint *addr, uint32_t salt,
		      struct vs_err *err);
/* spec->svc, version, mode, bk and (optionally) id are read; returns the
 * new cluster's slot. With an empty id one is generated. */
int model_add_cluster(struct model *m, const struct cluster *spec,
		      struct vs_err *err);
/* The same, preferring free slots not set in `avoid` (a bitmap of
 * VS_MAX_SLOTS bits): those the data plane still has traces of. */
int model_add_cluster_avoiding(struct model *m, const struct cluster *spec,
			       const uint64_t *avoid, struct vs_err *err);
int model_del_cluster(struct model *m, uint32_t slot, bool force,
		      struct vs_err *err);
/* Set every version's weight of service svc: names[i] gets bp[i] basis
 * points, versions not named get 0. The named weights must sum to 10000. */
int model_set_weights(struct model *m, uint32_t svc, const char *const *names,
		      const uint16_t *bp, uint32_t n, struct vs_err *err);

/* Slots of service svc's clusters, newest version first; returns count. */
uint32_t model_order(const struct model *m, uint32_t svc,
		     uint32_t out[VS_MAX_VERSIONS]);
uint32_t model_nservices(const struct model *m);

void model_svc_key(const struct model *m, uint32_t svc, struct vs_svc_key *k);
/* The data plane's view of service svc; nsock[slot] is how many socket
 * slots each cluster uses right now. */
void model_svc_value(const struct model *m, uint32_t svc,
		     const uint8_t nsock[VS_MAX_SLOTS], struct vs_svc *v);

/* Percent (as the API speaks) to basis points; -EINVAL if out of 0..100
 * or finer than 0.01. */
int percent_to_bp(double pct, uint16_t *bp);

#endif
