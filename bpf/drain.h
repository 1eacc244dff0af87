/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the two drain iterators share: for each connection of a version
 * being drained, the verdict (include/vsteer_idle.h) on what its socket
 * and storage say, read while the TCP iterator holds the socket lock, and
 * a record of it for the controller. drain.bpf.c closes an idle one there
 * and then, still under the lock (bpf_sock_destroy, Linux 6.5);
 * drain_list.bpf.c only reports it, for the controller to close with
 * netlink's SOCK_DESTROY (older kernels).
 */
#ifndef VS_BPF_DRAIN_H
#define VS_BPF_DRAIN_H

#include "maps.h"
#include "vsteer_idle.h"

#define AF_INET6 10

/* Set by the controller before each pass: the slots being drained. */
__u8 drain_slot[VS_MAX_SLOTS];

/* 0 and the record of a connection of a slot being drained, or -1 for any
 * other socket. The lock the iterator holds keeps the segments that
 * arrive meanwhile in the backlog, unprocessed: `queued` sees them. */
static __always_inline int drain_verdict(struct sock_common *skc, struct vs_drain_rec *rec)
{
	struct vs_conn_state c = {};
	struct tcp_sock *tp;
	struct vs_sk *st;
	struct sock *sk;

	if (!skc)
		return -1;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return -1; /* time-wait and request sockets */
	sk = (struct sock *)tp;
	st = bpf_sk_storage_get(&sks, sk, 0, 0);
	if (!st || st->kind != VS_SK_CONN || st->slot >= VS_MAX_SLOTS || !drain_slot[st->slot])
		return -1;
	c.req_ns = st->req_ns;
	c.last_us = tp->tcp_mstamp;
	c.now_us = bpf_ktime_get_ns() / 1000;
	c.rcv_nxt = tp->rcv_nxt;
	c.copied_seq = tp->copied_seq;
	c.write_seq = tp->write_seq;
	c.snd_una = tp->snd_una;
	c.state = skc->skc_state;
	c.queued = sk->sk_backlog.tail || tp->out_of_order_queue.rb_node;

	rec->verdict = vs_conn_idle(&c);
	rec->slot = st->slot;
	rec->cookie = bpf_get_socket_cookie(skc);
	rec->family = skc->skc_family;
	rec->lport = skc->skc_num;
	rec->rport = bpf_ntohs(skc->skc_dport);
	if (rec->family == AF_INET6) {
		for (int i = 0; i < 4; i++) {
			rec->local[i] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			rec->remote[i] = skc->skc_v6_daddr.in6_u.u6_addr32[i];
		}
	} else {
		rec->local[0] = skc->skc_rcv_saddr;
		rec->remote[0] = skc->skc_daddr;
	}
	return 0;
}

#endif /* VS_BPF_DRAIN_H */
