// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The mirror's pure part (core/mirror.h): its defaults, the figures of
 * compared requests per route, the verdict over them and a route's line
 * of the report.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/judge.h"
#include "lib/compiler.h"
#include "core/mirror.h"

#include "harness.h"

/* n pairs of one kind: statuses, body bytes, ms, and whether the bodies
 * were compared and differ. */
struct pairs {
	uint32_t n;
	uint16_t sp, st;
	uint64_t bp, bt;
	double msp, mst;
	bool compared, differs;
};

static void add_pairs(struct mirror_fig *f, const struct pairs *p)
{
	struct mirror_pair pair = {
		.status_primary = p->sp,
		.status_target = p->st,
		.size_primary = p->bp,
		.size_target = p->bt,
		.lat_primary = (uint64_t)(p->msp * 1e6),
		.lat_target = (uint64_t)(p->mst * 1e6),
		.body_compared = p->compared,
		.body_differs = p->differs,
		.diff_where = p->differs ? "items[].price" : NULL,
	};

	for (uint32_t i = 0; i < p->n; i++)
		mirror_fig_add(f, &pair);
}

static void test_mirror_defaults(void)
{
	struct mirror_spec s;

	memset(&s, 0xa5, sizeof(s));
	mirror_spec_defaults(&s);
	CHECK_INT(s.bp, ==, 1000);
	CHECK_INT(s.max_per_second, ==, 100);
	CHECK_INT(s.max_in_flight, ==, 32);
	CHECK_INT(s.duration, ==, 600);
	CHECK_INT(s.timeout_ms, ==, 5000);
	CHECK(!s.authorization && !s.cookies && s.body, "booleans");
	CHECK_INT(s.nmethods, ==, 2);
	CHECK(mirror_method_on(&s, "GET") && mirror_method_on(&s, "HEAD"), "safe methods");
	CHECK(!mirror_method_on(&s, "POST") && !mirror_method_on(&s, "get") &&
		      !mirror_method_on(&s, "GE") && !mirror_method_on(&s, ""),
	      "methods are exact");
	CHECK_INT(s.nheaders, ==, 1);
	CHECK_STR(s.headers[0], "Content-Type");
	CHECK_INT(s.nignore, ==, 0);
	CHECK_INT(s.noise_samples, ==, 10);
	CHECK(s.max_status_mismatch_rate == 0.01 && s.max_body_diff_rate == 0.01, "rates");
}

static void test_mirror_judge(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		struct pairs same, odd; /* odd: the requests that differ */
		enum verdict want;
		const char *has;
	} t[] = {
		{ "identical", { 200, 200, 200, 500, 500, 2, 2, true, false }, {},
		  V_PASS, "200 requests compared: statuses differ in 0, bodies in 0 of 200" },
		{ "too few", { 19, 200, 200, 500, 500, 2, 90, true, true }, {},
		  V_INCONCLUSIVE, "19 of the 20 needed" },
		{ "exactly minRequests", { 20, 200, 200, 500, 500, 2, 2, true, false }, {},
		  V_PASS, "20 requests" },
		{ "status 1 in 200: under 1%", { 199, 200, 200, 500, 500, 2, 2, true, false },
		  { 1, 200, 500, 500, 500, 2, 2, false, false }, V_PASS, "statuses differ in 1" },
		{ "status 3 in 200: over 1%", { 197, 200, 200, 500, 500, 2, 2, true, false },
		  { 3, 200, 500, 500, 500, 2, 2, false, false }, V_FAIL,
		  "status mismatch: 2.0 and 1.0 differ in 3 of 200 requests (1.50%, limit 1.00%)" },
		{ "a dead target: no status", { 0 }, { 50, 200, 0, 500, 0, 2, 5000, false, false },
		  V_FAIL, "status mismatch" },
		{ "bodies 2 in 200: 1%, not over", { 198, 200, 200, 500, 500, 2, 2, true, false },
		  { 2, 200, 200, 500, 500, 2, 2, true, true }, V_PASS, "bodies in 2 of 200" },
		{ "bodies 3 in 200", { 197, 200, 200, 500, 500, 2, 2, true, false },
		  { 3, 200, 200, 500, 500, 2, 2, true, true }, V_FAIL,
		  "body difference: 2.0 differs from 1.0 beyond noise in 3 of 200 bodies" },
		{ "bodies: the rate of those compared", { 190, 200, 200, 500, 500, 2, 2, false, false },
		  { 10, 200, 200, 500, 500, 2, 2, true, true }, V_FAIL, "in 10 of 10 bodies" },
		{ "no body compared: no body verdict", { 200, 200, 200, 500, 500, 2, 2, false, false },
		  {}, V_PASS, "bodies in 0 of 0" },
		{ "sizes 3x", { 200, 200, 200, 500, 1500, 2, 2, false, false }, {}, V_FAIL,
		  "response size: 2.0 1500 bytes vs 1.0 500 bytes on average (limit 50%)" },
		{ "sizes 1.4x", { 200, 200, 200, 500, 700, 2, 2, false, false }, {}, V_PASS, "" },
		{ "sizes a third", { 200, 200, 200, 1500, 500, 2, 2, false, false }, {}, V_FAIL,
		  "response size" },
		{ "stable empty, target not", { 200, 204, 204, 0, 0, 2, 2, false, false },
		  { 1, 204, 204, 0, 10, 2, 2, false, false }, V_FAIL, "response size: 2.0 0 bytes" },
		{ "both empty", { 200, 204, 204, 0, 0, 2, 2, false, false }, {}, V_PASS, "" },
		{ "p50 50 vs 1 ms", { 200, 200, 200, 500, 500, 1, 50, false, false }, {}, V_FAIL,
		  "latency p50: 2.0 " },
		{ "p50 1.6x but +0.6 ms", { 200, 200, 200, 500, 500, 1, 1.6, false, false }, {},
		  V_PASS, "" },
		{ "p50 +40 ms but 1.4x", { 200, 200, 200, 500, 500, 100, 140, false, false }, {},
		  V_PASS, "" },
		{ "p99 alone", { 196, 200, 200, 500, 500, 1, 1, false, false },
		  { 4, 200, 200, 500, 500, 1, 80, false, false }, V_FAIL, "latency p99" },
		{ "target faster", { 200, 200, 200, 500, 500, 50, 1, false, false }, {}, V_PASS, "" },
	};
	/* clang-format on */
	struct analysis an;
	struct mirror_spec s;
	char why[512];

	judge_defaults(&an);
	an.min_requests = 20;
	mirror_spec_defaults(&s);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct mirror_fig *f = tcalloc(sizeof(*f));
		enum verdict v;

		add_pairs(f, &t[i].same);
		add_pairs(f, &t[i].odd);
		v = mirror_judge(&an, &s, f, NULL, 0, "2.0", "1.0", why, sizeof(why));
		row("%s: %s", t[i].name, why);
		CHECK_STR(judge_verdict_name(v), judge_verdict_name(t[i].want));
		CHECK_HAS(why, t[i].has);
		CHECK(!strstr(why, "most on"), "no routes given, none named");
	}
}

/* Three routes; one of them differs as the row says: why names it. */
static void test_mirror_judge_names_route(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		struct pairs odd;
		const char *has;
	} t[] = {
		{ "larger", { 100, 200, 200, 498, 1500, 2, 2, true, false },
		  "response size: 2.0 833 bytes vs 1.0 499 bytes on average (limit 50%); most on GET /api/items/{id}: 2.0 size 1500 vs 1.0 498 bytes (+201%)" },
		{ "500s", { 100, 200, 500, 498, 498, 2, 2, true, false },
		  "; most on GET /api/items/{id}: 2.0 size 498 vs 1.0 498 bytes (+0%), p99 2.0 vs 2.0 ms, status 500 vs 200" },
		{ "bodies", { 100, 200, 200, 498, 498, 2, 2, true, true },
		  "most on GET /api/items/{id}: 2.0 size 498 vs 1.0 498 bytes (+0%), p99 2.0 vs 2.0 ms, status 200 vs 200, 100 of 100 bodies differ beyond noise" },
		{ "slower", { 100, 200, 200, 498, 498, 2, 90, true, false },
		  "latency p99: 2.0 " },
	};
	/* clang-format on */
	struct mirror_route *r = tcalloc(sizeof(*r) * (MIRROR_MAX_ROUTES + 1));
	struct mirror_fig *all = tcalloc(sizeof(*all));
	struct pairs same = { 100, 200, 200, 500, 500, 2, 2, true, false };
	struct analysis an;
	struct mirror_spec s;
	char why[600];

	judge_defaults(&an);
	mirror_spec_defaults(&s);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint32_t n = 0;

		row("%s", t[i].name);
		memset(all, 0, sizeof(*all));
		add_pairs(&mirror_route_get(r, &n, "GET /")->fig, &same);
		add_pairs(&mirror_route_get(r, &n, "GET /api/items/{id}")->fig, &t[i].odd);
		add_pairs(&mirror_route_get(r, &n, "HEAD /healthz")->fig, &same);
		add_pairs(all, &same);
		add_pairs(all, &t[i].odd);
		add_pairs(all, &same);
		CHECK_INT(n, ==, 3);
		CHECK_INT(mirror_judge(&an, &s, all, r, n, "2.0", "1.0", why, sizeof(why)), ==,
			  V_FAIL);
		row("%s: %s", t[i].name, why);
		CHECK_HAS(why, t[i].has);
		CHECK_HAS(why, "most on GET /api/items/{id}: ");
	}
}

static void test_mirror_route_line(void)
{
	/* clang-format off */
	static const struct {
		struct pairs a, b;
		const char *want;
	} t[] = {
		{ { 369, 200, 200, 498, 512, 9, 14, true, false },
		  { 31, 200, 200, 498, 512, 9, 14, true, true },
		  "GET /api/items/{id}: 2.0 size 512 vs 1.0 498 bytes (+3%), p99 14 vs 8.9 ms, status 200 vs 200, 31 of 400 bodies differ beyond noise" },
		{ { 10, 404, 200, 1000, 950, 0.2, 0.5, false, false }, {},
		  "GET /api/items/{id}: 2.0 size 950 vs 1.0 1000 bytes (-5%), p99 0.51 vs 0.2 ms, status 200 vs 404, bodies not compared" },
		{ { 10, 204, 200, 0, 7, 120, 250, false, false }, {},
		  "GET /api/items/{id}: 2.0 size 7 vs 1.0 0 bytes (+inf%), p99 243 vs 122 ms, status 200 vs 204, bodies not compared" },
		{ { 0 }, {},
		  "GET /api/items/{id}: 2.0 size 0 vs 1.0 0 bytes (+0%), p99 0 vs 0 ms, status 0 vs 0, bodies not compared" },
	};
	/* clang-format on */
	struct mirror_route *r = tcalloc(sizeof(*r));
	char line[300];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		memset(r, 0, sizeof(*r));
		strcpy(r->route, "GET /api/items/{id}");
		add_pairs(&r->fig, &t[i].a);
		add_pairs(&r->fig, &t[i].b);
		mirror_route_line(r, "2.0", "1.0", line, sizeof(line));
		row("%zu: %s", i, line);
		CHECK_STR(line, t[i].want);
	}
}

/* Routes past MIRROR_MAX_ROUTES all count in the one entry kept for them. */
static void test_mirror_route_overflow(void)
{
	struct mirror_route *r = tcalloc(sizeof(*r) * (MIRROR_MAX_ROUTES + 1));
	struct pairs one = { 1, 200, 200, 10, 10, 1, 1, false, false };
	struct mirror_route *e, *other;
	char name[ROUTE_MAX];
	uint32_t n = 0;

	for (uint32_t i = 0; i < MIRROR_MAX_ROUTES; i++) {
		snprintf(name, sizeof(name), "GET /r%u", i);
		e = mirror_route_get(r, &n, name);
		CHECK(e == &r[i], "route %u at %u", i, i);
		CHECK_STR(e->route, name);
		add_pairs(&e->fig, &one);
	}
	CHECK_INT(n, ==, MIRROR_MAX_ROUTES);
	CHECK(mirror_route_get(r, &n, "GET /r7") == &r[7], "found again");
	other = mirror_route_get(r, &n, "GET /more");
	CHECK(other == &r[MIRROR_MAX_ROUTES], "the last entry");
	CHECK_STR(other->route, MIRROR_ROUTE_OTHER);
	CHECK_INT(n, ==, MIRROR_MAX_ROUTES + 1);
	add_pairs(&other->fig, &one);
	CHECK(mirror_route_get(r, &n, "POST /still/more") == other, "the same entry");
	add_pairs(&other->fig, &one);
	CHECK(mirror_route_get(r, &n, "GET /r63") == &r[63], "the last real route");
	CHECK(mirror_route_get(r, &n, MIRROR_ROUTE_OTHER) == other, "by its name");
	CHECK_INT(n, ==, MIRROR_MAX_ROUTES + 1);
	CHECK_INT(other->fig.compared, ==, 2);
	CHECK_INT(r[7].fig.compared, ==, 1);
	/* A long route is cut, not overrun. */
	n = 0;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	e = mirror_route_get(r, &n, name);
	CHECK_INT(strlen(e->route), ==, ROUTE_MAX - 1);
}

static void test_mirror_fig_sub(void)
{
	struct mirror_fig *then = tcalloc(sizeof(*then)), *now = tcalloc(sizeof(*now));
	struct mirror_fig *d = tcalloc(sizeof(*d));
	struct pairs a = { 10, 200, 200, 100, 120, 1, 2, true, false };
	struct pairs b = { 5, 200, 503, 100, 50, 1, 30, true, true };
	struct analysis an;
	struct mirror_spec s;
	char why[400];

	add_pairs(then, &a);
	*now = *then;
	add_pairs(now, &b);
	mirror_fig_sub(d, now, then);
	CHECK_INT(d->compared, ==, 5);
	CHECK_INT(d->status_diff, ==, 5);
	CHECK_INT(d->body_compared, ==, 5);
	CHECK_INT(d->body_diff, ==, 5);
	CHECK_INT(d->size_primary, ==, 500);
	CHECK_INT(d->size_target, ==, 250);
	CHECK_INT(hist_total(&d->lat_target), ==, 5);
	CHECK_INT(d->lat_target.b[vs_hbucket(30000000)], ==, 5);
	CHECK_INT(d->lat_target.b[vs_hbucket(2000000)], ==, 0);
	CHECK_INT(d->status_target, ==, 503);
	CHECK_STR(d->diff_where, "items[].price");
	/* Counters that went down (reset): 0, not a wrapped huge number. */
	mirror_fig_sub(d, then, now);
	CHECK_INT(d->compared, ==, 0);
	CHECK_INT(d->size_target, ==, 0);
	CHECK_INT(hist_total(&d->lat_target), ==, 0);
	judge_defaults(&an);
	mirror_spec_defaults(&s);
	CHECK_INT(mirror_judge(&an, &s, d, NULL, 0, "2.0", "1.0", why, sizeof(why)), ==,
		  V_INCONCLUSIVE);
	CHECK_HAS(why, "0 of the 20 needed");
}

const struct unit_case mirror_cases[] = {
	TEST(test_mirror_defaults),
	TEST(test_mirror_judge),
	TEST(test_mirror_judge_names_route),
	TEST(test_mirror_route_line),
	TEST(test_mirror_route_overflow),
	TEST(test_mirror_fig_sub),
	{ NULL, NULL },
};
