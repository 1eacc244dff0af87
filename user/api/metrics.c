// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
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

char *metrics_text(const struct snap *snap)
{
	static const double lat_les[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,	  0.25,	 0.5,	 1,	2.5,  5,     10 };
	static const double size_les[] = { 100, 1000, 10000, 100000, 1e6, 1e7 };
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
	      "# TYPE vsteer_backend_up gauge\n"
	      "# TYPE vsteer_accept_backlog gauge\n"
	      "# TYPE vsteer_request_duration_seconds histogram\n"
	      "# TYPE vsteer_response_size_bytes histogram\n"
	      "# TYPE vsteer_refused_total counter\n"
	      "# TYPE vsteer_rollout_phase gauge\n"
	      "# TYPE vsteer_rollbacks_total counter\n",
	      f);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct service *sv = &snap->m.svc[s];

		if (!sv->used)
			continue;
		for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++) {
			const struct cluster *cl = &snap->m.cl[slot];
			const struct snap_version *v = snap->ver[slot];
			const struct vs_ver_stats *st = &v->st;

			if (!cl->used || cl->svc != s)
				continue;
#define M(metric, val)                                             \
	do {                                                       \
		fputs(metric, f);                                  \
		labels(f, sv->name, cl->version);                  \
		fprintf(f, "} %llu\n", (unsigned long long)(val)); \
	} while (0)
#define MK(metric, k, val)                                               \
	do {                                                             \
		fputs(metric, f);                                        \
		labels(f, sv->name, cl->version);                        \
		fprintf(f, ",%s} %llu\n", k, (unsigned long long)(val)); \
	} while (0)
			M("vsteer_connections_total", st->steered);
			MK("vsteer_failovers_total", "direction=\"in\"", st->failover_in);
			MK("vsteer_failovers_total", "direction=\"out\"", st->failover_out);
			M("vsteer_requests_total", st->requests);
			MK("vsteer_errors_total", "kind=\"reset\"", st->resets);
			MK("vsteer_errors_total", "kind=\"failover\"", st->failover_out);
			MK("vsteer_errors_total", "kind=\"http_5xx\"", st->status[3]);
			MK("vsteer_responses_total", "code=\"2xx\"", st->status[0]);
			MK("vsteer_responses_total", "code=\"3xx\"", st->status[1]);
			MK("vsteer_responses_total", "code=\"4xx\"", st->status[2]);
			MK("vsteer_responses_total", "code=\"5xx\"", st->status[3]);
			M("vsteer_response_bytes_total", st->resp_bytes);
			M("vsteer_open_connections", v->open);
			fputs("vsteer_version_weight", f);
			labels(f, sv->name, cl->version);
			fprintf(f, "} %g\n", cl->weight / 10000.0);
			for (uint32_t i = 0; i < cl->nsrv; i++) {
				char a[EP_STRLEN];

				ep_format(&cl->srv[i], a, sizeof(a));
				fputs("vsteer_backend_up", f);
				labels(f, sv->name, cl->version);
				fprintf(f, ",backend=\"%s\"} %d\n", a,
					v->srv[i].live > 0 && v->srv[i].healthy);
				fputs("vsteer_accept_backlog", f);
				labels(f, sv->name, cl->version);
				fprintf(f, ",backend=\"%s\"} %u\n", a, v->srv[i].backlog);
			}
			prom_hist(f, "vsteer_request_duration_seconds", sv->name, cl->version,
				  &v->lat, lat_les, ARRAY_SIZE(lat_les), 1e-9);
			prom_hist(f, "vsteer_response_size_bytes", sv->name, cl->version, &v->size,
				  size_les, ARRAY_SIZE(size_les), 1);
#undef M
#undef MK
		}
		fputs("vsteer_refused_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, "} %llu\n", (unsigned long long)snap->svc[s].refused);
		for (enum ro_phase p = RO_PROGRESSING; p <= RO_ROLLED_BACK; p++) {
			fputs("vsteer_rollout_phase", f);
			labels(f, sv->name, NULL);
			fprintf(f, ",phase=\"%s\"} %d\n", ro_phase_name(p), sv->ro.phase == p);
		}
		fputs("vsteer_rollbacks_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, ",reason=\"auto\"} %u\n", sv->auto_rollbacks);
		fputs("vsteer_rollbacks_total", f);
		labels(f, sv->name, NULL);
		fprintf(f, ",reason=\"manual\"} %u\n", sv->rollbacks - sv->auto_rollbacks);
	}
	fclose(f);
	return text;
}
