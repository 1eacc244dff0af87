// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Address steering for local clients: cgroup connect4/connect6 programs,
 * attached at the cgroup v2 root, that rewrite a connect() to a service
 * address into the address of the chosen version's server, when that
 * version lives in other network namespaces (VS_VER_ADDR: containers on
 * a bridge). The version is picked by the same policy as sk_lookup's
 * (pick.h); liveness is the same sockmap: the server's listening sockets,
 * found inside its namespace, drop out of it when they close, so a dead
 * version is passed over before any SYN is sent. No per-packet work, no
 * NAT: the connection is made to the server's own address.
 *
 * getpeername4/6 give the application back the address it connected to.
 *
 * cgroup programs follow cgroups, not network namespaces: attached at the
 * root they see every namespace's connects, so the first test is that the
 * connect is made in vsteerd's own namespace.
 *
 * Built against UAPI headers only: struct bpf_sock_addr is all it reads.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#include "pick.h"

#define CONNECT_PASS 1 /* leave the connect as it is */
#define CONNECT_DENY 0 /* connect() fails with EPERM */

const volatile __u64 netns_cookie = 0; /* vsteerd's namespace, set before load */

/* The client's key (its bound address, cut as the service says) and
 * whether it has one: a socket not bound yet gets its source address
 * only when the route is chosen, after this hook. */
/* An IPv4 address in an IPv6 socket's (::ffff:a.b.c.d, a dual-stack
 * socket's, Java's default) as IPv4 keys have it; returns whether it was
 * one. */
static __always_inline int unmap(__u32 a[4])
{
	if (a[0] || a[1] || a[2] != bpf_htonl(0xffff))
		return 0;
	a[0] = a[3];
	a[2] = a[3] = 0;
	return 1;
}

/* Write an address and port into a connect's context: in an IPv6 one an
 * IPv4 address as ::ffff:a.b.c.d (a dual-stack socket's). */
static __always_inline void set_dst(struct bpf_sock_addr *ctx, int ipv6, const struct vs_addr *a)
{
	if (!ipv6) {
		ctx->user_ip4 = a->addr[0];
	} else if (a->family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = a->addr[0];
	} else {
		ctx->user_ip6[0] = a->addr[0];
		ctx->user_ip6[1] = a->addr[1];
		ctx->user_ip6[2] = a->addr[2];
		ctx->user_ip6[3] = a->addr[3];
	}
	ctx->user_port = bpf_htons(a->port);
}

static __always_inline int bound_key(struct bpf_sock_addr *ctx, int ipv6, struct vs_sess_key *k,
				     struct vs_sess_place *p)
{
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return 0;
	if (ipv6) {
		k->addr[0] = sk->src_ip6[0];
		k->addr[1] = sk->src_ip6[1];
		k->addr[2] = sk->src_ip6[2];
		k->addr[3] = sk->src_ip6[3];
	} else {
		k->addr[0] = sk->src_ip4;
	}
	if (!(k->addr[0] | k->addr[1] | k->addr[2] | k->addr[3]))
		return 0;
	if (ipv6 && unmap(k->addr))
		ipv6 = 0;
	sess_key(k, ipv6, p);
	return 1;
}

/* Remember the service address for getpeername(), then point the connect
 * at the server. */
static __always_inline int rewrite(struct bpf_sock_addr *ctx, int ipv6,
				   const struct vs_svc_key *svc, const struct vs_addr *b)
{
	struct vs_addr *o;

	if (b->family != svc->family || !ctx->sk)
		return -1;
	o = bpf_sk_storage_get(&corig, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return -1;
	__builtin_memcpy(o->addr, svc->addr, sizeof(o->addr));
	o->port = svc->port;
	o->family = svc->family;
	set_dst(ctx, ipv6, b);
	return 0;
}

/* Steer to a live server of version slot: 0, or 1 if it has none, 2 if
 * its address could not be written. One global function per family (a
 * connect4 program may not even name the IPv6 fields): verified once,
 * not once per version of the caller's loop, which took a second. */
static __always_inline int try_addr(struct bpf_sock_addr *ctx, int ipv6,
				    const struct vs_svc_key *key, __u32 slot, __u32 n, __u32 h)
{
	struct vs_addr *b;
	__u32 bi;
	int idx;

	idx = live_index(slot, n, h);
	if (idx < 0)
		return 1;
	bi = idx;
	b = bpf_map_lookup_elem(&backs, &bi);
	if (!b || rewrite(ctx, ipv6, key, b))
		return 2;
	return 0;
}

__noinline int try_addr4(struct bpf_sock_addr *ctx, const struct vs_svc_key *key, __u32 slot,
			 __u32 n, __u32 h)
{
	if (!ctx || !key)
		return 2;
	return try_addr(ctx, 0, key, slot, n, h);
}

__noinline int try_addr6(struct bpf_sock_addr *ctx, const struct vs_svc_key *key, __u32 slot,
			 __u32 n, __u32 h)
{
	if (!ctx || !key)
		return 2;
	return try_addr(ctx, 1, key, slot, n, h);
}

static __always_inline int steer_connect(struct bpf_sock_addr *ctx, int ipv6)
{
	struct vs_sess_key sk_key = {};
	struct vs_svc_key key = {};
	struct vs_sess_place place = {};
	struct vs_sess *e = NULL;
	struct vs_svc_stats *ss;
	__u32 h, i, k, v, nver, sid, slot;
	struct vs_svc *s;
	int bound, r;
	__u64 now;

	if (ctx->protocol != IPPROTO_TCP)
		return CONNECT_PASS;
	key.port = bpf_ntohs(ctx->user_port);
	if (!port_in_use(key.port))
		return CONNECT_PASS;
	if (bpf_get_netns_cookie(ctx) != netns_cookie)
		return CONNECT_PASS;
	key.family = AF_INET;
	key.proto = VS_PROTO_TCP;
	if (ipv6) {
		key.addr[0] = ctx->user_ip6[0];
		key.addr[1] = ctx->user_ip6[1];
		key.addr[2] = ctx->user_ip6[2];
		key.addr[3] = ctx->user_ip6[3];
		/* A dual-stack socket's connect to an IPv4 service. */
		if (!unmap(key.addr))
			key.family = AF_INET6;
	} else {
		key.addr[0] = ctx->user_ip4;
	}
	/* The exact address only: a wildcard service would otherwise take
	 * connects to that port on every address of the world. */
	s = bpf_map_lookup_elem(&svcs, &key);
	if (!s)
		return CONNECT_PASS;
	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	if (nver == 0)
		return CONNECT_PASS;
	sid = s->id;
	sk_key.svc = sid;
	bound = bound_key(ctx, ipv6, &sk_key, &place);
	if (bound) {
		h = vs_session_hash(sk_key.addr, s->salt);
	} else {
		/* Nothing names the client yet: each connection draws. */
		__u64 c = bpf_get_socket_cookie(ctx);

		h = vs_mix32((__u32)c ^ (__u32)(c >> 32) ^ s->salt);
	}
	now = sess_now();
	if (bound)
		e = sess_find(&place);
	i = first_version(s, e, h, now, nver, bound);

	ss = bpf_map_lookup_elem(&sstats, &sid);
	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = nth_version(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		/* A version of this namespace: sk_lookup hands the SYN to
		 * one of its sockets, by the same policy. */
		if (!(s->ver[v].flags & VS_VER_ADDR))
			return CONNECT_PASS;
		slot = s->ver[v].slot;
		r = ipv6 ? try_addr6(ctx, &key, slot, s->ver[v].nsock, vs_backend_hash(h)) :
			   try_addr4(ctx, &key, slot, s->ver[v].nsock, vs_backend_hash(h));
		if (r == 0)
			goto steered;
		if (r == 2 && ss)
			ss->assign_err++;
		if (k == 0)
			count_passed_over(slot);
	}
	/* No version has a live server: refused here, where sk_lookup
	 * would answer the SYN with a reset. */
	if (ss) {
		ss->lookups++;
		ss->refused++;
	}
	return CONNECT_DENY;

steered:
	count_version(slot, k == 0);
	if (ss) {
		ss->lookups++;
		ss->steered++;
	}
	if (!bound)
		return CONNECT_PASS;
	remember_session(e, &sk_key, &place, slot, now, key.family == AF_INET6);
	return CONNECT_PASS;
}

/* The verdict as a constant the verifier can see: clang keeps the one
 * steer_connect() returns in a stack slot, whose value the verifier may
 * not track, and a cgroup program must provably return 0 or 1. */
static __always_inline int verdict(int r)
{
	barrier_var(r);
	return r == CONNECT_DENY ? CONNECT_DENY : CONNECT_PASS;
}

SEC("cgroup/connect4")
int vsteer_connect4(struct bpf_sock_addr *ctx)
{
	return verdict(steer_connect(ctx, 0));
}

SEC("cgroup/connect6")
int vsteer_connect6(struct bpf_sock_addr *ctx)
{
	return verdict(steer_connect(ctx, 1));
}

static __always_inline int restore_peer(struct bpf_sock_addr *ctx, int ipv6)
{
	struct vs_addr *o;

	if (!ctx->sk)
		return CONNECT_PASS;
	o = bpf_sk_storage_get(&corig, ctx->sk, 0, 0);
	if (!o)
		return CONNECT_PASS;
	set_dst(ctx, ipv6, o);
	return CONNECT_PASS;
}

SEC("cgroup/getpeername4")
int vsteer_peer4(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, 0);
}

SEC("cgroup/getpeername6")
int vsteer_peer6(struct bpf_sock_addr *ctx)
{
	return restore_peer(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
