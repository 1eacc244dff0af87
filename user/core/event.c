// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/event.h"

/* Every kind vsteerd records. tests/kinds.py checks that each kind the
 * code records is here and in docs/api.md's table, and the other way. */
/* clang-format off */
const struct event_kind event_kinds[] = {
	/* the service and its clusters, changed through the API or a reload */
	{ "service_added",	VS_LOG_NOTICE },
	{ "service_deleted",	VS_LOG_NOTICE },
	{ "service_deleted_forced", VS_LOG_WARN },
	{ "cluster_added",	VS_LOG_NOTICE },
	{ "cluster_deleted",	VS_LOG_NOTICE },
	{ "weights_set",	VS_LOG_NOTICE },
	/* a rollout (core/rollout.c's marks) */
	{ "started",		VS_LOG_NOTICE },
	{ "step",		VS_LOG_NOTICE },
	{ "approval_needed",	VS_LOG_NOTICE },
	{ "paused",		VS_LOG_NOTICE },
	{ "resumed",		VS_LOG_NOTICE },
	{ "promoted",		VS_LOG_NOTICE },
	{ "completed",		VS_LOG_NOTICE },
	{ "aborted",		VS_LOG_WARN },
	{ "rolled_back",	VS_LOG_WARN },
	{ "auto_rollback",	VS_LOG_WARN },
	/* the judge's windows */
	{ "analysis_failed",	VS_LOG_WARN },
	{ "inconclusive",	VS_LOG_INFO },
	{ "auto_pause",		VS_LOG_NOTICE },
	{ "mirror_passed",	VS_LOG_NOTICE },
	{ "mirror_failed",	VS_LOG_WARN },
	/* servers coming and going */
	{ "backend_down",	VS_LOG_WARN },
	{ "backend_up",		VS_LOG_NOTICE },
	{ "socket_refused",	VS_LOG_WARN },
	/* an old version's connections after a drain deadline */
	{ "drain_closed",	VS_LOG_NOTICE },
	{ "drained",		VS_LOG_NOTICE },
	{ "drain_cancelled",	VS_LOG_NOTICE },
	{ "drain_unsupported",	VS_LOG_WARN },
	/* the config file, at start and reloaded (ctl/reload.c) */
	{ "reloaded",		VS_LOG_NOTICE },
	{ "config_differs",	VS_LOG_WARN },
	{ "analysis_set",	VS_LOG_NOTICE },
	{ "notifications_set",	VS_LOG_NOTICE },
	{ "reload_failed",	VS_LOG_ERR },
	{ "steering_replaced",	VS_LOG_WARN },
	/* the daemon's pins */
	{ "repinned",		VS_LOG_WARN },
	{ "pin_replaced",	VS_LOG_WARN },
	{ "pins_lost",		VS_LOG_ERR },
	/* the fleet (ctl/fleet.c): this host's link to etcd, and the others */
	{ "fleet_joined",	VS_LOG_NOTICE },
	{ "fleet_stale",	VS_LOG_WARN },
	{ "fleet_reconnected",	VS_LOG_NOTICE },
	{ "fleet_host_joined",	VS_LOG_NOTICE },
	{ "fleet_host_missing",	VS_LOG_WARN },
	{ "fleet_host_back",	VS_LOG_NOTICE },
	{ "fleet_host_failing",	VS_LOG_WARN },
	{ "fleet_driver",	VS_LOG_NOTICE },
	{ "fleet_rollout_waiting", VS_LOG_WARN },
	{ "fleet_rollout_local", VS_LOG_WARN },
	{ NULL,			0 },
};
/* clang-format on */

static void put(struct event_ring *r, const struct event *e)
{
	r->ev[r->head] = *e;
	r->head = (r->head + 1) % EVENT_RING;
	if (r->n < EVENT_RING)
		r->n++;
	r->last_id = e->id;
}

void event_add(struct event_ring *r, int64_t now, const char *svc, const char *kind,
	       const char *message)
{
	struct event e = { .id = r->last_id + 1, .time = now };

	snprintf(e.service, sizeof(e.service), "%s", svc);
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	snprintf(e.message, sizeof(e.message), "%s", message);
	put(r, &e);
}

int event_restore(struct event_ring *r, const struct event *e)
{
	if (e->id <= r->last_id)
		return -EINVAL;
	put(r, e);
	return 0;
}

const struct event *event_nth(const struct event_ring *r, uint32_t k)
{
	return &r->ev[(r->head + EVENT_RING - 1 - k) % EVENT_RING];
}

uint32_t event_count_after(const struct event_ring *r, uint64_t since)
{
	uint32_t k = 0;

	while (k < r->n && event_nth(r, k)->id > since)
		k++;
	return k;
}

uint64_t event_missed(const struct event_ring *r, uint64_t since)
{
	uint64_t oldest = r->n ? event_nth(r, r->n - 1)->id : r->last_id + 1;

	return oldest > since + 1 ? oldest - since - 1 : 0;
}

enum vs_log_level event_level(const char *kind)
{
	for (const struct event_kind *k = event_kinds; k->kind; k++)
		if (!strcmp(k->kind, kind))
			return k->level;
	return VS_LOG_INFO;
}
