// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_tc.h"
#include "http.skel.h"
#include "steer.skel.h"

#define VS_TC_PRIO 0x5653 /* the meter's; dp_nat.h has the packet steering's */

/* On the egress of every interface: responses to local clients leave by
 * lo, to remote ones by a NIC, to containers by a bridge or veth that may
 * come later, hence dp_tc_attach_new() on every full scan. Only devices
 * with an Ethernet header (and lo): the program finds the IP header 14
 * bytes in, which is wrong on tun, wireguard or ipip devices. */
bool dp_tc_has_ether(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ok = !ioctl(fd, SIOCGIFHWADDR, &ifr) && (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER ||
						 ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK);
	close(fd);
	return ok;
}

/* Whether ifindex is among the n interfaces in seen[]. */
static bool seen_before(const unsigned int *seen, size_t n, unsigned int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i] == ifindex)
			return true;
	return false;
}

/* An interface that is gone (a stopped container's veth) is forgotten:
 * indexes are not given again soon, and a list full of dead ones would
 * keep every new interface (the next container's veth) without its
 * programs for good. */
static void forget_gone(unsigned int *seen, size_t *n, const struct if_nameindex *ifs)
{
	const struct if_nameindex *i;
	size_t kept = 0;

	if (!ifs)
		return;
	for (size_t k = 0; k < *n; k++) {
		for (i = ifs; i->if_index && i->if_index != seen[k]; i++)
			;
		if (i->if_index)
			seen[kept++] = seen[k];
	}
	*n = kept;
}

/* In another namespace (a server's) every interface is new. */
static void attach_new(struct dataplane *dp, bool all)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int ret;

	if (!all)
		forget_gone(dp->tc_if, &dp->ntc_if, ifs);
	for (i = ifs; i && i->if_index; i++) {
		if (!all && (seen_before(dp->tc_if, dp->ntc_if, i->if_index) ||
			     dp->ntc_if == ARRAY_SIZE(dp->tc_if)))
			continue;
		/* Remembered either way: not retried, nor warned about, each scan. */
		if (!all)
			dp->tc_if[dp->ntc_if++] = i->if_index;
		if (!dp_tc_has_ether(i->if_name)) {
			pr_debug("%s has no Ethernet header: responses leaving by it are not read\n",
				 i->if_name);
			continue;
		}
		ret = dp_tc_put(i->if_index, BPF_TC_EGRESS, VS_TC_PRIO,
				bpf_program__fd(dp->tc->progs.vsteer_http));
		if (ret)
			pr_warn("responses leaving by %s are not read: %s\n", i->if_name,
				strerror(-ret));
		else
			pr_debug("TC egress program on %s\n", i->if_name);
	}
	if_freenameindex(ifs);
}

int dp_tc_put(unsigned int ifindex, enum bpf_tc_attach_point point, __u32 prio, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = prio,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = prog_fd);
	int ret;

	/* Probe by attaching: on a restart the clsact qdisc exists, and
	 * creating it again fails with EEXIST, which libbpf would log as a
	 * warning ("Exclusivity flag on") every time. */
	dp_quiet_libbpf(true);
	ret = bpf_tc_attach(&hook, &opts);
	dp_quiet_libbpf(false);
	if (!ret)
		return 0;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

int dp_tc_del(unsigned int ifindex, enum bpf_tc_attach_point point, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = prio);
	int ret;

	dp_quiet_libbpf(true);
	ret = bpf_tc_detach(&hook, &opts);
	dp_quiet_libbpf(false);
	/* No filter there, or no clsact qdisc at all. */
	return ret == -ENOENT || ret == -EINVAL ? 0 : ret;
}

void dp_tc_attach_new(struct dataplane *dp)
{
	if (dp->tc && dp->tc_on == 1)
		attach_new(dp, false);
}

void dp_tc_attach_netns(struct dataplane *dp, int nsfd, __u64 ino)
{
	int own;

	if (!dp->tc || !(dp->tc_want || dp->tc_on == 1))
		return;
	for (size_t i = 0; i < dp->ntc_ns && i < DP_MAX_TC_NS; i++)
		if (dp->tc_ns[i] == ino)
			return;
	/* A ring: containers restart in new namespaces, the old ones die. */
	dp->tc_ns[dp->ntc_ns++ % DP_MAX_TC_NS] = ino;
	if (dp_netns_enter(nsfd, &own))
		return;
	attach_new(dp, true);
	dp_netns_leave(own);
}

int dp_tc_load(struct dataplane *dp, struct vs_err *err)
{
	int ret;

	if (dp->meter == DP_METER_OFF)
		return 0;
	dp->tc = http_bpf__open();
	ret = libbpf_get_error(dp->tc);
	if (ret) {
		dp->tc = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open the TC meter: %s",
			       strerror(-ret));
	}
	dp->tc->rodata->meter_resp = dp->meter == DP_METER_TC;
	dp->tc_want = dp->meter == DP_METER_TC; /* until told (dp_tc_want()) */
	ret = dp_share_maps(dp, dp->tc->obj);
	if (!ret)
		ret = http_bpf__load(dp->tc);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the TC meter: %s",
			       strerror(-ret));
	return 0;
}

void dp_tc_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	/* Most interfaces have no clsact at all: not worth a warning. */
	dp_quiet_libbpf(true);
	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, egress, .ifindex = i->if_index,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_hook, ingress, .ifindex = i->if_index,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, meter, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO);
		LIBBPF_OPTS(bpf_tc_opts, nat_out, .handle = VS_TC_HANDLE, .priority = DP_NAT_PRIO);
		LIBBPF_OPTS(bpf_tc_opts, nat_in, .handle = VS_TC_HANDLE, .priority = DP_NAT_PRIO);

		bpf_tc_detach(&egress, &meter);
		/* The packet steering's pair (dp_nat.h). */
		bpf_tc_detach(&egress, &nat_out);
		bpf_tc_detach(&ingress, &nat_in);
	}
	dp_quiet_libbpf(false);
	if_freenameindex(ifs);
}

/* Whether the program at our handle and priority on ifindex's egress
 * counts into map map_id: ours, not another vsteerd's. */
static bool ours_on(unsigned int ifindex, __u32 map_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[16], n;
	int fd;

	if (bpf_tc_query(&hook, &opts))
		return false;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return false;
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	n = bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.nr_map_ids;
	close(fd);
	for (__u32 i = 0; i < n && i < ARRAY_SIZE(ids); i++)
		if (ids[i] == map_id)
			return true;
	return false;
}

static void detach_ours(__u32 map_id, const char *ns)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO);

		if (ours_on(i->if_index, map_id) && !bpf_tc_detach(&hook, &opts))
			pr_info("removed the TC meter from %s in %s\n", i->if_name, ns);
	}
	if_freenameindex(ifs);
}

struct ns_walk {
	__u32 map_id;
	__u64 own;
	__u64 seen[4 * DP_MAX_TC_NS];
	size_t nseen;
};

/* Each namespace once, by inode, but ours. */
static void detach_in(struct ns_walk *w, const char *path)
{
	struct stat st;
	int fd, back;

	if (stat(path, &st) < 0 || st.st_ino == w->own || w->nseen == ARRAY_SIZE(w->seen))
		return;
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i] == st.st_ino)
			return;
	w->seen[w->nseen++] = st.st_ino;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!dp_netns_enter(fd, &back)) {
		detach_ours(w->map_id, path);
		dp_netns_leave(back);
	}
	close(fd);
}

/* Namespaces a process is in, and those held by a file without one
 * (ip netns, Docker's). */
void dp_tc_detach_netns_all(__u32 map_id)
{
	static const char *const dirs[] = { "/proc", "/run/netns", "/run/docker/netns" };
	struct ns_walk *w = calloc(1, sizeof(*w));
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!w || dp_netns_ino(&w->own)) {
		free(w);
		return;
	}
	w->map_id = map_id;
	dp_quiet_libbpf(true);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		d = opendir(dirs[i]);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (i == 0 && (de->d_name[0] < '1' || de->d_name[0] > '9'))
				continue;
			snprintf(path, sizeof(path), i == 0 ? "%s/%s/ns/net" : "%s/%s", dirs[i],
				 de->d_name);
			detach_in(w, path);
		}
		if (d)
			closedir(d);
	}
	dp_quiet_libbpf(false);
	free(w);
}

bool dp_tc_want(struct dataplane *dp, bool want)
{
	bool was = dp->tc_on == 1;

	if (!dp->tc)
		return false;
	dp->tc_want = want || dp->meter == DP_METER_TC;
	if (dp->committed)
		dp_tc_sync(dp);
	return !was && dp->tc_on == 1;
}

/* The meter runs on every packet the host sends, whoever sends it: on
 * none while no service needs it. Its programs are found by the map they
 * count into (vstats), so an older build's go too and another vsteerd's
 * stay. */
void dp_tc_sync(struct dataplane *dp)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (!dp->tc || (dp->tc_on != -1 && dp->tc_want == (dp->tc_on == 1)))
		return;
	if (dp->tc_want) {
		if (dp->tc_on == 0) { /* taken off: every interface again */
			dp->ntc_if = 0;
			dp->ntc_ns = 0;
		}
		dp->tc_on = 1;
		attach_new(dp, false);
		return;
	}
	if (bpf_obj_get_info_by_fd(bpf_map__fd(dp->steer->maps.vstats), &info, &len)) {
		pr_warn("cannot take the TC meter off: %s\n", strerror(errno));
		return;
	}
	pr_info("no service speaks http: the TC meter is off\n");
	/* Most interfaces have no clsact at all: not worth a warning. */
	dp_quiet_libbpf(true);
	detach_ours(info.id, "this namespace");
	dp_quiet_libbpf(false);
	/* Servers' namespaces: those this start put it in, or (a restart
	 * over pins, whose vstats an older vsteerd's meter may count into)
	 * any. New pins: no meter can count into them yet. */
	if ((dp->tc_on == -1 && dp->adopted) || dp->ntc_ns)
		dp_tc_detach_netns_all(info.id);
	dp->tc_on = 0;
}
