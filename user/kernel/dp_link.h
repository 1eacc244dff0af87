/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the interfaces of the current network namespace are to a Linux
 * bridge, from rtnetlink (RTM_GETLINK): sysfs would say it only for the
 * namespace it was mounted in. Packet steering (dp_nat.c) needs it: a
 * packet from a bridge port to the host crosses the port's TC ingress and
 * then the bridge's, and a packet the host sends through a bridge
 * crosses the bridge's TC egress and then its port's.
 */
#ifndef VS_DP_LINK_H
#define VS_DP_LINK_H

#include <stddef.h>

#define DP_LINK_BRIDGE 1 /* a bridge */
#define DP_LINK_PORT   2 /* a port of a bridge */

struct dp_link {
	unsigned int ifindex;
	unsigned int role; /* DP_LINK_*, 0: neither */
};

/* Up to max interfaces of the current namespace and their roles into
 * out: how many there are (more than max: the rest were not written), or
 * -errno. */
int dp_link_list(struct dp_link *out, size_t max);
/* The role of ifindex in a list dp_link_list() made, 0 if not in it. */
unsigned int dp_link_role(const struct dp_link *l, size_t n, unsigned int ifindex);

#endif
