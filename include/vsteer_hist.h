/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Log-linear histogram buckets, shared by the data plane (which counts)
 * and the controller (which reads percentiles): 8 buckets per power of
 * two, so any value's bucket is at most 12.5% wide relative to its lower
 * bound. Values below 8 have a bucket each. Covers 0 .. 2^36 (68 s in ns).
 */
#ifndef VSTEER_HIST_H
#define VSTEER_HIST_H

#include "vsteer.h"

#define VS_HSUB	    8	     /* buckets per power of two */
#define VS_HBUCKETS (8 * 35) /* e = 3..36, plus 0..7 */

/* floor(log2(v)) for v > 0, branch-light for the verifier. */
static inline __u32 vs_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

static inline __u32 vs_hbucket(__u64 v)
{
	__u32 e, b;

	if (v < VS_HSUB)
		return v;
	e = vs_log2(v);
	b = VS_HSUB * (e - 2) + ((v >> (e - 3)) & (VS_HSUB - 1));
	return b < VS_HBUCKETS ? b : VS_HBUCKETS - 1;
}

/* The smallest value that falls in bucket b. */
static inline __u64 vs_hbucket_low(__u32 b)
{
	__u32 e;

	if (b < VS_HSUB)
		return b;
	e = b / VS_HSUB + 2;
	return ((__u64)VS_HSUB + (b % VS_HSUB)) << (e - 3);
}

#endif /* VSTEER_HIST_H */
