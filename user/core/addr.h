/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_ADDR_H
#define VS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IP address and TCP port. addr is in network byte order (IPv4 in
 * addr[0], the rest zero), port in host byte order: the layout of
 * struct vs_svc_key, so the two convert without reordering. */
struct vs_endpoint {
	uint8_t family;
	uint16_t port;
	uint32_t addr[4];
};

#define EP_STRLEN 64 /* "[ipv6]:port" and a NUL */

/* "1.2.3.4:80" or "[::1]:80"; -EINVAL unless the whole string parses and
 * the port is 1..65535. */
int ep_parse(const char *s, struct vs_endpoint *ep);
/* An address alone plus a port, as the thesis config writes them. */
int ep_from_parts(const char *host, long port, struct vs_endpoint *ep);
void ep_format(const struct vs_endpoint *ep, char *buf, size_t size);
void ep_format_addr(const struct vs_endpoint *ep, char *buf, size_t size);
bool ep_equal(const struct vs_endpoint *a, const struct vs_endpoint *b);
bool ep_addr_is_any(const struct vs_endpoint *ep);
/* As bind() and connect() take it; returns its length. */
socklen_t ep_to_sockaddr(const struct vs_endpoint *ep, struct sockaddr_storage *ss);
/* 127.0.0.0/8 or ::1 */
bool ep_is_loopback(const struct vs_endpoint *ep);

#endif
