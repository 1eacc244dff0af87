/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active health checks: what the kernel cannot see. A backend that accepts
 * connections but never answers keeps its listening socket, so the data
 * plane would keep sending it clients. A thread GETs each checked server's
 * path directly (not through the service address), outside the
 * controller's lock; a server that fails unhealthy_after checks in a row
 * is kept out of the sockmap (sock_take_out()) until healthy_after pass.
 * Each change of state is an event, committed as a transaction.
 */
#ifndef VS_HEALTH_H
#define VS_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/model.h"

struct ctl;

struct health_state {
	uint8_t fails[VS_MAX_SLOTS][VS_MAX_SERVERS];   /* failed checks in a row */
	uint8_t passes[VS_MAX_SLOTS][VS_MAX_SERVERS];  /* passed, while kept out */
	int64_t next_ms[VS_MAX_SLOTS][VS_MAX_SERVERS]; /* when to check next */
	pthread_t thread;
	atomic_bool stopping;
	bool running;
};

/* A slot about to hold another cluster, or gone. */
void health_forget(struct health_state *h, uint32_t slot);
/* The checker's thread; it takes c->lock itself. */
int health_start(struct ctl *c);
void health_stop(struct ctl *c);
/* A check's result, under c->lock: counts it, and on a change of state
 * takes the server out or lets it back, and commits the event. */
void health_record(struct ctl *c, uint32_t slot, const char *id, uint32_t srv, bool ok);

#endif
