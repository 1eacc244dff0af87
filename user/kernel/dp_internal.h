/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The data plane handle, and what dp.c offers the other files of kernel/
 * only. */
#ifndef VS_DP_INTERNAL_H
#define VS_DP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/owner.h"
#include "kernel/dp.h"

struct steer_bpf;
struct scan_bpf;
struct track_bpf;
struct http_bpf;
struct bpf_link;
struct bpf_object;

#define DP_MAX_TC_IF	256 /* interfaces the TC meter is tried on */
#define DP_CGROUP_CACHE 64  /* cgroup ids whose paths dp_cgroup_path() keeps */

struct dp_cgroup {
	__u64 id;
	char path[OWNER_CGROUP_LEN];
};

struct dataplane {
	struct steer_bpf *steer; /* the data plane; owns the pinned maps */
	struct scan_bpf *scan;	 /* socket iterators (dp_iter.c) */
	struct track_bpf *track; /* connection tracker and request meters */
	struct http_bpf *tc;	 /* the TC meter (dp_tc.c) */
	struct bpf_link *list_iter;
	struct bpf_link *insert_iter;
	int link_fd;
	int lock_fd;  /* flock on the pin directory: one writer */
	bool adopted; /* the pin directory existed already */
	enum dp_meter meter;
	unsigned int tc_if[DP_MAX_TC_IF]; /* interfaces the TC meter was tried on */
	size_t ntc_if;
	char pin_dir[PATH_MAX];
	char cgroup_mnt[PATH_MAX]; /* the cgroup2 mount, once found */
	struct dp_cgroup cgroups[DP_CGROUP_CACHE];
	unsigned int cgroup_next;
};

/* libbpf's warnings dropped (quiet) around calls whose failure vsteerd
 * expects and handles itself. */
void dp_quiet_libbpf(bool quiet);
/* A second BPF object declaring the same maps (bpf/maps.h) is handed
 * steer's, so there is one set, pinned once. */
int dp_share_maps(struct dataplane *dp, struct bpf_object *obj);

#endif
