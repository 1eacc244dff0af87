/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A fake of the kernel adapter (user/kernel/dp*.h), so the controller
 * (user/ctl/) runs in a unit test without root, BPF or traffic: the maps
 * are arrays, "listening sockets" are records a test adds and closes, and
 * any map write can be made to fail. Linked instead of user/kernel/ into
 * build/unit_tests.
 */
#ifndef VSTEER_TESTS_FAKE_DP_H
#define VSTEER_TESTS_FAKE_DP_H

#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"
#include "kernel/dp.h"

struct dataplane;
struct dp_pins_report;

struct dataplane *fake_dp_new(bool metering);
void fake_dp_free(struct dataplane *dp);

/* A socket listening on "ADDR:PORT", known by its cookie, of uid 0 in the
 * root cgroup (id 1); 0 or -EINVAL. */
int fake_dp_listen(struct dataplane *dp, const char *addr, __u64 cookie);
/* The same of another owner: cgroup id 1 is "/", any other N is "/fake/N". */
int fake_dp_listen_as(struct dataplane *dp, const char *addr, __u64 cookie, __u32 uid,
		      __u64 cgroup);
/* Close it: gone from the listeners and, as the kernel does, from the
 * sockmap. */
void fake_dp_close(struct dataplane *dp, __u64 cookie);
/* Put a cookie at a sockmap index directly (pins left by an earlier
 * vsteerd). */
void fake_dp_sock_put(struct dataplane *dp, __u32 idx, __u64 cookie);

/* svcs as a test reads and writes it: 0 or -ENOENT. */
int fake_dp_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v);
void fake_dp_svc_put(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v);
unsigned int fake_dp_nsvcs(const struct dataplane *dp);
/* What the controller last said of the TC meter (dp_tc_want()). */
bool fake_dp_tc_want(const struct dataplane *dp);

/* Requests answered by a slot's version so far (vstats), as the meters
 * would count them. */
void fake_dp_answered(struct dataplane *dp, __u32 slot, __u64 requests);

/* The -errno every svcs write (set or delete) returns from now on; 0
 * makes them work again. Counts the writes tried. */
void fake_dp_fail_svc_writes(struct dataplane *dp, int err);
unsigned long fake_dp_svc_writes(const struct dataplane *dp);
unsigned long fake_dp_svc_reads(const struct dataplane *dp);	/* dp_get_svc() calls */
unsigned long fake_dp_window_reads(const struct dataplane *dp); /* dp_read_window() calls */
/* What the next dp_pins_check() reports and returns (r->err), once; after
 * it, every pin is in place again. */
void fake_dp_pins_next(struct dataplane *dp, const struct dp_pins_report *r);

/* A connection steered to slot's version (counted open), which a drain
 * pass finds with this verdict (enum vs_idle) and closes if VS_IDLE; its
 * index, or -ENOSPC. */
int fake_dp_conn(struct dataplane *dp, __u32 slot, int verdict);
void fake_dp_conn_verdict(struct dataplane *dp, int i, int verdict);
/* The client closes it. */
void fake_dp_conn_close(struct dataplane *dp, int i);
bool fake_dp_conn_open(const struct dataplane *dp, int i);
/* How drains close connections here (DP_DRAIN_ITER unless set), and the
 * passes made so far. */
void fake_dp_set_drain(struct dataplane *dp, enum dp_drain how);
unsigned long fake_dp_drain_passes(const struct dataplane *dp);

/* Calls that read the sockmap so far: a read must not need more. */
unsigned long fake_dp_sock_reads(const struct dataplane *dp);
/* A socket closes without the tracker counting it (a tracker not
 * running, an older one); the lstate counts fail to read. */
void fake_dp_close_unseen(struct dataplane *dp, __u64 cookie);
void fake_dp_lstate_fail(struct dataplane *dp, bool fail);

/* Mirroring: what dp_mirror_set() last set for svc (all zero if never),
 * and what dp_mirror_stats() returns for it from now on. */
void fake_dp_mirror(const struct dataplane *dp, uint32_t svc, struct vs_mirror *m);
void fake_dp_mirror_stats_put(struct dataplane *dp, uint32_t svc, const struct vs_mirror_stats *s);
/* A capture record and its rec->copied bytes (copied here), handed to the
 * callback by the next dp_capture_poll(), in the order pushed; 0 or
 * -ENOMEM. The poll never waits. */
int fake_dp_capture_push(struct dataplane *dp, const struct vs_cap *rec, const uint8_t *data);
/* What dp_capture_lost() says from now on. */
void fake_dp_capture_set_lost(struct dataplane *dp, uint64_t lost);

#endif
