/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy that picks a version, shared by every way vsteer steers: the
 * sk_lookup program (a socket of this namespace) and the connect hook (an
 * address in another one). The same session table, affinity rules and
 * quota, so that a client lands on the same version however it is steered.
 */
#ifndef VS_PICK_H
#define VS_PICK_H

#include "maps.h"
#include "session.h"
#include "vsteer_hash.h"

/* The version an active session of this client is on, if the service
 * keeps affinity and the client has a connection open or was seen within
 * the timeout. */
static __always_inline __u32 session_version(const struct vs_svc *s, struct vs_sess *e, __u64 now,
					     __u32 nver)
{
	__u32 i, slot;

	if (!e)
		return nver;
	if (!VS_SESS_OPEN(sess_word(e)) && sess_age(sess_ms(now), e->last_ms) > s->session_ms)
		return nver;
	slot = e->slot;
	for (i = 0; i < VS_MAX_VERSIONS; i++) {
		if (i >= nver)
			break;
		if (s->ver[i].slot == slot && !(s->ver[i].flags & VS_VER_NO_AFFINITY))
			return i;
	}
	return nver;
}

/* The version to try first (an index into s->ver[]): the one the
 * client's session is on, where the service keeps affinity and the
 * client has a key (keyed); else the one its bucket of the weights falls
 * in. e: its session, or NULL. */
static __always_inline __u32 first_version(const struct vs_svc *s, struct vs_sess *e, __u32 h,
					   __u64 now, __u32 nver, int keyed)
{
	__u32 i = nver;

	if (keyed && s->session_ms)
		i = session_version(s, e, now, nver);
	if (i >= nver)
		i = vs_pick_version(s, vs_bucket(h));
	if (i >= nver)
		i = nver - 1;
	return i;
}

/* The k-th version to try after i (vs_failover_order()), or
 * VS_MAX_VERSIONS past the end.
 *
 * For Linux 6.1's verifier, which walks branches it cannot prove dead:
 * when the session loop found version i, it knows i < nver, but decides
 * `if i < nver` only with the constant on the right, and clang may put
 * it on the left. On the impossible side nver's bounds cross (min above
 * max), v inherits them, and s->ver[v] becomes an unknown scalar. A mask
 * after barrier_var() (clang cannot drop it) gives v bounds again; for
 * real v < 8 it changes nothing. */
static __always_inline __u32 nth_version(__u32 i, __u32 k, __u32 nver)
{
	__u32 v = vs_failover_order(i, k, nver);

	if (v >= VS_MAX_VERSIONS)
		return VS_MAX_VERSIONS;
	barrier_var(v);
	return v & (VS_MAX_VERSIONS - 1);
}

/* The version chosen first had no live server: it was passed over. */
static __always_inline void count_passed_over(__u32 slot)
{
	struct vs_ver_stats *vs = bpf_map_lookup_elem(&vstats, &slot);

	if (vs)
		vs->failover_out++;
}

/* The first live socket of a version in other namespaces, starting at the
 * client's own index so that a client keeps its server while the set is
 * unchanged; its sockmap index, or -1. Global, as steer.bpf.c's
 * try_version(): verified once, not once per version of the caller's loop.
 * (Each object that calls it has its own copy.) */
__noinline int live_index(__u32 slot, __u32 n, __u32 h)
{
	__u32 start, j, idx;
	struct bpf_sock *sk;

	if (n == 0 || n > VS_MAX_SOCKS || slot >= VS_MAX_SLOTS)
		return -1;
	start = h % n;
	for (j = 0; j < VS_MAX_SOCKS; j++) {
		if (j >= n)
			break;
		idx = start + j;
		if (idx >= n)
			idx -= n;
		idx += slot * VS_MAX_SOCKS;
		sk = bpf_map_lookup_elem(&socks, &idx);
		if (!sk)
			continue;
		bpf_sk_release(sk);
		return idx;
	}
	return -1;
}

static __always_inline void count_version(__u32 slot, int chosen)
{
	struct vs_ver_stats *vs = bpf_map_lookup_elem(&vstats, &slot);

	if (!vs)
		return;
	vs->steered++;
	if (!chosen)
		vs->failover_in++;
}

/* Whether a new client may have a session recorded: its network (the
 * client cut to quota4/quota6 bits) has opened fewer than the service's
 * quota in the current window. So one network, however many addresses it
 * has, cannot flood the session table and push the others' sessions out. */
static __always_inline int quota_take(const struct vs_sess_key *k, int ipv6, __u64 now)
{
	struct vs_quota *q, nq = { .start_ns = now, .count = 1 };
	struct vs_quota_key qk = {};
	struct vs_svc_opts *o;

	qk.svc = k->svc;
	o = bpf_map_lookup_elem(&sopts, &qk.svc);
	if (!o || !o->quota)
		return 1;
	__builtin_memcpy(qk.addr, k->addr, sizeof(qk.addr));
	vs_mask_addr(qk.addr, ipv6 ? o->quota6 : o->quota4);
	q = bpf_map_lookup_elem(&squota, &qk);
	if (!q) {
		bpf_map_update_elem(&squota, &qk, &nq, BPF_ANY);
		return 1;
	}
	if (now - q->start_ns > (__u64)o->window_ms * 1000000) {
		q->start_ns = now;
		q->count = 0;
	}
	/* Per-CPU races may let a few more in: a bound, not an exact count. */
	if (q->count >= o->quota)
		return 0;
	q->count++;
	return 1;
}

static __always_inline void count_quota_refused(__u32 sid)
{
	struct vs_svc_guard *g = bpf_map_lookup_elem(&sguard, &sid);

	if (g)
		g->quota_refused++;
}

/* The quota (quota_take()): global, where inlined it multiplied the
 * verifier's states by each path through its masks. */
__noinline int quota_ok(const struct vs_sess_key *k, int ipv6, __u64 now)
{
	if (!k)
		return 1;
	return quota_take(k, ipv6, now);
}

static __always_inline void count_hold_full(__u32 sid)
{
	struct vs_svc_guard *g = bpf_map_lookup_elem(&sguard, &sid);

	if (g)
		g->hold_full++;
}

/* The client's session is on the version that served it now; a failover
 * moves the session too, so its next connections find a live version
 * first time. A new client is recorded if its network's quota admits it
 * and one of its sets has a place without a connection open. */
static __always_inline void remember_session(struct vs_sess *e, const struct vs_sess_key *k,
					     const struct vs_sess_place *p, __u32 slot, __u64 now,
					     int ipv6)
{
	if (e) {
		/* Still the client's? It could have been taken since. */
		if (VS_SESS_TAG(sess_word(e)) == p->tag) {
			e->slot = slot;
			e->last_ms = sess_ms(now);
		}
	} else if (!quota_ok(k, ipv6, now)) {
		count_quota_refused(k->svc);
	} else if (sess_claim(p, slot, sess_ms(now)) == -ENOSPC) {
		count_hold_full(k->svc);
	}
}

#endif /* VS_PICK_H */
