/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet's driver (docs/fleet.md): one host at a time, the one that
 * holds PREFIX/driver under its lease, moves the fleet's rollouts on.
 * Each round it reads every host's status: a host whose analysis windows
 * failed failureLimit times in a row rolls every host back (the event
 * names it); otherwise a step ends, as its schedule and the judge say,
 * once every member (or the config's minHosts) runs it and their windows
 * passed. Its changes go through etcd like any host's (fleet_sync.h).
 */
#ifndef VS_FLEET_DRIVE_H
#define VS_FLEET_DRIVE_H

struct ctl;

/* From the fleet's thread after each read of the fleet: the driver's key
 * taken if nobody holds it, and the rollouts driven if this host does. */
void fleet_drive_round(struct ctl *c);
/* This host lost etcd: its lease, and the key with it, lapse. */
void fleet_drive_lost(struct ctl *c);

#endif
