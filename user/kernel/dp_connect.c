// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_cgroup.h"
#include "kernel/dp_connect.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_pins.h"
#include "connect.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

const char *const dp_connect_pins[DP_CONNECT_LINKS] = { "connect4", "connect6", "peer4", "peer6" };

static void connect_progs(struct dataplane *dp, struct bpf_program *p[DP_CONNECT_LINKS])
{
	p[0] = dp->connect->progs.vsteer_connect4;
	p[1] = dp->connect->progs.vsteer_connect6;
	p[2] = dp->connect->progs.vsteer_peer4;
	p[3] = dp->connect->progs.vsteer_peer6;
}

/* This namespace's cookie, as bpf_get_netns_cookie() gives it. */
static int netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Loaded only when needed: its verification takes most of a second,
 * which a host without containers should not pay at every start. */
static int connect_load(struct dataplane *dp, struct vs_err *err)
{
	__u64 cookie = 0;
	int ret;

	ret = netns_cookie(&cookie);
	if (ret)
		return vs_errf(err, ret, 500, "netns",
			       "cannot read this network namespace's cookie (Linux 5.14+): %s",
			       strerror(-ret));
	dp->connect = connect_bpf__open();
	ret = libbpf_get_error(dp->connect);
	if (ret) {
		dp->connect = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open connect object: %s",
			       strerror(-ret));
	}
	dp->connect->rodata->netns_cookie = cookie;
	dp->connect->rodata->sess_sets = dp_sess_sets(dp);
	ret = dp_share_maps(dp, dp->connect->obj);
	if (!ret)
		ret = connect_bpf__load(dp->connect);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the connect hook: %s",
			       strerror(-ret));
	return 0;
}

/* A pinned link must be a cgroup link running our program of that name
 * (by name: a tag changes with every build). */
static int adopt_one(struct bpf_program *prog, const char *path, int *fd, struct vs_err *err)
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(info);
	int lfd, pfd, ret;

	lfd = bpf_obj_get(path);
	if (lfd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = bpf_obj_get_info_by_fd(lfd, &info, &len);
	if (!ret && info.type != BPF_LINK_TYPE_CGROUP)
		ret = -EINVAL;
	pfd = ret ? -1 : bpf_prog_get_fd_by_id(info.prog_id);
	len = sizeof(pinfo);
	if (!ret && pfd < 0 && errno == EPERM) {
		/* Reading the program needs CAP_SYS_ADMIN: without it, a cgroup
		 * link of the right hook in our own locked pin directory is
		 * taken to be ours. */
		if (info.cgroup.attach_type != bpf_program__expected_attach_type(prog))
			ret = -EINVAL;
	} else if (!ret && (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &pinfo, &len))) {
		ret = -errno;
	} else if (!ret && strcmp(pinfo.name, bpf_program__name(prog))) {
		ret = -EINVAL;
	}
	if (pfd >= 0)
		close(pfd);
	if (!ret)
		ret = bpf_link_update(lfd, bpf_program__fd(prog), NULL);
	if (ret) {
		close(lfd);
		return vs_errf(err, ret, 500, "pin_dir",
			       "%s is not vsteer's connect hook, or cannot be updated: %s", path,
			       strerror(-ret));
	}
	*fd = lfd;
	return 0;
}

int dp_connect_adopt(struct dataplane *dp, struct vs_err *err)
{
	struct bpf_program *p[DP_CONNECT_LINKS];
	char path[PATH_MAX + 16];
	bool any = false;
	int ret = 0;

	for (size_t i = 0; i < DP_CONNECT_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, dp_connect_pins[i]);
		any |= access(path, F_OK) == 0;
	}
	if (!any)
		return 0;
	ret = connect_load(dp, err);
	if (ret)
		return ret;
	connect_progs(dp, p);
	for (size_t i = 0; !ret && i < DP_CONNECT_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, dp_connect_pins[i]);
		ret = adopt_one(p[i], path, &dp->connect_fd[i], err);
	}
	return ret;
}

bool dp_connect_attached(const struct dataplane *dp)
{
	for (size_t i = 0; i < DP_CONNECT_LINKS; i++)
		if (dp->connect_fd[i] < 0)
			return false;
	return true;
}

int dp_connect_attach(struct dataplane *dp, struct vs_err *err)
{
	struct bpf_program *p[DP_CONNECT_LINKS];
	char path[PATH_MAX + 16];
	struct bpf_link *link;
	int cg, ret = 0;

	if (dp_connect_attached(dp))
		return 0;
	if (!dp->connect && (ret = connect_load(dp, err)))
		return ret;
	if (!dp->cgroup_mnt[0] && dp_cgroup_mount(dp->cgroup_mnt, sizeof(dp->cgroup_mnt)))
		return vs_errf(err, -ENOENT, 500, "cgroup",
			       "steering by address needs the cgroup v2 file system mounted");
	cg = open(dp->cgroup_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return vs_errf(err, -errno, 500, "cgroup", "cannot open %s: %s", dp->cgroup_mnt,
			       strerror(errno));
	connect_progs(dp, p);
	for (size_t i = 0; !ret && i < DP_CONNECT_LINKS; i++) {
		if (dp->connect_fd[i] >= 0)
			continue;
		link = bpf_program__attach_cgroup(p[i], cg);
		ret = libbpf_get_error(link);
		if (ret) {
			vs_errf(err, ret, 500, "bpf", "cannot attach %s at %s: %s",
				bpf_program__section_name(p[i]), dp->cgroup_mnt, strerror(-ret));
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, dp_connect_pins[i]);
		ret = bpf_link__pin(link, path);
		if (!ret && (dp->connect_fd[i] = dup(bpf_link__fd(link))) < 0)
			ret = -errno;
		bpf_link__destroy(link); /* the pin and connect_fd keep it */
		if (ret)
			vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	}
	close(cg);
	if (!ret)
		ret = dp_pins_record(dp, err);
	if (!ret)
		pr_info("steering local clients by address: connect hook on cgroup %s\n",
			dp->cgroup_mnt);
	return ret;
}

void dp_connect_close(struct dataplane *dp)
{
	for (size_t i = 0; i < DP_CONNECT_LINKS; i++) {
		if (dp->connect_fd[i] >= 0)
			close(dp->connect_fd[i]);
		dp->connect_fd[i] = -1;
	}
	connect_bpf__destroy(dp->connect);
	dp->connect = NULL;
}
