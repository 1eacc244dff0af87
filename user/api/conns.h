/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The API's open connections, as the slow-client defence sees them.
 * libmicrohttpd's timeout counts idleness only, so a client sending a
 * byte every few seconds would hold a connection for ever, and enough of
 * them lock everyone else out. So every connection has a deadline for its
 * request head and one for its whole request; when the table is full, or
 * one client holds its share, the connection that has waited longest for
 * a request head is dropped to make room for a new one (idle and
 * trickling connections go first, not the newcomer); and only requests
 * under way count against the limits, which answer 429 or 503. */
#ifndef VS_CONNS_H
#define VS_CONNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONNS_MAX	 64 /* requests under way at once; more get 503 */
#define CONNS_PER_CLIENT 16 /* the same from one address; more get 429 */
#define CONNS_HEAD_S	 5  /* from the start, or the last reply, to a request head */
#define CONNS_REQUEST_S	 30 /* from the same point to the reply sent */

struct conn;

/* What a sweep or the table's upkeep closed. */
struct conns_cut {
	int head;    /* no request head within CONNS_HEAD_S */
	int request; /* no reply within CONNS_REQUEST_S */
	int evicted; /* dropped to make room (counted since the last sweep) */
};

/* A connection accepted on fd from addr at now (clock_mono_ms()),
 * perhaps after dropping another to make room: its entry, or NULL when
 * out of memory (the caller then shuts it down). A dropped one's fd is
 * shut down: libmicrohttpd then reads EOF and closes it itself. */
struct conn *conns_open(int fd, const struct sockaddr *addr, int64_t now);
/* libmicrohttpd is closing it: it must tell before it closes the fd, so
 * that a reused fd is never shut down. */
void conns_close(struct conn *c);
/* Its request head is in: 0, and it counts as under way until
 * conns_replied(); or 429 or 503 with the sentence in msg when its
 * client, or the API, has as many requests under way as it takes. */
int conns_head(struct conn *c, char *msg, size_t size);
/* A reply went out: the next request gets deadlines of its own. */
void conns_replied(struct conn *c, int64_t now);
/* Its reply is held on purpose until `until` (a follower of events): its
 * request deadline runs from then. */
void conns_hold(struct conn *c, int64_t until);
/* Shut down the connections past a deadline at now. */
void conns_sweep(int64_t now, struct conns_cut *cut);
/* A thread sweeping every 500 ms, logging what it closes. */
int conns_start(void);
void conns_stop(void);

#endif
