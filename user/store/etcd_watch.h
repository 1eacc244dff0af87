/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A watch on an etcd cluster (store/etcd_client's member, token and TLS):
 * the stream of changes under a key, as the JSON gateway sends it (one
 * message a line). */
#ifndef VS_ETCD_WATCH_H
#define VS_ETCD_WATCH_H

#include <stdatomic.h>
#include "store/etcd_client.h"

/* Called for each message; non-zero stops the watch (and is returned). */
typedef int (*etcd_watch_fn)(const struct etcd_watch_msg *m, void *arg);

/* Watch key (or every key under it) from revision start_rev (0: from
 * now), calling fn for each message, until fn returns non-zero (returned
 * as is), *stop is set (0, within a second), etcd cancels it (-ECANCELED
 * after fn saw the message: compact_rev > 0 says to read afresh), or the
 * stream ends or fails (-EAGAIN: watch again from the last revision seen
 * + 1, from the next member). Blocks: for a thread of its own. A member
 * that loses its leader ends the watch (the gateway's hasleader
 * metadata); one that dies without closing is found by TCP keepalives,
 * within about a minute. */
int etcd_watch(struct etcd_client *c, const char *key, bool prefix, int64_t start_rev,
	       etcd_watch_fn fn, void *arg, const atomic_bool *stop, struct vs_err *err);

#endif
