// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Histograms and analysis: buckets, quantiles, verdicts gating a
 * rollout (the judge itself and its settings: test_judge.c).
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

const struct unit_case analysis_cases[] = { TEST(test_hist_buckets),
					    TEST(test_hist_quantile),
					    TEST(test_rollout_verdict),
					    TEST(test_rollout_analysis_gate),
					    { NULL, NULL } };
