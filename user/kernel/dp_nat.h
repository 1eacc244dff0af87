/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet steering (bpf/nat.bpf.c) for remote clients of versions steered
 * by address: loaded once a service has such a version, then put on the
 * ingress (vsteer_dnat) and egress (vsteer_unnat) of every interface of
 * vsteerd's namespace with an Ethernet header but lo, and of those that
 * appear later (a new container's veth). TC filters, like the meter:
 * they stay when vsteerd exits, and a new vsteerd replaces them. */
#ifndef VS_DP_NAT_H
#define VS_DP_NAT_H

#include "lib/err.h"

struct dataplane;

/* Load and attach it, unless done already. */
int dp_nat_enable(struct dataplane *dp, struct vs_err *err);
/* On the interfaces that appeared since, and on or off a hook of those
 * that became a bridge or a bridge's port (nothing before
 * dp_nat_enable()). ipv6: some IPv6 server is steered by address (IPv6
 * forwarding matters). */
void dp_nat_attach_new(struct dataplane *dp, bool ipv6);
void dp_nat_close(struct dataplane *dp);

#endif
