/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a server's sockets live: vsteerd's own network namespace (its
 * sockets are handed connections: socket steering) or another one, a
 * container's (connections are steered to its address: address
 * steering). Another namespace is named as the user knows it: a path
 * (/run/netns/NAME), a process in it, or a podman or Docker container;
 * ctl/netns.c opens it.
 */
#ifndef VS_NETNS_H
#define VS_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum netns_kind { NETNS_OWN, NETNS_PATH, NETNS_PID, NETNS_CONTAINER };

#define NETNS_NAME_LEN 64 /* a path or a container name, with its NUL */

struct netns_spec {
	enum netns_kind kind;
	uint32_t pid;		   /* NETNS_PID */
	char name[NETNS_NAME_LEN]; /* NETNS_PATH, NETNS_CONTAINER */
};

#define NETNS_STRLEN (NETNS_NAME_LEN + 16)

/* "/run/netns/x", "pid 1234", "container web-2"; "" for NETNS_OWN. */
void netns_format(const struct netns_spec *n, char *buf, size_t size);
/* The inverse, for state files; -EINVAL for anything else. */
int netns_parse(const char *s, struct netns_spec *n);
bool netns_equal(const struct netns_spec *a, const struct netns_spec *b);
/* An absolute path with no "." or ".." segments, shorter than NETNS_NAME_LEN. */
bool netns_path_valid(const char *s);
/* What podman and Docker accept: [a-zA-Z0-9][a-zA-Z0-9_.-]*, or a hex id. */
bool netns_container_valid(const char *s);

#endif
