/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The replay thread's side of a mirror: each queued request sent, byte
 * for byte, to a server of the target (and, while a route's noise is
 * being learned, of the stable version too) over keep-alive connections
 * of its own, to the servers' own addresses, never the service address;
 * the answers compared with the response the client got, and the result
 * added to the service's report. A target that is slow or dead costs
 * only this thread: the capture drops what would pass maxInFlight.
 */
#ifndef VS_MIRROR_REPLAY_H
#define VS_MIRROR_REPLAY_H

#include "ctl/mirror_flow.h"

struct mirror_state;

#define MIRROR_RESP_MAX	   (4 * 1024 * 1024) /* a replay's response, whole */
#define MIRROR_IDLE_PER_EP 16		     /* idle connections kept per server */
#define MIRROR_IDLE_MAX_NS (30ULL * 1000000000)
/* A request is replayed this long after it arrived, keeping the gaps
 * between requests: the capture hands them over in batches (up to a
 * poll's 100 ms late), and a batch sent at once would be a burst the
 * stable version never had, its queueing counted against the target. */
#define MIRROR_REPLAY_DELAY_NS (250ULL * 1000000)
#define MIRROR_PACE_NS	       (5ULL * 1000000) /* its granularity */
/* How far the schedule may move back while vsteerd runs behind (a
 * request handed over, or this thread woken, later than its time): up to
 * maxPerSecond times this many jobs wait, each holding its request and
 * the stable version's response. */
#define MIRROR_REPLAY_DELAY_MAX_NS (1000ULL * 1000000)

struct mirror_replay *mirror_replay_new(void);
void mirror_replay_free(struct mirror_replay *r);
/* Queue a job, from any thread; the replay thread takes it. */
void mirror_replay_push(struct mirror_state *ms, struct mirror_job *j);
/* Jobs pushed and not taken by the replay thread yet. */
size_t mirror_replay_queued(struct mirror_replay *r);
/* The replay thread's loop, until ms->stopping. */
void mirror_replay_run(struct mirror_state *ms);

#endif
