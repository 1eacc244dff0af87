/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A socket's cgroup as a path: the iterator reports the cgroup v2 id of
 * the socket's creator; owners (core/owner.h) name cgroups by path, which
 * stays the same when a service restarts in a new cgroup of the same
 * name. */
#ifndef VS_DP_CGROUP_H
#define VS_DP_CGROUP_H

#include <stddef.h>
#include "vsteer.h"

struct dataplane;

/* The path of cgroup id under vsteerd's cgroup2 mount ("/" for its root);
 * -ENOENT if there is no such cgroup (or no cgroup2 mount), -ENAMETOOLONG
 * if it does not fit. Walks the mount for an id it has not seen. */
int dp_cgroup_path(struct dataplane *dp, __u64 id, char *buf, size_t size);
/* Where the cgroup2 file system is mounted: /sys/fs/cgroup on most hosts,
 * /sys/fs/cgroup/unified on hybrid ones; -ENOENT if nowhere. */
int dp_cgroup_mount(char *out, size_t size);

#endif
