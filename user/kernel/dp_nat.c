// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_nat.h"
#include "kernel/dp_tc.h"
#include "nat.skel.h"

/* Packets steered to a container are forwarded: a host that does not
 * forward drops them, which looks like steering that does not work. Said
 * when it is found off, and again each time it is turned off; IPv6's only
 * while an IPv6 server is steered by address. */
static void check_forwarding(struct dataplane *dp, int i, bool wanted)
{
	static const char *const sysctl[] = { "net.ipv4.ip_forward",
					      "net.ipv6.conf.all.forwarding" };
	static const char *const path[] = { "/proc/sys/net/ipv4/ip_forward",
					    "/proc/sys/net/ipv6/conf/all/forwarding" };
	char c = '1';
	int fd = wanted ? open(path[i], O_RDONLY | O_CLOEXEC) : -1;
	bool off;

	if (fd >= 0) {
		off = read(fd, &c, 1) == 1 && c == '0';
		close(fd);
	} else {
		off = false;
	}
	if (off && !dp->forward_off[i])
		pr_warn("%s is 0: remote clients steered to a container are dropped (sysctl -w %s=1; podman and Docker set it)\n",
			sysctl[i], sysctl[i]);
	else if (!off && dp->forward_off[i] && wanted)
		pr_info("%s is 1 again: remote clients reach containers\n", sysctl[i]);
	dp->forward_off[i] = off;
}

void dp_nat_attach_new(struct dataplane *dp, bool ipv6)
{
	struct if_nameindex *ifs, *i;
	int ret;

	if (!dp->nat)
		return;
	check_forwarding(dp, 0, true);
	check_forwarding(dp, 1, ipv6);
	ifs = if_nameindex();
	dp_tc_forget_gone(dp->nat_if, &dp->nnat_if, ifs);
	for (i = ifs; i && i->if_index; i++) {
		if (dp_tc_seen(dp->nat_if, dp->nnat_if, i->if_index) ||
		    dp->nnat_if == ARRAY_SIZE(dp->nat_if))
			continue;
		dp->nat_if[dp->nnat_if++] = i->if_index;
		/* Remote clients do not arrive by lo; and the programs find
		 * the IP header after an Ethernet one. */
		if (!strcmp(i->if_name, "lo") || !dp_tc_has_ether(i->if_name))
			continue;
		ret = dp_tc_put(i->if_index, BPF_TC_INGRESS, DP_NAT_PRIO,
				bpf_program__fd(dp->nat->progs.vsteer_dnat));
		if (!ret)
			ret = dp_tc_put(i->if_index, BPF_TC_EGRESS, DP_NAT_PRIO,
					bpf_program__fd(dp->nat->progs.vsteer_unnat));
		if (ret)
			pr_warn("remote clients arriving by %s are not steered by address: %s\n",
				i->if_name, strerror(-ret));
		else
			pr_debug("packet steering on %s\n", i->if_name);
	}
	if_freenameindex(ifs);
}

int dp_nat_enable(struct dataplane *dp, struct vs_err *err)
{
	int ret;

	if (dp->nat)
		return 0;
	dp->nat = nat_bpf__open();
	ret = libbpf_get_error(dp->nat);
	if (ret) {
		dp->nat = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open the packet steering: %s",
			       strerror(-ret));
	}
	ret = dp_share_maps(dp, dp->nat->obj);
	if (!ret)
		ret = nat_bpf__load(dp->nat);
	if (ret) {
		nat_bpf__destroy(dp->nat);
		dp->nat = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot load the packet steering: %s",
			       strerror(-ret));
	}
	/* IPv6 forwarding is looked at from the next scan on, which knows
	 * the servers. */
	dp_nat_attach_new(dp, false);
	pr_info("steering remote clients by address: packet steering on this namespace's interfaces\n");
	return 0;
}

void dp_nat_close(struct dataplane *dp)
{
	nat_bpf__destroy(dp->nat);
	dp->nat = NULL;
}
