/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend sockets and the sockmap, as ctl.c and views.c use them; all
 * called with the controller's lock held. */
#ifndef VS_SOCKETS_H
#define VS_SOCKETS_H

#include "ctl.h"

/* Forget what we knew of a slot's sockets / also empty it in the map. */
void forget_slot(struct ctl *c, uint32_t slot);
void clear_socks(struct ctl *c, uint32_t slot);
/* Refresh a slot from the sockmap; true if it holds a socket we cannot
 * attribute yet. */
bool read_slot(struct ctl *c, uint32_t slot, uint32_t n);
/* Live sockets of backend b of the cluster in slot. */
uint32_t backend_live(const struct ctl *c, uint32_t slot, uint32_t b);
/* Scan for listeners and place any socket a cluster should have but does
 * not; only_slot >= 0 limits it to that cluster. */
int reconcile(struct ctl *c, const struct model *m, int only_slot);
/* Remove backend b's sockets from the sockmap (health checks failed). */
void take_out(struct ctl *c, uint32_t slot, uint32_t b);
/* Remove sockets that serve none of their cluster's servers. */
void drop_strays(struct ctl *c, const struct model *m);

#endif
