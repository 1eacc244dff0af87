/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address steering's connect hook (bpf/connect.bpf.c): loaded and
 * attached at the cgroup v2 root once a service has a version in other
 * network namespaces (or a start finds it pinned), and from then on pinned (connect4
 * connect6 peer4 peer6) so that local clients stay steered while vsteerd
 * restarts. */
#ifndef VS_DP_CONNECT_H
#define VS_DP_CONNECT_H

#include <stdbool.h>
#include "lib/err.h"

struct dataplane;

#define DP_CONNECT_LINKS 4 /* connect4 connect6 peer4 peer6 */

/* Give links pinned by an earlier vsteerd this build's programs (each
 * atomically: no connect goes unsteered). Nothing pinned: nothing done. */
int dp_connect_adopt(struct dataplane *dp, struct vs_err *err);
/* Attach at the cgroup v2 root and pin, unless attached already. */
int dp_connect_attach(struct dataplane *dp, struct vs_err *err);
bool dp_connect_attached(const struct dataplane *dp);
/* Close the link fds (the pins stay). */
void dp_connect_close(struct dataplane *dp);

#endif
