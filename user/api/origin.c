// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "api/origin.h"

/* A port left out is the default of the API's scheme. */
static uint16_t port_of(const struct origin_policy *p, const struct hostport *h)
{
	return h->port ? h->port : p->tls ? 443 : 80;
}

static bool is_address(const struct hostport *h, int family, const void *addr)
{
	unsigned char bin[16];

	return h->family == family && inet_pton(family, h->host, bin) == 1 &&
	       !memcmp(bin, addr, family == AF_INET ? 4 : 16);
}

static bool own_host(const struct origin_policy *p, const struct hostport *h, uint16_t port)
{
	static const unsigned char v4_loop[4] = { 127, 0, 0, 1 };
	static const unsigned char v6_loop[16] = { [15] = 1 };

	if (port != p->ep.port)
		return false;
	if (is_address(h, p->ep.family, p->ep.addr))
		return true;
	if (ep_addr_is_any(&p->ep))
		return h->family || !strcmp(h->host, "localhost");
	if (ep_is_loopback(&p->ep))
		return !strcmp(h->host, "localhost") || is_address(h, AF_INET, v4_loop) ||
		       is_address(h, AF_INET6, v6_loop);
	return false;
}

static bool listed_host(const struct origin_policy *p, const struct hostport *h, uint16_t port)
{
	for (size_t i = 0; i < p->nhosts; i++)
		if (port_of(p, &p->hosts[i]) == port && !strcmp(p->hosts[i].host, h->host))
			return true;
	return false;
}

bool origin_host_ok(const struct origin_policy *p, const struct hostport *h)
{
	uint16_t port = port_of(p, h);

	return own_host(p, h, port) || listed_host(p, h, port);
}

bool origin_ok(const struct origin_policy *p, const struct hostport *o)
{
	for (size_t i = 0; i < p->norigins; i++)
		if (hostport_equal(&p->origins[i], o))
			return true;
	/* An origin always has its port (parsing filled in the scheme's). */
	return own_host(p, o, o->port) || listed_host(p, o, o->port);
}
