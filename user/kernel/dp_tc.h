/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The TC meter (bpf/http.bpf.c) on the egress of every interface: HTTP
 * status lines, and the responses themselves where the kernel lacks
 * sock_send_length. TC filters are not links: they stay attached, like
 * the pinned links, when vsteerd exits. */
#ifndef VS_DP_TC_H
#define VS_DP_TC_H

#include <stdbool.h>
#include <bpf/libbpf.h>
#include "vsteer.h"
#include "lib/err.h"

struct dataplane;

/* TC filters are not links: identified by interface, handle and
 * priority. Every one of vsteer's has this handle. */
#define VS_TC_HANDLE 0x5653 /* "VS" */
#define DP_NAT_PRIO  0x5654 /* the packet steering's (dp_nat.h) */

/* Put program prog_fd on ifindex's hook at point with priority prio
 * (and VS_TC_HANDLE), replacing the one there; 0 or -errno. */
int dp_tc_put(unsigned int ifindex, enum bpf_tc_attach_point point, __u32 prio, int prog_fd);
/* Take the program off ifindex's hook at point with priority prio (and
 * VS_TC_HANDLE): 0 (none there is 0 too) or -errno. */
int dp_tc_del(unsigned int ifindex, enum bpf_tc_attach_point point, __u32 prio);
/* Whether an interface has an Ethernet header (or is lo), where the
 * programs find the IP header. */
bool dp_tc_has_ether(const char *ifname);

/* Load the TC meter (when metering), attached to nothing yet: what can
 * fail of it fails before a start changes anything. */
int dp_tc_load(struct dataplane *dp, struct vs_err *err);
/* Whether a service needs the meter: one that speaks http (its status
 * lines; mirroring needs http too). Where the kernel lacks
 * sock_send_length the meter measures every response, and is always
 * needed. Applied at once after dp_commit(), by it before. True when
 * this turned it on: servers' namespaces get it at the next scan
 * (dp_tc_attach_netns()), which the caller should ask for. */
bool dp_tc_want(struct dataplane *dp, bool want);
/* Put the meter on every interface, or take it off ours, as wanted. */
void dp_tc_sync(struct dataplane *dp);
/* While it is on: attach it to every interface it is not on yet (a
 * container's veth, a bridge). An interface it cannot go on is a
 * warning. */
void dp_tc_attach_new(struct dataplane *dp);
/* Attach it to every interface of another network namespace (a server's,
 * whose responses leave by its own interfaces), once per namespace inode;
 * while it is wanted (before dp_commit() too: a start's first scan). */
void dp_tc_attach_netns(struct dataplane *dp, int nsfd, __u64 ino);
/* Detach it from every interface (--cleanup, --no-watch). */
void dp_tc_detach_all(void);
/* Detach the meter whose program uses map map_id from the interfaces of
 * every other network namespace a process is in (--cleanup). */
void dp_tc_detach_netns_all(__u32 map_id);

#endif
