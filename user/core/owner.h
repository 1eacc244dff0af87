/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who may listen for a server. Registering a server by its address must
 * not mean "whoever listens there now": when a version's process dies,
 * any local user could bind the address and get its clients. So each
 * server has an owner (a uid, and a cgroup v2 path when the backend runs
 * in one), given with the cluster or recorded from the sockets found when
 * it was registered, and only sockets of that owner are steered to. A
 * socket's uid and cgroup are its creator's, for the socket's life. Pure.
 */
#ifndef VS_OWNER_H
#define VS_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OWNER_CGROUP_LEN 128 /* a cgroup path and its NUL */

struct owner {
	bool set;     /* known: given, or recorded from a socket */
	bool any_uid; /* a rule that names only a cgroup */
	uint32_t uid;
	char cgroup[OWNER_CGROUP_LEN]; /* "/system.slice/x.service"; "": any */
};

/* Whether a socket of uid, created in cgroup (a path; "" when unknown),
 * belongs to o: the same uid (unless any) and o's cgroup or one below it
 * (unless o names none). An owner not yet known allows any. */
bool owner_allows(const struct owner *o, uint32_t uid, const char *cgroup);
/* The owner of such a socket, to record. A cgroup path too long to keep
 * is not kept: then only the uid is checked. */
void owner_of(struct owner *o, uint32_t uid, const char *cgroup);
/* "uid 1000, cgroup /x" or "uid 1000" or "cgroup /x"; "anyone" if not set. */
void owner_format(const struct owner *o, char *buf, size_t size);
bool owner_equal(const struct owner *a, const struct owner *b);

#endif
