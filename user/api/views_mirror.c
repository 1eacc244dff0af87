// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include "codec/state_mirror.h"
#include "api/views_mirror.h"

static json_t *side_json(uint16_t status, uint64_t bytes, uint64_t n, const struct hist *lat)
{
	/* clang-format off */
	return json_pack("{sisfsfsf}", "status", status,
			 "meanBytes", n ? (double)bytes / n : 0.0,
			 "p50Ms", hist_quantile(lat, 0.5) / 1e6,
			 "p99Ms", hist_quantile(lat, 0.99) / 1e6);
	/* clang-format on */
}

static json_t *noise_json(const struct mirror_report *rep, const struct mirror_spec *sp, uint32_t i)
{
	const struct jdiff_noise *nz = &rep->noise[i];
	json_t *fields = json_array();

	if (nz->whole)
		json_array_append_new(fields, json_string(""));
	for (uint32_t k = 0; !nz->whole && k < nz->n; k++)
		json_array_append_new(fields, json_string(nz->path[k]));
	for (uint32_t h = 0; h < sp->nheaders; h++)
		if (rep->noise_headers[i] & (1U << h)) {
			char name[MIRROR_HEADER_MAX + 8];

			snprintf(name, sizeof(name), "header %s", sp->headers[h]);
			json_array_append_new(fields, json_string(name));
		}
	return json_pack("{sIso}", "samples", (json_int_t)nz->samples, "fields", fields);
}

static json_t *route_json(const struct mirror_report *rep, const struct mirror_spec *sp, uint32_t i,
			  const char *tv, const char *sv)
{
	const struct mirror_route *r = &rep->route[i];
	const struct mirror_fig *f = &r->fig;
	char line[512];

	mirror_route_line(r, tv, sv, line, sizeof(line));
	/* clang-format off */
	return json_pack("{sssIsIsIsIsssosososs}", "route", r->route,
			 "compared", (json_int_t)f->compared,
			 "statusDiffers", (json_int_t)f->status_diff,
			 "bodiesCompared", (json_int_t)f->body_compared,
			 "bodiesDiffer", (json_int_t)f->body_diff,
			 "lastDifference", f->diff_where,
			 "primary", side_json(f->status_primary, f->size_primary, f->compared,
					      &f->lat_primary),
			 "target", side_json(f->status_target, f->size_target, f->compared,
					     &f->lat_target),
			 "noise", noise_json(rep, sp, i),
			 "report", line);
	/* clang-format on */
}

static json_t *requests_json(const struct mirror_report *rep)
{
	const struct mirror_counts *n = &rep->n;

	/* clang-format off */
	return json_pack("{sIsIsIsIs{sIsIsIsI}s{sIsIsI}sI}",
			 "seen", (json_int_t)n->requests, "mirrored", (json_int_t)n->mirrored,
			 "compared", (json_int_t)rep->all.compared,
			 "failed", (json_int_t)n->failed,
			 "skipped", "method", (json_int_t)n->skipped_method,
			 "authorization", (json_int_t)n->skipped_authorization,
			 "cookie", (json_int_t)n->skipped_cookie,
			 "upgrade", (json_int_t)n->skipped_upgrade,
			 "dropped", "rate", (json_int_t)n->dropped_rate,
			 "inFlight", (json_int_t)n->dropped_in_flight,
			 "stream", (json_int_t)n->dropped_stream,
			 "noiseSamples", (json_int_t)n->noise_samples);
	/* clang-format on */
}

static json_t *capture_json(const struct vs_mirror_stats *now, const struct vs_mirror_stats *base)
{
	/* Counts since the mirror began; a kernel count that went down (the
	 * maps were made anew) is taken whole. */
#define SINCE(f) (json_int_t)(now->f >= base->f ? now->f - base->f : now->f)
	/* clang-format off */
	return json_pack("{sIsIsIsIsIsI}", "sampled", SINCE(sampled),
			 "segments", SINCE(segments), "bytes", SINCE(bytes),
			 "overBudget", SINCE(over_budget),
			 "bufferFull", SINCE(buffer_full),
			 "truncated", SINCE(truncated));
	/* clang-format on */
#undef SINCE
}

/* A report's figures: its requests, the capture and the routes. */
static void report_fields(json_t *j, const struct snap *s, uint32_t svc,
			  const struct mirror_spec *sp, const char *tv, const char *sv)
{
	const struct mirror_report *rep = s->mirror[svc];
	json_t *routes = json_array();

	for (uint32_t i = 0; i < rep->nroutes; i++)
		json_array_append_new(routes, route_json(rep, sp, i, tv, sv));
	json_object_set_new(j, "requests", requests_json(rep));
	json_object_set_new(j, "capture", capture_json(&s->capture[svc], &rep->capture_base));
	json_object_set_new(j, "routes", routes);
}

json_t *views_mirror_json(const struct snap *s, uint32_t svc)
{
	const struct rollout *ro = &s->m.svc[svc].ro;
	const struct mirror_report *rep = s->mirror[svc];
	json_t *j = state_mirror_json(ro);

	if (json_is_null(j) || !rep || rep->started != ro->started)
		return j;
	report_fields(j, s, svc, &ro->mirror, s->m.cl[ro->to].version, s->m.cl[ro->from].version);
	return j;
}

json_t *views_mirror_last_json(const struct snap *s, uint32_t svc)
{
	const struct rollout *ro = &s->m.svc[svc].ro;
	const struct mirror_report *rep = s->mirror[svc];
	json_t *j;

	if (!rep || (ro->strategy == RO_MIRROR && rep->started == ro->started))
		return json_null();
	j = json_pack("{sI}", "startedAt", (json_int_t)rep->started);
	report_fields(j, s, svc, &rep->spec, rep->tv, rep->sv);
	return j;
}
