// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connection lifetimes, for session affinity and draining: a BTF
 * tracepoint on TCP state changes charges each connection the data plane
 * steered to its version and session when it is established, and releases
 * it when it closes. The version comes with the socket: the listener's
 * storage, which the kernel clones into each connection it accepts
 * (struct vs_sk).
 *
 * It also measures each request on those connections: latency from the
 * request's first segment arriving (tp_btf/tcp_probe, start of
 * tcp_rcv_established) to the backend's first send() of the response
 * (tp_btf/sock_send_length), and the bytes of each response, into
 * per-version histograms; and it counts resets the backends send.
 *
 * And it captures the connections sampled for mirroring (bpf/capture.h):
 * their establishment and close, and each segment the client sends.
 *
 * Why a tracepoint: the accepted socket belongs to the backend's process
 * and cgroup, which vsteer does not control, so sockops would need the
 * root cgroup; and fentry is not available under lockdown. The tracepoint
 * sees every namespace, hence the netns filter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.h"
#include "meter.h"
#include "session.h"
#include "vsteer_hash.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT	2
#define TCP_SYN_RECV	3
#define TCP_CLOSE	7
#define TCP_LISTEN	10

const volatile __u32 netns_ino = 0; /* set by the controller before load */

/* Never below zero: a close whose establishment we missed (the program
 * was being replaced) must not leave a debt. */
static __always_inline void add_open64(__s64 *open, __s64 d)
{
	if (__sync_fetch_and_add(open, d) + d < 0)
		__sync_fetch_and_add(open, 1);
}

static __always_inline void end_response(struct vs_sk *st)
{
	struct vs_ver_sums *sums = ver_sums(st->slot);

	hist_add(&rsize, st->slot, st->resp_bytes);
	if (sums)
		sums->resp_bytes += st->resp_bytes;
	st->responding = 0;
	st->resp_bytes = 0;
}

/* A client's segment of a sampled connection (cb: its sequence numbers
 * and flags). At tcp_probe skb->data is at the TCP header, so the payload
 * is the last len bytes of skb->len. bpf_skb_output() copies paged data
 * too. */
static __noinline void cap_req(void *ctx, struct sock *sk, struct sk_buff *skb, struct vs_sk *st,
			       const struct tcp_skb_cb *cb)
{
	__u8 fin = cb->tcp_flags & 0x01;
	__u32 len = cb->end_seq - cb->seq - fin, whole = skb->len;
	struct vs_cap rec = {};
	long ret;

	if (whole < len)
		return;
	cap_rec(&rec, st, bpf_get_socket_cookie(sk), VS_CAP_REQ);
	rec.seq = cb->seq;
	rec.len = len;
	rec.fin = fin;
	rec.off = whole - len;
	rec.copied = whole < VS_CAP_COPY_MAX ? whole : VS_CAP_COPY_MAX;
	if (cap_take(ctx, st, &rec))
		return;
	ret = bpf_skb_output(skb, &mcap, BPF_F_CURRENT_CPU | ((__u64)rec.copied << 32), &rec,
			     sizeof(rec));
	cap_took(ctx, st, &rec, ret, whole);
}

/* A segment arrived on an established socket. Most sockets of the host
 * are not steered connections: they have no storage, and leave here. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(vsteer_req, struct sock *sk, const struct sk_buff *skb)
{
	struct vs_sk *st = bpf_sk_storage_get(&sks, sk, 0, 0);
	struct tcp_skb_cb cb;
	__u8 fin;
	__u32 len;

	if (!st || st->kind != VS_SK_CONN)
		return 0;
	if (bpf_probe_read_kernel(&cb, sizeof(cb), skb->cb))
		return 0;
	/* Payload length from the sequence numbers (a FIN takes one). */
	fin = cb.tcp_flags & 0x01;
	len = cb.end_seq - cb.seq - fin;
	/* Before the ACK test: a FIN alone is captured too. */
	if ((len || fin) && cap_on(st))
		cap_req(ctx, sk, (struct sk_buff *)skb, st, &cb);
	if (!len)
		return 0; /* an ACK, or a FIN alone */
	if (st->responding)
		end_response(st); /* the next request ends the last response */
	if (!st->req_ns) {
		struct vs_ver_stats *vs = ver_stats(st->slot);

		st->req_ns = bpf_ktime_get_ns();
		st->status_seen = 0;
		if (vs)
			vs->arrived++;
	}
	return 0;
}

/* The backend's process sends on the socket: the first send after a
 * request is its response starting. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(vsteer_resp, struct sock *sk, int ret, int flags)
{
	struct vs_sk *st = bpf_sk_storage_get(&sks, sk, 0, 0);

	if (!st || st->kind != VS_SK_CONN || ret <= 0)
		return 0;
	response_sent(st, ret);
	return 0;
}

/* A reset from a backend's connection: an error of its version. The
 * common resets (close with unread data, SO_LINGER 0, a process that
 * dies) are sent after the socket has moved to TCP_CLOSE, so a closed
 * connection still counts, once. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(vsteer_rst, const struct sock *sk, const struct sk_buff *skb)
{
	struct vs_ver_stats *vs;
	struct vs_sk *st;

	if (!sk)
		return 0;
	st = bpf_sk_storage_get(&sks, (struct sock *)sk, 0, 0);
	if (!st || (st->kind != VS_SK_CONN && st->kind != VS_SK_CLOSED))
		return 0;
	if (st->kind == VS_SK_CLOSED)
		st->kind = 0;
	vs = ver_stats(st->slot);
	if (vs)
		vs->resets++;
	return 0;
}

/* A connection's local and remote addresses as the data plane saw them:
 * an IPv4 connection accepted by a dual-stack [::] listener has
 * IPv4-mapped addresses, and sk_lookup saw it as IPv4. Returns the family. */
static __always_inline __u8 conn_addrs(struct sock *sk, __u32 local[4], __u32 remote[4])
{
	if (sk->__sk_common.skc_family != AF_INET6) {
		local[0] = sk->__sk_common.skc_rcv_saddr;
		remote[0] = sk->__sk_common.skc_daddr;
		return AF_INET;
	}
	for (int i = 0; i < 4; i++) {
		local[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
		remote[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
	}
	if (local[0] || local[1] || local[2] != bpf_htonl(0xffff))
		return AF_INET6;
	local[0] = local[3];
	remote[0] = remote[3];
	local[2] = local[3] = remote[2] = remote[3] = 0;
	return AF_INET;
}

/* The service a connection was made to, by its local address (exact,
 * then the wildcard), in the same key the data plane looked it up by;
 * and its client's session key before sess_key() cuts it, with *ipv6. */
static __always_inline struct vs_svc *conn_service(struct sock *sk, struct vs_sess_key *sk_key,
						   int *ipv6)
{
	struct vs_svc_key k = { .proto = IPPROTO_TCP, .port = sk->__sk_common.skc_num };
	struct vs_svc *s;

	k.family = conn_addrs(sk, k.addr, sk_key->addr);
	if (!port_in_use(k.port))
		return NULL;
	s = bpf_map_lookup_elem(&svcs, &k);
	if (!s) {
		__builtin_memset(k.addr, 0, sizeof(k.addr));
		s = bpf_map_lookup_elem(&svcs, &k);
	}
	if (!s)
		return NULL;
	sk_key->svc = s->id;
	*ipv6 = k.family == AF_INET6;
	return s;
}

/* The service of a connection accepted in another namespace, by a
 * listener of a version steered by address (bpf/connect.bpf.c): its local
 * address is the server's, so the slot says which service it is. The
 * session key is its client's, as the connect hook made it (uncut). */
static __always_inline int addr_service(struct sock *sk, __u32 slot, struct vs_sess_key *sk_key,
					__u16 *svc_flags, int *ipv6)
{
	struct vs_slot *vsl = bpf_map_lookup_elem(&vslot, &slot);
	struct vs_flow_key rk = {};
	__u32 id;

	if (!vsl || !(vsl->flags & VS_SLOT_ADDR))
		return -1;
	id = vsl->svc;
	/* Steered, or made to the server's own address (a health check,
	 * another container)? Only a steered one has a flow: the packet
	 * steering's, or the one steered_connect() recorded. */
	rk.family = conn_addrs(sk, rk.addr, rk.client);
	rk.port = sk->__sk_common.skc_num;
	rk.cport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!bpf_map_lookup_elem(&rflows, &rk))
		return -1;
	__builtin_memcpy(sk_key->addr, rk.client, sizeof(rk.client));
	sk_key->svc = id;
	*svc_flags = vsl->flags & VS_SLOT_HTTP ? VS_SVC_HTTP : 0;
	*ipv6 = rk.family == AF_INET6;
	return 0;
}

/* A local client's connect() the connect hook steered (it left the
 * service address in corig), established: its flow goes into rflows, as
 * the packet steering's do, so that the server's side, accepted in
 * another namespace, can tell it from a connection made to the server's
 * own address. Not at SYN_SENT: the source port is chosen after that
 * state is set. The server's side is established after this, by the ACK
 * this side sends next. */
static __noinline void steered_connect(struct sock *sk)
{
	struct vs_addr *o = bpf_sk_storage_get(&corig, sk, 0, 0);
	struct vs_flow_key rk = {};
	struct vs_addr sa;

	if (!o)
		return;
	sa = *o;
	rk.family = conn_addrs(sk, rk.client, rk.addr);
	rk.cport = sk->__sk_common.skc_num;
	rk.port = bpf_ntohs(sk->__sk_common.skc_dport);
	bpf_map_update_elem(&rflows, &rk, &sa, BPF_ANY);
}

static __always_inline bool slot_by_addr(__u32 slot)
{
	struct vs_slot *vsl = bpf_map_lookup_elem(&vslot, &slot);

	return vsl && (vsl->flags & VS_SLOT_ADDR);
}

static __always_inline bool has_slot(const struct vs_svc *s, __u32 slot)
{
	for (__u32 i = 0; i < VS_MAX_VERSIONS; i++) {
		if (i >= s->nver)
			break;
		if (s->ver[i].slot == slot)
			return true;
	}
	return false;
}

/* A new steered connection to the mirrored version of its service is
 * sampled with probability bp / VS_BUCKETS. Its OPEN record carries the
 * first sequence number of each side's payload, which user space
 * reassembles from. */
static __noinline void cap_open(void *ctx, struct sock *sk, struct vs_sk *st)
{
	__u32 svc = st->svc;
	struct vs_mirror *m = bpf_map_lookup_elem(&smirror, &svc);
	struct vs_mirror_stats *ms = bpf_map_lookup_elem(&mstats, &svc);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct vs_cap rec = {};

	if (!m || !m->bp || m->slot != st->slot || bpf_get_prandom_u32() % VS_BUCKETS >= m->bp)
		return;
	st->flags |= VS_SKF_MIRROR;
	if (ms)
		ms->sampled++;
	cap_rec(&rec, st, bpf_get_socket_cookie(sk), VS_CAP_OPEN);
	rec.seq = BPF_CORE_READ(tp, rcv_nxt);
	rec.len = BPF_CORE_READ(tp, snd_nxt);
	/* Without its OPEN a connection cannot be reassembled. */
	if (cap_header(ctx, &rec))
		cap_lose(ctx, st, ms, &rec, 0);
}

static __noinline void cap_close(void *ctx, struct sock *sk, struct vs_sk *st)
{
	struct vs_cap rec = {};

	cap_rec(&rec, st, bpf_get_socket_cookie(sk), VS_CAP_CLOSE);
	cap_header(ctx, &rec);
}

/* vsteerd reads the sockmap, or scans for listeners, when these move. */
static __always_inline void count_lstate(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&lstate, &i);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vsteer_track, struct sock *sk, int oldstate, int newstate)
{
	struct vs_sess_key sk_key = {};
	struct vs_sess_place place = {};
	__u32 local[4] = {};
	struct vs_svc *s;
	struct vs_sess *e;
	struct vs_sk *st;
	__u16 svc_flags;
	int ipv6 = 0;
	__s64 *vo;
	__u32 slot, svc;

	if (newstate == TCP_LISTEN) {
		/* Set before the socket is hashed: vsteerd scans at the next
		 * tick and the one after. */
		count_lstate(VS_LSTATE_OPENED);
		return 0;
	}
	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED) {
		steered_connect(sk);
		return 0;
	}
	/* Only backends' listeners, and the sockets they accepted, carry
	 * storage. */
	st = bpf_sk_storage_get(&sks, sk, 0, 0);
	if (!st)
		return 0;
	if (oldstate == TCP_LISTEN) {
		/* Out of the sockmap (sock_map_close() ran first). */
		count_lstate(VS_LSTATE_CLOSED);
		return 0;
	}
	slot = st->slot;
	/* Another namespace's: only a version's steered by address. */
	if (sk->__sk_common.skc_net.net->ns.inum != netns_ino && !slot_by_addr(slot))
		return 0;

	if (newstate == TCP_ESTABLISHED) {
		/* The passive open of a fresh copy of a listener's storage. */
		if (oldstate != TCP_SYN_RECV || st->kind != VS_SK_LISTENER)
			return 0;
		s = conn_service(sk, &sk_key, &ipv6);
		if (s && has_slot(s, slot)) {
			svc = s->id;
			svc_flags = s->flags;
		} else if (addr_service(sk, slot, &sk_key, &svc_flags, &ipv6)) {
			/* Made to the backend's own address, not steered. */
			bpf_sk_storage_delete(&sks, sk);
			return 0;
		} else {
			svc = sk_key.svc;
		}
		/* The rest of the copy is zero: the meters skip listeners. */
		st->kind = VS_SK_CONN;
		st->svc = svc;
		st->flags = (svc_flags & VS_SVC_HTTP) ? VS_SKF_HTTP : 0;
		cap_open(ctx, sk, st);
		vo = bpf_map_lookup_elem(&vopen, &slot);
		if (vo)
			add_open64(vo, 1);
		/* A session with a connection open is never replaced. */
		sess_key(&sk_key, ipv6, &place);
		e = sess_find(&place);
		if (e)
			sess_count(e, place.tag, 1);
		return 0;
	}
	if (st->kind != VS_SK_CONN)
		return 0;
	/* Closing: the addresses are still there, only inet_num is not. */
	st->kind = VS_SK_CLOSED;
	if (st->flags & VS_SKF_MIRROR)
		cap_close(ctx, sk, st);
	if (st->responding)
		end_response(st);
	vo = bpf_map_lookup_elem(&vopen, &slot);
	if (vo)
		add_open64(vo, -1);
	sk_key.svc = st->svc;
	sess_key(&sk_key, conn_addrs(sk, local, sk_key.addr) == AF_INET6, &place);
	e = sess_find(&place);
	if (e) {
		sess_count(e, place.tag, -1);
		/* Idle time starts when the last connection closes. */
		if (VS_SESS_TAG(sess_word(e)) == place.tag)
			e->last_ms = sess_ms(bpf_ktime_get_ns());
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
