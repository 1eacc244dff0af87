/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capture thread's side of a mirror: each sampled connection (a flow)
 * as two byte streams put back together, its requests paired in order
 * with the responses its client got, and each pair either queued for
 * replay (mirror_replay.h) or counted as skipped or dropped, and why.
 */
#ifndef VS_MIRROR_FLOW_H
#define VS_MIRROR_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vsteer.h"
#include "core/http1.h"
#include "core/route.h"

struct mirror_state;

#define MIRROR_MAX_FLOWS    4096 /* sampled connections followed at once */
#define MIRROR_MAX_PIPELINE 16	 /* requests of a flow waiting for their response */
#define MIRROR_FLOW_IDLE_NS (120ULL * 1000000000) /* a flow not heard of this long is gone */
/* Captured bytes held across all flows (reassembled, out of order,
 * waiting for a response): a client that sends a request slowly, or
 * never ends it, cannot make vsteerd hold more. */
#define MIRROR_HELD_MAX (64u << 20)

/* A request and the response its client got, to replay and compare. */
struct mirror_job {
	struct mirror_job *next;
	uint32_t svc;
	int64_t started; /* the rollout it belongs to */
	bool noise;	 /* replay it to the stable version too */
	char route[ROUTE_MAX];
	char method[H1_METHOD_MAX];
	uint8_t *req; /* the request's bytes as the client sent them */
	size_t req_len;
	/* The primary: */
	uint16_t status;
	uint64_t size;	     /* body bytes */
	uint64_t lat_ns;     /* the request's last byte in, to its response's first out */
	uint64_t arrived_ns; /* that last byte in (CLOCK_MONOTONIC): when to replay it */
	uint8_t *body;	     /* decoded, or NULL: longer than MIRROR_BODY_MAX, or not captured */
	size_t body_len;
	uint8_t *head; /* the response's head, for the headers compared */
	size_t head_len;
};

void mirror_job_free(struct mirror_job *j);

struct mirror_flows *mirror_flows_new(void);
void mirror_flows_free(struct mirror_flows *f);
/* One capture record (the capture thread's callback). */
void mirror_flows_record(struct mirror_state *ms, struct mirror_flows *f, const struct vs_cap *rec,
			 const uint8_t *data);
/* Bytes the flows hold now (at most MIRROR_HELD_MAX). */
size_t mirror_flows_held(const struct mirror_flows *f);
/* Forget flows not heard of for MIRROR_FLOW_IDLE_NS (their close was
 * lost with the capture) and those of services no longer mirrored. */
void mirror_flows_expire(struct mirror_state *ms, struct mirror_flows *f, uint64_t now_ns);

#endif
