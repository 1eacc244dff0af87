// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain on kernels without bpf_sock_destroy (before 6.5): the same
 * verdict as drain.bpf.c, but the iterator only reports the idle
 * connections and the controller closes each with netlink's SOCK_DESTROY
 * (CONFIG_INET_DIAG_DESTROY), naming it by its addresses and cookie. The
 * socket lock is released between the two, so a request that arrives in
 * that gap (microseconds) is reset with the connection.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "drain.h"

SEC("iter/tcp")
int drain_list(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vs_drain_rec rec = {};

	if (!skc || drain_verdict(skc, &rec))
		return 0;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
