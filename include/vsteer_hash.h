/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Session hashing, shared verbatim by the data plane and the controller's
 * unit tests, so what the tests prove is what the kernel runs.
 */
#ifndef VSTEER_HASH_H
#define VSTEER_HASH_H

#include "vsteer.h"

/* murmur3's finaliser: every input bit flips each output bit with
 * probability close to 1/2, which is what a bucket split needs. */
static inline __u32 vs_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* Session key: client address (network byte order, IPv4 in a[0] and the
 * rest zero) folded with the service's salt. */
static inline __u32 vs_session_hash(const __u32 a[4], __u32 salt)
{
	__u32 h = salt;

	h = vs_mix32(h ^ a[0]);
	h = vs_mix32(h ^ a[1]);
	h = vs_mix32(h ^ a[2]);
	h = vs_mix32(h ^ a[3]);
	return h;
}

/* murmur3's 64-bit finaliser. */
static inline __u64 vs_mix64(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Where a client's session lives (map sessions): two candidate sets of
 * the table's nsets (a power of two), and the tag that tells it from the
 * others there. One 64-bit hash of the client key, seeded with the
 * service's salt, which nobody outside knows (a flood cannot be aimed at
 * one set): the tag is its high half, the sets come from its low half.
 * Two multiplies a word: no division, which cost a known client 20 ns. */
struct vs_sess_place {
	__u32 set[2];
	__u32 tag; /* never 0, which marks a free place */
};

static inline void vs_sess_place(const struct vs_sess_key *k, __u32 salt, __u32 nsets,
				 struct vs_sess_place *p)
{
	__u64 h = ((__u64)salt << 32 | k->svc) ^ 0x9e3779b97f4a7c15ULL;

	h = vs_mix64(h ^ ((__u64)k->addr[0] << 32 | k->addr[1]));
	h = vs_mix64(h ^ ((__u64)k->addr[2] << 32 | k->addr[3]));
	p->set[0] = (__u32)h & (nsets - 1);
	p->set[1] = vs_mix32((__u32)h ^ 0x7f4a7c15U) & (nsets - 1);
	p->tag = h >> 32;
	if (!p->tag)
		p->tag = 1;
}

/* Keep the first `bits` bits of an address in network byte order (the
 * rest zero): a client's key or quota network. Written for the verifier:
 * a fixed loop, no variable shift of more than 31. */
static inline void vs_mask_addr(__u32 a[4], __u32 bits)
{
	for (int i = 0; i < 4; i++) {
		__u32 keep, m;

		if (bits >= 32) {
			bits -= 32;
			continue;
		}
		keep = bits;
		bits = 0;
		m = keep ? ~0U << (32 - keep) : 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		m = __builtin_bswap32(m);
#endif
		a[i] &= m;
	}
}

/* The address a client of this service is keyed by: IPv6 cut to the
 * service's key6 (0: all of it), IPv4 whole. */
static inline void vs_client_key(__u32 a[4], int ipv6, const struct vs_svc_opts *o)
{
	if (ipv6 && o && o->key6)
		vs_mask_addr(a, o->key6);
}

static inline __u32 vs_bucket(__u32 session_hash)
{
	return session_hash % VS_BUCKETS;
}

/* A second, independent draw for the backend inside a version, so that
 * which version a client lands on says nothing about which backend. */
static inline __u32 vs_backend_hash(__u32 session_hash)
{
	return vs_mix32(session_hash ^ 0x9e3779b9U);
}

/* Index into ver[] of the version that owns bucket b; nver if the weights
 * do not cover it (the controller keeps them summing to VS_BUCKETS). */
static inline __u32 vs_pick_version(const struct vs_svc *s, __u32 b)
{
	__u32 i;

	for (i = 0; i < VS_MAX_VERSIONS; i++) {
		if (i >= s->nver)
			break;
		if (b < s->ver[i].upto)
			return i;
	}
	return s->nver;
}

/* The k-th version to try after choosing version i: i itself, then the
 * older ones in order, then the newer ones nearest first. */
static inline __u32 vs_failover_order(__u32 i, __u32 k, __u32 nver)
{
	return i + k < nver ? i + k : nver - 1 - k;
}

#endif /* VSTEER_HASH_H */
