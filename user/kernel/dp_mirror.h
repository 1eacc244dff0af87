/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Mirroring in the data plane: which service's connections to its stable
 * version are sampled (smirror), what capturing them cost and lost
 * (mstats), and the capture buffer their segments arrive by (mcap, a perf
 * event array: bpf_skb_output() copies a segment's bytes, paged ones too,
 * which a ring buffer cannot take from a tracepoint). Each returns 0 or a
 * -errno.
 */
#ifndef VS_DP_MIRROR_H
#define VS_DP_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"

struct dataplane;

/* Whether the capture programs run: they are the request meter on
 * tp_btf/tcp_probe and the TC meter, so not with --no-watch. */
bool dp_mirror_supported(const struct dataplane *dp);
/* Start (m->bp > 0) or stop sampling service svc's new connections.
 * Connections sampled already are captured until they close. */
int dp_mirror_set(struct dataplane *dp, uint32_t svc, const struct vs_mirror *m);
/* Service svc's mirroring counters, summed over CPUs (win_* zero). */
int dp_mirror_stats(struct dataplane *dp, uint32_t svc, struct vs_mirror_stats *sum);

/* The reader of the capture buffer. fn gets each record and the bytes
 * that follow it (rec->copied of them); it runs on the thread that calls
 * dp_capture_poll(), which must be one thread. */
typedef void (*dp_capture_fn)(void *ctx, const struct vs_cap *rec, const uint8_t *data);
struct dp_capture;

int dp_capture_open(struct dataplane *dp, dp_capture_fn fn, void *ctx, struct dp_capture **out);
/* Wait up to timeout_ms for records and hand each to fn; the number
 * handled, or -errno (-EINTR is not an error). */
int dp_capture_poll(struct dp_capture *c, int timeout_ms);
/* Records the buffer had no room for (the perf buffer's own count, per
 * CPU summed); the kernel's own counts are in vs_mirror_stats. */
uint64_t dp_capture_lost(const struct dp_capture *c);
void dp_capture_close(struct dp_capture *c);

#endif
