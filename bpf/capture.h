/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Capture for mirroring: the segments of a sampled connection (vs_sk
 * flag VS_SKF_MIRROR) go to the capture buffer (mcap) as struct vs_cap
 * records followed by their bytes, both ways: the request meter
 * (tp_btf/tcp_probe, track.bpf.c) sends the client's as they arrive, the
 * TC egress program (http.bpf.c) the backend's as they leave. The budget
 * and the loss rules live here, shared by both; the copy itself is each
 * side's own call (bpf_skb_output() from a tracepoint,
 * bpf_perf_event_output() with the skb from TC), made between
 * cap_take() and cap_took().
 *
 * Both are subprograms of their own (__noinline): the verifier checks
 * them once, not once per path of the meters that call them, which keeps
 * 6.1's verifier within its limits.
 */
#ifndef VS_CAPTURE_H
#define VS_CAPTURE_H

#include "maps.h"

#define VS_CAP_NS_PER_S 1000000000ULL

/* Whether a connection's segments are still captured. */
static __always_inline int cap_on(const struct vs_sk *st)
{
	return (st->flags & (VS_SKF_MIRROR | VS_SKF_MIRROR_LOST)) == VS_SKF_MIRROR;
}

static __always_inline void cap_rec(struct vs_cap *rec, const struct vs_sk *st, __u64 cookie,
				    __u8 kind)
{
	rec->cookie = cookie;
	rec->ns = bpf_ktime_get_ns();
	rec->svc = st->svc;
	rec->slot = st->slot;
	rec->kind = kind;
}

/* A record without bytes (OPEN, CLOSE, LOST); the helper's return. */
static __always_inline long cap_header(void *ctx, struct vs_cap *rec)
{
	return bpf_perf_event_output(ctx, &mcap, BPF_F_CURRENT_CPU, rec, sizeof(*rec));
}

/* The connection's capture stops for good: a connection with a hole in
 * it cannot be replayed, and stopping it is what keeps a flood from
 * costing more. The LOST record tells user space to drop what it has; if
 * it cannot be written either, the CLOSE at the end still will. */
static __always_inline void cap_lose(void *ctx, struct vs_sk *st, struct vs_mirror_stats *ms,
				     struct vs_cap *rec, int over_budget)
{
	st->flags |= VS_SKF_MIRROR_LOST;
	if (ms && over_budget)
		ms->over_budget++;
	else if (ms)
		ms->buffer_full++;
	rec->kind = VS_CAP_LOST;
	rec->seq = rec->len = rec->copied = 0;
	rec->off = 0;
	rec->fin = 0;
	cap_header(ctx, rec);
}

/* A segment whose rec (filled, rec->copied its bytes) is about to be
 * copied: 0 if this second's budget on this CPU takes it; otherwise the
 * connection's capture stops (-1). */
static __noinline int cap_take(void *ctx, struct vs_sk *st, struct vs_cap *rec)
{
	__u32 svc = st->svc;
	struct vs_mirror_stats *ms = bpf_map_lookup_elem(&mstats, &svc);
	struct vs_mirror *m = bpf_map_lookup_elem(&smirror, &svc);
	__u64 now = bpf_ktime_get_ns() / VS_CAP_NS_PER_S;

	if (!ms || !m)
		return -1;
	if (ms->win_start != now) {
		ms->win_start = now;
		ms->win_bytes = 0;
	}
	if (ms->win_bytes + rec->copied > m->budget) {
		cap_lose(ctx, st, ms, rec, 1);
		return -1;
	}
	ms->win_bytes += rec->copied;
	return 0;
}

/* The copy's outcome: ret is the output helper's return (any error: no
 * room, no reader), whole the bytes the segment had from where the copy
 * starts. */
static __noinline void cap_took(void *ctx, struct vs_sk *st, struct vs_cap *rec, long ret,
				__u32 whole)
{
	__u32 svc = st->svc;
	struct vs_mirror_stats *ms = bpf_map_lookup_elem(&mstats, &svc);

	if (ret) {
		cap_lose(ctx, st, ms, rec, 0);
		return;
	}
	if (!ms)
		return;
	ms->segments++;
	ms->bytes += rec->copied;
	if (rec->copied < whole)
		ms->truncated++;
}

#endif
