/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Host names with a port, as HTTP's Host and Origin headers carry them and
 * as a config lists the ones it allows: parsed into one canonical form so
 * that two spellings of a host compare equal. */
#ifndef VS_HOSTPORT_H
#define VS_HOSTPORT_H

#include <stdbool.h>
#include <stdint.h>

#define HOSTPORT_MAX 253 /* the longest DNS name */

struct hostport {
	char host[HOSTPORT_MAX + 1]; /* a name in lower case, or an IP address
				      * as inet_ntop writes it (IPv6 without brackets) */
	int family;		     /* AF_INET or AF_INET6 for an address, 0 for a name */
	uint16_t port;		     /* 0: none given */
	bool https;		     /* an origin's scheme */
};

/* "HOST" or "HOST:PORT": HOST a name of letters, digits, '-', '_' and
 * '.', an IPv4 address, or an IPv6 one in brackets; PORT 1..65535.
 * -EINVAL unless the whole string is one. */
int hostport_parse(const char *s, struct hostport *hp);
/* An origin: "http://" or "https://" (any case), then HOST[:PORT] as above
 * and nothing else; the port is the scheme's (80, 443) when not given.
 * -EINVAL for anything else ("null" included). */
int hostport_parse_origin(const char *s, struct hostport *hp);
/* Same host, port and scheme. */
bool hostport_equal(const struct hostport *a, const struct hostport *b);

#endif
