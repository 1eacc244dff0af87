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
#include "pick.h"

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

/* A TCP connection to a port some service uses. */
static __always_inline int steer(struct bpf_sk_lookup *ctx)
{
	struct vs_sess_key sk_key = {};
	struct vs_svc_key svc_key = {};
	struct vs_sess_place place = {};
	struct vs_sess *e = NULL;
	struct vs_svc_stats *ss;
	__u32 h, i, k, n, v, nver, sid, slot;
	struct vs_svc *s;
	__u64 now = 0;

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
	sess_key(&sk_key, ctx->family == AF_INET6, &place);
	h = vs_session_hash(sk_key.addr, s->salt);

	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	if (nver == 0)
		goto refuse;
	/* Sessions are tracked whether or not affinity is on, so that when
	 * a session rollout starts, the clients already active are known. */
	now = sess_now();
	e = sess_find(&place);
	i = first_version(s, e, h, now, nver, 1);

	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = nth_version(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		slot = s->ver[v].slot;
		/* A version in other namespaces has sockets in the sockmap
		 * (for their liveness), but a socket of another namespace
		 * cannot take this SYN: its handshake would never complete. */
		n = s->ver[v].flags & VS_VER_ADDR ? 0 : s->ver[v].nsock;
		if (try_version(ctx, sid, slot, n, vs_backend_hash(h)) == 0)
			goto steered;
		if (k == 0)
			count_passed_over(slot);
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
	remember_session(e, &sk_key, &place, slot, now, ctx->family == AF_INET6);
	/* Nothing per connection here: the tracker learns the version from
	 * the listener's storage, cloned into the accepted socket. */
	return SK_PASS;
}

SEC("sk_lookup")
int vsteer_lookup(struct bpf_sk_lookup *ctx)
{
	/* Everything that is not a configured service passes untouched:
	 * UDP, other ports (one array lookup), other addresses. Nothing
	 * else before these checks (steer()'s keys are zeroed after them):
	 * every connection of the host pays for them. */
	if (ctx->protocol != VS_PROTO_TCP)
		return SK_PASS;
	/* An sk_lookup program attached before ours already chose: its
	 * choice stands (bpf_sk_assign would fail with -EEXIST anyway). */
	if (ctx->sk)
		return SK_PASS;
	if (!port_in_use(ctx->local_port))
		return SK_PASS;
	return steer(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
