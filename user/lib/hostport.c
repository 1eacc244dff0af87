// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "lib/hostport.h"

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (!v || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int hostport_parse(const char *s, struct hostport *hp)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *colon;
	size_t len;

	memset(hp, 0, sizeof(*hp));
	if (*s == '[') {
		const char *end = strchr(s, ']');

		len = end ? (size_t)(end - s - 1) : 0;
		if (!len || len >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, s + 1, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return -EINVAL;
		hp->family = AF_INET6;
		inet_ntop(AF_INET6, bin, hp->host, sizeof(hp->host));
		if (!end[1])
			return 0;
		return end[1] == ':' ? parse_port(end + 2, &hp->port) : -EINVAL;
	}
	colon = strchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	if (!len || len > HOSTPORT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return -EINVAL;
		hp->host[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	hp->host[len] = '\0';
	if (inet_pton(AF_INET, hp->host, bin) == 1)
		hp->family = AF_INET;
	return colon ? parse_port(colon + 1, &hp->port) : 0;
}

int hostport_parse_origin(const char *s, struct hostport *hp)
{
	bool https;
	int ret;

	if (!strncasecmp(s, "http://", 7))
		https = false;
	else if (!strncasecmp(s, "https://", 8))
		https = true;
	else
		return -EINVAL;
	ret = hostport_parse(s + (https ? 8 : 7), hp);
	if (ret)
		return ret;
	hp->https = https;
	if (!hp->port)
		hp->port = https ? 443 : 80;
	return 0;
}

bool hostport_equal(const struct hostport *a, const struct hostport *b)
{
	return a->port == b->port && a->https == b->https && !strcmp(a->host, b->host);
}
