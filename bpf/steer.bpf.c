// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The data plane: one sk_lookup program that, for each new TCP connection
 * to a service address, picks a version by session hash and weight and
 * hands the SYN to one of that version's listening sockets.
 *
 * Built against UAPI headers only: struct bpf_sk_lookup is all it reads.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "vsteer.h"
#include "vsteer_hash.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, struct vs_svc_key);
	__type(value, struct vs_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcs SEC(".maps");

/* Value size 8: a lookup from user space then returns the socket cookie,
 * which is how the controller tells which socket sits in which slot. The
 * kernel refuses BTF for sockmaps, hence sizes instead of types. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, VS_SOCKMAP_SIZE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vs_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vs_ver_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_svc_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sstats SEC(".maps");

static __always_inline int port_in_use(__u32 port)
{
	__u32 zero = 0;
	struct vs_ports *p = bpf_map_lookup_elem(&ports, &zero);

	if (!p)
		return 0;
	return (p->w[(port >> 6) & 1023] >> (port & 63)) & 1;
}

static __always_inline struct vs_svc *find_service(struct bpf_sk_lookup *ctx)
{
	struct vs_svc_key key = {
		.family = ctx->family,
		.proto = VS_PROTO_TCP,
		.port = ctx->local_port,
	};
	struct vs_svc *s;

	/* The kernel reads the fields of the other family as zero, so no
	 * branch is needed (and a branch tempts clang into pointer
	 * arithmetic on ctx, which the verifier rejects). */
	key.addr[0] = ctx->local_ip4 | ctx->local_ip6[0];
	key.addr[1] = ctx->local_ip6[1];
	key.addr[2] = ctx->local_ip6[2];
	key.addr[3] = ctx->local_ip6[3];
	s = bpf_map_lookup_elem(&svcs, &key);
	if (s)
		return s;
	__builtin_memset(key.addr, 0, sizeof(key.addr));
	return bpf_map_lookup_elem(&svcs, &key);
}

/* Try the sockets of one version, starting at the client's own slot so a
 * client keeps its backend while the set is unchanged, then the rest.
 * Closed sockets are gone from the sockmap, so an empty slot is a dead one.
 *
 * A global function on purpose: the verifier checks it once, with unknown
 * arguments, instead of once per version the caller's loop could be at
 * (inlined, 8 versions x 32 sockets blow the 1M instruction budget). */
__noinline int try_version(struct bpf_sk_lookup *ctx, __u32 sid, __u32 slot,
			   __u32 n, __u32 h)
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
		err = bpf_sk_assign(ctx, sk, 0);
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

SEC("sk_lookup")
int vsteer_lookup(struct bpf_sk_lookup *ctx)
{
	struct vs_svc_stats *ss;
	struct vs_ver_stats *vs;
	__u32 client[4] = {}, h, i, k, v, nver;
	struct vs_svc *s;

	/* Everything that is not a configured service passes untouched:
	 * UDP, other ports (one array lookup), other addresses. */
	if (ctx->protocol != VS_PROTO_TCP)
		return SK_PASS;
	if (!port_in_use(ctx->local_port))
		return SK_PASS;
	s = find_service(ctx);
	if (!s)
		return SK_PASS;

	__u32 sid = s->id;
	ss = bpf_map_lookup_elem(&sstats, &sid);
	if (ss)
		ss->lookups++;

	client[0] = ctx->remote_ip4 | ctx->remote_ip6[0];
	client[1] = ctx->remote_ip6[1];
	client[2] = ctx->remote_ip6[2];
	client[3] = ctx->remote_ip6[3];
	h = vs_session_hash(client, s->salt);

	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	i = vs_pick_version(s, vs_bucket(h));
	if (i >= nver) {
		if (nver == 0)
			goto refuse;
		i = nver - 1;
	}

	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = vs_failover_order(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		if (try_version(ctx, sid, s->ver[v].slot, s->ver[v].nsock,
				vs_backend_hash(h)) == 0) {
			count_version(s->ver[v].slot, k == 0);
			if (ss)
				ss->steered++;
			return SK_PASS;
		}
		if (k == 0) {
			__u32 slot = s->ver[i].slot;

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
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
