/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The request meter's bookkeeping on a steered connection's storage,
 * shared by the two places a response can be seen leaving: the
 * sock_send_length tracepoint (Linux 6.3+, track.bpf.c) and, on older
 * kernels, the TC egress program (http.bpf.c).
 */
#ifndef VS_METER_H
#define VS_METER_H

#include "maps.h"

static __always_inline void hist_add(void *map, __u32 slot, __u64 v)
{
	__u32 key = slot * VS_HBUCKETS + vs_hbucket(v);
	__u64 *n;

	if (slot >= VS_MAX_SLOTS)
		return;
	n = bpf_map_lookup_elem(map, &key);
	if (n)
		(*n)++;
}

static __always_inline struct vs_ver_stats *ver_stats(__u32 slot)
{
	return bpf_map_lookup_elem(&vstats, &slot);
}

static __always_inline struct vs_ver_sums *ver_sums(__u32 slot)
{
	return bpf_map_lookup_elem(&vsums, &slot);
}

/* The backend sent n bytes: the first send after a request ends that
 * request's latency sample and starts its response; the bytes until the
 * next request are the response's size. */
static __always_inline void response_sent(struct vs_sk *st, __u64 n)
{
	struct vs_ver_stats *vs;
	struct vs_ver_sums *sums;
	__u64 d;

	if (st->req_ns) {
		d = bpf_ktime_get_ns() - st->req_ns;
		hist_add(&lat, st->slot, d);
		sums = ver_sums(st->slot);
		if (sums)
			sums->lat_ns += d;
		st->req_ns = 0;
		st->responding = 1;
		vs = ver_stats(st->slot);
		if (vs)
			vs->requests++;
	}
	if (st->responding) {
		st->resp_bytes += n;
		vs = ver_stats(st->slot);
		if (vs)
			vs->resp_bytes += n;
	}
}

#endif
