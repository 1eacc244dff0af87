// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/dp.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_mirror.h"
#include "ctl/ctl.h"
#include "ctl/snap.h"

/* A version as the views show it: what the sockmap holds now (read, not
 * written to the controller's picture), and the kernel's counters. */
static void take_version(struct ctl *c, uint32_t slot, struct snap_version *v)
{
	const struct cluster *cl = &c->m->cl[slot];
	const struct window *w;
	__u64 now[VS_MAX_SOCKS];
	__s64 open;

	sock_read(c->dp, slot, c->sock.nsock[slot], now);
	for (uint32_t s = 0; s < cl->nsrv; s++) {
		v->srv[s].live = sock_live_now(&c->sock, slot, s, now);
		v->srv[s].healthy = !(c->sock.out[slot] & (1U << s));
		v->srv[s].backlog = c->sock.backlog[slot][s];
		v->srv[s].refused = c->sock.refused[slot][s];
		v->live += v->srv[s].live;
	}
	if (dp_ver_stats(c->dp, slot, &v->st))
		memset(&v->st, 0, sizeof(v->st));
	v->open = dp_open_conns(c->dp, slot, &open) || open < 0 ? 0 : open;
	if (dp_hist(c->dp, false, slot, v->lat.b))
		memset(&v->lat, 0, sizeof(v->lat));
	if (dp_hist(c->dp, true, slot, v->size.b))
		memset(&v->size, 0, sizeof(v->size));
	if (dp_ver_sums(c->dp, slot, &v->sums))
		memset(&v->sums, 0, sizeof(v->sums));
	w = recent_last(&c->recent, slot);
	v->recent_ok = w != NULL;
	if (w)
		v->recent = *w;
	w = analysis_last(&c->an, c->m, cl->svc, slot);
	v->judged_ok = w != NULL;
	if (w)
		v->judged = *w;
}

/* Whether slot is among the versions asked for. */
static bool wanted(const struct snap *s, const struct cluster *cl, uint32_t slot)
{
	if (!cl->used)
		return false;
	if (s->cluster_slot >= 0)
		return (int)slot == s->cluster_slot;
	return s->svc_id < 0 || (int)cl->svc == s->svc_id;
}

static int take_versions(struct ctl *c, struct snap *s)
{
	for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++) {
		if (!wanted(s, &c->m->cl[slot], slot))
			continue;
		s->ver[slot] = calloc(1, sizeof(*s->ver[slot]));
		if (!s->ver[slot])
			return -ENOMEM;
		take_version(c, slot, s->ver[slot]);
	}
	for (uint32_t id = 0; id < VS_MAX_SERVICES; id++) {
		if (!c->m->svc[id].used || (s->svc_id >= 0 && (int)id != s->svc_id))
			continue;
		if (dp_svc_stats(c->dp, id, &s->svc[id]))
			memset(&s->svc[id], 0, sizeof(s->svc[id]));
		if (dp_svc_guard(c->dp, id, &s->guard[id]))
			memset(&s->guard[id], 0, sizeof(s->guard[id]));
		s->mirror[id] = mirror_report_copy(&c->mirror, id);
		if (s->mirror[id] && dp_mirror_stats(c->dp, id, &s->capture[id]))
			memset(&s->capture[id], 0, sizeof(s->capture[id]));
	}
	return 0;
}

/* The fleet's lock inside the controller's: the fleet's thread never
 * holds the two at once. */
static void take_fleet(struct fleet_state *f, struct snap *s)
{
	pthread_mutex_lock(&f->lock);
	s->fleet.on = f->view.on;
	s->fleet.stale = f->view.stale;
	s->fleet.nok = f->view.nok;
	s->fleet.nfailing = f->view.nfailing;
	s->fleet.nmissing = f->view.nmissing;
	s->fleet.nbehind = f->view.nbehind;
	s->fleet.driving = f->view.driving;
	s->fleet.driver = f->view.driver[0];
	pthread_mutex_unlock(&f->lock);
}

int snap_take(struct ctl *c, enum snap_what what, const char *service, const char *cluster,
	      struct snap **out, struct vs_err *err)
{
	struct snap *s = calloc(1, sizeof(*s));
	int ret = 0;

	if (!s)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	s->svc_id = s->cluster_slot = -1;
	pthread_mutex_lock(&c->lock);
	if (service && (s->svc_id = model_find_service(c->m, service)) < 0)
		ret = vs_errf(err, -ENOENT, 404, "unknown_service", "no service named '%.64s'",
			      service);
	else if (cluster && (s->cluster_slot = model_find_cluster(c->m, cluster)) < 0)
		ret = vs_errf(err, -ENOENT, 404, "unknown_cluster", "no cluster with id '%.40s'",
			      cluster);
	if (!ret) {
		memcpy(&s->m, c->m, sizeof(s->m));
		s->ticks = c->ticks;
		s->version = c->version;
		s->notify_sent = atomic_load(&c->notify.sent);
		s->notify_failed = atomic_load(&c->notify.failed);
		s->notify_queued = atomic_load(&c->notify.queued);
		s->metering = dp_metering(c->dp);
		s->mirroring = c->mirror.running;
		s->drain_how = dp_drain_how(c->dp);
		s->features = c->features;
		take_fleet(&c->fleet, s);
		if (what == SNAP_VERSIONS && take_versions(c, s))
			ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	}
	pthread_mutex_unlock(&c->lock);
	if (ret) {
		snap_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void snap_free(struct snap *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		free(s->ver[i]);
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		free(s->mirror[i]);
	free(s);
}

int snap_events(struct ctl *c, const char *service, struct event_ring *out, struct vs_err *err)
{
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	/* An empty list for a misspelt name would read as "nothing happened". */
	if (service && model_find_service(c->m, service) < 0)
		ret = vs_errf(err, -ENOENT, 404, "unknown_service", "no service named '%.64s'",
			      service);
	else
		memcpy(out, &c->m->events, sizeof(*out));
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int snap_history(struct ctl *c, const char *service, struct history *out, struct vs_err *err)
{
	const struct history *h;
	int ret = 0, id;

	pthread_mutex_lock(&c->lock);
	id = model_find_service(c->m, service);
	if (id < 0)
		ret = vs_errf(err, -ENOENT, 404, "unknown_service", "no service named '%.64s'",
			      service);
	else if ((h = recent_history(&c->recent, id)) && !strcmp(h->service, c->m->svc[id].name))
		memcpy(out, h, sizeof(*out));
	else
		history_init(out, c->m->svc[id].name);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

uint64_t snap_ticks(struct ctl *c)
{
	uint64_t t;

	pthread_mutex_lock(&c->lock);
	t = c->ticks;
	pthread_mutex_unlock(&c->lock);
	return t;
}
