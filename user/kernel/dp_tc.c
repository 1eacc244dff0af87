// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_tc.h"
#include "http.skel.h"

/* TC filters are not links: identified by interface, handle and
 * priority. */
#define VS_TC_HANDLE 0x5653 /* "VS" */
#define VS_TC_PRIO   0x5653

/* On the egress of every interface: responses to local clients leave by
 * lo, to remote ones by a NIC, to containers by a bridge or veth that may
 * come later, hence dp_tc_attach_new() on every full scan. Only devices
 * with an Ethernet header (and lo): the program finds the IP header 14
 * bytes in, which is wrong on tun, wireguard or ipip devices. */
static bool has_ether_header(const char *ifname)
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

static bool tried_on(const struct dataplane *dp, unsigned int ifindex)
{
	for (size_t i = 0; i < dp->ntc_if; i++)
		if (dp->tc_if[i] == ifindex)
			return true;
	return false;
}

static void attach_new(struct dataplane *dp)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int ret;

	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO,
			    .flags = BPF_TC_F_REPLACE,
			    .prog_fd = bpf_program__fd(dp->tc->progs.vsteer_http));

		if (tried_on(dp, i->if_index) || dp->ntc_if == ARRAY_SIZE(dp->tc_if))
			continue;
		/* Remembered either way: not retried, nor warned about, each scan. */
		dp->tc_if[dp->ntc_if++] = i->if_index;
		if (!has_ether_header(i->if_name)) {
			pr_debug("%s has no Ethernet header: responses leaving by it are not read\n",
				 i->if_name);
			continue;
		}
		/* Probe by attaching: on a restart the clsact qdisc exists, and
		 * creating it again fails with EEXIST, which libbpf would log
		 * as a warning ("Exclusivity flag on") every time. */
		dp_quiet_libbpf(true);
		ret = bpf_tc_attach(&hook, &opts);
		dp_quiet_libbpf(false);
		if (ret) {
			ret = bpf_tc_hook_create(&hook);
			if (ret && ret != -EEXIST) {
				pr_warn("responses leaving by %s are not read: clsact: %s\n",
					i->if_name, strerror(-ret));
				continue;
			}
			ret = bpf_tc_attach(&hook, &opts);
		}
		if (ret)
			pr_warn("responses leaving by %s are not read: %s\n", i->if_name,
				strerror(-ret));
		else
			pr_debug("TC egress program on %s\n", i->if_name);
	}
	if_freenameindex(ifs);
}

void dp_tc_attach_new(struct dataplane *dp)
{
	if (dp->tc)
		attach_new(dp);
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
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO);

		bpf_tc_detach(&hook, &opts);
	}
	dp_quiet_libbpf(false);
	if_freenameindex(ifs);
}
