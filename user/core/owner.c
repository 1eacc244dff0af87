// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "core/owner.h"

/* path is dir or below it: "/a/b" is within "/a" and "/", not "/ab". */
static bool within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true; /* every cgroup, and a socket whose cgroup is not known */
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

bool owner_allows(const struct owner *o, uint32_t uid, const char *cgroup)
{
	if (!o->set)
		return true;
	if (!o->any_uid && uid != o->uid)
		return false;
	return !o->cgroup[0] || within(cgroup, o->cgroup);
}

void owner_of(struct owner *o, uint32_t uid, const char *cgroup)
{
	memset(o, 0, sizeof(*o));
	o->set = true;
	o->uid = uid;
	if (strlen(cgroup) < sizeof(o->cgroup))
		strcpy(o->cgroup, cgroup);
}

void owner_format(const struct owner *o, char *buf, size_t size)
{
	if (!o->set)
		snprintf(buf, size, "anyone");
	else if (o->any_uid)
		snprintf(buf, size, "cgroup %s", o->cgroup[0] ? o->cgroup : "(any)");
	else if (o->cgroup[0])
		snprintf(buf, size, "uid %u, cgroup %s", o->uid, o->cgroup);
	else
		snprintf(buf, size, "uid %u", o->uid);
}

bool owner_equal(const struct owner *a, const struct owner *b)
{
	return a->set == b->set && a->any_uid == b->any_uid && a->uid == b->uid &&
	       !strcmp(a->cgroup, b->cgroup);
}
