/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Whether a steered connection is idle between requests, so that a drain
 * may close it. Shared verbatim by the drain iterators (bpf/drain.h),
 * which fill a vs_conn_state from the socket under its lock, and the unit
 * tests, so what the tests prove is what the kernel decides.
 *
 * Conservative: any sign of a request on its way in, being served or
 * being answered keeps the connection open.
 */
#ifndef VSTEER_IDLE_H
#define VSTEER_IDLE_H

#include "vsteer.h"

/* Quiet this long (nothing received or sent, ACKs included) before a
 * connection counts as idle: a response written in several parts with a
 * pause between them has every sent byte acknowledged and no request
 * pending during the pause, and only its recency tells it from an idle
 * connection. */
#define VS_DRAIN_QUIET_MS 1000

#define VS_TCP_ESTABLISHED 1

/* What the verdict reads, from the socket and its storage (vs_sk). */
struct vs_conn_state {
	__u64 req_ns;	  /* a request arrived and is not answered yet (vs_sk) */
	__u64 last_us;	  /* tcp_mstamp: the last segment in or out, in us of
				 * the monotonic clock */
	__u64 now_us;	  /* the same clock, now */
	__u32 rcv_nxt;	  /* received up to here ... */
	__u32 copied_seq; /* ... and read by the backend up to here */
	__u32 write_seq;  /* written by the backend up to here ... */
	__u32 snd_una;	  /* ... and acknowledged by the client up to here */
	__u8 state;	  /* TCP state */
	__u8 queued;	  /* segments wait behind the socket lock, or out of order */
};

/* The verdict, and why a connection stays open (vs_drain_rec.verdict). */
enum vs_idle {
	VS_IDLE = 0,
	VS_BUSY_REQUEST, /* a request arrived and its response has not started */
	VS_BUSY_UNREAD,	 /* bytes the backend has not read (a request coming in) */
	VS_BUSY_UNSENT,	 /* bytes not yet sent, or sent and not acknowledged */
	VS_BUSY_RECENT,	 /* a segment in or out within VS_DRAIN_QUIET_MS */
	VS_BUSY_STATE,	 /* not established: closing already, or half-closed */
	VS_IDLE_VERDICTS
};

static inline int vs_conn_idle(const struct vs_conn_state *c)
{
	if (c->state != VS_TCP_ESTABLISHED)
		return VS_BUSY_STATE;
	if (c->req_ns)
		return VS_BUSY_REQUEST;
	if (c->rcv_nxt != c->copied_seq || c->queued)
		return VS_BUSY_UNREAD;
	if (c->write_seq != c->snd_una)
		return VS_BUSY_UNSENT;
	/* A stamp ahead of now (another CPU's clock read) is recent too. */
	if (c->last_us >= c->now_us || c->now_us - c->last_us < VS_DRAIN_QUIET_MS * 1000ULL)
		return VS_BUSY_RECENT;
	return VS_IDLE;
}

#endif /* VSTEER_IDLE_H */
