/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Multi-Version strategy at run time (core/mirror.h is its pure
 * part). While a service has a mirror rollout in progress, the kernel
 * samples its stable version's new connections and copies their segments
 * into the capture buffer (kernel/dp_mirror.h). Two threads do the rest,
 * off the data path and outside the controller's lock:
 *   capture  puts each sampled connection's two streams back together
 *            (core/reasm), pairs each request with the response its
 *            client got (core/http1) and queues those to mirror
 *            (mirror_flow.h);
 *   replay   sends each queued request, byte for byte, to a server of the
 *            target (and, to learn the noise, of the stable version) over
 *            keep-alive connections, compares the answers and adds them
 *            to the service's report (mirror_replay.h).
 * The tick keeps the kernel's sampling in line with the model, and judges
 * each report's windows (mirror_tick()).
 */
#ifndef VS_CTL_MIRROR_H
#define VS_CTL_MIRROR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"
#include "core/addr.h"
#include "core/limits.h"
#include "core/mirror.h"
#include "core/version.h"
#include "codec/jdiff.h"

struct ctl;
struct model;
struct dp_capture;
struct mirror_flows;
struct mirror_replay;

#define MIRROR_BODY_MAX	  (1024 * 1024) /* bodies compared; longer ones by size only */
#define MIRROR_KERNEL_KIB 64		/* the kernel's budget: KiB a second per request/s */

/* What became of the requests of sampled connections. */
struct mirror_counts {
	uint64_t requests;	 /* whole requests seen, with their response */
	uint64_t mirrored;	 /* sent to the target */
	uint64_t failed;	 /* ... and not answered: refused, reset, timed out, not HTTP */
	uint64_t skipped_method; /* not a listed method */
	uint64_t skipped_authorization; /* an Authorization header, not allowed */
	uint64_t skipped_cookie;	/* a Cookie header, not allowed */
	uint64_t skipped_upgrade;	/* Upgrade or CONNECT: not HTTP after it */
	uint64_t dropped_rate;		/* over maxPerSecond */
	uint64_t dropped_in_flight;	/* maxInFlight replays under way */
	uint64_t dropped_stream;	/* the capture lost part of it, or it was not HTTP/1.x */
	uint64_t noise_samples;		/* also replayed to the stable version */
};

/* A service's mirror: the requests compared, by route. */
struct mirror_report {
	int64_t started; /* the rollout's start: whose report this is */
	struct mirror_counts n;
	struct mirror_fig all;
	uint32_t nroutes;
	struct mirror_route route[MIRROR_MAX_ROUTES + 1];
	struct jdiff_noise noise[MIRROR_MAX_ROUTES + 1];
	uint32_t noise_headers[MIRROR_MAX_ROUTES + 1]; /* bit i: spec header i is noise */
	uint32_t noise_issued[MIRROR_MAX_ROUTES + 1];  /* requests sent to learn it */
	/* The kernel's counts when the mirror began (they count from
	 * vsteerd's start): the report shows what this mirror added. */
	struct vs_mirror_stats capture_base;
	/* What it compared and which versions, for the report once its
	 * rollout is gone. */
	struct mirror_spec spec;
	char tv[VERSION_MAX_LEN], sv[VERSION_MAX_LEN];
	/* The tick's: the figures when the window being judged began. */
	struct mirror_fig judged_base;
	int64_t judged_at;
};

/* What the threads work to, per service: set by the tick from the model. */
struct mirror_run {
	bool on;
	int64_t started; /* the rollout's */
	struct mirror_spec spec;
	uint32_t ntarget, nstable;
	struct vs_endpoint target[VS_MAX_SERVERS];
	struct vs_endpoint stable[VS_MAX_SERVERS];
};

struct mirror_state {
	pthread_mutex_t lock; /* run, rep, in_flight and the replay queue */
	struct mirror_run run[VS_MAX_SERVICES];
	struct mirror_report *rep[VS_MAX_SERVICES]; /* NULL: never mirrored */
	uint32_t in_flight[VS_MAX_SERVICES];	    /* jobs queued or under way */
	struct vs_mirror applied[VS_MAX_SERVICES];  /* what the kernel samples */
	struct dp_capture *cap;
	struct mirror_flows *flows;
	struct mirror_replay *replay;
	pthread_t cap_thread, replay_thread;
	bool running;
	atomic_bool stopping;
};

void mirror_init(struct mirror_state *ms);
void mirror_fini(struct mirror_state *ms);
/* The threads, idle until a service mirrors; -errno if the capture
 * cannot be read (watching off: mirror rollouts are then refused). */
int mirror_start(struct ctl *c);
void mirror_stop(struct ctl *c);
/* Under c->lock, every tick: the kernel's sampling and the threads' runs
 * as the model says; the window verdicts and the overall verdict of each
 * mirror in progress, committed. */
void mirror_tick(struct ctl *c, int64_t now);
/* The same without the verdicts, at once after a change (c->lock held):
 * a mirror samples from the moment its rollout is answered. */
void mirror_sync(struct ctl *c);
/* Service svc's mirror verdict in next brought up to every request
 * compared now: before a promote ends it (c->lock held). */
void mirror_refresh(struct ctl *c, struct model *next, uint32_t svc);
/* The same for every mirror whose duration is over at now: before
 * rollout_tick(next, now) ends them. */
void mirror_refresh_due(struct ctl *c, struct model *next, int64_t now);
/* A copy of service svc's report (NULL: none); the caller frees it. */
struct mirror_report *mirror_report_copy(struct mirror_state *ms, uint32_t svc);

#endif
