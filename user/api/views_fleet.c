// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "lib/clock.h"
#include "core/rollout_text.h"
#include "codec/state.h"
#include "api/views_fleet.h"

static json_t *time_json(int64_t ms)
{
	char t[CLOCK_RFC3339_LEN];

	if (ms <= 0)
		return json_null();
	clock_rfc3339(ms / 1000, (int)(ms % 1000), t);
	return json_string(t);
}

/* What a host tells the fleet of one version: its weight, its sockets and
 * connections here, and its side of the rollout's last judged window. */
static json_t *version_json(const struct snap *s, uint32_t slot, json_t *problems)
{
	const struct cluster *cl = &s->m.cl[slot];
	const struct snap_version *v = s->ver[slot];
	struct window_sum w;
	char msg[256];
	json_t *j;

	j = json_pack("{sssfsisI}", "version", cl->version, "weight", cl->weight / 100.0,
		      "liveSockets", v->live, "openConnections", (json_int_t)v->open);
	if (v->judged_ok) {
		window_summarize(&v->judged, s->m.svc[cl->svc].ro.an.interval, &w);
		json_object_set_new(j, "analysisWindow", state_window_json(&w));
	}
	if (cl->weight > 0 && !v->live && json_array_size(problems) < FLEET_PROBLEMS_MAX) {
		snprintf(msg, sizeof(msg),
			 "service %s: version %s takes %.2f%% of new sessions and has no live socket",
			 s->m.svc[cl->svc].name, cl->version, cl->weight / 100.0);
		json_array_append_new(problems, json_string(msg));
	}
	return j;
}

/* The rollout as this host runs it: the fleet's driver reads the step it
 * applied and its judged windows (ctl/fleet_drive.c). */
static json_t *rollout_json(const struct model *m, uint32_t svc)
{
	const struct rollout *ro = &m->svc[svc].ro;

	if (ro->phase == RO_NONE || !m->cl[ro->to].used)
		return json_null();
	/* clang-format off */
	return json_pack("{sssssssssisisIsbsoss?}", "phase", ro_phase_name(ro->phase),
			 "strategy", ro_strategy_name(ro->strategy),
			 "from", m->cl[ro->from].used ? m->cl[ro->from].version : "",
			 "to", m->cl[ro->to].version, "step", (int)ro->step + 1,
			 "stepsTotal", (int)ro->nsteps, "started", (json_int_t)ro->started,
			 "fleet", ro->fleet, "analysis", state_analysis_json(&ro->an),
			 "failed", ro->fleet && rollout_active(ro) && ro->why[0] ? ro->why : NULL);
	/* clang-format on */
}

json_t *views_fleet_host(const struct snap *s, const char *host)
{
	json_t *services = json_array(), *problems = json_array();
	uint32_t order[VS_MAX_VERSIONS], n;
	char a[EP_STRLEN];

	for (uint32_t id = 0; id < VS_MAX_SERVICES; id++) {
		const struct service *sv = &s->m.svc[id];
		json_t *vers = json_array();

		if (!sv->used) {
			json_decref(vers);
			continue;
		}
		n = model_order(&s->m, id, order);
		for (uint32_t i = 0; i < n; i++)
			json_array_append_new(vers, version_json(s, order[i], problems));
		ep_format(&sv->addr, a, sizeof(a));
		json_array_append_new(services, json_pack("{sssssoso}", "name", sv->name, "address",
							  a, "versions", vers, "rollout",
							  rollout_json(&s->m, id)));
	}
	return json_pack("{sssosssoso}", "host", host, "at", time_json(clock_wall() * 1000),
			 "vsteerd", s->version ?: "unknown", "services", services, "problems",
			 problems);
}

/* missing (no status: its lease lapsed), failing (it reports problems),
 * behind (it has not applied the newest desired state this host saw) or
 * ok. */
static const char *host_state(json_t *doc, int64_t desired_rev)
{
	if (!doc)
		return "missing";
	if (json_array_size(json_object_get(doc, "problems")))
		return "failing";
	return fleet_host_behind(doc, desired_rev) ? "behind" : "ok";
}

json_t *views_fleet_view(const struct fleet_view *v)
{
	json_t *hosts = json_array(), *services = json_object(), *versions = json_array(), *m, *doc;
	json_t *waiting = json_object();
	const char *id;

	json_object_foreach (v->members, id, m) {
		doc = json_object_get(v->hosts, id);
		json_array_append_new(hosts, json_pack("{sssssbsOsO}", "host", id, "state",
						       host_state(doc, v->desired_rev), "self",
						       !strcmp(id, v->host_id), "joined",
						       json_object_get(m, "joined") ?: json_null(),
						       "status", doc ?: json_null()));
	}
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++) {
		const struct fleet_desired *d = &v->desired[i];

		if (d->name[0])
			json_object_set_new(services, d->name,
					    json_pack("{sIss?ss?}", "revision",
						      (json_int_t)d->mod_rev, "by",
						      d->by[0] ? d->by : NULL, "problem",
						      d->problem[0] ? d->problem : NULL));
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		const struct fleet_version *e = &v->versions[i];

		if (e->svc[0] && !e->gone)
			json_array_append_new(versions,
					      json_pack("{sssssIss?ss?}", "service", e->svc,
							"version", e->version, "revision",
							(json_int_t)e->mod_rev, "by",
							e->by[0] ? e->by : NULL, "problem",
							e->problem[0] ? e->problem : NULL));
	}
	/* What the driver says its rollouts wait for (its own status). */
	doc = json_object_get(v->hosts, v->driver);
	json_object_foreach (json_object_get(doc, "waiting"), id, m)
		if (json_is_string(m) && json_object_size(waiting) < VS_MAX_SERVICES)
			json_object_set(waiting, id, m);
	/* clang-format off */
	return json_pack("{sssssssis{sbsosososs?}sosIsIsIs{sisisisi}sosososs?so}",
			 "host", v->host_id, "prefix", v->prefix, "etcd", v->endpoints,
			 "leaseSeconds", (int)v->lease_s,
			 "link", "stale", v->stale,
			 "staleSince", v->stale ? time_json(v->stale_since * 1000) : json_null(),
			 "lastAnswer", time_json(v->contact_at),
			 "joined", json_boolean(v->joined),
			 "error", v->error[0] ? v->error : NULL,
			 "readAt", time_json(v->read_at), "revision", (json_int_t)v->revision,
			 "appliedRevision", (json_int_t)v->applied_rev,
			 "desiredRevision", (json_int_t)v->desired_rev,
			 "counts", "ok", (int)v->nok, "behind", (int)v->nbehind,
			 "failing", (int)v->nfailing, "missing", (int)v->nmissing,
			 "services", services, "versions", versions, "hosts", hosts,
			 "driver", v->driver[0] ? v->driver : NULL, "waiting", waiting);
	/* clang-format on */
}
