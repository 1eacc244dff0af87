/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The session table (map sessions): find a client's session, take a place
 * for a new one, count its connections. Shared by every program that
 * steers (pick.h) and by the tracker, which counts connections.
 *
 * Lock-free: a session's tag and open count are one word, changed only by
 * compare-and-swap. Its slot and last_ms are plain stores: a reader racing
 * a writer of the same session may see the old ones for one connection.
 */
#ifndef VS_SESSION_H
#define VS_SESSION_H

#include "maps.h"
#include "vsteer_hash.h"

/* Sets in the table, as loaded: the controller sets it to the map's size
 * before load (each object has its own copy). */
const volatile __u32 sess_sets = VS_SESS_DEFAULT * 2 / VS_SESS_WAYS;

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif

/* Compare-and-swap attempts on a contended session: each failure means
 * another CPU changed it meanwhile, so this bounds a burst, not a wait. */
#define SESS_TRIES 32

/* The sessions' clock: the monotonic clock as of the last tick (1-10 ms
 * behind; sessions time out after seconds). Reading the precise one cost
 * a known client's connection ~40 ns of ~150 on the development VM
 * (docs/benchmarks.md). The same time base as bpf_ktime_get_ns(), which
 * the tracker uses (tracing programs may not read the coarse one). */
static __always_inline __u64 sess_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

static __always_inline __u32 sess_ms(__u64 now_ns)
{
	return now_ns / 1000000;
}

static __always_inline __u64 sess_word(const struct vs_sess *e)
{
	return *(volatile const __u64 *)&e->word;
}

/* Milliseconds from then to now, 0 if then is later: another CPU may have
 * stored a last_ms read after our now. (Ages past 49 days read as young.) */
static __always_inline __u32 sess_age(__u32 now_ms, __u32 then_ms)
{
	__u32 d = now_ms - then_ms;

	return d > 0xf0000000U ? 0 : d;
}

/* Client k's key cut as its service keys IPv6 clients (vs_client_key():
 * a key cut already is cut again to the same), and where its session
 * lives, into *p: one lookup of the service's options. Global, as
 * sess_claim(): verified once, not on every path of each caller, which
 * took 6.1's verifier past its log's 4 MiB. */
__noinline int sess_key(struct vs_sess_key *k, int ipv6, struct vs_sess_place *p)
{
	struct vs_svc_opts *o;
	__u32 id;

	if (!k || !p)
		return -1;
	id = k->svc;
	o = bpf_map_lookup_elem(&sopts, &id);
	vs_client_key(k->addr, ipv6, o);
	vs_sess_place(k, o ? o->salt : 0, sess_sets, p);
	return 0;
}

/* Client p's session, or NULL. */
static __always_inline struct vs_sess *sess_find(const struct vs_sess_place *p)
{
	struct vs_sess_set *set;
	__u32 i, s, w;

	for (s = 0; s < 2; s++) {
		i = p->set[s];
		set = bpf_map_lookup_elem(&sessions, &i);
		if (!set)
			continue;
		for (w = 0; w < VS_SESS_WAYS; w++)
			if (VS_SESS_TAG(sess_word(&set->way[w])) == p->tag)
				return &set->way[w];
	}
	return NULL;
}

/* One connection more (d > 0) or fewer on session e, if it is still the
 * client's (tag). Never below zero: a close whose start was not counted
 * (the session was taken after it, or the tracker was being replaced)
 * leaves no debt. */
static __always_inline void sess_count(struct vs_sess *e, __u32 tag, int d)
{
	__u64 w, nw;

	for (int i = 0; i < SESS_TRIES; i++) {
		w = sess_word(e);
		if (VS_SESS_TAG(w) != tag)
			return;
		if (d > 0 && VS_SESS_OPEN(w) == 0xffffffffU)
			return;
		if (d < 0 && VS_SESS_OPEN(w) == 0)
			return;
		nw = d > 0 ? w + 1 : w - 1;
		if (__sync_val_compare_and_swap(&e->word, w, nw) == w)
			return;
	}
}

/* A place for new client p's session, taken: a free one in the less full
 * of its two sets, else the longest idle session of both. One with a
 * connection open is never taken. 0, -ENOSPC if every place of both sets
 * has a connection open, -EAGAIN if another CPU changed the place first
 * (the client stays unrecorded until its next connection). */
__noinline int sess_claim(const struct vs_sess_place *p, __u32 slot, __u32 now_ms)
{
	__u32 free0 = 0, free1 = 0, fw0 = 0, fw1 = 0; /* free places, the first's way */
	__u32 age, oldest = 0, bs = 2, bw = 0, i, s, w, set0, set1;
	__u64 x, want = 0, bword = 0;
	struct vs_sess_set *set;
	struct vs_sess *e;

	if (!p)
		return -ENOENT;
	/* Scalars, not p->set[s] or arrays indexed by s: clang would index
	 * memory with arithmetic the verifier refuses on a pointer. */
	set0 = p->set[0];
	set1 = p->set[1];
	for (s = 0; s < 2; s++) {
		i = s ? set1 : set0;
		set = bpf_map_lookup_elem(&sessions, &i);
		if (!set)
			return -ENOENT;
		for (w = 0; w < VS_SESS_WAYS; w++) {
			x = sess_word(&set->way[w]);
			if (!x && s == 0) {
				if (!free0++)
					fw0 = w;
				continue;
			}
			if (!x) {
				if (!free1++)
					fw1 = w;
				continue;
			}
			/* Another CPU placed this client meanwhile. */
			if (VS_SESS_TAG(x) == p->tag)
				return 0;
			if (VS_SESS_OPEN(x))
				continue;
			age = sess_age(now_ms, set->way[w].last_ms);
			if (bs == 2 || age > oldest) {
				oldest = age;
				bs = s;
				bw = w;
				bword = x;
			}
		}
	}
	if (free1 > free0) {
		bs = 1;
		bw = fw1;
		want = 0;
	} else if (free0) {
		bs = 0;
		bw = fw0;
		want = 0;
	} else if (bs < 2) {
		want = bword;
	} else {
		return -ENOSPC;
	}
	i = bs ? set1 : set0;
	set = bpf_map_lookup_elem(&sessions, &i);
	if (!set)
		return -ENOENT;
	e = &set->way[bw & (VS_SESS_WAYS - 1)];
	if (__sync_val_compare_and_swap(&e->word, want, (__u64)p->tag << 32) != want)
		return -EAGAIN;
	e->slot = slot;
	e->last_ms = now_ms;
	return 0;
}

#endif /* VS_SESSION_H */
