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
#include "kernel/dp_link.h"
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

/* The hooks of the pair an interface needs: both, but for a bridge,
 * which needs neither. What a bridge passes up to the host crossed the
 * ingress of one of its ports first, and what the host sends through it
 * crosses a port's egress after it: a routed packet to or from a
 * container meets the pair once, not twice. The port is the place, not
 * the bridge: where br_netfilter is loaded (Docker loads it), iptables'
 * PREROUTING runs on a bridged frame before the bridge's own ingress, and
 * a published port's DNAT rule would take a container's SYN to the
 * service before vsteer_dnat saw it; and a container's reply to another
 * container on the same bridge is switched from port to port, through no
 * hook of the bridge's. */
static unsigned int hooks_for(unsigned int role)
{
	return role & DP_LINK_BRIDGE ? 0 : DP_NAT_IN | DP_NAT_OUT;
}

/* The interfaces of nat_if still in ifs (if_nameindex()): one that is
 * gone (a stopped container's veth) is forgotten, or a list full of dead
 * ones would keep every new one without packet steering. */
static void forget_gone(struct dataplane *dp, const struct if_nameindex *ifs)
{
	const struct if_nameindex *i;
	size_t kept = 0;

	if (!ifs)
		return;
	for (size_t k = 0; k < dp->nnat_if; k++) {
		for (i = ifs; i->if_index && i->if_index != dp->nat_if[k].ifindex; i++)
			;
		if (i->if_index)
			dp->nat_if[kept++] = dp->nat_if[k];
	}
	dp->nnat_if = kept;
}

/* Interface i in nat_if, added (hooks unknown: ~0) if new; NULL if the
 * list is full. */
static struct dp_nat_if *nat_if_of(struct dataplane *dp, const struct if_nameindex *i)
{
	struct dp_nat_if *n;

	for (size_t k = 0; k < dp->nnat_if; k++)
		if (dp->nat_if[k].ifindex == i->if_index)
			return &dp->nat_if[k];
	if (dp->nnat_if == ARRAY_SIZE(dp->nat_if))
		return NULL;
	n = &dp->nat_if[dp->nnat_if++];
	/* Remote clients do not arrive by lo; and the programs find the IP
	 * header after an Ethernet one. */
	*n = (struct dp_nat_if){ .ifindex = i->if_index,
				 .on = ~0U,
				 .fits = strcmp(i->if_name, "lo") && dp_tc_has_ether(i->if_name) };
	return n;
}

/* Put the pair on (or take it off) n's hooks as want says. Taken off too
 * where it was never put by this process: a vsteerd before it may have. */
static void put_hooks(struct dataplane *dp, const char *name, struct dp_nat_if *n,
		      unsigned int want)
{
	static const struct {
		unsigned int bit;
		enum bpf_tc_attach_point point;
		const char *what;
	} hooks[] = { { DP_NAT_IN, BPF_TC_INGRESS, "ingress" },
		      { DP_NAT_OUT, BPF_TC_EGRESS, "egress" } };
	int fds[] = { bpf_program__fd(dp->nat->progs.vsteer_dnat),
		      bpf_program__fd(dp->nat->progs.vsteer_unnat) };
	int ret;

	for (size_t h = 0; h < ARRAY_SIZE(hooks); h++) {
		bool on = want & hooks[h].bit;

		if (on == !!(n->on & hooks[h].bit) && n->on != ~0U)
			continue;
		ret = on ? dp_tc_put(n->ifindex, hooks[h].point, DP_NAT_PRIO, fds[h]) :
			   dp_tc_del(n->ifindex, hooks[h].point, DP_NAT_PRIO);
		if (ret)
			pr_warn("packet steering at the %s of %s: %s\n", hooks[h].what, name,
				strerror(-ret));
		else
			pr_debug("packet steering %s the %s of %s\n", on ? "on" : "off",
				 hooks[h].what, name);
	}
	n->on = want;
}

void dp_nat_attach_new(struct dataplane *dp, bool ipv6)
{
	struct dp_link links[DP_MAX_TC_IF];
	struct if_nameindex *ifs, *i;
	struct dp_nat_if *n;
	int nl;

	if (!dp->nat)
		return;
	check_forwarding(dp, 0, true);
	check_forwarding(dp, 1, ipv6);
	nl = dp_link_list(links, ARRAY_SIZE(links));
	if (nl < 0)
		pr_debug("which interfaces are bridges is not known (%s): packet steering on both hooks of each\n",
			 strerror(-nl));
	nl = nl < 0 ? 0 : nl > (int)ARRAY_SIZE(links) ? (int)ARRAY_SIZE(links) : nl;
	ifs = if_nameindex();
	forget_gone(dp, ifs);
	for (i = ifs; i && i->if_index; i++) {
		n = nat_if_of(dp, i);
		if (!n)
			continue;
		/* A bridge port may be made one after it appeared (podman
		 * puts a new veth on its bridge a moment later): looked at
		 * each time. */
		put_hooks(dp, i->if_name, n,
			  n->fits ? hooks_for(dp_link_role(links, nl, i->if_index)) : 0);
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
	dp->nat->rodata->sess_sets = dp_sess_sets(dp);
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
