// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/event.h"
#include "core/notify.h"

int notify_kind_bit(const char *kind)
{
	for (int i = 0; event_kinds[i].kind && i < NOTIFY_MAX_KINDS; i++)
		if (!strcmp(event_kinds[i].kind, kind))
			return i;
	return -ENOENT;
}

bool notify_wants(const struct notify_target *t, const char *kind)
{
	int bit;

	if (t->all)
		return true;
	bit = notify_kind_bit(kind);
	return bit >= 0 && (t->kinds & (1ULL << bit));
}

static size_t headers_used(const struct notify_target *t)
{
	size_t off = 0;

	for (uint32_t i = 0; i < t->nheaders; i++)
		off += strlen(t->headers + off) + 1;
	return off;
}

int notify_add_header(struct notify_target *t, const char *name, const char *value)
{
	size_t off = headers_used(t);
	int n;

	if (t->nheaders == NOTIFY_MAX_HEADERS)
		return -E2BIG;
	n = snprintf(t->headers + off, sizeof(t->headers) - off, "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof(t->headers) - off) {
		memset(t->headers + off, 0, sizeof(t->headers) - off);
		return -E2BIG;
	}
	t->nheaders++;
	return 0;
}

const char *notify_header(const struct notify_target *t, uint32_t i)
{
	size_t off = 0;

	while (i--)
		off += strlen(t->headers + off) + 1;
	return t->headers + off;
}
