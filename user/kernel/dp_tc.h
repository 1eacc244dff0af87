/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The TC meter (bpf/http.bpf.c) on the egress of every interface: HTTP
 * status lines, and the responses themselves where the kernel lacks
 * sock_send_length. TC filters are not links: they stay attached, like
 * the pinned links, when vsteerd exits. */
#ifndef VS_DP_TC_H
#define VS_DP_TC_H

#include "lib/err.h"

struct dataplane;

/* Load the TC meter and attach it to every interface (when metering);
 * without metering, take down any a previous vsteerd left. */
int dp_tc_load(struct dataplane *dp, struct vs_err *err);
/* Attach it to interfaces that appeared since the last call (a
 * container's veth, a bridge). */
void dp_tc_attach_new(struct dataplane *dp);
/* Detach it from every interface (--cleanup, --no-watch). */
void dp_tc_detach_all(void);

#endif
