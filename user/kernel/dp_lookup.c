// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The sk_lookup link: attached and pinned with its program, or adopted
 * from an earlier vsteerd's pins. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_lookup.h"
#include "kernel/dp_progpin.h"
#include "steer.skel.h"

int dp_lookup_adopt(struct dataplane *dp, const char *dir, struct vs_err *err)
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX + 8], ppath[PATH_MAX + 8];
	int fd, pfd, ret;
	__u64 ino = 0;

	snprintf(path, sizeof(path), "%s/link", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot open pinned link %s: %s", path,
			       strerror(errno));
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (ret || (ret = dp_netns_ino(&ino)))
		goto close_link;
	if (info.type != BPF_LINK_TYPE_NETNS || info.netns.attach_type != BPF_SK_LOOKUP) {
		ret = vs_errf(err, -EINVAL, 500, "pin_dir",
			      "%s is not an sk_lookup link; refusing to touch it", path);
		goto close_link;
	}
	if (info.netns.netns_ino != ino) {
		ret = vs_errf(
			err, -EXDEV, 500, "pin_dir",
			"%s steers another network namespace (netns inode %llu, ours %llu); use a pin directory per namespace",
			path, (unsigned long long)info.netns.netns_ino, (unsigned long long)ino);
		goto close_link;
	}
	snprintf(ppath, sizeof(ppath), "%s/" DP_LOOKUP_PIN, dir);
	pfd = dp_progpin_get(ppath, info.prog_id, &pinfo);
	if (pfd < 0) {
		ret = vs_errf(
			err, pfd, 500, "pin_dir",
			"cannot inspect the program of %s: %s; refusing to replace it%s", path,
			strerror(-pfd),
			pfd == -EPERM ?
				" (no program pinned as " DP_LOOKUP_PIN
				" beside it, as earlier vsteerds made them, and reading it by id needs CAP_SYS_ADMIN: start vsteerd once with it, and it pins one)" :
				"");
		goto close_link;
	}
	if (strcmp(pinfo.name, "vsteer_lookup")) {
		ret = vs_errf(err, -EINVAL, 500, "pin_dir",
			      "%s runs program '%s', not vsteer's; refusing to replace it", path,
			      pinfo.name);
		goto close_prog;
	}
	ret = bpf_link_update(fd, bpf_program__fd(dp->steer->progs.vsteer_lookup), NULL);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "cannot update link %s: %s", path, strerror(-ret));
		goto close_prog;
	}
	dp->link_fd = fd;
	/* Held until dp_commit(): a start that fails later puts it back. */
	dp->old_prog_fd = pfd;
	return 0;

close_prog:
	close(pfd);
close_link:
	if (!err->msg[0])
		vs_errf(err, ret, 500, "bpf", "cannot inspect link %s: %s", path, strerror(-ret));
	close(fd);
	return ret;
}

int dp_lookup_attach(struct dataplane *dp, const char *dir, struct vs_err *err)
{
	struct bpf_link *link;
	char path[PATH_MAX];
	int nsfd, ret;

	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return vs_errf(err, -errno, 500, "netns", "cannot open /proc/self/ns/net: %s",
			       strerror(errno));
	link = bpf_program__attach_netns(dp->steer->progs.vsteer_lookup, nsfd);
	close(nsfd);
	ret = libbpf_get_error(link);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot attach sk_lookup: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/link", dir);
	ret = bpf_link__pin(link, path);
	if (ret) {
		bpf_link__destroy(link);
		return vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	}
	dp->link_fd = dup(bpf_link__fd(link));
	bpf_link__destroy(link); /* the pin keeps it */
	snprintf(path, sizeof(path), "%s/" DP_LOOKUP_PIN, dir);
	ret = dp_progpin_set(bpf_program__fd(dp->steer->progs.vsteer_lookup), path);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	return 0;
}

void dp_lookup_repin(struct dataplane *dp)
{
	char path[PATH_MAX + 8];
	int ret;

	snprintf(path, sizeof(path), "%s/" DP_LOOKUP_PIN, dp->pin_dir);
	ret = dp_progpin_set(bpf_program__fd(dp->steer->progs.vsteer_lookup), path);
	if (ret)
		pr_warn("cannot pin the steering program as %s: %s; a restart will need CAP_SYS_ADMIN to adopt the link\n",
			path, strerror(-ret));
}
