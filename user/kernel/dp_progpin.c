// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kernel/dp_progpin.h"

/* fd, if it is a program with id prog_id (its info in *pinfo); else
 * closed, and -errno. */
static int prog_with_id(int fd, __u32 prog_id, struct bpf_prog_info *pinfo)
{
	__u32 len = sizeof(*pinfo);
	int ret;

	if (fd < 0)
		return -errno;
	memset(pinfo, 0, sizeof(*pinfo));
	ret = bpf_obj_get_info_by_fd(fd, pinfo, &len) ? -errno : 0;
	if (!ret && pinfo->id == prog_id)
		return fd;
	close(fd);
	return ret ?: -ESTALE;
}

int dp_progpin_get(const char *path, __u32 prog_id, struct bpf_prog_info *pinfo)
{
	int fd = prog_with_id(bpf_obj_get(path), prog_id, pinfo);

	if (fd < 0)
		fd = prog_with_id(bpf_prog_get_fd_by_id(prog_id), prog_id, pinfo);
	return fd;
}

int dp_progpin_set(int prog_fd, const char *path)
{
	const char *slash = strrchr(path, '/');
	char tmp[PATH_MAX];
	int ret = 0;

	if (!slash || snprintf(tmp, sizeof(tmp), "%.*s/" DP_PROGPIN_TMP, (int)(slash - path),
			       path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(prog_fd, tmp) || rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
