/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The socket iterators (bpf/scan.bpf.c): every listening TCP socket of
 * this network namespace, and putting chosen ones into the sockmap (a
 * sockmap insert of a socket by cookie needs the socket itself, which
 * only an iterator over sockets has). */
#ifndef VS_DP_ITER_H
#define VS_DP_ITER_H

#include <stddef.h>
#include "vsteer.h"
#include "lib/err.h"
#include "kernel/dp.h"

struct dataplane;

int dp_iter_load(struct dataplane *dp, struct vs_err *err);
/* Every LISTEN TCP socket of this network namespace; *out is malloc'ed. */
int dp_list_listeners(struct dataplane *dp, struct vs_listener **out, size_t *n);
/* Put the sockets with these cookies at these sockmap indexes (at most
 * VS_PICK_MAX). Returns how many went in; err_out[i] is 0 or the -errno
 * of that insert (-ENOENT: the socket closed meanwhile). */
int dp_insert(struct dataplane *dp, const __u64 *cookies, const __u32 *idx, int *err_out, size_t n);
/* The same in the network namespace nsfd (-1: this one): a container's,
 * whose listening sockets hold a version steered by address. */
int dp_list_listeners_in(struct dataplane *dp, int nsfd, struct vs_listener **out, size_t *n);
int dp_insert_in(struct dataplane *dp, int nsfd, const __u64 *cookies, const __u32 *idx,
		 int *err_out, size_t n);

/* Load the drain's iterator for `how` (DP_DRAIN_NONE: nothing). */
int dp_drain_load(struct dataplane *dp, enum dp_drain how, struct vs_err *err);
enum dp_drain dp_drain_how(const struct dataplane *dp);
/* One pass over this network namespace's TCP sockets: a record for each
 * connection steered to a slot set in slots[] (*out, malloc'ed; NULL when
 * *n is 0), with its verdict (include/vsteer_idle.h). The idle ones are
 * closed; each one's err says how that went. -EOPNOTSUPP with
 * DP_DRAIN_NONE. */
int dp_drain_run(struct dataplane *dp, const __u8 slots[VS_MAX_SLOTS], struct vs_drain_rec **out,
		 size_t *n);
/* The same in network namespace nsfd (-1: this one): a server's, where a
 * version steered by address has its connections. */
int dp_drain_run_in(struct dataplane *dp, int nsfd, const __u8 slots[VS_MAX_SLOTS],
		    struct vs_drain_rec **out, size_t *n);

#endif
