// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the API shows: services, versions, rollouts and events as JSON,
 * read under the controller's lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "parse.h"
#include "rollout.h"
#include "sockets.h"
#include "state.h"
#include "stats.h"

static json_t *version_json(struct ctl *c, uint32_t slot)
{
	const struct cluster *cl = &c->m->cl[slot];
	struct vs_ver_stats st = {};
	json_t *bks = json_array(), *servers = json_array();
	uint32_t live_total = 0;
	struct hist lat, size;
	char a[EP_STRLEN];
	__s64 open;

	/* Report what the sockmap holds now, not as of the last tick. */
	read_slot(c, slot, c->nsock[slot]);
	for (uint32_t b = 0; b < cl->nbk; b++) {
		uint32_t live = backend_live(c, slot, b);

		ep_format(&cl->bk[b], a, sizeof(a));
		json_array_append_new(servers, json_string(a));
		json_array_append_new(bks, json_pack("{sssbsisbsi}", "address", a, "live", live > 0,
						     "sockets", live, "healthy",
						     !c->bk_down[slot][b],
						     "acceptBacklog", (int)c->backlog[slot][b]));
		live_total += live;
	}
	dp_ver_stats(c->dp, slot, &st);
	if (dp_open_conns(c->dp, slot, &open) || open < 0)
		open = 0;
	if (dp_hist(c->dp, false, slot, lat.b))
		memset(&lat, 0, sizeof(lat));
	if (dp_hist(c->dp, true, slot, size.b))
		memset(&size, 0, sizeof(size));
	return json_pack("{sssssssssfsbsisIsbsoso s{sIsIsIsIsIsIsIs{sIsIsIsI}sfsfsf}}",
			 "id", cl->id, "service", c->m->svc[cl->svc].name,
			 "version", cl->version, "mode", mode_name(cl->mode),
			 "weight", cl->weight / 100.0, "live", live_total > 0,
			 "liveSockets", live_total,
			 "openConnections", (json_int_t)open, "drained", open == 0,
			 "servers", servers, "backends", bks,
			 "counters", "steered", (json_int_t)st.steered,
			 "failoverIn", (json_int_t)st.failover_in,
			 "failoverOut", (json_int_t)st.failover_out,
			 "requests", (json_int_t)st.requests,
			 "responseBytes", (json_int_t)st.resp_bytes,
			 "resets", (json_int_t)st.resets,
			 "arrived", (json_int_t)st.arrived,
			 "status", "2xx", (json_int_t)st.status[0], "3xx", (json_int_t)st.status[1],
			 "4xx", (json_int_t)st.status[2], "5xx", (json_int_t)st.status[3],
			 "latencyP50Ms", hist_quantile(&lat, 0.5) / 1e6,
			 "latencyP99Ms", hist_quantile(&lat, 0.99) / 1e6,
			 "meanResponseBytes", hist_mean(&size));
}

static json_t *event_json(const struct event *e)
{
	return json_pack("{sIssssss}", "time", (json_int_t)e->time, "service", e->service,
			 "type", e->type, "detail", e->detail);
}

/* Newest first; only service `svc` if not NULL. */
static json_t *events_json(const struct model *m, const char *svc)
{
	json_t *list = json_array();

	for (uint32_t k = 1; k <= m->nevents; k++) {
		const struct event *e =
			&m->events[(m->event_head + RO_MAX_EVENTS - k) % RO_MAX_EVENTS];

		if (!svc || !strcmp(e->service, svc))
			json_array_append_new(list, event_json(e));
	}
	return list;
}

/* A rollout's history, newest first, from the rollout's own record. */
static json_t *history_json(const struct model *m, uint32_t svc)
{
	const struct rollout *ro = &m->svc[svc].ro;
	json_t *list = json_array();
	char detail[sizeof(((struct event *)0)->detail)];

	for (uint32_t i = ro->nhist; i-- > 0;) {
		const struct ro_mark *mk = &ro->hist[i];

		ro_mark_detail(m, svc, mk, detail, sizeof(detail));
		json_array_append_new(list, json_pack("{sIsssisfss}", "time", (json_int_t)mk->time,
						      "type", ro_mark_name(mk->type),
						      "step", mk->step + 1,
						      "weight", mk->weight / 100.0,
						      "detail", detail));
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
	for (uint32_t i = 0; i < ro->nsteps; i++)
		json_array_append_new(steps, json_pack("{sfso}", "weight", ro->steps[i].weight / 100.0,
						       "hold", ro->steps[i].hold == RO_WAIT ? json_null() :
						       json_integer(ro->steps[i].hold)));
	return json_pack("{sssssssssisisosfsIsIsosososososo}",
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
			 "analysis", analysis_dump(&ro->an),
			 "history", history_json(m, s));
}

json_t *ctl_events_json(struct ctl *c, const char *svc)
{
	json_t *j;

	pthread_mutex_lock(&c->lock);
	j = json_pack("{so}", "events", events_json(c->m, svc));
	pthread_mutex_unlock(&c->lock);
	return j;
}

/* A version's numbers in a window: the rollout's last judged one, or the
 * last VS_STATS_WINDOW seconds. */
static json_t *window_json(const struct window *w, int seconds)
{
	return json_pack("{sisIsIsfsfsfsf}", "seconds", seconds,
			 "arrived", (json_int_t)w->arrived,
			 "requests", (json_int_t)w->requests,
			 "latencyP50Ms", hist_quantile(&w->lat, 0.5) / 1e6,
			 "latencyP99Ms", hist_quantile(&w->lat, 0.99) / 1e6,
			 "meanResponseBytes", hist_mean(&w->size),
			 "errorRate", w->requests ? (double)(w->errors + w->status5xx) / w->requests : 0.0);
}

static json_t *service_json(struct ctl *c, uint32_t s)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(c->m, s, order);
	const struct service *sv = &c->m->svc[s];
	struct vs_svc_stats st = {};
	json_t *vers = json_array();
	char a[EP_STRLEN];

	for (uint32_t i = 0; i < n; i++) {
		json_t *v = version_json(c, order[i]);
		const struct rollout *ro = &sv->ro;

		if (v)
			json_object_set_new(v, "lastWindow", c->vlast_ok[order[i]] ?
					    window_json(&c->vlast[order[i]], VS_STATS_WINDOW) :
					    json_null());
		if (v && ro->an.on && ro->an.windows && (order[i] == ro->to || order[i] == ro->from))
			json_object_set_new(v, "analysisWindow",
					    window_json(&c->last[order[i]], (int)ro->an.interval));
		json_array_append_new(vers, v);
	}
	ep_format_addr(&sv->addr, a, sizeof(a));
	dp_svc_stats(c->dp, s, &st);
	return json_pack("{sssssssisIsoso s{sIsIsIsI}}", "name", sv->name,
			 "protocol", sv->http ? "http" : "tcp",
			 "address", a, "port", sv->addr.port,
			 "sessionTimeout", (json_int_t)sv->session_timeout,
			 "rollout", rollout_json(c->m, s), "versions", vers,
			 "counters", "lookups", (json_int_t)st.lookups,
			 "steered", (json_int_t)st.steered, "refused", (json_int_t)st.refused,
			 "assignErrors", (json_int_t)st.assign_err);
}

json_t *ctl_services_json(struct ctl *c)
{
	json_t *list = json_array();

	pthread_mutex_lock(&c->lock);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (c->m->svc[s].used)
			json_array_append_new(list, service_json(c, s));
	pthread_mutex_unlock(&c->lock);
	return json_pack("{so}", "services", list);
}

json_t *ctl_service_json(struct ctl *c, const char *name, struct vs_err *err)
{
	json_t *j = NULL;
	int s;

	pthread_mutex_lock(&c->lock);
	s = model_find_service(c->m, name);
	if (s < 0)
		vs_errf(err, s, 404, "unknown_service", "no service named '%.64s'", name);
	else
		j = service_json(c, s);
	pthread_mutex_unlock(&c->lock);
	return j;
}

json_t *ctl_clusters_json(struct ctl *c)
{
	json_t *list = json_array();

	pthread_mutex_lock(&c->lock);
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		if (c->m->cl[s].used)
			json_array_append_new(list, version_json(c, s));
	pthread_mutex_unlock(&c->lock);
	return json_pack("{so}", "clusters", list);
}

json_t *ctl_cluster_json(struct ctl *c, const char *id, struct vs_err *err)
{
	json_t *j = NULL;
	int s;

	pthread_mutex_lock(&c->lock);
	s = model_find_cluster(c->m, id);
	if (s < 0)
		vs_errf(err, s, 404, "unknown_cluster", "no cluster with id '%.40s'", id);
	else
		j = version_json(c, s);
	pthread_mutex_unlock(&c->lock);
	return j;
}

/* ---- Prometheus text format (0.0.4) ---- */

static void label_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void labels(FILE *f, const char *svc, const char *ver)
{
	fputs("{service=\"", f);
	label_escape(f, svc);
	if (ver) {
		fputs("\",version=\"", f);
		label_escape(f, ver);
	}
	fputs("\"", f);
}

/* Prometheus buckets from the fine log-linear ones: a fine bucket counts
 * under `le` when all of it lies below le. */
static void prom_hist(FILE *f, const char *name, const char *svc, const char *ver,
		      const struct hist *h, const double *les, size_t n, double scale)
{
	uint64_t cum;
	size_t i;

	for (i = 0; i < n; i++) {
		cum = 0;
		for (uint32_t b = 0; b + 1 < VS_HBUCKETS; b++)
			if (vs_hbucket_low(b + 1) * scale <= les[i])
				cum += h->b[b];
		fprintf(f, "%s_bucket", name);
		labels(f, svc, ver);
		fprintf(f, ",le=\"%g\"} %llu\n", les[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket", name);
	labels(f, svc, ver);
	fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)hist_total(h));
	fprintf(f, "%s_sum", name);
	labels(f, svc, ver);
	fprintf(f, "} %g\n", hist_mean(h) * hist_total(h) * scale);
	fprintf(f, "%s_count", name);
	labels(f, svc, ver);
	fprintf(f, "} %llu\n", (unsigned long long)hist_total(h));
}

char *ctl_metrics_text(struct ctl *c)
{
	static const double lat_les[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					   0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	static const double size_les[] = { 100, 1000, 10000, 100000, 1e6, 1e7 };
	static const char *const phases[] = { "progressing", "paused", "completed", "aborted",
					      "rolled_back" };
	size_t len = 0;
	char *text = NULL;
	struct hist *h = malloc(sizeof(*h));
	FILE *f = open_memstream(&text, &len);

	if (!f || !h) {
		free(h);
		if (f)
			fclose(f);
		free(text);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	fputs("# TYPE vsteer_connections_total counter\n"
	      "# TYPE vsteer_failovers_total counter\n"
	      "# TYPE vsteer_requests_total counter\n"
	      "# TYPE vsteer_errors_total counter\n"
	      "# TYPE vsteer_responses_total counter\n"
	      "# TYPE vsteer_response_bytes_total counter\n"
	      "# TYPE vsteer_version_weight gauge\n"
	      "# TYPE vsteer_open_connections gauge\n"
	      "# TYPE vsteer_backend_up gauge\n"
	      "# TYPE vsteer_accept_backlog gauge\n"
	      "# TYPE vsteer_request_duration_seconds histogram\n"
	      "# TYPE vsteer_response_size_bytes histogram\n"
	      "# TYPE vsteer_refused_total counter\n"
	      "# TYPE vsteer_rollout_phase gauge\n"
	      "# TYPE vsteer_rollbacks_total counter\n", f);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct service *sv = &c->m->svc[s];
		struct vs_svc_stats ss = {};

		if (!sv->used)
			continue;
		for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++) {
			const struct cluster *cl = &c->m->cl[slot];
			struct vs_ver_stats st = {};
			__s64 open = 0;

			if (!cl->used || cl->svc != s)
				continue;
			dp_ver_stats(c->dp, slot, &st);
			dp_open_conns(c->dp, slot, &open);
			read_slot(c, slot, c->nsock[slot]);
#define M(metric, val) do { fputs(metric, f); labels(f, sv->name, cl->version); \
			  fprintf(f, "} %llu\n", (unsigned long long)(val)); } while (0)
#define MK(metric, k, val) do { fputs(metric, f); labels(f, sv->name, cl->version); \
			  fprintf(f, ",%s} %llu\n", k, (unsigned long long)(val)); } while (0)
			M("vsteer_connections_total", st.steered);
			MK("vsteer_failovers_total", "direction=\"in\"", st.failover_in);
			MK("vsteer_failovers_total", "direction=\"out\"", st.failover_out);
			M("vsteer_requests_total", st.requests);
			MK("vsteer_errors_total", "kind=\"reset\"", st.resets);
			MK("vsteer_errors_total", "kind=\"failover\"", st.failover_out);
			MK("vsteer_errors_total", "kind=\"http_5xx\"", st.status[3]);
			MK("vsteer_responses_total", "code=\"2xx\"", st.status[0]);
			MK("vsteer_responses_total", "code=\"3xx\"", st.status[1]);
			MK("vsteer_responses_total", "code=\"4xx\"", st.status[2]);
			MK("vsteer_responses_total", "code=\"5xx\"", st.status[3]);
			M("vsteer_response_bytes_total", st.resp_bytes);
			M("vsteer_open_connections", open > 0 ? open : 0);
			fputs("vsteer_version_weight", f);
			labels(f, sv->name, cl->version);
			fprintf(f, "} %g\n", cl->weight / 10000.0);
			for (uint32_t b = 0; b < cl->nbk; b++) {
				char a[EP_STRLEN];

				ep_format(&cl->bk[b], a, sizeof(a));
				fputs("vsteer_backend_up", f);
				labels(f, sv->name, cl->version);
				fprintf(f, ",backend=\"%s\"} %d\n", a,
					backend_live(c, slot, b) > 0 && !c->bk_down[slot][b]);
				fputs("vsteer_accept_backlog", f);
				labels(f, sv->name, cl->version);
				fprintf(f, ",backend=\"%s\"} %u\n", a, c->backlog[slot][b]);
			}
			if (!dp_hist(c->dp, false, slot, h->b))
				prom_hist(f, "vsteer_request_duration_seconds", sv->name, cl->version,
					  h, lat_les, ARRAY_SIZE(lat_les), 1e-9);
			if (!dp_hist(c->dp, true, slot, h->b))
				prom_hist(f, "vsteer_response_size_bytes", sv->name, cl->version,
					  h, size_les, ARRAY_SIZE(size_les), 1);
#undef M
#undef MK
		}
		dp_svc_stats(c->dp, s, &ss);
		fputs("vsteer_refused_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, "} %llu\n", (unsigned long long)ss.refused);
		for (size_t p = 0; p < ARRAY_SIZE(phases); p++) {
			fputs("vsteer_rollout_phase", f);
			labels(f, sv->name, NULL);
			fprintf(f, ",phase=\"%s\"} %d\n", phases[p],
				sv->ro.phase == (enum ro_phase)(p + 1));
		}
		fputs("vsteer_rollbacks_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, ",reason=\"auto\"} %u\n", sv->auto_rollbacks);
		fputs("vsteer_rollbacks_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, ",reason=\"manual\"} %u\n", sv->rollbacks - sv->auto_rollbacks);
	}
	pthread_mutex_unlock(&c->lock);
	fclose(f);
	free(h);
	return text;
}
