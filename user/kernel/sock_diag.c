// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "kernel/sock_diag.h"

int sock_diag_open(void)
{
	struct timeval tv = { .tv_sec = 1 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	/* The kernel answers at once; never hang the tick on it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int sock_diag_destroy(int fd, const struct vs_drain_rec *r)
{
	static __u32 seq;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg),
			 .nlmsg_type = SOCK_DESTROY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
			 .nlmsg_seq = ++seq },
		.req = { .sdiag_family = r->family,
			 .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = ~0U,
			 .id = { .idiag_sport = htons(r->lport),
				 .idiag_dport = htons(r->rport),
				 .idiag_cookie = { (__u32)r->cookie, (__u32)(r->cookie >> 32) } } },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nlh;
		char buf[512];
	} ans;
	const struct nlmsgerr *e;
	ssize_t n;

	memcpy(msg.req.id.idiag_src, r->local, sizeof(msg.req.id.idiag_src));
	memcpy(msg.req.id.idiag_dst, r->remote, sizeof(msg.req.id.idiag_dst));
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, &ans, sizeof(ans), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n < NLMSG_LENGTH(sizeof(*e)) || ans.nlh.nlmsg_type != NLMSG_ERROR)
			return -EPROTO;
		/* An answer to an earlier request that timed out: not ours. */
		if (ans.nlh.nlmsg_seq != msg.nlh.nlmsg_seq)
			continue;
		e = NLMSG_DATA(&ans.nlh);
		return e->error;
	}
}

int sock_diag_probe(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct vs_drain_rec r = { .family = AF_INET, .cookie = ~0ULL };
	socklen_t len = sizeof(a);
	int ls, fd, ret;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		return -errno;
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &len)) {
		ret = -errno;
		close(ls);
		return ret;
	}
	/* A listener: only the local end names it (cookie ~0: any). */
	r.local[0] = a.sin_addr.s_addr;
	r.lport = ntohs(a.sin_port);
	fd = sock_diag_open();
	ret = fd < 0 ? fd : sock_diag_destroy(fd, &r);
	if (fd >= 0)
		close(fd);
	close(ls);
	return ret;
}
