/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF side as the controller sees it: load or adopt the pinned maps
 * and sk_lookup link, and the handful of map operations the rest needs.
 *
 * Pin directory layout (one per network namespace and vsteerd):
 *   svcs socks ports vstats sstats   the maps, pinned by name
 *   sess vopen lat rsize sks
 *   link                             the sk_lookup link; while it is
 *                                    pinned, steering runs without vsteerd
 *   track                            the tracepoint link that counts
 *                                    open connections and ends sessions
 */
#ifndef VS_DATAPLANE_H
#define VS_DATAPLANE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "vsteer.h"
#include "vsteer_hist.h"
#include "util.h"

#define VS_DEFAULT_PIN_DIR "/sys/fs/bpf/vsteer"

struct steer_bpf;
struct scan_bpf;
struct track_bpf;
struct http_bpf;
struct bpf_link;

/* Where responses are measured: not at all (--no-watch), at the
 * backend's send() (tp_btf/sock_send_length, Linux 6.3+), or as they
 * leave by an interface (the TC egress program, for older kernels). */
enum dp_meter { DP_METER_OFF, DP_METER_SEND, DP_METER_TC };

struct dataplane {
	struct steer_bpf *steer;
	struct scan_bpf *scan;
	struct track_bpf *track;
	struct http_bpf *http;
	struct bpf_link *list_iter;
	struct bpf_link *insert_iter;
	int link_fd;
	int lock_fd;		/* flock on the pin directory: one writer */
	bool adopted;		/* the pin directory existed already */
	bool watch;		/* measure requests (latency, size, status) */
	enum dp_meter meter;
	unsigned int http_if[256];	/* interfaces the TC program was tried on */
	size_t nhttp_if;
	char pin_dir[PATH_MAX];
};

void dp_route_libbpf_log(void);
/* Adopt what is pinned under pin_dir, or build it in a temporary
 * directory and rename that into place. The program in an adopted link
 * is replaced atomically, so steering never stops. */
int dp_open(struct dataplane *dp, const char *pin_dir, __u32 sess_entries,
	    enum dp_meter meter, struct vs_err *err);
/* Closes fds; everything pinned stays and keeps steering. */
void dp_close(struct dataplane *dp);
/* Remove everything vsteerd pinned under pin_dir. */
int dp_cleanup(const char *pin_dir, struct vs_err *err);

int dp_set_svc(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v);
int dp_get_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v);
int dp_del_svc(struct dataplane *dp, const struct vs_svc_key *k);
/* The key after k (NULL: the first); -ENOENT at the end. */
int dp_next_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc_key *next);
int dp_set_ports(struct dataplane *dp, const struct vs_ports *p);

/* 0 and the socket's cookie, or -ENOENT for an empty slot. */
int dp_sock_cookie(struct dataplane *dp, __u32 idx, __u64 *cookie);
int dp_sock_del(struct dataplane *dp, __u32 idx);

int dp_ver_stats(struct dataplane *dp, __u32 slot, struct vs_ver_stats *sum);
int dp_svc_stats(struct dataplane *dp, __u32 id, struct vs_svc_stats *sum);
/* A slot about to hold a new version: its counters, histograms, open
 * connection count and session entries go. */
int dp_reset_slot(struct dataplane *dp, __u32 slot);
/* A version slot's latency (ns) or response size (bytes) histogram,
 * summed over CPUs. */
int dp_hist(struct dataplane *dp, bool size, __u32 slot, __u64 out[VS_HBUCKETS]);
/* Established connections steered to a version slot and not yet closed. */
int dp_open_conns(struct dataplane *dp, __u32 slot, __s64 *n);
/* Put the TC egress program on interfaces that appeared since the last
 * call (a container's veth, a bridge). */
void dp_watch_interfaces(struct dataplane *dp);
/* Whether the request meters run (not --no-watch, and the kernel has them). */
bool dp_watching(const struct dataplane *dp);

/* Every LISTEN TCP socket of this network namespace; *out is malloc'ed. */
int dp_list_listeners(struct dataplane *dp, struct vs_listener **out, size_t *n);
/* Put the sockets with these cookies at these sockmap indexes. Returns
 * how many went in; err_out[i] is 0 or the -errno of that insert. */
int dp_insert(struct dataplane *dp, const __u64 *cookies, const __u32 *idx,
	      int *err_out, size_t n);

#endif
