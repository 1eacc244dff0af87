// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/reconcile.h"

void reconcile_note(struct model *run, struct reconcile_result *r, int64_t now, const char *svc,
		    const char *fmt, ...)
{
	struct reconcile_note *n;
	va_list ap;

	if (r->nnotes++ >= RECONCILE_MAX_NOTES)
		return;
	n = &r->notes[r->nnotes - 1];
	snprintf(n->service, sizeof(n->service), "%s", svc);
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	model_event(run, now, svc, "config_differs", "%s", n->text);
}

/* A setting of service `svc` that differs: both values, and how the
 * running one is changed, since a reload never does it. */
static void differs(struct model *run, struct reconcile_result *r, int64_t now, const char *svc,
		    const char *what, const char *cfg, const char *running, const char *how)
{
	reconcile_note(run, r, now, svc,
		       "%s differs: the config says %s, vsteerd runs %s; kept as it runs (%s)",
		       what, cfg, running, how);
}

static void differs_int(struct model *run, struct reconcile_result *r, int64_t now, const char *svc,
			const char *what, long long cfg, long long running, const char *how)
{
	char a[24], b[24];

	if (cfg == running)
		return;
	snprintf(a, sizeof(a), "%lld", cfg);
	snprintf(b, sizeof(b), "%lld", running);
	differs(run, r, now, svc, what, a, b, how);
}

/* "interval 5 -> 1, judged yes -> no": the settings of a that b changes. */
static void format_analysis_change(const struct analysis *a, const struct analysis *b, char *buf,
				   size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (a->on != b->on)
		len += snprintf(buf, size, "judged %s -> %s", a->on ? "yes" : "no",
				b->on ? "yes" : "no");
	for (size_t i = 0; i < JUDGE_NFIELDS && len < size; i++) {
		const struct judge_field *f = &judge_fields[i];
		double x = judge_get(a, f), y = judge_get(b, f);
		char xs[24], ys[24];

		if (x == y)
			continue;
		snprintf(xs, sizeof(xs), "%g", x);
		snprintf(ys, sizeof(ys), "%g", y);
		len += snprintf(buf + len, size - len, "%s%s %s -> %s", len ? ", " : "", f->name,
				f->kind == JUDGE_LIMIT && x == JUDGE_NO_LIMIT ? "none" : xs,
				f->kind == JUDGE_LIMIT && y == JUDGE_NO_LIMIT ? "none" : ys);
	}
	if (a->on_inconclusive != b->on_inconclusive && len < size)
		snprintf(buf + len, size - len, "%sonInconclusive %s -> %s", len ? ", " : "",
			 judge_inconclusive_name(a->on_inconclusive),
			 judge_inconclusive_name(b->on_inconclusive));
}

/* The judge's settings are the config's (there is no API for them): a
 * changed one is taken, and said. They only say how a rollout to come
 * is judged, so no client moves. */
static void take_analysis(struct model *run, uint32_t rs, const struct analysis *a,
			  struct reconcile_result *r, int64_t now)
{
	char change[EVENT_MESSAGE_LEN - 64];

	format_analysis_change(&run->svc[rs].an, a, change, sizeof(change));
	if (!change[0])
		return;
	run->svc[rs].an = *a;
	r->nan++;
	model_event(run, now, run->svc[rs].name, "analysis_set",
		    "analysis settings from the config, which owns them: %s", change);
}

/* A service's webhooks are the config's too (no API sets them). URLs and
 * headers may carry secrets: the event counts them. */
static void take_notify(struct model *run, uint32_t rs, const struct notify_list *n,
			struct reconcile_result *r, int64_t now)
{
	uint32_t was = run->svc[rs].notify.n;

	if (!memcmp(&run->svc[rs].notify, n, sizeof(*n)))
		return;
	run->svc[rs].notify = *n;
	r->nnotify++;
	model_event(run, now, run->svc[rs].name, "notifications_set",
		    "notifications from the config, which owns them: now %u webhook%s (%u before)",
		    n->n, n->n == 1 ? "" : "s", was);
}

static void compare_service(struct model *run, uint32_t rs, const struct model *cfg, uint32_t cs,
			    struct reconcile_result *r, int64_t now)
{
	const struct service *a = &cfg->svc[cs], *b = &run->svc[rs];
	char x[EP_STRLEN], y[EP_STRLEN], how[NAME_MAX_LEN + 64];

	snprintf(how, sizeof(how), "to change it: DELETE /v1/services/%s, then POST /v1/services",
		 b->name);
	if (!ep_equal(&a->addr, &b->addr)) {
		ep_format(&a->addr, x, sizeof(x));
		ep_format(&b->addr, y, sizeof(y));
		differs(run, r, now, b->name, "address", x, y, how);
	}
	if (a->http != b->http)
		differs(run, r, now, b->name, "protocol", a->http ? "http" : "tcp",
			b->http ? "http" : "tcp", how);
	differs_int(run, r, now, b->name, "sessions.ipv6Prefix", a->sess.key6, b->sess.key6, how);
	differs_int(run, r, now, b->name, "sessions.quota", a->sess.quota, b->sess.quota, how);
	differs_int(run, r, now, b->name, "sessions.quotaPrefix4", a->sess.quota4, b->sess.quota4,
		    how);
	differs_int(run, r, now, b->name, "sessions.quotaPrefix6", a->sess.quota6, b->sess.quota6,
		    how);
	take_analysis(run, rs, &a->an, r, now);
	take_notify(run, rs, &a->notify, r, now);
	/* Not compared: sessionTimeout, which every rollout may set (the
	 * config's is where a new service starts), and weights, which are
	 * what rollouts and PUT .../weights made. */
}

static bool has_server(const struct cluster *c, const struct vs_endpoint *e,
		       const struct netns_spec *ns)
{
	for (uint32_t i = 0; i < c->nsrv; i++)
		if (ep_equal(&c->srv[i], e) && netns_equal(&c->netns[i], ns))
			return true;
	return false;
}

static void format_servers(const struct cluster *c, char *buf, size_t size)
{
	size_t len = 0;
	char a[EP_STRLEN], ns[NETNS_STRLEN];

	buf[0] = '\0';
	for (uint32_t i = 0; i < c->nsrv && len < size; i++) {
		ep_format(&c->srv[i], a, sizeof(a));
		netns_format(&c->netns[i], ns, sizeof(ns));
		len += snprintf(buf + len, size - len, "%s%s%s%s", i ? ", " : "", a,
				ns[0] ? " in " : "", ns);
	}
}

static void format_health(const struct health_check *h, char *buf, size_t size)
{
	if (!h->on)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size,
			 "GET %s every %u ms (timeout %u ms, down after %u, up after %u)", h->path,
			 h->interval_ms, h->timeout_ms, h->unhealthy_after, h->healthy_after);
}

static bool health_equal(const struct health_check *a, const struct health_check *b)
{
	if (!a->on || !b->on)
		return a->on == b->on;
	return !strcmp(a->path, b->path) && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->unhealthy_after == b->unhealthy_after &&
	       a->healthy_after == b->healthy_after;
}

/* Not compared: upgradeTransition, which says how a version takes over
 * when it is registered (a reload registers none that runs), and the
 * weight. */
static void compare_cluster(struct model *run, uint32_t rslot, const struct cluster *a,
			    struct reconcile_result *r, int64_t now)
{
	const struct cluster *b = &run->cl[rslot];
	const char *svc = run->svc[b->svc].name;
	char x[192], y[192], what[VERSION_MAX_LEN + 24], how[ID_LEN + 64];
	bool same = a->nsrv == b->nsrv;

	snprintf(how, sizeof(how), "to change it: DELETE /v1/clusters/%s, then PUT /v1/clusters",
		 b->id);
	for (uint32_t i = 0; same && i < a->nsrv; i++)
		same = has_server(b, &a->srv[i], &a->netns[i]);
	if (!same) {
		format_servers(a, x, sizeof(x));
		format_servers(b, y, sizeof(y));
		snprintf(what, sizeof(what), "version %s: servers", b->version);
		differs(run, r, now, svc, what, x, y, how);
	}
	if (!health_equal(&a->health, &b->health)) {
		format_health(&a->health, x, sizeof(x));
		format_health(&b->health, y, sizeof(y));
		snprintf(what, sizeof(what), "version %s: health", b->version);
		differs(run, r, now, svc, what, x, y, how);
	}
	if (!owner_equal(&a->rule, &b->rule)) {
		owner_format(&a->rule, x, sizeof(x));
		owner_format(&b->rule, y, sizeof(y));
		snprintf(what, sizeof(what), "version %s: owner", b->version);
		differs(run, r, now, svc, what, a->rule.set ? x : "none",
			b->rule.set ? y : "none (recorded from its sockets)", how);
	}
}

static void record_cluster(struct model *run, uint32_t slot, struct reconcile_result *r,
			   const char *how, int64_t now)
{
	const struct cluster *c = &run->cl[slot];
	struct reconcile_added *a = &r->cl[r->ncl];

	snprintf(a->service, sizeof(a->service), "%s", run->svc[c->svc].name);
	snprintf(a->version, sizeof(a->version), "%s", c->version);
	memcpy(a->id, c->id, ID_LEN);
	r->cl_slot[r->ncl++] = slot;
	model_event(run, now, run->svc[c->svc].name, "cluster_added",
		    "version %s added as cluster %s from the config (%s, %u server%s), %s",
		    c->version, c->id, model_mode_name(c->mode), c->nsrv, c->nsrv == 1 ? "" : "s",
		    how);
}

/* A service only the config has: as the config makes it, clusters,
 * weights and a rollout the config started included (its slots are
 * cfg's: mapped to run's). No client of it is moved: it had none. */
static int add_service(struct model *run, const struct model *cfg, uint32_t cs,
		       const uint64_t *avoid, struct reconcile_result *r, int64_t now,
		       struct vs_err *err)
{
	const struct service *s = &cfg->svc[cs];
	int map[VS_MAX_SLOTS], id, slot;
	struct rollout *ro;
	char a[EP_STRLEN], w[160];

	id = model_add_service(run, s->name, &s->addr, s->salt, err);
	if (id < 0)
		return id;
	run->svc[id] = *s;
	snprintf(r->svc[r->nsvc++], NAME_MAX_LEN, "%s", s->name);
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		struct cluster spec = cfg->cl[i];

		map[i] = -1;
		if (!spec.used || spec.svc != cs)
			continue;
		spec.svc = id;
		spec.used = false;
		slot = model_add_cluster(run, &spec, avoid, err);
		if (slot < 0)
			return slot;
		map[i] = slot;
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (map[i] >= 0)
			run->cl[map[i]].weight = cfg->cl[i].weight;
	ro = &run->svc[id].ro;
	if (ro->phase != RO_NONE && (map[ro->from] < 0 || map[ro->to] < 0))
		ro->phase = RO_NONE;
	if (ro->phase != RO_NONE) {
		ro->from = map[ro->from];
		ro->to = map[ro->to];
	}
	ep_format(&s->addr, a, sizeof(a));
	model_format_weights(run, id, w, sizeof(w));
	model_event(run, now, s->name, "service_added",
		    "service added from the config: %s (%s), %s", a, s->http ? "http" : "tcp",
		    w[0] ? w : "no versions yet");
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (map[i] >= 0)
			record_cluster(run, map[i], r, "with its new service", now);
	return id;
}

/* A version only the config has, of a service that runs: at weight 0,
 * whatever its upgradeTransition says, so that re-reading a file never
 * moves a client (a service with no version left gets it whole, as a
 * first cluster does: it had no client to move). */
static int add_cluster(struct model *run, uint32_t rs, const struct cluster *c,
		       const uint64_t *avoid, struct reconcile_result *r, int64_t now,
		       struct vs_err *err)
{
	struct cluster spec = *c;
	char how[NAME_MAX_LEN + 96];
	int slot;

	spec.svc = rs;
	spec.used = false;
	spec.mode = CL_MANUAL;
	spec.session_timeout = 0;
	slot = model_add_cluster(run, &spec, avoid, err);
	if (slot < 0)
		return slot;
	if (run->cl[slot].weight)
		snprintf(how, sizeof(how), "taking every new session: the service had no version");
	else
		snprintf(how, sizeof(how),
			 "at 0%%: a reload moves no client (roll it out: POST /v1/services/%s/rollout)",
			 run->svc[rs].name);
	record_cluster(run, slot, r, how, now);
	return 0;
}

/* Versions of running service rs: the config's new ones added, the
 * others compared; those the config lacks are named. */
static int merge_clusters(struct model *run, uint32_t rs, const struct model *cfg, uint32_t cs,
			  const uint64_t *avoid, struct reconcile_result *r, int64_t now,
			  struct vs_err *err)
{
	bool seen[VS_MAX_SLOTS] = {};
	int slot, ret;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		if (!cfg->cl[i].used || cfg->cl[i].svc != cs)
			continue;
		slot = model_find_version(run, rs, cfg->cl[i].version);
		if (slot >= 0) {
			seen[slot] = true;
			compare_cluster(run, slot, &cfg->cl[i], r, now);
			continue;
		}
		ret = add_cluster(run, rs, &cfg->cl[i], avoid, r, now, err);
		if (ret)
			return ret;
		seen[r->cl_slot[r->ncl - 1]] = true;
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (run->cl[i].used && run->cl[i].svc == rs && !seen[i])
			reconcile_note(
				run, r, now, run->svc[rs].name,
				"version %s (cluster %s) runs but is not in the config: kept (DELETE /v1/clusters/%s removes it)",
				run->cl[i].version, run->cl[i].id, run->cl[i].id);
	return 0;
}

int reconcile_merge(struct model *run, const struct model *cfg, const uint64_t *avoid, int64_t now,
		    struct reconcile_result *r, struct vs_err *err)
{
	bool known[VS_MAX_SERVICES] = {};
	int ret, rs;

	memset(r, 0, sizeof(*r));
	/* Services first, so that a new cluster's server is checked against
	 * every service address, new ones included. */
	for (uint32_t cs = 0; cs < VS_MAX_SERVICES; cs++) {
		if (!cfg->svc[cs].used)
			continue;
		rs = model_find_service(run, cfg->svc[cs].name);
		if (rs < 0) {
			rs = add_service(run, cfg, cs, avoid, r, now, err);
			if (rs < 0)
				return rs;
			known[rs] = true;
			continue;
		}
		if (known[rs])
			continue;
		known[rs] = true;
		compare_service(run, rs, cfg, cs, r, now);
		ret = merge_clusters(run, rs, cfg, cs, avoid, r, now, err);
		if (ret)
			return ret;
	}
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (run->svc[s].used && !known[s])
			reconcile_note(
				run, r, now, run->svc[s].name,
				"service %s runs but is not in the config: kept (DELETE /v1/services/%s removes it)",
				run->svc[s].name, run->svc[s].name);
	if (r->nnotes > RECONCILE_MAX_NOTES)
		model_event(run, now, "", "config_differs",
			    "%u more differences between the config and what runs, not listed",
			    r->nnotes - RECONCILE_MAX_NOTES);
	return 0;
}

void reconcile_summary(const struct reconcile_result *r, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!r->nsvc && !r->ncl && !r->nan && !r->nnotify && !r->nnotes) {
		snprintf(buf, size, "nothing changed");
		return;
	}
	if (r->nsvc) {
		len += snprintf(buf + len, size - len, "%u service%s added (", r->nsvc,
				r->nsvc == 1 ? "" : "s");
		for (uint32_t i = 0; i < r->nsvc && len < size; i++)
			len += snprintf(buf + len, size - len, "%s%s", i ? ", " : "", r->svc[i]);
		if (len < size)
			len += snprintf(buf + len, size - len, ")");
	}
	if (len < size)
		len += snprintf(buf + len, size - len, "%s%u version%s added", len ? ", " : "",
				r->ncl, r->ncl == 1 ? "" : "s");
	if (r->nan && len < size)
		len += snprintf(buf + len, size - len, ", analysis set for %u service%s", r->nan,
				r->nan == 1 ? "" : "s");
	if (r->nnotify && len < size)
		len += snprintf(buf + len, size - len, ", notifications set for %u service%s",
				r->nnotify, r->nnotify == 1 ? "" : "s");
	if (len < size)
		snprintf(buf + len, size - len, ", %u difference%s kept as running%s", r->nnotes,
			 r->nnotes == 1 ? "" : "s", r->nnotes ? " (config_differs events)" : "");
}
