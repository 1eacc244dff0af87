// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connection lifetimes, for session affinity and draining: a BTF
 * tracepoint on TCP state changes charges each connection the data plane
 * steered (found in `conns` by its 4-tuple) to its version and session
 * when it is established, and releases it when it closes.
 *
 * It also measures each request on those connections: latency from the
 * request's first segment arriving (tp_btf/tcp_probe, start of
 * tcp_rcv_established) to the backend's first send() of the response
 * (tp_btf/sock_send_length), and the bytes of each response, into
 * per-version histograms; and it counts resets the backends send.
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
#include "maps.h"

#define AF_INET6        10
#define IPPROTO_TCP     6
#define TCP_ESTABLISHED 1
#define TCP_SYN_RECV    3
#define TCP_CLOSE       7

const volatile __u32 netns_ino = 0;	/* set by the controller before load */

static __always_inline void add_open(__s32 *open, __s32 d)
{
	/* Never below zero: a close whose establishment we missed (the
	 * program was being replaced) must not leave a debt. */
	if (__sync_fetch_and_add(open, d) + d < 0)
		__sync_fetch_and_add(open, 1);
}

static __always_inline void add_open64(__s64 *open, __s64 d)
{
	if (__sync_fetch_and_add(open, d) + d < 0)
		__sync_fetch_and_add(open, 1);
}

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

static __always_inline void end_response(struct vs_sk *st)
{
	hist_add(&rsize, st->slot, st->resp_bytes);
	st->responding = 0;
	st->resp_bytes = 0;
}

/* A segment arrived on an established socket. Most sockets of the host
 * are not steered connections: they have no storage, and leave here. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(vsteer_req, struct sock *sk, const struct sk_buff *skb)
{
	struct vs_sk *st = bpf_sk_storage_get(&sks, sk, 0, 0);
	struct tcp_skb_cb cb;
	__u32 len;

	if (!st)
		return 0;
	if (bpf_probe_read_kernel(&cb, sizeof(cb), skb->cb))
		return 0;
	/* Payload length from the sequence numbers (a FIN takes one). */
	len = cb.end_seq - cb.seq - !!(cb.tcp_flags & 0x01);
	if (!len)
		return 0;	/* an ACK */
	if (st->responding)
		end_response(st);	/* the next request ends the last response */
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
	struct vs_ver_stats *vs;

	if (!st || ret <= 0)
		return 0;
	if (st->req_ns) {
		hist_add(&lat, st->slot, bpf_ktime_get_ns() - st->req_ns);
		st->req_ns = 0;
		st->responding = 1;
		vs = ver_stats(st->slot);
		if (vs)
			vs->requests++;
	}
	if (st->responding) {
		st->resp_bytes += ret;
		vs = ver_stats(st->slot);
		if (vs)
			vs->resp_bytes += ret;
	}
	return 0;
}

/* A reset from a backend's connection: an error of its version. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(vsteer_rst, const struct sock *sk, const struct sk_buff *skb)
{
	struct vs_ver_stats *vs;
	struct vs_sk *st;

	if (!sk)
		return 0;
	st = bpf_sk_storage_get(&sks, (struct sock *)sk, 0, 0);
	if (!st)
		return 0;
	vs = ver_stats(st->slot);
	if (vs)
		vs->resets++;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vsteer_track, struct sock *sk, int oldstate, int newstate)
{
	struct vs_conn_key ck = {};
	struct vs_sess_key sk_key = {};
	struct tcp_sock *tp;
	struct vs_sess *e;
	struct vs_conn *c;
	__s64 *vo;
	__u32 slot;

	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (sk->__sk_common.skc_net.net->ns.inum != netns_ino)
		return 0;
	/* Not skc_num: by the time the state becomes TCP_CLOSE the kernel
	 * has released the port (inet_put_port() zeroes inet_num), but
	 * inet_sport keeps it. */
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	ck.lport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	if (!port_in_use(ck.lport))
		return 0;
	ck.rport = sk->__sk_common.skc_dport;
	if (sk->__sk_common.skc_family == AF_INET6) {
		for (int i = 0; i < 4; i++) {
			ck.raddr[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
			ck.laddr[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
		}
	} else {
		ck.raddr[0] = sk->__sk_common.skc_daddr;
		ck.laddr[0] = sk->__sk_common.skc_rcv_saddr;
	}
	c = bpf_map_lookup_elem(&conns, &ck);
	if (!c)
		return 0;

	slot = c->slot;
	vo = bpf_map_lookup_elem(&vopen, &slot);
	sk_key.svc = c->svc;
	__builtin_memcpy(sk_key.addr, ck.raddr, sizeof(sk_key.addr));
	e = bpf_map_lookup_elem(&sess, &sk_key);

	if (newstate == TCP_ESTABLISHED) {
		struct vs_sk *st;

		/* Only the passive open of a connection we steered. */
		if (oldstate != TCP_SYN_RECV || c->established)
			return 0;
		c->established = 1;
		st = bpf_sk_storage_get(&sks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (st)
			st->slot = slot;
		if (vo)
			add_open64(vo, 1);
		if (e)
			add_open(&e->open, 1);
		return 0;
	}
	if (c->established) {
		struct vs_sk *st = bpf_sk_storage_get(&sks, sk, 0, 0);

		if (st && st->responding)
			end_response(st);
		if (vo)
			add_open64(vo, -1);
		if (e) {
			add_open(&e->open, -1);
			/* Idle time starts when the last connection closes. */
			e->last_ns = bpf_ktime_get_ns();
		}
	}
	bpf_map_delete_elem(&conns, &ck);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
