/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which listening sockets serve which cluster: finding a server's sockets
 * with the TCP iterator, placing them in the sockmap, and keeping the
 * controller's picture of the sockmap (cookie and owner per sockmap
 * index) true. Called with the controller's lock held; changes (ops.h),
 * the tick and health results write this state, views only read it.
 */
#ifndef VS_SOCK_H
#define VS_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include "core/model.h"

struct dataplane;

struct sock_state {
	uint8_t nsock[VS_MAX_SLOTS];		  /* sockmap indexes in use */
	__u64 cookie[VS_MAX_SLOTS][VS_MAX_SOCKS]; /* 0: empty */
	/* Bit s: the socket serves server s (one wildcard socket can serve
	 * several); 0 until a scan has attributed it. */
	uint16_t serves[VS_MAX_SLOTS][VS_MAX_SOCKS];
	/* Bit s: server s is kept out of the sockmap (its health checks
	 * failed); a scan does not put its sockets back. */
	uint16_t out[VS_MAX_SLOTS];
	/* Each server's accept backlog at the last full scan. */
	uint32_t backlog[VS_MAX_SLOTS][VS_MAX_SERVERS];
	/* Each server's last insert error, to tell "nothing listens" from
	 * "the kernel refused the socket", and to warn once, not every tick. */
	int err[VS_MAX_SLOTS][VS_MAX_SERVERS];
	int64_t last_scan; /* monotonic seconds of the last full scan */
	bool rescan;	   /* a full scan at the next tick */
	/* Sockets on a server's address whose owner is not the server's
	 * (core/owner.h): how many were refused, the last one and its owner,
	 * and whether it is news (an event to write). */
	uint32_t refused[VS_MAX_SLOTS][VS_MAX_SERVERS];
	__u64 refused_cookie[VS_MAX_SLOTS][VS_MAX_SERVERS];
	uint32_t refused_uid[VS_MAX_SLOTS][VS_MAX_SERVERS];
	__u64 refused_cgroup[VS_MAX_SLOTS][VS_MAX_SERVERS];
	bool refused_new[VS_MAX_SLOTS][VS_MAX_SERVERS];
	bool learned; /* a scan recorded a server's owner in the model */
	/* Bit s: server s was live when the tick last looked (an event when
	 * that changes); reported_set: there was a last time. */
	uint16_t reported[VS_MAX_SLOTS];
	bool reported_set[VS_MAX_SLOTS];
	/* Bit s: server s has been seen listening since the slot was set
	 * (its coming up is "again" only then). */
	uint16_t ever_live[VS_MAX_SLOTS];
	/* Servers in other network namespaces: a container's last known
	 * process (ctl/nsfd.h), and the -errno of the last attempt to open
	 * each one's namespace (0: opened). */
	uint32_t ctr_pid[VS_MAX_SLOTS][VS_MAX_SERVERS];
	int ns_err[VS_MAX_SLOTS][VS_MAX_SERVERS];
	int ns_said[VS_MAX_SLOTS][VS_MAX_SERVERS]; /* ... the last one logged */
	/* The tracker's counts of listeners closed and opened (map lstate,
	 * by VS_LSTATE_*) at the last tick, and which had moved then. */
	__u64 lstate[VS_LSTATE_N];
	bool lstate_moved[VS_LSTATE_N];
	bool scan_wanted;  /* a listener opened since the last scan */
	int64_t last_read; /* monotonic seconds of the last tick that read the sockmap */
};

/* The network namespace server v of cluster cl (steered by address)
 * lives in, opened, checked to have the server's address: its fd, or
 * -errno with the sentence that says why not. *pid: a container's last
 * known process. */
int sock_netns_open(const struct cluster *cl, uint32_t v, uint32_t *pid, struct vs_err *err);

/* Does listening socket l serve connections for server srv? */
bool sock_serves(const struct vs_listener *l, const struct vs_endpoint *srv);

/* Forget what we knew of a slot's sockets / also empty it in the sockmap. */
/* Bit v: server v of the slot has a socket in the sockmap. */
uint16_t sock_live_mask(const struct sock_state *s, uint32_t slot, uint32_t nsrv);
/* What the liveness events compare with from now on: the servers live
 * now: at start, and for a cluster just added. */
void sock_baseline(struct sock_state *s, uint32_t slot, uint32_t nsrv);
void sock_forget(struct sock_state *s, uint32_t slot);
void sock_clear(struct sock_state *s, struct dataplane *dp, uint32_t slot);
/* Bit VS_LSTATE_CLOSED: the sockmap may have lost a socket since the
 * last tick (sockets only enter it by vsteerd's hand, so otherwise the
 * tick need not read it: a syscall per socket, 25,600 a second at 6,400
 * listeners); bit VS_LSTATE_OPENED: a listener may have appeared. Each
 * when the tracker's count moved in this tick or the one before (a
 * listen() is counted just before the socket is hashed; a close after it
 * left the sockmap, the next tick's read costs little), all when the
 * counts cannot be read. */
unsigned sock_lstate_moved(struct sock_state *s, struct dataplane *dp);
/* Refresh a slot's first n indexes from the sockmap; true if it holds a
 * socket we cannot attribute yet. */
bool sock_refresh(struct sock_state *s, struct dataplane *dp, uint32_t slot, uint32_t n);
/* Live sockets of server srv of the cluster in slot, as last refreshed. */
uint32_t sock_live(const struct sock_state *s, uint32_t slot, uint32_t srv);
/* The same against cookies just read from the sockmap (sock_read()): a
 * read that leaves the state as it is. */
void sock_read(struct dataplane *dp, uint32_t slot, uint32_t n, __u64 now[VS_MAX_SOCKS]);
uint32_t sock_live_now(const struct sock_state *s, uint32_t slot, uint32_t srv,
		       const __u64 now[VS_MAX_SOCKS]);
/* Scan for listeners and place any socket a cluster should have but does
 * not, if its owner is the server's; only_slot >= 0 limits it to that
 * cluster. A server whose owner is not known yet gets the owner of its
 * first socket, in m (then s->learned is set: m must be committed). */
int sock_reconcile(struct sock_state *s, struct dataplane *dp, struct model *m, int only_slot);
/* Remove sockets that serve none of their cluster's servers. */
void sock_drop_strays(struct sock_state *s, struct dataplane *dp, const struct model *m);
/* Keep server srv out of the sockmap (its sockets go now) / let a scan
 * at the next tick put it back. */
void sock_take_out(struct sock_state *s, struct dataplane *dp, uint32_t slot, uint32_t srv);
void sock_put_back(struct sock_state *s, uint32_t slot, uint32_t srv);

#endif
