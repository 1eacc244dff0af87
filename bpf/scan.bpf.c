// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend discovery. Two TCP socket iterators, run by the controller on
 * demand, never on the connection path:
 *   list_listeners  writes a struct vs_listener for each LISTEN socket of
 *                   the controller's network namespace;
 *   insert_picked   puts the sockets whose cookies the controller chose
 *                   into the sockmap at the chosen index.
 * The second is why this is BPF at all: a sockmap wants the socket itself,
 * and the backend process need not hand its fd to anyone. It needs kernel
 * types (struct bpf_iter__tcp, sock_common), hence vmlinux.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "maps.h"

#define AF_INET6   10
#define TCP_LISTEN 10
#define ENOMEM	   12
#define EINVAL	   22

/* cookie -> sockmap index; the iterator replaces the index with
 * VS_PICK_FAILED | -errno when the insert fails. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VS_PICK_MAX);
	__type(key, __u64);
	__type(value, __u32);
} picks SEC(".maps");

SEC("iter/tcp")
int list_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vs_listener rec = {};

	if (!skc || skc->skc_state != TCP_LISTEN)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

	if (tp) {
		struct sock *sk = &tp->inet_conn.icsk_inet.sk;

		rec.backlog = sk->sk_ack_backlog;
		/* Who may be steered to: the controller accepts a server's
		 * sockets only from the owner recorded for it. A socket keeps
		 * both for life, whoever holds it later. */
		rec.uid = sk->sk_uid.val;
		if (bpf_core_field_exists(sk->sk_cgrp_data))
			rec.cgroup = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	}
	rec.cookie = bpf_get_socket_cookie(skc);
	rec.family = skc->skc_family;
	rec.port = skc->skc_num;
	if (rec.family == AF_INET6) {
		rec.addr[0] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		rec.addr[1] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		rec.addr[2] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		rec.addr[3] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		rec.v6only = BPF_CORE_READ_BITFIELD(skc, skc_ipv6only);
	} else {
		rec.addr[0] = skc->skc_rcv_saddr;
	}
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* The listener's slot, for the tracker: the kernel copies this storage
 * into each connection the listener accepts (sks is BPF_F_CLONE). Done
 * before the socket enters the sockmap, and created with its value, so
 * that no steered connection is cloned from a half-written one. */
static __always_inline int mark_listener(struct sock_common *skc, __u32 slot)
{
	struct vs_sk init = { .slot = slot, .kind = VS_SK_LISTENER };
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	struct vs_sk *st;

	if (!tp)
		return -EINVAL;
	st = bpf_sk_storage_get(&sks, (struct sock *)tp, &init, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return -ENOMEM;
	/* An existing storage (the socket was in another slot before). */
	st->slot = slot;
	st->kind = VS_SK_LISTENER;
	return 0;
}

SEC("iter/tcp")
int insert_picked(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u32 *idx, key;
	__u64 cookie;
	long err;

	if (!skc || skc->skc_state != TCP_LISTEN)
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	idx = bpf_map_lookup_elem(&picks, &cookie);
	if (!idx || (*idx & VS_PICK_FAILED))
		return 0;
	key = *idx;
	err = mark_listener(skc, key / VS_MAX_SOCKS);
	if (!err)
		err = bpf_map_update_elem(&socks, &key, skc, BPF_ANY);
	if (err)
		*idx = VS_PICK_FAILED | (__u32)-err;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
