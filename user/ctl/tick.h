/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_TICK_H
#define VS_TICK_H

struct ctl;
struct dp_pins_report;

#define TICK_MS		250 /* how often vsteerd calls ctl_tick() */
#define TICK_SCAN_EVERY 5   /* seconds between full listener scans, at most */
/* Seconds between looks for new interfaces (the TC meter, packet
 * steering), and between full scans while a version is steered by
 * address (a container's address can go with its socket still open). */
#define TICK_IFACE_EVERY 2

/* Every TICK_MS: pick up sockets that appeared or went, judge rollouts,
 * roll the API's windows, advance rollout steps, and re-sync the maps.
 * Besides the changes (ops.h) and the health checker's results
 * (health.h), the only writer of the controller's state. */
void ctl_tick(struct ctl *c);

/* The pins checked and repaired now, as every tick does, with a warning
 * and an event for each repair: 0 when everything is pinned, so steering
 * outlives vsteerd; otherwise -errno, and r says what is not and why.
 * Takes c->lock. */
int ctl_check_pins(struct ctl *c, struct dp_pins_report *r);

#endif
