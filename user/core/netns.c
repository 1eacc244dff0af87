// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/netns.h"

void netns_format(const struct netns_spec *n, char *buf, size_t size)
{
	switch (n->kind) {
	case NETNS_PATH:
		snprintf(buf, size, "%s", n->name);
		break;
	case NETNS_PID:
		snprintf(buf, size, "pid %u", n->pid);
		break;
	case NETNS_CONTAINER:
		snprintf(buf, size, "container %s", n->name);
		break;
	default:
		snprintf(buf, size, "%s", "");
	}
}

int netns_parse(const char *s, struct netns_spec *n)
{
	char *end;
	unsigned long pid;

	*n = (struct netns_spec){};
	if (!s[0])
		return 0;
	if (s[0] == '/') {
		if (!netns_path_valid(s))
			return -EINVAL;
		n->kind = NETNS_PATH;
		snprintf(n->name, sizeof(n->name), "%s", s);
		return 0;
	}
	if (!strncmp(s, "pid ", 4)) {
		if (!isdigit((unsigned char)s[4]))
			return -EINVAL;
		errno = 0;
		pid = strtoul(s + 4, &end, 10);
		if (errno || *end || pid == 0 || pid > INT32_MAX)
			return -EINVAL;
		n->kind = NETNS_PID;
		n->pid = pid;
		return 0;
	}
	if (!strncmp(s, "container ", 10) && netns_container_valid(s + 10)) {
		n->kind = NETNS_CONTAINER;
		snprintf(n->name, sizeof(n->name), "%s", s + 10);
		return 0;
	}
	return -EINVAL;
}

bool netns_equal(const struct netns_spec *a, const struct netns_spec *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == NETNS_PID)
		return a->pid == b->pid;
	return a->kind == NETNS_OWN || !strcmp(a->name, b->name);
}

bool netns_path_valid(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '/' || n >= NETNS_NAME_LEN || strstr(s, "//"))
		return false;
	for (const char *p = s; (p = strstr(p, "/.")); p++)
		if (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			return false;
	for (const char *p = s; *p; p++)
		if (!isprint((unsigned char)*p))
			return false;
	return true;
}

bool netns_container_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NETNS_NAME_LEN || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}
