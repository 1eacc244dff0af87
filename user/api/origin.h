/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which Host and Origin values the API takes: its own address, and the
 * lists configService names. What this stops is a browser being used
 * against the API: a page of another origin sending it requests
 * (cross-site), and a name of the attacker's resolving to the API's
 * address (DNS rebinding), which shows in Host. */
#ifndef VS_ORIGIN_H
#define VS_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/hostport.h"
#include "core/addr.h"

struct origin_policy {
	struct vs_endpoint ep;	      /* where the API listens */
	bool tls;		      /* https: a Host without a port means 443, else 80 */
	const struct hostport *hosts; /* configService.allowedHosts */
	size_t nhosts;
	const struct hostport *origins; /* configService.allowedOrigins */
	size_t norigins;
};

/* Is h (a parsed Host) one of the API's own names: its address and port;
 * for a loopback API also localhost, 127.0.0.1 and ::1; for a wildcard
 * one localhost and any IP address (a rebinding attack needs a name);
 * or an allowed host? */
bool origin_host_ok(const struct origin_policy *p, const struct hostport *h);
/* Is o (a parsed Origin) an allowed origin, or http(s):// and a host
 * origin_host_ok() takes? */
bool origin_ok(const struct origin_policy *p, const struct hostport *o);

#endif
