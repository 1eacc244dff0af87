// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "lib/str.h"
#include "kernel/dp_cgroup.h"
#include "kernel/dp_internal.h"

int dp_cgroup_mount(char *out, size_t size)
{
	char line[4096], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		/* id parent major:minor root mountpoint options... - fstype */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		ret = str_copy(out, size, mnt);
	}
	fclose(f);
	return ret;
}

/* nftw() takes no argument for its callback: one walk at a time (the
 * controller's lock is held). */
static __u64 walk_id;
static char walk_path[PATH_MAX];

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D || st->st_ino != walk_id)
		return 0;
	snprintf(walk_path, sizeof(walk_path), "%s", path);
	return 1;
}

static void remember(struct dataplane *dp, __u64 id, const char *path)
{
	struct dp_cgroup *e = &dp->cgroups[dp->cgroup_next++ % DP_CGROUP_CACHE];

	e->id = id;
	snprintf(e->path, sizeof(e->path), "%s", path);
}

int dp_cgroup_path(struct dataplane *dp, __u64 id, char *buf, size_t size)
{
	size_t n;

	for (size_t i = 0; i < DP_CGROUP_CACHE; i++)
		if (dp->cgroups[i].id == id && id)
			return str_copy(buf, size, dp->cgroups[i].path);
	if (!dp->cgroup_mnt[0] && dp_cgroup_mount(dp->cgroup_mnt, sizeof(dp->cgroup_mnt)))
		return -ENOENT;
	/* cgroup v2 ids are the kernfs inode numbers of their directories. */
	walk_id = id;
	walk_path[0] = '\0';
	if (nftw(dp->cgroup_mnt, walk_one, 16, FTW_PHYS | FTW_MOUNT) <= 0 || !walk_path[0])
		return -ENOENT;
	n = strlen(dp->cgroup_mnt);
	if (!strcmp(dp->cgroup_mnt, "/"))
		n = 0;
	if (walk_path[n] == '\0')
		remember(dp, id, "/");
	else
		remember(dp, id, walk_path + n);
	return str_copy(buf, size, dp->cgroups[(dp->cgroup_next - 1) % DP_CGROUP_CACHE].path);
}
