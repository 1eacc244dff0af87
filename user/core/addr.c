// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "core/addr.h"

static int parse_host(const char *host, struct vs_endpoint *ep)
{
	memset(ep->addr, 0, sizeof(ep->addr));
	if (inet_pton(AF_INET, host, &ep->addr[0]) == 1) {
		ep->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, ep->addr) == 1) {
		ep->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

socklen_t ep_to_sockaddr(const struct vs_endpoint *ep, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr, 16);
	return sizeof(*sin6);
}

int ep_from_parts(const char *host, long port, struct vs_endpoint *ep)
{
	if (port < 1 || port > 65535)
		return -ERANGE;
	if (parse_host(host, ep))
		return -EINVAL;
	ep->port = (uint16_t)port;
	return 0;
}

int ep_parse(const char *s, struct vs_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long port;

	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		h = s + 1;
		hlen = colon - h;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', colon - s))
			return -EINVAL;
		hlen = colon - s;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return ep_from_parts(host, port, ep) ? -EINVAL : 0;
}

void ep_format_addr(const struct vs_endpoint *ep, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(ep->family, ep->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, "%s", a);
}

void ep_format(const struct vs_endpoint *ep, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	ep_format_addr(ep, a, sizeof(a));
	snprintf(buf, size, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, ep->port);
}

bool ep_equal(const struct vs_endpoint *a, const struct vs_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

bool ep_addr_is_any(const struct vs_endpoint *ep)
{
	return !(ep->addr[0] | ep->addr[1] | ep->addr[2] | ep->addr[3]);
}

bool ep_is_loopback(const struct vs_endpoint *ep)
{
	if (ep->family == AF_INET)
		return (ntohl(ep->addr[0]) >> 24) == 127;
	return !ep->addr[0] && !ep->addr[1] && !ep->addr[2] && ep->addr[3] == htonl(1);
}
