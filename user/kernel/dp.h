/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data plane as the controller sees it: load the BPF objects, adopt
 * or create the pinned maps and links, and take them down. The map
 * accessors are in dp_maps.h, the socket iterators in dp_iter.h, the TC
 * meter in dp_tc.h. The handle is opaque outside kernel/.
 *
 * Pin directory layout (one per network namespace and vsteerd):
 *   svcs socks ports vstats sstats   the maps, pinned by name
 *   sessions vopen lat rsize sks
 *   sopts squota sguard
 *   smirror mstats mcap              mirroring (dp_mirror.h)
 *   link                             the sk_lookup link; while it is
 *                                    pinned, steering runs without vsteerd
 *   track                            the tracepoint link that counts open
 *                                    connections and ends sessions
 *   req resp rst                     the request meters' links
 */
#ifndef VS_DP_H
#define VS_DP_H

#include <stdbool.h>
#include "vsteer.h"
#include "lib/err.h"

#define VS_DEFAULT_PIN_DIR "/sys/fs/bpf/vsteer"

struct dataplane;

/* Where responses are metered: not at all (--no-watch), at the backend's
 * send() (tp_btf/sock_send_length, Linux 6.3+), or as they leave by an
 * interface (the TC egress program, for older kernels). */
enum dp_meter { DP_METER_OFF, DP_METER_SEND, DP_METER_TC };

/* How a drain closes a version's idle connections (dp_iter.h): in its TCP
 * iterator, under the socket lock (bpf_sock_destroy, Linux 6.5), from
 * vsteerd with netlink's SOCK_DESTROY (older kernels built with
 * CONFIG_INET_DIAG_DESTROY), or not at all. */
enum dp_drain { DP_DRAIN_NONE, DP_DRAIN_ITER, DP_DRAIN_NETLINK };

/* libbpf's messages go to the log (lib/log.h). */
void dp_route_libbpf_log(void);

/* Load the BPF objects with the maps pinned under pin_dir, or with new
 * maps pinned in a temporary directory; the socket iterators (dp_iter.h)
 * and the maps (dp_maps.h) work from here on. Nothing the kernel runs has
 * changed yet, so a start refused now leaves steering as it was: this
 * refuses one when another vsteerd steers this network namespace (its pin
 * directory named), the controller when a service address is taken. A
 * map whose pin was missing is pinned (and unpinned by dp_close() before
 * dp_commit()). */
int dp_open(struct dataplane **out, const char *pin_dir, __u32 sess_entries, enum dp_meter meter,
	    struct vs_err *err);
/* Attach the tracers and the sk_lookup link, or take over the pinned ones
 * (the program in an adopted link is replaced atomically, so steering
 * never stops), and rename a new pin directory into place. Until
 * dp_commit(), dp_close() undoes it. */
int dp_attach(struct dataplane *dp, struct vs_err *err);
/* The start is done (the state file says what the maps do): from here
 * dp_close() leaves everything pinned. Takes down the meters this start
 * does not run and puts the TC meter on the interfaces; cannot fail. */
void dp_commit(struct dataplane *dp);
/* Closes fds and frees dp. After dp_commit() everything pinned stays and
 * keeps steering. Before it, a failed start is undone: a pin directory it
 * made goes whole; in one it adopted, the link gets its program back and
 * the pins it added go (a tracer of another build it replaced stays
 * replaced: a tracing link cannot be given its old program). */
void dp_close(struct dataplane *dp);
/* Remove everything vsteerd pinned under pin_dir. */
int dp_cleanup(const char *pin_dir, struct vs_err *err);

/* Enter network namespace nsfd on this thread only (the API's threads
 * never see it); *own is the way back, for dp_netns_leave(). */
int dp_netns_enter(int nsfd, int *own);
void dp_netns_leave(int own);

/* The pin directory existed already. */
bool dp_adopted(const struct dataplane *dp);
/* Whether the request meters run (not --no-watch, and the kernel has them). */
bool dp_metering(const struct dataplane *dp);
#endif
