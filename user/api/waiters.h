/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Followers of GET /v1/events?wait=: connections whose reply waits for
 * an event. libmicrohttpd holds each one suspended; it is resumed when an
 * event is published (the controller tells waiters_published()) or when
 * its deadline passes (a thread of its own), and its request is then
 * handled again. */
#ifndef VS_WAITERS_H
#define VS_WAITERS_H

#include <stdint.h>

struct MHD_Connection;

#define WAITERS_MAX	32  /* followers at once; more are answered at once */
#define WAITERS_STOP_MS 500 /* at most this long for their last replies */

/* Suspend conn until an event after seen, or until (clock_mono_ms()):
 * 0 when it is; -EAGAIN when an event after seen came already (handle
 * the request again now); -ENOSPC when WAITERS_MAX wait already, or the
 * API is stopping (send the reply as it is). Call from libmicrohttpd's
 * thread, in its access handler. */
int waiters_add(struct MHD_Connection *conn, uint64_t seen, int64_t until);
/* A publish_fn: every follower is handled again. */
void waiters_published(void *arg, uint64_t last_id);
int waiters_start(void);
/* A follower's reply was sent (its request completed). */
void waiters_answered(void);
/* Resume every follower, and give their replies up to WAITERS_STOP_MS to
 * go out (before libmicrohttpd stops). */
void waiters_stop(void);

#endif
