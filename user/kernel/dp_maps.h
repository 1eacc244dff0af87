/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The handful of map operations the controller needs. Each returns 0 or
 * the -errno of the bpf() call. */
#ifndef VS_DP_MAPS_H
#define VS_DP_MAPS_H

#include <stdbool.h>
#include "vsteer.h"
#include "vsteer_hist.h"
#include "core/window.h"

struct dataplane;

int dp_set_svc(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v);
int dp_get_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v);
/* Not there is not an error. */
int dp_del_svc(struct dataplane *dp, const struct vs_svc_key *k);
/* The key after k (NULL: the first); -ENOENT at the end. */
int dp_next_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc_key *next);
int dp_set_ports(struct dataplane *dp, const struct vs_ports *p);
int dp_get_ports(struct dataplane *dp, struct vs_ports *p);
/* A service's options (sopts), by its id. */
int dp_set_opts(struct dataplane *dp, __u32 id, const struct vs_svc_opts *o);
int dp_get_opts(struct dataplane *dp, __u32 id, struct vs_svc_opts *o);

/* What a version slot is, for the tracker (include/vsteer.h). */
int dp_set_slot(struct dataplane *dp, __u32 slot, const struct vs_slot *v);
int dp_get_slot(struct dataplane *dp, __u32 slot, struct vs_slot *v);
/* Where a connection steered by address to sockmap index idx goes. */
int dp_set_back(struct dataplane *dp, __u32 idx, const struct vs_addr *b);

/* Packet steering's replies (bpf/nat.bpf.c): a bit per port a server
 * steered by address listens on. */
int dp_set_bports(struct dataplane *dp, const struct vs_ports *p);

/* 0 and the socket's cookie, or -ENOENT for an empty sockmap index. */
int dp_sock_cookie(struct dataplane *dp, __u32 idx, __u64 *cookie);
/* The tracker's counts of listeners closed and opened (map lstate, by
 * VS_LSTATE_*). */
int dp_lstate(struct dataplane *dp, __u64 n[VS_LSTATE_N]);
int dp_sock_del(struct dataplane *dp, __u32 idx);

/* Counters summed over CPUs. */
int dp_ver_stats(struct dataplane *dp, __u32 slot, struct vs_ver_stats *sum);
/* The exact sums of what a version slot's histograms count. */
int dp_ver_sums(struct dataplane *dp, __u32 slot, struct vs_ver_sums *sum);
/* After loading over an older vsteerd's pins, which had no vsums (libbpf
 * made it anew): each slot's sums start from its histograms' estimate
 * (bucket middles), so they stay consistent with the counts and do not go
 * backwards at the upgrade. Nothing otherwise; a failure is logged. */
void dp_seed_sums(struct dataplane *dp);
int dp_svc_stats(struct dataplane *dp, __u32 id, struct vs_svc_stats *sum);
int dp_svc_guard(struct dataplane *dp, __u32 id, struct vs_svc_guard *sum);
/* A version slot's latency (ns) or response size (bytes) histogram,
 * summed over CPUs. */
int dp_hist(struct dataplane *dp, bool size, __u32 slot, __u64 out[VS_HBUCKETS]);
/* A version slot's cumulative measurements, as a window reads them. */
int dp_read_window(struct dataplane *dp, __u32 slot, struct window *w);
/* Established connections steered to a version slot and not yet closed. */
int dp_open_conns(struct dataplane *dp, __u32 slot, __s64 *n);
/* A slot about to hold a new version: its counters, histograms, open
 * connection count and session entries go. */
int dp_reset_slot(struct dataplane *dp, __u32 slot);

#endif
