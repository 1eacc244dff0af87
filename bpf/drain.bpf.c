// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain, where the kernel has bpf_sock_destroy (Linux 6.5): a TCP
 * iterator run by the controller every tick while a version's drain
 * deadline has passed, which closes each of its connections that is idle
 * between requests (bpf/drain.h) on the spot. The iterator holds the
 * socket lock from the check to the close, so a request cannot slip in
 * between: a segment arriving then waits in the backlog, which the check
 * sees, or arrives after the close and gets a reset. Loaded only where
 * the kfunc exists: on an older kernel the whole object would be refused.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "drain.h"

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

SEC("iter/tcp")
int drain_close(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vs_drain_rec rec = {};

	if (!skc || drain_verdict(skc, &rec))
		return 0;
	/* tcp_abort(): sends the client a reset, moves the socket to
	 * TCP_CLOSE (the tracker counts it closed) and wakes the backend
	 * with ECONNABORTED. */
	if (rec.verdict == VS_IDLE)
		rec.err = bpf_sock_destroy(skc);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
