/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The controller core. Every mutation is a transaction: compute the new
 * model on a copy, validate it, put sockets in place, write the maps,
 * write the state file, and only then make the copy current. If any step
 * fails the maps go back to what they were and the API answers with the
 * error; nothing is half-applied. One mutex serialises all of it.
 */
#ifndef VS_CTL_H
#define VS_CTL_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include "dataplane.h"
#include "judge.h"
#include "model.h"
#include "rollout.h"

#define VS_SCAN_FULL_EVERY 2	/* seconds between full listener scans */

struct vs_features;

struct ctl {
	pthread_mutex_t lock;
	struct model *m;
	struct dataplane *dp;
	const char *state_path;
	time_t started;
	time_t last_full_scan;
	uint64_t ticks;			/* for /healthz: proof the loop runs */
	const struct vs_features *features;	/* NULL: not probed (fuzzers) */
	/* Derived from the maps at start and kept in step by ctl_tick(): */
	uint8_t nsock[VS_MAX_SLOTS];			/* socket slots in use */
	uint64_t cookie[VS_MAX_SLOTS][VS_MAX_SOCKS];	/* 0: empty */
	/* Bit b: the socket serves backend b (one wildcard socket can serve
	 * several); 0 until a scan has attributed it. */
	uint16_t owner[VS_MAX_SLOTS][VS_MAX_SOCKS];
	/* Accept backlog of each backend at the last full scan. */
	uint32_t backlog[VS_MAX_SLOTS][VS_MAX_BACKENDS];
	/* Analysis: each version's cumulative measurements when the current
	 * window began, and when that was (monotonic seconds; 0: none yet). */
	struct window *snap;		/* [VS_MAX_SLOTS] */
	struct window *last;		/* [VS_MAX_SLOTS]: the last judged window */
	time_t win_start[VS_MAX_SERVICES];
	uint32_t dead_ticks[VS_MAX_SERVICES];	/* ticks the target had no live backend */
	/* Every version's numbers over the last VS_STATS_WINDOW seconds, for
	 * the API, whether or not a rollout judges it: the cumulative values
	 * when the current window began, the last full window, and whether
	 * that one is complete (a version added mid-window is not). */
	struct window *vsnap, *vlast;	/* [VS_MAX_SLOTS] */
	bool vlast_ok[VS_MAX_SLOTS], vseen[VS_MAX_SLOTS];
	time_t vwin_start;
	/* Active health checks (health.c): a backend marked down is kept out
	 * of the sockmap; counts of consecutive failed and passed checks. */
	bool bk_down[VS_MAX_SLOTS][VS_MAX_BACKENDS];
	uint8_t hc_fail[VS_MAX_SLOTS][VS_MAX_BACKENDS];
	uint8_t hc_ok[VS_MAX_SLOTS][VS_MAX_BACKENDS];
	pthread_t health_thread;
	volatile bool stopping;
	/* Last insert error per backend, to tell "nothing listens" from
	 * "the kernel refused the socket". */
	int bk_err[VS_MAX_SLOTS][VS_MAX_BACKENDS];
};

#define VS_STATS_WINDOW 5	/* seconds: the API's per-version last window */
#define VS_DEAD_TICKS   4	/* a target dead this many ticks (1 s) rolls back */

/* Take m (copied) as the state to steer by; adopts what the maps hold. */
int ctl_init(struct ctl *c, struct dataplane *dp, const struct model *m,
	     const char *state_path, struct vs_err *err);
void ctl_fini(struct ctl *c);
/* The health checker's thread (health.c). */
int health_start(struct ctl *c);
void health_stop(struct ctl *c);
/* Pick up backends that (re)started listening; called every 250 ms. */
void ctl_tick(struct ctl *c);

/* spec as parse_cluster() leaves it; svc names the service. */
int ctl_add_cluster(struct ctl *c, const char *svc, const struct cluster *spec,
		    char id[ID_LEN], struct vs_err *err);
int ctl_del_cluster(struct ctl *c, const char *id, bool force, struct vs_err *err);
int ctl_set_weights(struct ctl *c, const char *svc, const char *const *names,
		    const uint16_t *bp, uint32_t n, struct vs_err *err);

struct ro_request;
int ctl_rollout_start(struct ctl *c, const char *svc, const struct ro_request *req,
		      struct vs_err *err);
int ctl_rollout_control(struct ctl *c, const char *svc, enum ro_op op, bool full,
			struct vs_err *err);

/* Views for the API; NULL and err filled when the name or id is unknown. */
json_t *ctl_services_json(struct ctl *c);
json_t *ctl_service_json(struct ctl *c, const char *name, struct vs_err *err);
json_t *ctl_clusters_json(struct ctl *c);
json_t *ctl_cluster_json(struct ctl *c, const char *id, struct vs_err *err);
/* Prometheus text format; malloc'ed. */
char *ctl_metrics_text(struct ctl *c);
/* Newest first; svc NULL for every service. */
json_t *ctl_events_json(struct ctl *c, const char *svc);

/* Does listening socket l serve connections for backend address bk? */
bool listener_serves(const struct vs_listener *l, const struct vs_endpoint *bk);

#endif
