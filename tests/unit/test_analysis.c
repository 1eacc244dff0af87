// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Histograms and analysis: buckets, quantiles, the judge, verdicts
 * gating a rollout, the analysis part of a rollout request.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "vsteer_hist.h"
#include "core/judge.h"
#include "codec/request.h"
#include "core/rollout.h"
#include "core/hist.h"

#include "harness.h"
#include "helpers.h"

static uint64_t rng64(void)
{
	uint64_t hi = rng();

	return hi << 32 | rng();
}

static void test_hist_buckets(void)
{
	/* clang-format off */
	static const struct {
		uint64_t v;
		uint32_t log2;
	} lg[] = {
		{ 1, 0 }, { 2, 1 }, { 3, 1 }, { 8, 3 }, { 15, 3 }, { 16, 4 },
		{ 1000000, 19 }, { (1ULL << 32) - 1, 31 }, { 1ULL << 32, 32 },
		{ (1ULL << 36) + 5, 36 }, { UINT64_MAX, 63 },
	};
	/* clang-format on */
	static const uint64_t above[] = {
		(1ULL << 37) - 1, 1ULL << 37, (1ULL << 37) + 12345,
		1ULL << 40,	  1ULL << 63, UINT64_MAX,
	};
	uint64_t lo, hi, v, w;
	uint32_t b;

	for (size_t i = 0; i < ARRAY_SIZE(lg); i++) {
		row("log2 %llu", (unsigned long long)lg[i].v);
		CHECK_INT(vs_log2(lg[i].v), ==, lg[i].log2);
	}
	for (v = 0; v < VS_HSUB; v++) {
		row("small value %llu", (unsigned long long)v);
		CHECK_INT(vs_hbucket(v), ==, v);
		CHECK_INT(vs_hbucket_low(v), ==, v);
	}
	/* Every bucket: its lower bound and the value below the next one's
	 * fall in it, and from 8 on it is at most 1/8 of its lower bound wide. */
	for (b = 0; b + 1 < VS_HBUCKETS; b++) {
		row("bucket %u", b);
		lo = vs_hbucket_low(b);
		hi = vs_hbucket_low(b + 1);
		CHECK(lo < hi, "low %llu, next low %llu", (unsigned long long)lo,
		      (unsigned long long)hi);
		CHECK_INT(vs_hbucket(lo), ==, b);
		CHECK_INT(vs_hbucket(hi - 1), ==, b);
		if (b >= VS_HSUB)
			CHECK(8 * (hi - lo) <= lo, "[%llu, %llu) is wider than 12.5%%",
			      (unsigned long long)lo, (unsigned long long)hi);
	}
	row("%s", "2^36 is in range");
	CHECK_INT(vs_hbucket(1ULL << 36), <, VS_HBUCKETS - 1);
	CHECK_INT(vs_hbucket_low(vs_hbucket(1ULL << 36)), ==, 1ULL << 36);
	/* Random values of every magnitude up to 2^36, seeded. */
	rng_seed(0x51ed2701);
	for (uint32_t i = 0; i < 200000; i++) {
		v = rng64() >> (28 + rng() % 36);
		w = rng64() >> (28 + rng() % 36);
		b = vs_hbucket(v);
		row("value %llu (bucket %u)", (unsigned long long)v, b);
		CHECK_INT(v, <=, 1ULL << 36);
		CHECK_INT(b, <, VS_HBUCKETS);
		CHECK(vs_hbucket_low(b) <= v, "low %llu", (unsigned long long)vs_hbucket_low(b));
		CHECK(b + 1 < VS_HBUCKETS && v < vs_hbucket_low(b + 1), "next low %llu",
		      (unsigned long long)vs_hbucket_low(b + 1));
		/* monotonic */
		CHECK(v > w ? vs_hbucket(v) >= vs_hbucket(w) : vs_hbucket(v) <= vs_hbucket(w),
		      "%llu in %u, %llu in %u", (unsigned long long)v, vs_hbucket(v),
		      (unsigned long long)w, vs_hbucket(w));
		CHECK_INT(vs_hbucket(v + 1), >=, b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(above); i++) {
		row("above the range: %llu", (unsigned long long)above[i]);
		CHECK_INT(vs_hbucket(above[i]), ==, VS_HBUCKETS - 1);
		CHECK(vs_hbucket_low(VS_HBUCKETS - 1) <= above[i], "last bucket starts at %llu",
		      (unsigned long long)vs_hbucket_low(VS_HBUCKETS - 1));
	}
}

/* Within frac of want, relative. */
static bool near(double got, double want, double frac)
{
	return fabs(got - want) <= frac * fabs(want);
}

static void test_hist_quantile(void)
{
	static const double vals[] = { 1000, 50e6, 3e9 };
	static const double qs[] = { 0, 0.01, 0.5, 0.9, 0.99, 1 };
	/* clang-format off */
	static const struct {
		double q, want;
	} mix[] = {
		{ 0.01, 1e6 }, { 0.5, 1e6 }, { 0.9, 1e6 }, { 0.91, 100e6 }, { 0.99, 100e6 },
		{ 1, 100e6 },
	};
	/* clang-format on */
	struct hist *h = tcalloc(sizeof(*h)), *now = tcalloc(sizeof(*h));
	struct hist *before = tcalloc(sizeof(*h)), *out = tcalloc(sizeof(*h));
	double got;

	row("%s", "empty");
	CHECK_INT(hist_total(h), ==, 0);
	for (size_t k = 0; k < ARRAY_SIZE(qs); k++)
		CHECK(hist_quantile(h, qs[k]) == 0, "q %g: %g", qs[k], hist_quantile(h, qs[k]));
	CHECK(hist_mean(h) == 0, "mean %g", hist_mean(h));

	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		memset(h, 0, sizeof(*h));
		h->b[vs_hbucket((uint64_t)vals[i])] = 1000;
		CHECK_INT(hist_total(h), ==, 1000);
		for (size_t k = 0; k < ARRAY_SIZE(qs); k++) {
			row("all %g, q %g", vals[i], qs[k]);
			got = hist_quantile(h, qs[k]);
			CHECK(near(got, vals[i], 0.0625), "got %g", got);
		}
		row("all %g, mean", vals[i]);
		got = hist_mean(h);
		CHECK(near(got, vals[i], 0.0625), "got %g", got);
	}

	/* 90 samples at 1 ms, 10 at 100 ms */
	memset(h, 0, sizeof(*h));
	h->b[vs_hbucket(1000000)] += 90;
	h->b[vs_hbucket(100000000)] += 10;
	CHECK_INT(hist_total(h), ==, 100);
	for (size_t k = 0; k < ARRAY_SIZE(mix); k++) {
		row("mixture q %g", mix[k].q);
		got = hist_quantile(h, mix[k].q);
		CHECK(near(got, mix[k].want, 0.0625), "got %g, want about %g", got, mix[k].want);
	}
	row("%s", "mixture mean");
	got = hist_mean(h);
	CHECK(near(got, 0.9 * 1e6 + 0.1 * 100e6, 0.0625), "got %g", got);

	/* Bucket by bucket, never below 0 (a counter that went back). */
	now->b[0] = 5;
	now->b[7] = 3;
	now->b[100] = 1000;
	now->b[200] = 7;
	now->b[VS_HBUCKETS - 1] = 9;
	before->b[0] = 5;
	before->b[7] = 1;
	before->b[100] = 400;
	before->b[200] = 8;
	before->b[150] = 2;
	memset(out, 0xa5, sizeof(*out));
	hist_sub(out, now, before);
	for (uint32_t b = 0; b < VS_HBUCKETS; b++) {
		uint64_t want = now->b[b] >= before->b[b] ? now->b[b] - before->b[b] : 0;

		row("sub, bucket %u", b);
		CHECK_INT(out->b[b], ==, want);
	}
	row("%s", "sub, the totals");
	CHECK_INT(out->b[7], ==, 2);
	CHECK_INT(out->b[100], ==, 600);
	CHECK_INT(out->b[200], ==, 0);
	CHECK_INT(out->b[150], ==, 0);
	CHECK_INT(hist_total(out), ==, 2 + 600 + 9);
}

/* n requests: n - tail at ms, tail at tail_ms; every response size bytes. */
static void fill_window(struct window *w, uint64_t n, double ms, uint64_t tail, double tail_ms,
			uint64_t size, uint64_t errors)
{
	memset(w, 0, sizeof(*w));
	w->requests = n;
	w->errors = errors;
	w->lat.b[vs_hbucket((uint64_t)(ms * 1e6))] += n - tail;
	w->lat.b[vs_hbucket((uint64_t)(tail_ms * 1e6))] += tail;
	w->size.b[vs_hbucket(size)] += n;
}

static void test_judge(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		uint64_t tn, sn;	/* requests */
		double tms, sms;	/* latency */
		uint64_t ttail;		/* target requests at 50 ms instead */
		uint64_t tsize, ssize;
		uint64_t terr, serr;
		enum verdict want;
		const char *has;
	} t[] = {
		{ "target below minRequests", 49, 1000, 1, 1, 0, 1000, 1000, 0, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "stable below minRequests", 1000, 49, 1, 1, 0, 1000, 1000, 0, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "neither has any", 0, 0, 1, 1, 0, 1000, 1000, 0, 0, V_INCONCLUSIVE, "need 50" },
		{ "too few, even when much worse", 10, 1000, 900, 1, 0, 9000, 1000, 10, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "exactly minRequests", 50, 50, 1, 1, 0, 1000, 1000, 0, 0, V_PASS, "p50" },
		{ "all equal", 1000, 1000, 1, 1, 0, 1000, 1000, 0, 0, V_PASS, "p50" },
		{ "p50 1.6x but only +0.6 ms", 1000, 1000, 1.6, 1, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p50 +40 ms but only 1.4x", 1000, 1000, 140, 100, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p50 50 ms vs 1 ms", 1000, 1000, 50, 1, 0, 1000, 1000, 0, 0, V_FAIL, "latency p50" },
		{ "p50 10 ms vs 1 ms", 1000, 1000, 10, 1, 0, 1000, 1000, 0, 0, V_FAIL, "latency p50" },
		{ "target faster", 1000, 1000, 1, 50, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p99 only", 1000, 1000, 1, 1, 50, 1000, 1000, 0, 0, V_FAIL, "latency p99" },
		{ "sizes 3x", 1000, 1000, 1, 1, 0, 3000, 1000, 0, 0, V_FAIL, "response size" },
		{ "sizes a third", 1000, 1000, 1, 1, 0, 333, 1000, 0, 0, V_FAIL, "response size" },
		{ "sizes 1.4x", 1000, 1000, 1, 1, 0, 1400, 1000, 0, 0, V_PASS, "" },
		{ "errors +2%", 1000, 1000, 1, 1, 0, 1000, 1000, 20, 0, V_FAIL, "error rate" },
		{ "errors +0.5%", 1000, 1000, 1, 1, 0, 1000, 1000, 5, 0, V_PASS, "" },
		{ "errors 10% vs 9.5%", 1000, 1000, 1, 1, 0, 1000, 1000, 100, 95, V_PASS, "" },
		{ "errors fewer than stable's", 1000, 1000, 1, 1, 0, 1000, 1000, 0, 300, V_PASS, "" },
	};
	/* clang-format on */
	struct window *tw = tcalloc(sizeof(*tw)), *sw = tcalloc(sizeof(*sw));
	struct analysis a;
	char why[160];
	enum verdict v;

	row("%s", "names");
	CHECK_STR(judge_verdict_name(V_PASS), "pass");
	CHECK_STR(judge_verdict_name(V_FAIL), "fail");
	CHECK_STR(judge_verdict_name(V_INCONCLUSIVE), "inconclusive");
	judge_defaults(&a);
	a.min_requests = 50;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		fill_window(tw, t[i].tn, t[i].tms, t[i].ttail, 50, t[i].tsize, t[i].terr);
		fill_window(sw, t[i].sn, t[i].sms, 0, 0, t[i].ssize, t[i].serr);
		memset(why, 'x', sizeof(why));
		v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
		CHECK(memchr(why, '\0', sizeof(why)), "why is not terminated");
		CHECK(v == t[i].want, "%s (%s)", judge_verdict_name(v), why);
		CHECK_HAS(why, t[i].has);
		if (v != V_PASS) {
			CHECK_HAS(why, "v2.0");
			CHECK_HAS(why, "v1.0");
		}
	}
	/* The thresholds are the analysis's, not fixed ones. */
	row("%s", "minRequests 1000");
	a.min_requests = 1000;
	fill_window(tw, 999, 1, 0, 0, 1000, 0);
	fill_window(sw, 5000, 1, 0, 0, 1000, 0);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_INCONCLUSIVE, "%s (%s)", judge_verdict_name(v), why);
	CHECK_HAS(why, "need 1000");
	row("%s", "floor 0 ms: 1.6x fails");
	judge_defaults(&a);
	a.max_latency_increase_ms = 0;
	fill_window(tw, 1000, 1.6, 0, 0, 1000, 0);
	fill_window(sw, 1000, 1, 0, 0, 1000, 0);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_FAIL, "%s (%s)", judge_verdict_name(v), why);
	CHECK_HAS(why, "latency p50");
	row("%s", "error limit 0.1: +2% passes");
	judge_defaults(&a);
	a.max_error_rate_increase = 0.1;
	fill_window(tw, 1000, 1, 0, 0, 1000, 20);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_PASS, "%s (%s)", judge_verdict_name(v), why);
}

static void test_rollout_verdict(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis();
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	const struct analysis *a = &ro->an;
	uint32_t nev;

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK(a->on, "analysis off");
	CHECK_INT(a->failure_limit, ==, 3);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->windows, ==, 0);

	for (uint32_t i = 1; i <= 2; i++) {
		char want[32];

		row("fail %u", i);
		CHECK_INT(rollout_verdict(m, 0, V_FAIL, "latency p50: slow", T0 + 5 * i), ==,
			  false);
		CHECK_INT(ro->phase, ==, RO_PROGRESSING);
		CHECK_INT(a->failures, ==, i);
		CHECK_INT(a->windows, ==, i);
		CHECK_STR(a->last_verdict, "latency p50: slow");
		CHECK_STR(model_event_nth(m, 0)->kind, "analysis_failed");
		CHECK_INT(model_event_nth(m, 0)->time, ==, T0 + 5 * i);
		snprintf(want, sizeof(want), "window %u/3", i);
		CHECK_HAS(model_event_nth(m, 0)->message, want);
		CHECK_HAS(model_event_nth(m, 0)->message, "latency p50: slow");
		check_layout(m, 0, S20, S10, 1000);
		if (cur_failed)
			return;
	}
	row("%s", "a pass");
	nev = m->events.n;
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "all good", T0 + 15), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->last_pass, ==, T0 + 15);
	CHECK_INT(a->windows, ==, 3);
	CHECK_STR(a->last_verdict, "all good");
	CHECK_INT(m->events.n, ==, nev);

	/* Inconclusive windows are no failures, and do not end a run of them. */
	row("%s", "fail, fail, inconclusive");
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "error rate: high", T0 + 20), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "error rate: high", T0 + 25), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few requests", T0 + 30), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(a->failures, ==, 2);
	CHECK_INT(a->inconclusive, ==, 1);
	CHECK_INT(a->last_pass, ==, T0 + 15);
	CHECK_STR(model_event_nth(m, 0)->kind, "inconclusive");
	CHECK_INT(m->svc[0].rollbacks, ==, 0);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 0);

	row("%s", "third fail");
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "error rate: high", T0 + 35), ==, true);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 35);
	CHECK_INT(a->failures, ==, 3);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(m->cl[S20].weight, ==, 0);
	CHECK_INT(m->cl[S10].weight, ==, 10000);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "the target keeps its affinity");
	CHECK(!m->cl[S10].no_affinity, "the stable version lost its affinity");
	CHECK_INT(m->svc[0].rollbacks, ==, 1);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 1);
	CHECK_STR(model_event_nth(m, 0)->kind, "auto_rollback");
	CHECK_INT(model_event_nth(m, 0)->time, ==, T0 + 35);
	CHECK_HAS(model_event_nth(m, 0)->message, "error rate: high");
	CHECK_HAS(model_event_nth(m, 0)->message, "2.0");
	CHECK_HAS(model_event_nth(m, 0)->message, "1.0");
	CHECK_STR(model_event_nth(m, 1)->kind, "rolled_back");
	CHECK_STR(model_event_nth(m, 2)->kind, "analysis_failed");
	CHECK_HAS(model_event_nth(m, 2)->message, "window 3/3");
	CHECK_INT(rollout_tick(m, T0 + 100000), ==, false);
	CHECK_INT(m->svc[1].rollbacks + m->svc[1].auto_rollbacks, ==, 0);

	/* A new rollout starts with its status cleared, whatever the
	 * request's copy of it holds. */
	row("%s", "start again");
	an.failures = 2;
	an.inconclusive = 2;
	an.windows = 7;
	an.last_pass = T0 + 1000000;
	snprintf(an.last_verdict, sizeof(an.last_verdict), "%s", "stale");
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0 + 100), ==, 0);
	CHECK(a->on, "analysis off");
	CHECK_INT(a->failure_limit, ==, 3);
	CHECK_INT(a->max_inconclusive, ==, 3);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->windows, ==, 0);
	CHECK_INT(a->last_pass, ==, 0);
	CHECK_STR(a->last_verdict, "");
	CHECK_INT(rollout_tick(m, T0 + 3700), ==, false); /* no pass yet */

	/* An event on the first inconclusive window and on reaching the
	 * limit only; a failure ends the run, a pass too. */
	for (uint32_t i = 1; i <= 5; i++) {
		row("inconclusive %u", i);
		nev = m->events.n;
		CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few requests",
					  T0 + 100 + 5 * i),
			  ==, false);
		CHECK_INT(ro->phase, ==, RO_PROGRESSING);
		CHECK_INT(a->inconclusive, ==, i);
		CHECK_INT(a->failures, ==, 0);
		CHECK_INT(a->windows, ==, i);
		CHECK_STR(a->last_verdict, "too few requests");
		if (i == 1 || i == 3) {
			CHECK_INT(m->events.n, ==, nev + 1);
			CHECK_STR(model_event_nth(m, 0)->kind, "inconclusive");
			CHECK_INT(model_event_nth(m, 0)->time, ==, T0 + 100 + 5 * i);
			CHECK_HAS(model_event_nth(m, 0)->message, "too few requests");
			if (i == 3)
				CHECK_HAS(model_event_nth(m, 0)->message, "without a verdict");
			else
				CHECK(!strstr(model_event_nth(m, 0)->message, "without"), "%s",
				      model_event_nth(m, 0)->message);
		} else {
			CHECK_INT(m->events.n, ==, nev);
		}
	}
	row("%s", "a failure after inconclusive ones");
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "latency p99: slow", T0 + 200), ==, false);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->failures, ==, 1);
	row("%s", "inconclusive again, then a pass");
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few requests", T0 + 205), ==, false);
	CHECK_STR(model_event_nth(m, 0)->kind, "inconclusive");
	CHECK_INT(a->inconclusive, ==, 1);
	CHECK_INT(a->failures, ==, 1);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 210), ==, false);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->last_pass, ==, T0 + 210);
	CHECK_INT(a->windows, ==, 8);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 1);
}

/* With analysis on, a step ends only after a passing window once its hold
 * is over (or after maxInconclusive windows without a verdict), and the
 * next starts then, not on the schedule. */
static void test_rollout_analysis_gate(void)
{
	static const struct ro_step st[] = { { 1000, 60 }, { 5000, RO_WAIT } };
	static const struct ro_step three[] = { { 1000, 60 }, { 5000, 60 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis(), off = { 0 };
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;

	row("%s", "analysis off: on schedule");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &off, T0), ==, 0);
	CHECK_INT(rollout_tick(m, T0 + 61), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 60);

	row("%s", "a pass");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_tick(m, T0 + 30), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 30), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 60), ==, false); /* that pass was before the hold ended */
	CHECK_INT(rollout_tick(m, T0 + 61), ==, false);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(rollout_weight(m, ro), ==, 1000);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 62), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 62), ==, true);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 62);
	check_layout(m, 0, S20, S10, 5000);
	if (cur_failed)
		return;
	CHECK_STR(model_event_nth(m, 0)->kind, "approval_needed");
	CHECK_STR(model_event_nth(m, 1)->kind, "step");
	CHECK_INT(model_event_nth(m, 1)->time, ==, T0 + 62);
	CHECK_INT(rollout_tick(m, T0 + 100000), ==, false); /* waits for promote */

	row("%s", "a pass, the next step on from it");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, three, 3, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 70), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 200), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 200);
	CHECK_INT(rollout_next_due(ro), ==, T0 + 260);
	CHECK_INT(rollout_tick(m, T0 + 260), ==, false); /* the pass at +70 was for step 1 */
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 265), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266), ==, true);
	CHECK_INT(ro->step, ==, 2);
	CHECK_INT(ro->step_started, ==, T0 + 266);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING); /* 100% and waits: for a pass */
	/* A pass whose window began before the step did not judge it: the
	 * gate wants one ending a full interval after the step started. */
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 266 + an.interval - 1), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266 + an.interval - 1), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 266 + an.interval), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266 + an.interval + 1), ==, true);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 266 + an.interval + 1);

	row("%s", "no verdict: maxInconclusive windows");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 55), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 60), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 61), ==, false);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 65), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 66), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 66);
	check_layout(m, 0, S20, S10, 5000);
	if (cur_failed)
		return;

	row("%s", "failures hold the step");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "slow", T0 + 65), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "slow", T0 + 70), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 71), ==, false);
	CHECK_INT(ro->step, ==, 0);

	/* A session rollout is at 100% at once, and completes on a pass. */
	row("%s", "session rollout");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_SESSION, 30, NULL, 0, &an, T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_weight(m, ro), ==, 10000);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	CHECK_INT(rollout_tick(m, T0 + 1000), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "slow", T0 + 1001), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 1002), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 1005), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 1006), ==, true);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 1006);
	CHECK_INT(model_stable(m, 0), ==, S20);
	CHECK_STR(model_event_nth(m, 0)->kind, "completed");
	row("%s", "session rollout, analysis off");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_SESSION, 30, NULL, 0, &off, T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0);
}

/* req_rollout on a JSON body given with single quotes. */
static int parse_ro(const char *sq, struct ro_request *req, struct vs_err *err)
{
	json_t *j = json_loads(jq(sq), 0, NULL);
	int ret;

	memset(err, 0, sizeof(*err));
	if (!j)
		return BAD_TEST_INPUT;
	ret = req_rollout(j, req, err);
	json_decref(j);
	return ret;
}

static void test_req_rollout_analysis(void)
{
	/* clang-format off */
	static const struct {
		const char *analysis;
		const char *code;	/* NULL: accepted */
		const char *has;
	} bad[] = {
		{ "{'interval': 0}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': 3601}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': '5'}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': null}", "bad_rollout", "body.analysis.interval" },
		{ "{'minRequests': 0}", "bad_rollout", "body.analysis.minRequests" },
		{ "{'minRequests': -5}", "bad_rollout", "body.analysis.minRequests" },
		{ "{'maxLatencyRatio': 0.5}", "bad_rollout", "body.analysis.maxLatencyRatio" },
		{ "{'maxLatencyIncreaseMs': -1}", "bad_rollout", "body.analysis.maxLatencyIncreaseMs" },
		{ "{'maxLatencyIncreaseMs': '5'}", "bad_rollout", "body.analysis.maxLatencyIncreaseMs" },
		{ "{'maxSizeDeviation': false}", "bad_rollout", "body.analysis.maxSizeDeviation" },
		{ "{'maxSizeDeviation': -0.1}", "bad_rollout", "body.analysis.maxSizeDeviation" },
		{ "{'maxErrorRateIncrease': 2}", "bad_rollout", "body.analysis.maxErrorRateIncrease" },
		{ "{'maxErrorRateIncrease': -0.01}", "bad_rollout",
		  "body.analysis.maxErrorRateIncrease" },
		{ "{'failureLimit': 0}", "bad_rollout", "body.analysis.failureLimit" },
		{ "{'maxInconclusive': 0}", "bad_rollout", "body.analysis.maxInconclusive" },
		{ "{'interval': 5, 'bogus': 1}", "unknown_field", "bogus" },
		{ "{'failurelimit': 3}", "unknown_field", "failurelimit" },
		{ "5", "bad_field", "body.analysis" },
		{ "[]", "bad_field", "body.analysis" },
		{ "true", "bad_field", "body.analysis" },
	};
	/* clang-format on */
	struct ro_request *req = tcalloc(sizeof(*req));
	struct analysis def;
	struct vs_err err;
	char body[256];

	row("%s", "no analysis");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}]}",
			   req, &err),
		  ==, 0);
	CHECK(!req->an.on, "analysis on without asking");

	row("%s", "analysis {}");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}],"
			   " 'analysis': {}}",
			   req, &err),
		  ==, 0);
	CHECK(req->an.on, "analysis off");
	CHECK_INT(req->an.interval, ==, 5);
	CHECK_INT(req->an.min_requests, ==, 100);
	CHECK(req->an.max_latency_ratio == 1.5, "%g", req->an.max_latency_ratio);
	CHECK(req->an.max_latency_increase_ms == 5, "%g", req->an.max_latency_increase_ms);
	CHECK(req->an.max_size_deviation == 0.5, "%g", req->an.max_size_deviation);
	CHECK(req->an.max_error_rate_increase == 0.01, "%g", req->an.max_error_rate_increase);
	CHECK_INT(req->an.failure_limit, ==, 3);
	CHECK_INT(req->an.max_inconclusive, ==, 12);
	CHECK_INT(req->an.failures + req->an.inconclusive + req->an.windows, ==, 0);
	CHECK_INT(req->an.last_pass, ==, 0);
	CHECK_STR(req->an.last_verdict, "");
	/* and the rest of the request is still there */
	CHECK_STR(req->to, "2.0");
	CHECK_INT(req->strategy, ==, RO_GRADUAL);
	CHECK_INT(req->nsteps, ==, 2);
	CHECK_INT(req->steps[0].weight, ==, 1000);
	CHECK_INT(req->steps[0].hold, ==, 60);
	judge_defaults(&def);
	CHECK(def.on, "judge_defaults: off");
	CHECK_INT(def.interval, ==, req->an.interval);

	row("%s", "every field");
	CHECK_INT(parse_ro("{'to': '2.0', 'sessionTimeout': 30, 'analysis': {'interval': 10,"
			   " 'minRequests': 20, 'maxLatencyRatio': 2.5, 'maxLatencyIncreaseMs': 0,"
			   " 'maxSizeDeviation': 0.25, 'maxErrorRateIncrease': 0,"
			   " 'failureLimit': 1, 'maxInconclusive': 1}}",
			   req, &err),
		  ==, 0);
	CHECK_INT(req->strategy, ==, RO_SESSION);
	CHECK(req->an.on, "analysis off");
	CHECK_INT(req->an.interval, ==, 10);
	CHECK_INT(req->an.min_requests, ==, 20);
	CHECK(req->an.max_latency_ratio == 2.5, "%g", req->an.max_latency_ratio);
	CHECK(req->an.max_latency_increase_ms == 0, "%g", req->an.max_latency_increase_ms);
	CHECK(req->an.max_size_deviation == 0.25, "%g", req->an.max_size_deviation);
	CHECK(req->an.max_error_rate_increase == 0, "%g", req->an.max_error_rate_increase);
	CHECK_INT(req->an.failure_limit, ==, 1);
	CHECK_INT(req->an.max_inconclusive, ==, 1);

	row("%s", "the upper bounds");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': {'interval': 3600, 'minRequests': 1000000000,"
			   " 'maxLatencyRatio': 1, 'maxErrorRateIncrease': 1, 'failureLimit': 1000,"
			   " 'maxInconclusive': 1000000}}",
			   req, &err),
		  ==, 0);
	CHECK_INT(req->an.interval, ==, 3600);
	CHECK_INT(req->an.min_requests, ==, 1000000000);
	CHECK_INT(req->an.failure_limit, ==, 1000);
	CHECK_INT(req->an.max_inconclusive, ==, 1000000);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("analysis %s", bad[i].analysis);
		snprintf(body, sizeof(body), "{'to': '2.0', 'analysis': %s}", bad[i].analysis);
		CHECK_INT(parse_ro(body, req, &err), ==, -EINVAL);
		CHECK_INT(err.status, ==, 400);
		CHECK_STR(err.code, bad[i].code);
		CHECK_HAS(err.msg, bad[i].has);
	}
}

const struct unit_case analysis_cases[] = { TEST(test_hist_buckets),
					    TEST(test_hist_quantile),
					    TEST(test_judge),
					    TEST(test_rollout_verdict),
					    TEST(test_rollout_analysis_gate),
					    TEST(test_req_rollout_analysis),
					    { NULL, NULL } };
