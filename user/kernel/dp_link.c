// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "kernel/dp_link.h"

#define DUMP_BUF    32768 /* what one recv() of the dump takes */
#define BRIDGES_MAX 64	  /* bridges whose ports are told apart */
#define DUMP_SEQ    0x5654

/* One RTM_NEWLINK of the dump: its index, its master's (0: none), and
 * whether it is a bridge. -1 if it is not a whole one. */
static int parse_link(const struct nlmsghdr *nh, unsigned int *ifindex, unsigned int *master,
		      bool *bridge)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	const struct rtattr *a;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return -1;
	*ifindex = ifi->ifi_index;
	*master = 0;
	*bridge = false;
	len = IFLA_PAYLOAD(nh);
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= sizeof(__u32)) {
			memcpy(master, RTA_DATA(a), sizeof(*master));
		} else if (a->rta_type == IFLA_LINKINFO) {
			const struct rtattr *i;
			int ilen = RTA_PAYLOAD(a);

			for (i = RTA_DATA(a); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen))
				if (i->rta_type == IFLA_INFO_KIND)
					/* "bridge" and its NUL, exactly. */
					*bridge = RTA_PAYLOAD(i) == sizeof("bridge") &&
						  !memcmp(RTA_DATA(i), "bridge", sizeof("bridge"));
		}
	}
	return 0;
}

/* The dump's messages in buf (len bytes): links into out (up to max, each
 * one's master kept in masters), bridges into bridges. 1 once the dump is
 * done, 0 for more, or -errno. */
static int take(const char *buf, ssize_t len, struct dp_link *out, unsigned int *masters,
		size_t max, size_t *n, unsigned int *bridges, size_t *nbr)
{
	const struct nlmsghdr *nh;
	unsigned int ifindex, master;
	bool bridge;

	for (nh = (const void *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_seq != DUMP_SEQ)
			continue;
		if (nh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			return nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error :
										       -EPROTO;
		}
		if (nh->nlmsg_type != RTM_NEWLINK || parse_link(nh, &ifindex, &master, &bridge))
			continue;
		if (bridge && *nbr < BRIDGES_MAX)
			bridges[(*nbr)++] = ifindex;
		if (*n < max) {
			out[*n] = (struct dp_link){ .ifindex = ifindex,
						    .role = bridge ? DP_LINK_BRIDGE : 0 };
			masters[*n] = master;
		}
		(*n)++;
	}
	return 0;
}

int dp_link_list(struct dp_link *out, size_t max)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifm;
		struct rtattr ext;
		__u32 ext_mask;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = DUMP_SEQ },
		.ifm = { .ifi_family = AF_UNSPEC },
		/* No counters: most of each message, and not wanted. */
		.ext = { .rta_len = RTA_LENGTH(sizeof(__u32)), .rta_type = IFLA_EXT_MASK },
		.ext_mask = RTEXT_FILTER_SKIP_STATS,
	};
	unsigned int bridges[BRIDGES_MAX], *masters = calloc(max ? max : 1, sizeof(*masters));
	char *buf = malloc(DUMP_BUF);
	size_t n = 0, nbr = 0;
	int fd = -1, ret = -ENOMEM;

	if (!masters || !buf)
		goto free_bufs;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0) {
		ret = -errno;
		goto close_fd;
	}
	ret = 0;
	while (!ret) {
		ssize_t len = recv(fd, buf, DUMP_BUF, 0);

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			ret = len ? -errno : -EPROTO;
		else
			ret = take(buf, len, out, masters, max, &n, bridges, &nbr);
	}
	if (ret < 0)
		goto close_fd;
	for (size_t i = 0; i < n && i < max; i++)
		for (size_t b = 0; masters[i] && b < nbr; b++)
			if (bridges[b] == masters[i])
				out[i].role |= DP_LINK_PORT;
	ret = n > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)n;
close_fd:
	if (fd >= 0)
		close(fd);
free_bufs:
	free(buf);
	free(masters);
	return ret;
}

unsigned int dp_link_role(const struct dp_link *l, size_t n, unsigned int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].ifindex == ifindex)
			return l[i].role;
	return 0;
}
