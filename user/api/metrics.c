// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include "core/rollout_text.h"
#include "api/metrics.h"

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

/* One sample: name{service="...",version="..."[,extra]} value. ver may be
 * NULL (a service's own), extra NULL or a label list without braces. */
static void sample(FILE *f, const char *name, const char *svc, const char *ver, const char *extra,
		   unsigned long long val)
{
	fputs(name, f);
	labels(f, svc, ver);
	fprintf(f, "%s%s} %llu\n", extra ? "," : "", extra ? extra : "", val);
}

static void version_metrics(FILE *f, const char *svc, const struct cluster *cl,
			    const struct snap_version *v)
{
	static const double lat_les[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,	  0.25,	 0.5,	 1,	2.5,  5,     10 };
	static const double size_les[] = { 100, 1000, 10000, 100000, 1e6, 1e7 };
	const struct vs_ver_stats *st = &v->st;
	const char *ver = cl->version;
	char a[EP_STRLEN], extra[EP_STRLEN + 16];

	sample(f, "vsteer_connections_total", svc, ver, NULL, st->steered);
	sample(f, "vsteer_failovers_total", svc, ver, "direction=\"in\"", st->failover_in);
	sample(f, "vsteer_failovers_total", svc, ver, "direction=\"out\"", st->failover_out);
	sample(f, "vsteer_requests_total", svc, ver, NULL, st->requests);
	sample(f, "vsteer_errors_total", svc, ver, "kind=\"reset\"", st->resets);
	sample(f, "vsteer_errors_total", svc, ver, "kind=\"failover\"", st->failover_out);
	sample(f, "vsteer_errors_total", svc, ver, "kind=\"http_5xx\"", st->status[3]);
	sample(f, "vsteer_responses_total", svc, ver, "code=\"2xx\"", st->status[0]);
	sample(f, "vsteer_responses_total", svc, ver, "code=\"3xx\"", st->status[1]);
	sample(f, "vsteer_responses_total", svc, ver, "code=\"4xx\"", st->status[2]);
	sample(f, "vsteer_responses_total", svc, ver, "code=\"5xx\"", st->status[3]);
	sample(f, "vsteer_response_bytes_total", svc, ver, NULL, st->resp_bytes);
	sample(f, "vsteer_open_connections", svc, ver, NULL, v->open);
	sample(f, "vsteer_drain_closed_total", svc, ver, NULL, cl->drain.closed);
	fputs("vsteer_version_weight", f);
	labels(f, svc, ver);
	fprintf(f, "} %g\n", cl->weight / 10000.0);
	for (uint32_t i = 0; i < cl->nsrv; i++) {
		ep_format(&cl->srv[i], a, sizeof(a));
		snprintf(extra, sizeof(extra), "backend=\"%s\"", a);
		sample(f, "vsteer_backend_up", svc, ver, extra,
		       v->srv[i].live > 0 && v->srv[i].healthy);
		sample(f, "vsteer_accept_backlog", svc, ver, extra, v->srv[i].backlog);
		sample(f, "vsteer_sockets_refused_total", svc, ver, extra, v->srv[i].refused);
	}
	prom_hist(f, "vsteer_request_duration_seconds", svc, ver, &v->lat, lat_les,
		  ARRAY_SIZE(lat_les), 1e-9);
	prom_hist(f, "vsteer_response_size_bytes", svc, ver, &v->size, size_les,
		  ARRAY_SIZE(size_les), 1);
}

/* A route as a label value: route_of() keeps '"' and control characters
 * out, label_escape() the backslashes. */
static void route_sample(FILE *f, const char *name, const char *svc, const char *route,
			 unsigned long long val)
{
	fputs(name, f);
	labels(f, svc, NULL);
	fputs(",route=\"", f);
	label_escape(f, route);
	fprintf(f, "\"} %llu\n", val);
}

static void mirror_metrics(FILE *f, const struct snap *snap, uint32_t s)
{
	static const char *const verdicts[] = { "pass", "fail", "inconclusive" };
	const struct service *sv = &snap->m.svc[s];
	const struct mirror_report *rep = snap->mirror[s];
	const struct mirror_counts *n = &rep->n;
	const struct {
		const char *outcome;
		uint64_t v;
	} out[] = {
		{ "mirrored", n->mirrored },
		{ "failed", n->failed },
		{ "skipped_method", n->skipped_method },
		{ "skipped_authorization", n->skipped_authorization },
		{ "skipped_cookie", n->skipped_cookie },
		{ "skipped_upgrade", n->skipped_upgrade },
		{ "dropped_rate", n->dropped_rate },
		{ "dropped_in_flight", n->dropped_in_flight },
		{ "dropped_stream", n->dropped_stream },
	};
	char label[48];

	for (size_t i = 0; i < ARRAY_SIZE(out); i++) {
		snprintf(label, sizeof(label), "outcome=\"%s\"", out[i].outcome);
		sample(f, "vsteer_mirror_requests_total", sv->name, NULL, label, out[i].v);
	}
	sample(f, "vsteer_mirror_capture_lost_total", sv->name, NULL, "reason=\"over_budget\"",
	       snap->capture[s].over_budget);
	sample(f, "vsteer_mirror_capture_lost_total", sv->name, NULL, "reason=\"buffer_full\"",
	       snap->capture[s].buffer_full);
	for (uint32_t r = 0; r < rep->nroutes; r++) {
		const struct mirror_route *rt = &rep->route[r];

		route_sample(f, "vsteer_mirror_compared_total", sv->name, rt->route,
			     rt->fig.compared);
		route_sample(f, "vsteer_mirror_status_differs_total", sv->name, rt->route,
			     rt->fig.status_diff);
		route_sample(f, "vsteer_mirror_bodies_differ_total", sv->name, rt->route,
			     rt->fig.body_diff);
	}
	if (sv->ro.strategy != RO_MIRROR || sv->ro.started != rep->started)
		return;
	for (size_t v = 0; v < ARRAY_SIZE(verdicts); v++) {
		snprintf(label, sizeof(label), "verdict=\"%s\"", verdicts[v]);
		sample(f, "vsteer_mirror_verdict", sv->name, NULL, label,
		       sv->ro.mirror_verdict == v);
	}
}

static void service_metrics(FILE *f, const struct snap *snap, uint32_t s)
{
	const struct service *sv = &snap->m.svc[s];
	char phase[48];

	for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++) {
		const struct cluster *cl = &snap->m.cl[slot];

		if (cl->used && cl->svc == s && snap->ver[slot])
			version_metrics(f, sv->name, cl, snap->ver[slot]);
	}
	sample(f, "vsteer_refused_total", sv->name, NULL, NULL, snap->svc[s].refused);
	sample(f, "vsteer_sessions_unrecorded_total", sv->name, NULL, "reason=\"quota\"",
	       snap->guard[s].quota_refused);
	sample(f, "vsteer_sessions_unrecorded_total", sv->name, NULL, "reason=\"hold_full\"",
	       snap->guard[s].hold_full);
	for (enum ro_phase p = RO_PROGRESSING; p <= RO_ROLLED_BACK; p++) {
		snprintf(phase, sizeof(phase), "phase=\"%s\"", ro_phase_name(p));
		sample(f, "vsteer_rollout_phase", sv->name, NULL, phase, sv->ro.phase == p);
	}
	sample(f, "vsteer_rollbacks_total", sv->name, NULL, "reason=\"auto\"", sv->auto_rollbacks);
	sample(f, "vsteer_rollbacks_total", sv->name, NULL, "reason=\"manual\"",
	       sv->rollbacks - sv->auto_rollbacks);
	if (snap->mirror[s])
		mirror_metrics(f, snap, s);
}

char *metrics_text(const struct snap *snap)
{
	size_t len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fputs("# TYPE vsteer_connections_total counter\n"
	      "# TYPE vsteer_failovers_total counter\n"
	      "# TYPE vsteer_requests_total counter\n"
	      "# TYPE vsteer_errors_total counter\n"
	      "# TYPE vsteer_responses_total counter\n"
	      "# TYPE vsteer_response_bytes_total counter\n"
	      "# TYPE vsteer_version_weight gauge\n"
	      "# TYPE vsteer_open_connections gauge\n"
	      "# TYPE vsteer_drain_closed_total counter\n"
	      "# TYPE vsteer_backend_up gauge\n"
	      "# TYPE vsteer_accept_backlog gauge\n"
	      "# TYPE vsteer_sockets_refused_total counter\n"
	      "# TYPE vsteer_request_duration_seconds histogram\n"
	      "# TYPE vsteer_response_size_bytes histogram\n"
	      "# TYPE vsteer_refused_total counter\n"
	      "# TYPE vsteer_sessions_unrecorded_total counter\n"
	      "# TYPE vsteer_rollout_phase gauge\n"
	      "# TYPE vsteer_rollbacks_total counter\n"
	      "# TYPE vsteer_notifications_sent_total counter\n"
	      "# TYPE vsteer_notifications_failed_total counter\n"
	      "# TYPE vsteer_notifications_queued gauge\n"
	      "# TYPE vsteer_mirror_requests_total counter\n"
	      "# TYPE vsteer_mirror_capture_lost_total counter\n"
	      "# TYPE vsteer_mirror_compared_total counter\n"
	      "# TYPE vsteer_mirror_status_differs_total counter\n"
	      "# TYPE vsteer_mirror_bodies_differ_total counter\n"
	      "# TYPE vsteer_mirror_verdict gauge\n",
	      f);
	fprintf(f, "vsteer_notifications_sent_total %llu\n", (unsigned long long)snap->notify_sent);
	fprintf(f, "vsteer_notifications_failed_total %llu\n",
		(unsigned long long)snap->notify_failed);
	fprintf(f, "vsteer_notifications_queued %u\n", snap->notify_queued);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (snap->m.svc[s].used)
			service_metrics(f, snap, s);
	fclose(f);
	return text;
}
