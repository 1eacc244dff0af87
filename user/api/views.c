// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "core/rollout_text.h"
#include "codec/state.h"
#include "kernel/dp.h"
#include "kernel/features.h"
#include "ctl/recent.h"
#include "api/views.h"
#include "api/views_mirror.h"

/* A version's numbers in a window: the rollout's last judged one, or the
 * last RECENT_SECONDS seconds. */
static json_t *window_json(const struct window *w, uint32_t seconds)
{
	struct window_sum sum;

	window_summarize(w, seconds, &sum);
	return state_window_json(&sum);
}

/* A version's drain (core/drain.h), null when none is scheduled. */
static json_t *drain_json(const struct drain *d)
{
	if (!d->on)
		return json_null();
	/* clang-format off */
	return json_pack("{sIsIsIsbsb}", "deadline", (json_int_t)d->secs,
			 "startedAt", (json_int_t)d->started,
			 "closesAt", (json_int_t)drain_at(d),
			 "closing", d->due, "drained", d->drained);
	/* clang-format on */
}

static json_t *version_json(const struct snap *s, uint32_t slot)
{
	const struct cluster *cl = &s->m.cl[slot];
	const struct snap_version *v = s->ver[slot];
	const struct vs_ver_stats *st = &v->st;
	json_t *bks = json_array(), *servers = json_array(), *b;
	char a[EP_STRLEN], ns[NETNS_STRLEN];

	for (uint32_t i = 0; i < cl->nsrv; i++) {
		const struct snap_server *sv = &v->srv[i];

		ep_format(&cl->srv[i], a, sizeof(a));
		json_array_append_new(servers, json_string(a));
		netns_format(&cl->netns[i], ns, sizeof(ns));
		/* clang-format off */
		b = json_pack("{sssbsisbsisosiss}", "address", a,
			      "live", sv->live > 0,
			      "sockets", sv->live, "healthy", sv->healthy,
			      "acceptBacklog", (int)sv->backlog,
			      "owner", state_owner_json(&cl->owner[i]),
			      "refusedSockets", (int)sv->refused,
			      "steering", model_by_addr(cl) ? "address" : "socket");
		/* clang-format on */
		json_object_set_new(b, "netns", ns[0] ? json_string(ns) : json_null());
		json_array_append_new(bks, b);
	}
	/* clang-format off */
	return json_pack("{sssssssssfsbsisIsbsososo s{sIsIsIsIsIsIsIs{sIsIsIsI}sfsfsfsI}}",
			 "id", cl->id, "service", s->m.svc[cl->svc].name,
			 "version", cl->version, "mode", model_mode_name(cl->mode),
			 "weight", cl->weight / 100.0, "live", v->live > 0,
			 "liveSockets", v->live,
			 "openConnections", (json_int_t)v->open, "drained", v->open == 0,
			 "drain", drain_json(&cl->drain),
			 "servers", servers, "backends", bks,
			 "counters", "steered", (json_int_t)st->steered,
			 "failoverIn", (json_int_t)st->failover_in,
			 "failoverOut", (json_int_t)st->failover_out,
			 "requests", (json_int_t)st->requests,
			 "responseBytes", (json_int_t)st->resp_bytes,
			 "resets", (json_int_t)st->resets,
			 "arrived", (json_int_t)st->arrived,
			 "status", "2xx", (json_int_t)st->status[0], "3xx", (json_int_t)st->status[1],
			 "4xx", (json_int_t)st->status[2], "5xx", (json_int_t)st->status[3],
			 "latencyP50Ms", hist_quantile(&v->lat, 0.5) / 1e6,
			 "latencyP99Ms", hist_quantile(&v->lat, 0.99) / 1e6,
			 "meanResponseBytes", hist_mean(&v->size),
			 "drainClosed", (json_int_t)cl->drain.closed);
	/* clang-format on */
}

/* GET /v1/events: the newest first; with since (>= 0), the ones after it,
 * oldest first, to follow them. */
json_t *views_events(const struct event_ring *r, const char *svc, int64_t since)
{
	uint32_t n = since >= 0 ? event_count_after(r, since) : r->n;
	json_t *list = json_array();

	for (uint32_t i = 0; i < n; i++) {
		const struct event *e = event_nth(r, since >= 0 ? n - 1 - i : i);

		if (!svc || !strcmp(e->service, svc))
			json_array_append_new(list, state_event_json(e));
	}
	/* clang-format off */
	return json_pack("{sosIsI}", "events", list, "last", (json_int_t)r->last_id,
			 "missed", (json_int_t)(since >= 0 ? event_missed(r, since) : 0));
	/* clang-format on */
}

/* A rollout's history, newest first, from the rollout's own record. */
static json_t *history_json(const struct model *m, uint32_t svc)
{
	const struct rollout *ro = &m->svc[svc].ro;
	json_t *list = json_array();
	char detail[EVENT_MESSAGE_LEN];

	for (uint32_t i = ro->nhist; i-- > 0;) {
		const struct ro_mark *mk = &ro->hist[i];

		ro_mark_detail(m, svc, mk, detail, sizeof(detail));
		/* clang-format off */
		json_array_append_new(list, json_pack("{sIsssisfss}", "time", (json_int_t)mk->time,
						      "kind", ro_mark_name(mk->type),
						      "step", mk->step + 1,
						      "weight", mk->weight / 100.0,
						      "message", detail));
		/* clang-format on */
	}
	return list;
}

static json_t *opt_time(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

static json_t *rollout_json(const struct model *m, uint32_t s)
{
	const struct rollout *ro = &m->svc[s].ro;
	int64_t due = rollout_next_due(ro);
	json_t *steps;

	if (ro->phase == RO_NONE || !m->cl[ro->to].used)
		return json_null();
	steps = json_array();
	/* clang-format off */
	for (uint32_t i = 0; i < ro->nsteps; i++)
		json_array_append_new(steps, json_pack("{sfso}", "weight", ro->steps[i].weight / 100.0,
						       "hold", ro->steps[i].hold == RO_WAIT ? json_null() :
						       json_integer(ro->steps[i].hold)));
	return json_pack("{sssssssssisisosfsIsIsosososososososb}",
			 "phase", ro_phase_name(ro->phase),
			 "strategy", ro_strategy_name(ro->strategy),
			 "from", m->cl[ro->from].used ? m->cl[ro->from].version : "",
			 "to", m->cl[ro->to].version,
			 "step", (int)ro->step + 1, "stepsTotal", (int)ro->nsteps, "steps", steps,
			 "weight", m->cl[ro->to].weight / 100.0,
			 "sessionTimeout", (json_int_t)m->svc[s].session_timeout,
			 "startedAt", (json_int_t)ro->started,
			 "stepStartedAt", opt_time(ro->step_started),
			 "nextStepAt", due >= 0 ? json_integer(due) : json_null(),
			 "pausedHoldLeft", ro->phase == RO_PAUSED && ro->paused_left >= 0 ?
				json_integer(ro->paused_left) : json_null(),
			 "endedAt", opt_time(ro->ended),
			 "analysis", state_analysis_json(&ro->an),
			 "drainDeadline", ro->drain.on ? json_integer(ro->drain.secs) : json_null(),
			 "history", history_json(m, s), "fleet", ro->fleet);
	/* clang-format on */
}

static json_t *service_json(const struct snap *s, uint32_t id)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(&s->m, id, order);
	const struct service *sv = &s->m.svc[id];
	const struct vs_svc_stats *st = &s->svc[id];
	json_t *vers = json_array(), *ro, *last, *j;
	char a[EP_STRLEN];

	for (uint32_t i = 0; i < n; i++) {
		const struct snap_version *v = s->ver[order[i]];
		json_t *j = version_json(s, order[i]);

		json_object_set_new(j, "lastWindow",
				    v->recent_ok ? window_json(&v->recent, RECENT_SECONDS) :
						   json_null());
		if (v->judged_ok)
			json_object_set_new(j, "analysisWindow",
					    window_json(&v->judged, sv->ro.an.interval));
		json_array_append_new(vers, j);
	}
	ep_format_addr(&sv->addr, a, sizeof(a));
	ro = rollout_json(&s->m, id);
	if (sv->ro.strategy == RO_MIRROR && json_is_object(ro))
		json_object_set_new(ro, "mirror", views_mirror_json(s, id));
	last = views_mirror_last_json(s, id);
	/* clang-format off */
	j = json_pack("{sssssssisIsososososo s{sIsIsIsIsIsI}}", "name", sv->name,
			 "protocol", sv->http ? "http" : "tcp",
			 "address", a, "port", sv->addr.port,
			 "sessionTimeout", (json_int_t)sv->session_timeout,
			 "sessions", state_sess_json(&sv->sess),
			 "analysis", state_settings_json(&sv->an),
			 "rollout", ro, "versions", vers,
			 "notifications", state_notify_json(&sv->notify, false),
			 "counters", "lookups", (json_int_t)st->lookups,
			 "steered", (json_int_t)st->steered, "refused", (json_int_t)st->refused,
			 "assignErrors", (json_int_t)st->assign_err,
			 "sessionsOverQuota", (json_int_t)s->guard[id].quota_refused,
			 "sessionsNotHeld", (json_int_t)s->guard[id].hold_full);
	/* clang-format on */
	if (json_is_null(last))
		json_decref(last);
	else
		json_object_set_new(j, "lastMirror", last);
	return j;
}

json_t *views_services(const struct snap *s)
{
	json_t *list = json_array();

	for (uint32_t id = 0; id < VS_MAX_SERVICES; id++)
		if (s->m.svc[id].used)
			json_array_append_new(list, service_json(s, id));
	return json_pack("{so}", "services", list);
}

json_t *views_service(const struct snap *s)
{
	return service_json(s, s->svc_id);
}

json_t *views_clusters(const struct snap *s)
{
	json_t *list = json_array();

	for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++)
		if (s->m.cl[slot].used)
			json_array_append_new(list, version_json(s, slot));
	return json_pack("{so}", "clusters", list);
}

json_t *views_cluster(const struct snap *s)
{
	return version_json(s, s->cluster_slot);
}

json_t *views_features(const struct snap *s)
{
	const struct vs_features *fs = s->features;
	json_t *list = json_array();

	/* clang-format off */
	for (unsigned int i = 0; i < fs->n; i++)
		json_array_append_new(list, json_pack("{sssssssbsb}", "name", fs->f[i].name,
						      "usedFor", fs->f[i].what,
						      "since", fs->f[i].since,
						      "required", fs->f[i].core,
						      "available", fs->f[i].ok));
	return json_pack("{sssbsbsbssso}", "kernel", fs->kernel,
			 "steering", features_core_missing(fs) == NULL,
			 "watching", s->metering,
			 "mirror", s->mirroring,
			 "drainClose", s->drain_how == DP_DRAIN_ITER ? "bpf_sock_destroy" :
				       s->drain_how == DP_DRAIN_NETLINK ? "sock_diag_destroy" : "none",
			 "features", list);
	/* clang-format on */
}

json_t *views_reload(const struct reconcile_result *r)
{
	json_t *svcs = json_array(), *cls = json_array(), *warn = json_array();
	char sum[192];

	for (uint32_t i = 0; i < r->nsvc; i++)
		json_array_append_new(svcs, json_string(r->svc[i]));
	/* clang-format off */
	for (uint32_t i = 0; i < r->ncl; i++)
		json_array_append_new(cls, json_pack("{ssssss}", "service", r->cl[i].service,
						     "version", r->cl[i].version, "id", r->cl[i].id));
	for (uint32_t i = 0; i < r->nnotes && i < RECONCILE_MAX_NOTES; i++)
		json_array_append_new(warn, json_pack("{ssss}", "service", r->notes[i].service,
						      "message", r->notes[i].text));
	reconcile_summary(r, sum, sizeof(sum));
	return json_pack("{sssss{soso}sosI}", "status", "ok", "message", sum,
			 "added", "services", svcs, "clusters", cls, "warnings", warn,
			 "warningsNotListed", (json_int_t)(r->nnotes > RECONCILE_MAX_NOTES ?
							   r->nnotes - RECONCILE_MAX_NOTES : 0));
	/* clang-format on */
}
