// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The data plane: one sk_lookup program that, for each new TCP connection
 * to a service address, picks a version (by session affinity, else by
 * session hash and weight) and hands the SYN to one of that version's
 * listening sockets.
 *
 * Built against UAPI headers only: struct bpf_sk_lookup is all it reads.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define VS_OWNER
#define AF_INET6 10
#include "maps.h"
#include "vsteer_hash.h"

static __always_inline struct vs_svc *find_service(struct bpf_sk_lookup *ctx,
						   struct vs_svc_key *key)
{
	struct vs_svc *s;

	key->family = ctx->family;
	key->proto = VS_PROTO_TCP;
	key->port = ctx->local_port;
	/* The kernel reads the fields of the other family as zero, so no
	 * branch is needed (and a branch tempts clang into pointer
	 * arithmetic on ctx, which the verifier rejects). */
	key->addr[0] = ctx->local_ip4 | ctx->local_ip6[0];
	key->addr[1] = ctx->local_ip6[1];
	key->addr[2] = ctx->local_ip6[2];
	key->addr[3] = ctx->local_ip6[3];
	s = bpf_map_lookup_elem(&svcs, key);
	if (s)
		return s;
	struct vs_svc_key any = *key;

	__builtin_memset(any.addr, 0, sizeof(any.addr));
	return bpf_map_lookup_elem(&svcs, &any);
}

/* Try the sockets of one version, starting at the client's own slot so a
 * client keeps its backend while the set is unchanged, then the rest.
 * Closed sockets are gone from the sockmap, so an empty slot is a dead one.
 *
 * A global function on purpose: the verifier checks it once, with unknown
 * arguments, instead of once per version the caller's loop could be at
 * (inlined, 8 versions x 32 sockets blow the 1M instruction budget). */
__noinline int try_version(struct bpf_sk_lookup *ctx, __u32 sid, __u32 slot, __u32 n, __u32 h)
{
	struct vs_svc_stats *ss;
	__u32 start, base, j, idx;
	struct bpf_sock *sk;
	long err;

	if (!ctx || n == 0 || n > VS_MAX_SOCKS || slot >= VS_MAX_SLOTS)
		return -1;
	base = slot * VS_MAX_SOCKS;
	start = h % n;
	for (j = 0; j < VS_MAX_SOCKS; j++) {
		if (j >= n)
			break;
		idx = start + j;
		if (idx >= n)
			idx -= n;
		idx += base;
		sk = bpf_map_lookup_elem(&socks, &idx);
		if (!sk)
			continue;
		/* NO_REUSEPORT: this socket, not a sibling of its reuseport
		 * group that the kernel would pick. Every sibling vsteer knows
		 * is in the slot already, and the tracker learns the version
		 * from the accepting socket's storage, which only sockets
		 * placed in the sockmap carry. */
		err = bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
		bpf_sk_release(sk);
		if (!err)
			return 0;
		/* A socket of the wrong family or protocol for this
		 * connection: count it and keep looking. */
		ss = bpf_map_lookup_elem(&sstats, &sid);
		if (ss)
			ss->assign_err++;
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

/* The version an active session of this client is on, if the service
 * keeps affinity and the client was seen within the timeout or still
 * has a connection open. */
static __always_inline __u32 session_version(const struct vs_svc *s, struct vs_sess *e, __u64 now,
					     __u32 nver)
{
	__u32 i;

	if (!e || (e->open <= 0 && now - e->last_ns > (__u64)s->session_ms * 1000000))
		return nver;
	for (i = 0; i < VS_MAX_VERSIONS; i++) {
		if (i >= nver)
			break;
		if (s->ver[i].slot == e->slot && !(s->ver[i].flags & VS_VER_NO_AFFINITY))
			return i;
	}
	return nver;
}

/* The version a session with a connection open is on (shold: out of the
 * LRU's reach), or nver. */
static __always_inline __u32 held_version(const struct vs_svc *s, const struct vs_sess_key *k,
					  __u32 nver)
{
	struct vs_hold *hd = bpf_map_lookup_elem(&shold, k);
	struct vs_sess e;

	if (!hd || hd->open <= 0)
		return nver;
	e = (struct vs_sess){ .slot = hd->slot, .open = hd->open };
	return session_version(s, &e, 0, nver);
}

/* The client's key for this service, cut as its options say
 * (vs_client_key()). Global, as try_version(): inlined, each path through
 * the mask left the verifier a different stack, and that doubled the
 * states of everything after it. */
__noinline int client_key(struct bpf_sk_lookup *ctx, struct vs_sess_key *k)
{
	struct vs_svc_opts *o;
	__u32 sid;

	if (!ctx || !k)
		return -1;
	sid = k->svc;
	o = bpf_map_lookup_elem(&sopts, &sid);
	vs_client_key(k->addr, ctx->family == AF_INET6, o);
	return 0;
}

/* Whether a new client may have a session recorded: its network (the
 * client cut to quota4/quota6 bits) has opened fewer than the service's
 * quota in the current window. So one network, however many addresses it
 * has, cannot flood the session table and push the others' sessions out.
 *
 * Global, as try_version(): checked once, not for each state the caller
 * reaches `steered` in, and the options pointer is not kept live across
 * the version loop (it was, and it doubled the verifier's states). */
__noinline int quota_admits(struct bpf_sk_lookup *ctx, const struct vs_sess_key *k, __u64 now)
{
	struct vs_quota *q, nq = { .start_ns = now, .count = 1 };
	struct vs_quota_key qk = {};
	struct vs_svc_opts *o;

	if (!ctx || !k)
		return 1;
	qk.svc = k->svc;
	o = bpf_map_lookup_elem(&sopts, &qk.svc);
	if (!o || !o->quota)
		return 1;
	__builtin_memcpy(qk.addr, k->addr, sizeof(qk.addr));
	vs_mask_addr(qk.addr, ctx->family == AF_INET6 ? o->quota6 : o->quota4);
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

SEC("sk_lookup")
int vsteer_lookup(struct bpf_sk_lookup *ctx)
{
	struct vs_sess_key sk_key = {};
	struct vs_svc_key svc_key = {};
	struct vs_sess *e = NULL;
	struct vs_svc_stats *ss;
	struct vs_ver_stats *vs;
	__u32 h, i, k, v, nver, sid, slot;
	struct vs_svc *s;
	__u64 now = 0;

	/* Everything that is not a configured service passes untouched:
	 * UDP, other ports (one array lookup), other addresses. */
	if (ctx->protocol != VS_PROTO_TCP)
		return SK_PASS;
	/* An sk_lookup program attached before ours already chose: its
	 * choice stands (bpf_sk_assign would fail with -EEXIST anyway). */
	if (ctx->sk)
		return SK_PASS;
	if (!port_in_use(ctx->local_port))
		return SK_PASS;
	s = find_service(ctx, &svc_key);
	if (!s)
		return SK_PASS;

	sid = s->id;
	ss = bpf_map_lookup_elem(&sstats, &sid);
	if (ss)
		ss->lookups++;

	sk_key.svc = sid;
	sk_key.addr[0] = ctx->remote_ip4 | ctx->remote_ip6[0];
	sk_key.addr[1] = ctx->remote_ip6[1];
	sk_key.addr[2] = ctx->remote_ip6[2];
	sk_key.addr[3] = ctx->remote_ip6[3];
	/* An IPv6 host owns a whole prefix: it is one client, with one
	 * bucket and one session, however many addresses it uses. */
	client_key(ctx, &sk_key);
	h = vs_session_hash(sk_key.addr, s->salt);

	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	if (nver == 0)
		goto refuse;
	/* Sessions are tracked whether or not affinity is on, so that when
	 * a session rollout starts, the clients already active are known. */
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&sess, &sk_key);
	i = nver;
	if (s->session_ms) {
		i = held_version(s, &sk_key, nver);
		if (i >= nver)
			i = session_version(s, e, now, nver);
	}
	if (i >= nver)
		i = vs_pick_version(s, vs_bucket(h));
	if (i >= nver)
		i = nver - 1;

	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = vs_failover_order(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		/* For Linux 6.1's verifier, which walks branches it cannot
		 * prove dead: when the session loop found version i, it knows
		 * i < nver, but decides `if i < nver` only with the constant
		 * on the right, and clang may put it on the left. On the
		 * impossible side nver's bounds cross (min above max), v
		 * inherits them, and s->ver[v] becomes an unknown scalar.
		 * A mask after barrier_var() (clang cannot drop it) gives v
		 * bounds again; for real v < 8 it changes nothing. */
		barrier_var(v);
		v &= VS_MAX_VERSIONS - 1;
		slot = s->ver[v].slot;
		if (try_version(ctx, sid, slot, s->ver[v].nsock, vs_backend_hash(h)) == 0)
			goto steered;
		if (k == 0) {
			vs = bpf_map_lookup_elem(&vstats, &slot);
			if (vs)
				vs->failover_out++;
		}
	}

refuse:
	/* No version has a live socket. SK_DROP makes the TCP lookup fail,
	 * and the kernel answers the SYN with a RST: the client is refused
	 * at once instead of retrying SYNs into a black hole. */
	if (ss)
		ss->refused++;
	return SK_DROP;

steered:
	count_version(slot, k == 0);
	if (ss)
		ss->steered++;
	/* The session is on the version that actually served it; a
	 * failover moves the session too, so its next connections find a
	 * live version first time. */
	if (e) {
		e->slot = slot;
		e->last_ns = now;
	} else if (quota_admits(ctx, &sk_key, now)) {
		struct vs_sess ne = { .last_ns = now, .slot = slot };

		bpf_map_update_elem(&sess, &sk_key, &ne, BPF_NOEXIST);
	} else {
		struct vs_svc_guard *g = bpf_map_lookup_elem(&sguard, &sid);

		if (g)
			g->quota_refused++;
	}
	/* Nothing per connection here: the tracker learns the version from
	 * the listener's storage, cloned into the accepted socket. */
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
