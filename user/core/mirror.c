// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lib/compiler.h"
#include "core/mirror.h"

void mirror_spec_defaults(struct mirror_spec *s)
{
	/* memset first: specs are compared and copied whole, padding too. */
	memset(s, 0, sizeof(*s));
	s->bp = 1000;
	s->max_per_second = 100;
	s->max_in_flight = 32;
	s->nmethods = 2;
	strcpy(s->methods[0], "GET");
	strcpy(s->methods[1], "HEAD");
	s->duration = 600;
	s->timeout_ms = 5000;
	s->body = true;
	s->nheaders = 1;
	strcpy(s->headers[0], "Content-Type");
	s->noise_samples = 10;
	s->max_status_mismatch_rate = 0.01;
	s->max_body_diff_rate = 0.01;
}

bool mirror_method_on(const struct mirror_spec *s, const char *method)
{
	for (uint32_t i = 0; i < s->nmethods && i < MIRROR_MAX_METHODS; i++)
		if (!strcmp(s->methods[i], method))
			return true;
	return false;
}

void mirror_fig_add(struct mirror_fig *f, const struct mirror_pair *p)
{
	f->compared++;
	f->status_diff += p->status_primary != p->status_target;
	f->body_compared += p->body_compared;
	f->body_diff += p->body_compared && p->body_differs;
	f->size_primary += p->size_primary;
	f->size_target += p->size_target;
	f->lat_primary.b[vs_hbucket(p->lat_primary)]++;
	f->lat_target.b[vs_hbucket(p->lat_target)]++;
	f->status_primary = p->status_primary;
	f->status_target = p->status_target;
	if (p->body_compared && p->body_differs)
		snprintf(f->diff_where, sizeof(f->diff_where), "%s", p->diff_where ?: "");
}

/* Counters only grow, unless a figure was reset under us: clamp. */
static uint64_t grew(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : 0;
}

void mirror_fig_sub(struct mirror_fig *out, const struct mirror_fig *now,
		    const struct mirror_fig *then)
{
	out->compared = grew(now->compared, then->compared);
	out->status_diff = grew(now->status_diff, then->status_diff);
	out->body_compared = grew(now->body_compared, then->body_compared);
	out->body_diff = grew(now->body_diff, then->body_diff);
	out->size_primary = grew(now->size_primary, then->size_primary);
	out->size_target = grew(now->size_target, then->size_target);
	hist_sub(&out->lat_primary, &now->lat_primary, &then->lat_primary);
	hist_sub(&out->lat_target, &now->lat_target, &then->lat_target);
	out->status_primary = now->status_primary;
	out->status_target = now->status_target;
	memcpy(out->diff_where, now->diff_where, sizeof(out->diff_where));
}

struct mirror_route *mirror_route_get(struct mirror_route r[MIRROR_MAX_ROUTES + 1], uint32_t *n,
				      const char *route)
{
	struct mirror_route *e;

	for (uint32_t i = 0; i < *n; i++)
		if (!strcmp(r[i].route, route))
			return &r[i];
	/* The last entry is kept for the rest, so a report always adds up. */
	if (*n < MIRROR_MAX_ROUTES)
		e = &r[(*n)++];
	else if (*n == MIRROR_MAX_ROUTES)
		e = &r[(*n)++], route = MIRROR_ROUTE_OTHER;
	else
		return &r[MIRROR_MAX_ROUTES];
	memset(e, 0, sizeof(*e));
	snprintf(e->route, sizeof(e->route), "%s", route);
	return e;
}

static double p_ms(const struct hist *h, double q)
{
	return hist_quantile(h, q) / 1e6;
}

static double mean_bytes(const struct mirror_fig *f, bool target)
{
	return f->compared ? (double)(target ? f->size_target : f->size_primary) / f->compared : 0;
}

/* Milliseconds as a report shows them: 14, 8.9, 0.23. */
static const char *ms_str(char *buf, size_t size, double ms)
{
	snprintf(buf, size, ms >= 10 ? "%.0f" : ms >= 1 ? "%.1f" : "%.2g", ms);
	return buf;
}

void mirror_route_line(const struct mirror_route *r, const char *tv, const char *sv, char *buf,
		       size_t size)
{
	const struct mirror_fig *f = &r->fig;
	double t = mean_bytes(f, true), p = mean_bytes(f, false);
	char rel[24], tms[16], pms[16], bodies[64];

	if (p > 0)
		snprintf(rel, sizeof(rel), "%+ld%%", lround((t - p) / p * 100));
	else
		snprintf(rel, sizeof(rel), "%s", t > 0 ? "+inf%" : "+0%");
	if (f->body_compared)
		snprintf(bodies, sizeof(bodies), "%llu of %llu bodies differ beyond noise",
			 (unsigned long long)f->body_diff, (unsigned long long)f->body_compared);
	else
		snprintf(bodies, sizeof(bodies), "bodies not compared");
	snprintf(buf, size,
		 "%s: %s size %.0f vs %s %.0f bytes (%s), p99 %s vs %s ms, status %u vs %u, %s",
		 r->route, tv, t, sv, p, rel, ms_str(tms, sizeof(tms), p_ms(&f->lat_target, 0.99)),
		 ms_str(pms, sizeof(pms), p_ms(&f->lat_primary, 0.99)), f->status_target,
		 f->status_primary, bodies);
}

enum metric { M_STATUS, M_BODY, M_SIZE, M_P50, M_P99 };

/* How much a route adds to a failing metric: its differing requests for
 * status and bodies, the bytes it differs by for size (so one odd
 * request on a quiet route does not outweigh a busy route), the
 * milliseconds its quantile grew by for latency. */
static double route_score(const struct mirror_fig *f, enum metric m)
{
	switch (m) {
	case M_STATUS:
		return f->status_diff;
	case M_BODY:
		return f->body_diff;
	case M_SIZE:
		return fabs((double)f->size_target - (double)f->size_primary);
	case M_P50:
		return p_ms(&f->lat_target, 0.5) - p_ms(&f->lat_primary, 0.5);
	default:
		return p_ms(&f->lat_target, 0.99) - p_ms(&f->lat_primary, 0.99);
	}
}

/* "; most on ROUTE LINE" for the route that differs most on m, if any
 * differs at all. */
static void worst_route(const struct mirror_route *r, uint32_t nr, enum metric m, const char *tv,
			const char *sv, char *buf, size_t size)
{
	const struct mirror_route *worst = NULL;
	double best = 0;
	char line[320];

	buf[0] = '\0';
	for (uint32_t i = 0; r && i < nr; i++) {
		double sc = r[i].fig.compared ? route_score(&r[i].fig, m) : 0;

		if (sc > best)
			best = sc, worst = &r[i];
	}
	if (!worst)
		return;
	mirror_route_line(worst, tv, sv, line, sizeof(line));
	snprintf(buf, size, "; most on %s", line);
}

static double rate(uint64_t n, uint64_t of)
{
	return of ? (double)n / of : 0;
}

enum verdict mirror_judge(const struct analysis *an, const struct mirror_spec *s,
			  const struct mirror_fig *f, const struct mirror_route *r, uint32_t nr,
			  const char *tv, const char *sv, char *why, size_t size)
{
	/* Bodies: of those compared; none compared, no body verdict. */
	const struct {
		uint64_t n, of;
		double limit;
		enum metric m;
		const char *name, *link, *tail, *unit;
	} rates[] = {
		{ f->status_diff, f->compared, s->max_status_mismatch_rate, M_STATUS,
		  "status mismatch", "and", " differ", "requests" },
		{ f->body_diff, f->body_compared, s->max_body_diff_rate, M_BODY, "body difference",
		  "differs from", " beyond noise", "bodies" },
	};
	double mt = mean_bytes(f, true), mp = mean_bytes(f, false);
	const struct {
		double t, s;
		const char *name;
		enum metric m;
	} lat[] = {
		{ p_ms(&f->lat_target, 0.5), p_ms(&f->lat_primary, 0.5), "p50", M_P50 },
		{ p_ms(&f->lat_target, 0.99), p_ms(&f->lat_primary, 0.99), "p99", M_P99 },
	};
	char most[400];

	if (f->compared < an->min_requests) {
		snprintf(why, size, "too few requests compared to judge: %llu of the %u needed",
			 (unsigned long long)f->compared, an->min_requests);
		return V_INCONCLUSIVE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		const typeof(rates[0]) *c = &rates[i];

		if (!c->of || rate(c->n, c->of) <= c->limit)
			continue;
		worst_route(r, nr, c->m, tv, sv, most, sizeof(most));
		snprintf(why, size, "%s: %s %s %s%s in %llu of %llu %s (%.2f%%, limit %.2f%%)%s",
			 c->name, tv, c->link, sv, c->tail, (unsigned long long)c->n,
			 (unsigned long long)c->of, c->unit, rate(c->n, c->of) * 100,
			 c->limit * 100, most);
		return V_FAIL;
	}
	/* Nothing from the stable version: anything from the target is a
	 * deviation, however small the limit. */
	if (mp > 0 ? fabs(mt - mp) / mp > an->max_size_deviation : mt > 0) {
		worst_route(r, nr, M_SIZE, tv, sv, most, sizeof(most));
		snprintf(why, size,
			 "response size: %s %.0f bytes vs %s %.0f bytes on average (limit %.0f%%)%s",
			 tv, mt, sv, mp, an->max_size_deviation * 100, most);
		return V_FAIL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(lat); i++) {
		if (!judge_latency_worse(an, lat[i].t, lat[i].s))
			continue;
		worst_route(r, nr, lat[i].m, tv, sv, most, sizeof(most));
		snprintf(why, size,
			 "latency %s: %s %.2f ms vs %s %.2f ms (limit x%.2f and +%.2f ms)%s",
			 lat[i].name, tv, lat[i].t, sv, lat[i].s, an->max_latency_ratio,
			 an->max_latency_increase_ms, most);
		return V_FAIL;
	}
	snprintf(why, size,
		 "%llu requests compared: statuses differ in %llu, bodies in %llu of %llu; sizes %.0f/%.0f bytes; p99 %.2f/%.2f ms (%s/%s)",
		 (unsigned long long)f->compared, (unsigned long long)f->status_diff,
		 (unsigned long long)f->body_diff, (unsigned long long)f->body_compared, mt, mp,
		 lat[1].t, lat[1].s, tv, sv);
	return V_PASS;
}
