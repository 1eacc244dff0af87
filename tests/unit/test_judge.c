// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The judge: verdicts (against the stable version, and the absolute
 * limits that need none), analysis settings as a request gives them over
 * a service's, and what maxInconclusive windows without a verdict do to
 * a rollout (pause, or advance).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vsteer_hist.h"
#include "core/judge.h"
#include "codec/request.h"
#include "core/rollout.h"

#include "harness.h"
#include "helpers.h"

/* n requests: n - tail at ms, tail at tail_ms; every response size bytes;
 * as the judge sees it. */
static void fill_sum(struct window_sum *out, uint64_t n, double ms, uint64_t tail, double tail_ms,
		     uint64_t size, uint64_t errors)
{
	/* Not tcalloc(): a case makes more of these than it tracks. */
	struct window *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	w->requests = w->arrived = n;
	w->errors = errors;
	w->lat.b[vs_hbucket((uint64_t)(ms * 1e6))] += n - tail;
	w->lat.b[vs_hbucket((uint64_t)(tail_ms * 1e6))] += tail;
	w->size.b[vs_hbucket(size)] += n;
	window_summarize(w, 5, out);
	free(w);
}

static void test_judge(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		uint64_t tn, sn;	/* requests */
		double tms, sms;	/* latency */
		uint64_t ttail, stail;	/* requests at 50 ms instead */
		uint64_t tsize, ssize;
		uint64_t terr, serr;
		double max_err, max_p99; /* absolute limits, < 0: none */
		enum verdict want;
		const char *has;
	} t[] = {
		{ "target below minRequests", 49, 1000, 1, 1, 0, 0, 1000, 1000, 0, 0, -1, -1,
		  V_INCONCLUSIVE, "too few" },
		{ "stable below minRequests", 1000, 49, 1, 1, 0, 0, 1000, 1000, 0, 0, -1, -1,
		  V_INCONCLUSIVE, "too few" },
		{ "neither has any", 0, 0, 1, 1, 0, 0, 1000, 1000, 0, 0, -1, -1, V_INCONCLUSIVE,
		  "need 50" },
		{ "too few, even when much worse", 10, 1000, 900, 1, 0, 0, 9000, 1000, 10, 0, -1, -1,
		  V_INCONCLUSIVE, "too few" },
		{ "exactly minRequests", 50, 50, 1, 1, 0, 0, 1000, 1000, 0, 0, -1, -1, V_PASS, "p50" },
		{ "all equal", 1000, 1000, 1, 1, 0, 0, 1000, 1000, 0, 0, -1, -1, V_PASS, "p50" },
		{ "p50 1.6x but only +0.6 ms", 1000, 1000, 1.6, 1, 0, 0, 1000, 1000, 0, 0, -1, -1,
		  V_PASS, "" },
		{ "p50 +40 ms but only 1.4x", 1000, 1000, 140, 100, 0, 0, 1000, 1000, 0, 0, -1, -1,
		  V_PASS, "" },
		{ "p50 50 ms vs 1 ms", 1000, 1000, 50, 1, 0, 0, 1000, 1000, 0, 0, -1, -1, V_FAIL,
		  "latency p50" },
		{ "p50 10 ms vs 1 ms", 1000, 1000, 10, 1, 0, 0, 1000, 1000, 0, 0, -1, -1, V_FAIL,
		  "latency p50" },
		{ "target faster", 1000, 1000, 1, 50, 0, 0, 1000, 1000, 0, 0, -1, -1, V_PASS, "" },
		{ "p99 only", 1000, 1000, 1, 1, 50, 0, 1000, 1000, 0, 0, -1, -1, V_FAIL,
		  "latency p99" },
		{ "p99 both slow", 1000, 1000, 1, 1, 50, 50, 1000, 1000, 0, 0, -1, -1, V_PASS, "" },
		{ "sizes 3x", 1000, 1000, 1, 1, 0, 0, 3000, 1000, 0, 0, -1, -1, V_FAIL,
		  "response size" },
		{ "sizes a third", 1000, 1000, 1, 1, 0, 0, 333, 1000, 0, 0, -1, -1, V_FAIL,
		  "response size" },
		{ "sizes 1.4x", 1000, 1000, 1, 1, 0, 0, 1400, 1000, 0, 0, -1, -1, V_PASS, "" },
		{ "errors +2%", 1000, 1000, 1, 1, 0, 0, 1000, 1000, 20, 0, -1, -1, V_FAIL,
		  "error rate: v2.0 2.00% vs v1.0 0.00% (limit +1.00%)" },
		{ "errors +0.5%", 1000, 1000, 1, 1, 0, 0, 1000, 1000, 5, 0, -1, -1, V_PASS, "" },
		{ "errors 10% vs 9.5%", 1000, 1000, 1, 1, 0, 0, 1000, 1000, 100, 95, -1, -1, V_PASS,
		  "" },
		{ "errors fewer than stable's", 1000, 1000, 1, 1, 0, 0, 1000, 1000, 0, 300, -1, -1,
		  V_PASS, "" },
		/* The absolute limits need no baseline. */
		{ "maxErrorRate: 10% over 5%, no stable traffic", 1000, 0, 1, 1, 0, 0, 1000, 1000,
		  100, 0, 0.05, -1, V_FAIL, "error rate: v2.0 10.00% (limit 5.00%)" },
		{ "maxErrorRate: 10% over 5%, stable as bad", 1000, 1000, 1, 1, 0, 0, 1000, 1000,
		  100, 100, 0.05, -1, V_FAIL, "error rate: v2.0 10.00% (limit 5.00%)" },
		{ "maxErrorRate: 4% under 5%, within +1% of stable", 1000, 1000, 1, 1, 0, 0, 1000,
		  1000, 40, 35, 0.05, -1, V_PASS, "" },
		{ "maxErrorRate: 4% under 5%, no stable traffic", 1000, 0, 1, 1, 0, 0, 1000, 1000,
		  40, 0, 0.05, -1, V_INCONCLUSIVE, "too few" },
		{ "maxErrorRate 0: one error fails", 1000, 0, 1, 1, 0, 0, 1000, 1000, 1, 0, 0, -1,
		  V_FAIL, "(limit 0.00%)" },
		{ "maxErrorRate: too few requests of the target", 49, 0, 1, 1, 0, 0, 1000, 1000, 49,
		  0, 0.05, -1, V_INCONCLUSIVE, "too few" },
		{ "maxLatencyP99Ms: 50 ms over 40, no stable traffic", 1000, 0, 1, 1, 50, 0, 1000,
		  1000, 0, 0, -1, 40, V_FAIL, "latency p99: v2.0 " },
		{ "maxLatencyP99Ms: 50 ms over 40, stable as slow", 1000, 1000, 1, 1, 50, 50, 1000,
		  1000, 0, 0, -1, 40, V_FAIL, "(limit 40.00 ms)" },
		{ "maxLatencyP99Ms: 50 ms under 60", 1000, 1000, 1, 1, 50, 50, 1000, 1000, 0, 0, -1,
		  60, V_PASS, "" },
		{ "both limits met, no baseline", 1000, 0, 1, 1, 0, 0, 1000, 1000, 0, 0, 0.05, 60,
		  V_INCONCLUSIVE, "v1.0 0 (need 50 each)" },
	};
	/* clang-format on */
	struct window_sum tw, sw;
	struct analysis a;
	char why[160];
	enum verdict v;

	row("%s", "names");
	CHECK_STR(judge_verdict_name(V_PASS), "pass");
	CHECK_STR(judge_verdict_name(V_FAIL), "fail");
	CHECK_STR(judge_verdict_name(V_INCONCLUSIVE), "inconclusive");
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		judge_defaults(&a);
		a.min_requests = 50;
		a.max_latency_increase_ms = 5;
		a.max_error_rate = t[i].max_err;
		a.max_latency_p99_ms = t[i].max_p99;
		fill_sum(&tw, t[i].tn, t[i].tms, t[i].ttail, 50, t[i].tsize, t[i].terr);
		fill_sum(&sw, t[i].sn, t[i].sms, t[i].stail, 50, t[i].ssize, t[i].serr);
		memset(why, 'x', sizeof(why));
		v = judge(&a, &tw, &sw, "v2.0", "v1.0", why, sizeof(why));
		CHECK(memchr(why, '\0', sizeof(why)), "why is not terminated");
		CHECK(v == t[i].want, "%s (%s)", judge_verdict_name(v), why);
		CHECK_HAS(why, t[i].has);
		if (v != V_PASS)
			CHECK_HAS(why, "v2.0");
	}
	/* The thresholds are the analysis's, not fixed ones. */
	row("%s", "minRequests 1000");
	judge_defaults(&a);
	a.min_requests = 1000;
	fill_sum(&tw, 999, 1, 0, 0, 1000, 0);
	fill_sum(&sw, 5000, 1, 0, 0, 1000, 0);
	v = judge(&a, &tw, &sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_INCONCLUSIVE, "%s (%s)", judge_verdict_name(v), why);
	CHECK_HAS(why, "need 1000");
	row("%s", "floor 0 ms: 1.6x fails");
	judge_defaults(&a);
	a.max_latency_increase_ms = 0;
	fill_sum(&tw, 1000, 1.6, 0, 0, 1000, 0);
	fill_sum(&sw, 1000, 1, 0, 0, 1000, 0);
	v = judge(&a, &tw, &sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_FAIL, "%s (%s)", judge_verdict_name(v), why);
	CHECK_HAS(why, "latency p50");
	row("%s", "error limit 0.1: +2% passes");
	judge_defaults(&a);
	a.max_error_rate_increase = 0.1;
	fill_sum(&tw, 1000, 1, 0, 0, 1000, 20);
	v = judge(&a, &tw, &sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_PASS, "%s (%s)", judge_verdict_name(v), why);
	/* The baseline is named as the caller names it. */
	row("%s", "a baseline from before the rollout");
	judge_defaults(&a);
	fill_sum(&tw, 100, 1, 0, 0, 1000, 100);
	fill_sum(&sw, 100, 1, 0, 0, 1000, 0);
	v = judge(&a, &tw, &sw, "2.0", "1.0 before the rollout", why, sizeof(why));
	CHECK(v == V_FAIL, "%s (%s)", judge_verdict_name(v), why);
	CHECK_STR(why, "error rate: 2.0 100.00% vs 1.0 before the rollout 0.00% (limit +1.00%)");
}

/* The built-in settings, as docs/watching.md gives them. */
static void test_judge_defaults(void)
{
	struct analysis a;

	judge_defaults(&a);
	CHECK(a.on, "off by default");
	CHECK_INT(a.interval, ==, 5);
	CHECK_INT(a.min_requests, ==, 20);
	CHECK(a.max_latency_ratio == 1.5, "%g", a.max_latency_ratio);
	CHECK(a.max_latency_increase_ms == 20, "%g", a.max_latency_increase_ms);
	CHECK(a.max_size_deviation == 0.5, "%g", a.max_size_deviation);
	CHECK(a.max_error_rate_increase == 0.01, "%g", a.max_error_rate_increase);
	CHECK(a.max_error_rate == JUDGE_NO_LIMIT, "%g", a.max_error_rate);
	CHECK(a.max_latency_p99_ms == JUDGE_NO_LIMIT, "%g", a.max_latency_p99_ms);
	CHECK_INT(a.failure_limit, ==, 3);
	CHECK_INT(a.max_inconclusive, ==, 12);
	CHECK_INT(a.on_inconclusive, ==, JUDGE_PAUSE);
	CHECK_STR(judge_inconclusive_name(JUDGE_PAUSE), "pause");
	CHECK_STR(judge_inconclusive_name(JUDGE_ADVANCE), "advance");
	for (size_t i = 0; i < JUDGE_NFIELDS; i++) {
		row("field %s", judge_fields[i].name);
		CHECK(judge_get(&a, &judge_fields[i]) >= judge_fields[i].lo ||
			      (judge_fields[i].kind == JUDGE_LIMIT &&
			       judge_get(&a, &judge_fields[i]) == JUDGE_NO_LIMIT),
		      "default %g below %g", judge_get(&a, &judge_fields[i]), judge_fields[i].lo);
		CHECK(judge_get(&a, &judge_fields[i]) <= judge_fields[i].hi, "default %g over %g",
		      judge_get(&a, &judge_fields[i]), judge_fields[i].hi);
	}
}

/* A rollout's settings: the service's, with what the request gives over
 * them; its status starts cleared. */
static void test_judge_resolve(void)
{
	struct analysis svc, out;
	struct analysis_req r;

	judge_defaults(&svc);
	svc.interval = 2;
	svc.max_error_rate = 0.05;
	svc.on_inconclusive = JUDGE_ADVANCE;
	svc.failures = 7;
	svc.base.seconds = 9;

	row("%s", "nothing asked: the service's");
	r = (struct analysis_req){ 0 };
	judge_resolve(&out, &svc, &r);
	CHECK(out.on, "off");
	CHECK_INT(out.interval, ==, 2);
	CHECK(out.max_error_rate == 0.05, "%g", out.max_error_rate);
	CHECK_INT(out.on_inconclusive, ==, JUDGE_ADVANCE);
	CHECK_INT(out.failures, ==, 0);
	CHECK_INT(out.base.seconds, ==, 0);

	row("%s", "false");
	r = (struct analysis_req){ .set = true };
	judge_resolve(&out, &svc, &r);
	CHECK(!out.on, "on");

	row("%s", "true, or {}: the service's, on");
	r = (struct analysis_req){ .set = true, .an = { .on = true, .interval = 99 } };
	judge_resolve(&out, &svc, &r);
	CHECK(out.on, "off");
	CHECK_INT(out.interval, ==, 2);

	row("%s", "some fields over the service's");
	r = (struct analysis_req){ .set = true,
				   .given = 1u << 0 | 1u << 7 | JUDGE_GIVEN_INCONCLUSIVE,
				   .an = { .on = true,
					   .interval = 9,
					   .min_requests = 1,
					   .max_latency_p99_ms = 250,
					   .on_inconclusive = JUDGE_PAUSE } };
	CHECK_STR(judge_fields[0].name, "interval");
	CHECK_STR(judge_fields[7].name, "maxLatencyP99Ms");
	judge_resolve(&out, &svc, &r);
	CHECK_INT(out.interval, ==, 9);
	CHECK_INT(out.min_requests, ==, svc.min_requests);
	CHECK(out.max_latency_p99_ms == 250, "%g", out.max_latency_p99_ms);
	CHECK(out.max_error_rate == 0.05, "%g", out.max_error_rate);
	CHECK_INT(out.on_inconclusive, ==, JUDGE_PAUSE);

	row("%s", "a service that is not judged, a request that asks");
	svc.on = false;
	r = (struct analysis_req){ 0 };
	judge_resolve(&out, &svc, &r);
	CHECK(!out.on, "on");
	r = (struct analysis_req){ .set = true, .an = { .on = true } };
	judge_resolve(&out, &svc, &r);
	CHECK(out.on, "off");
	CHECK_INT(out.interval, ==, 2);
}

/* req_rollout on a JSON body given with single quotes. */
static int parse_ro(const char *sq, struct ro_request *req, struct vs_err *err)
{
	json_t *j = json_loads(jq(sq), 0, NULL);
	int ret;

	memset(err, 0, sizeof(*err));
	if (!j)
		return BAD_TEST_INPUT;
	ret = req_rollout(j, req, NULL, err);
	json_decref(j);
	return ret;
}

static void test_req_rollout_analysis(void)
{
	/* clang-format off */
	static const struct {
		const char *analysis;
		const char *code;
		const char *has;
	} bad[] = {
		{ "{'interval': 0}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': 3601}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': '5'}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': null}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': 1.5}", "bad_rollout", "whole number" },
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
		{ "{'maxErrorRate': 1.5}", "bad_rollout", "body.analysis.maxErrorRate: must be a number from 0 to 1, or null" },
		{ "{'maxErrorRate': -0.1}", "bad_rollout", "body.analysis.maxErrorRate" },
		{ "{'maxErrorRate': '5%'}", "bad_rollout", "body.analysis.maxErrorRate" },
		{ "{'maxErrorRate': true}", "bad_rollout", "body.analysis.maxErrorRate" },
		{ "{'maxLatencyP99Ms': 0}", "bad_rollout", "body.analysis.maxLatencyP99Ms" },
		{ "{'maxLatencyP99Ms': [100]}", "bad_rollout", "body.analysis.maxLatencyP99Ms" },
		{ "{'maxLatencyP99Ms': 1e300}", "bad_rollout", "body.analysis.maxLatencyP99Ms" },
		{ "{'failureLimit': 0}", "bad_rollout", "body.analysis.failureLimit" },
		{ "{'maxInconclusive': 0}", "bad_rollout", "body.analysis.maxInconclusive" },
		{ "{'onInconclusive': 'stop'}", "bad_rollout",
		  "body.analysis.onInconclusive: must be \"pause\" or \"advance\"" },
		{ "{'onInconclusive': 'Pause'}", "bad_rollout", "body.analysis.onInconclusive" },
		{ "{'onInconclusive': 0}", "bad_rollout", "body.analysis.onInconclusive" },
		{ "{'onInconclusive': null}", "bad_rollout", "body.analysis.onInconclusive" },
		{ "{'interval': 5, 'bogus': 1}", "unknown_field", "bogus" },
		{ "{'failurelimit': 3}", "unknown_field", "failurelimit" },
		{ "{'on': false}", "unknown_field", "'on'" },
		{ "5", "bad_field", "body.analysis: must be false" },
		{ "[]", "bad_field", "body.analysis" },
		{ "null", "bad_field", "body.analysis" },
		{ "'off'", "bad_field", "body.analysis" },
	};
	/* clang-format on */
	struct ro_request *req = tcalloc(sizeof(*req));
	struct vs_err err;
	char body[256];

	row("%s", "no analysis: the service's");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}]}",
			   req, &err),
		  ==, 0);
	CHECK(!req->an.set, "analysis asked for without asking");

	row("%s", "analysis {}");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}],"
			   " 'analysis': {}}",
			   req, &err),
		  ==, 0);
	CHECK(req->an.set && req->an.an.on, "analysis off");
	CHECK_INT(req->an.given, ==, 0);
	/* and the rest of the request is still there */
	CHECK_STR(req->to, "2.0");
	CHECK_INT(req->strategy, ==, RO_GRADUAL);
	CHECK_INT(req->nsteps, ==, 2);
	CHECK_INT(req->steps[0].weight, ==, 1000);
	CHECK_INT(req->steps[0].hold, ==, 60);

	row("%s", "analysis false");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': false}", req, &err), ==, 0);
	CHECK(req->an.set && !req->an.an.on, "analysis on");
	row("%s", "analysis true");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': true}", req, &err), ==, 0);
	CHECK(req->an.set && req->an.an.on, "analysis off");
	CHECK_INT(req->an.given, ==, 0);

	row("%s", "every field");
	CHECK_INT(parse_ro("{'to': '2.0', 'sessionTimeout': 30, 'analysis': {'interval': 10,"
			   " 'minRequests': 20, 'maxLatencyRatio': 2.5, 'maxLatencyIncreaseMs': 0,"
			   " 'maxSizeDeviation': 0.25, 'maxErrorRateIncrease': 0,"
			   " 'maxErrorRate': 0.2, 'maxLatencyP99Ms': 250.5,"
			   " 'failureLimit': 1, 'maxInconclusive': 1, 'onInconclusive': 'advance'}}",
			   req, &err),
		  ==, 0);
	CHECK_INT(req->strategy, ==, RO_SESSION);
	CHECK(req->an.set && req->an.an.on, "analysis off");
	CHECK_INT(req->an.given, ==, ((1u << JUDGE_NFIELDS) - 1) | JUDGE_GIVEN_INCONCLUSIVE);
	CHECK_INT(req->an.an.interval, ==, 10);
	CHECK_INT(req->an.an.min_requests, ==, 20);
	CHECK(req->an.an.max_latency_ratio == 2.5, "%g", req->an.an.max_latency_ratio);
	CHECK(req->an.an.max_latency_increase_ms == 0, "%g", req->an.an.max_latency_increase_ms);
	CHECK(req->an.an.max_size_deviation == 0.25, "%g", req->an.an.max_size_deviation);
	CHECK(req->an.an.max_error_rate_increase == 0, "%g", req->an.an.max_error_rate_increase);
	CHECK(req->an.an.max_error_rate == 0.2, "%g", req->an.an.max_error_rate);
	CHECK(req->an.an.max_latency_p99_ms == 250.5, "%g", req->an.an.max_latency_p99_ms);
	CHECK_INT(req->an.an.failure_limit, ==, 1);
	CHECK_INT(req->an.an.max_inconclusive, ==, 1);
	CHECK_INT(req->an.an.on_inconclusive, ==, JUDGE_ADVANCE);

	row("%s", "the limits null: none");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': {'maxErrorRate': null,"
			   " 'maxLatencyP99Ms': null, 'onInconclusive': 'pause'}}",
			   req, &err),
		  ==, 0);
	CHECK_INT(req->an.given, ==, 1u << 6 | 1u << 7 | JUDGE_GIVEN_INCONCLUSIVE);
	CHECK(req->an.an.max_error_rate == JUDGE_NO_LIMIT, "%g", req->an.an.max_error_rate);
	CHECK(req->an.an.max_latency_p99_ms == JUDGE_NO_LIMIT, "%g", req->an.an.max_latency_p99_ms);
	CHECK_INT(req->an.an.on_inconclusive, ==, JUDGE_PAUSE);

	row("%s", "the bounds");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': {'interval': 3600, 'minRequests': 1000000000,"
			   " 'maxLatencyRatio': 1, 'maxErrorRateIncrease': 1, 'failureLimit': 1000,"
			   " 'maxInconclusive': 1000000, 'maxErrorRate': 0}}",
			   req, &err),
		  ==, 0);
	CHECK_INT(req->an.an.interval, ==, 3600);
	CHECK_INT(req->an.an.min_requests, ==, 1000000000);
	CHECK_INT(req->an.an.failure_limit, ==, 1000);
	CHECK_INT(req->an.an.max_inconclusive, ==, 1000000);
	CHECK(req->an.an.max_error_rate == 0, "%g", req->an.an.max_error_rate);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("analysis %s", bad[i].analysis);
		snprintf(body, sizeof(body), "{'to': '2.0', 'analysis': %s}", bad[i].analysis);
		CHECK_INT(parse_ro(body, req, &err), ==, -EINVAL);
		CHECK_INT(err.status, ==, 400);
		CHECK_STR(err.code, bad[i].code);
		CHECK_HAS(err.msg, bad[i].has);
	}
}

/* PUT /v1/clusters: the analysis of the rollout a cluster that takes
 * over starts. */
static void test_req_cluster_analysis(void)
{
	/* clang-format off */
	static const struct {
		const char *body;
		int ret;
		const char *code, *has;
		bool set, on;
	} t[] = {
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002']}", 0, NULL, NULL, false, false },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': false}", 0, NULL,
		  NULL, true, false },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': {'interval': 1},"
		  " 'upgradeTransition': {'mode': 'session', 'sessionTimeout': 30}}", 0, NULL, NULL,
		  true, true },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': {'interval': 0}}",
		  -EINVAL, "bad_field", "body.analysis.interval", false, false },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': 'no'}", -EINVAL,
		  "bad_field", "body.analysis: must be false", false, false },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': {'x': 1}}", -EINVAL,
		  "unknown_field", "body.analysis: unknown field 'x'", false, false },
		{ "{'version': '2.0', 'servers': ['127.0.0.1:9002'], 'analysis': false,"
		  " 'upgradeTransition': {'mode': 'manual'}}", -EINVAL, "bad_field",
		  "body.analysis: a manual cluster", false, false },
	};
	/* clang-format on */
	struct cluster *spec = tcalloc(sizeof(*spec));
	struct analysis_req an;
	char svc[NAME_MAX_LEN];
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *j = json_loads(jq(t[i].body), 0, NULL);

		row("%s", t[i].body);
		CHECK(j, "bad test JSON");
		if (!j)
			continue;
		memset(&err, 0, sizeof(err));
		CHECK_INT(req_cluster(j, svc, spec, &an, &err), ==, t[i].ret);
		json_decref(j);
		if (t[i].ret) {
			CHECK_INT(err.status, ==, 400);
			CHECK_STR(err.code, t[i].code);
			CHECK_HAS(err.msg, t[i].has);
			continue;
		}
		CHECK_INT(an.set, ==, t[i].set);
		CHECK_INT(an.set && an.an.on, ==, t[i].on);
	}
}

/* With onInconclusive "pause" (the default), maxInconclusive windows
 * without a verdict pause a rollout once its step's hold is over; promote
 * and resume go on from there; the judge still rolls it back. */
static void test_rollout_inconclusive_pause(void)
{
	static const struct ro_step st[] = { { 1000, 60 }, { 5000, 60 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis();
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	uint32_t nev;

	an.on_inconclusive = JUDGE_PAUSE;
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 3, &an, T0), ==, 0);
	row("%s", "3 inconclusive windows during the hold: no pause yet");
	for (int i = 1; i <= 3; i++)
		CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE,
					  "too few requests to judge: 2.0 3, 1.0 0 (need 20 each)",
					  T0 + 10 * i),
			  ==, false);
	/* Only the first says so: the pause will. */
	CHECK_STR(model_event_nth(m, 0)->kind, "inconclusive");
	CHECK_STR(model_event_nth(m, 1)->kind, "step");
	CHECK_INT(rollout_tick(m, T0 + 59), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);

	row("%s", "the hold ends: paused, saying why");
	nev = m->events.n;
	CHECK_INT(rollout_tick(m, T0 + 60), ==, true);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->paused_left, ==, 0);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	check_layout(m, 0, S20, S10, 1000);
	CHECK_INT(m->events.n, ==, nev + 2);
	CHECK_STR(model_event_nth(m, 1)->kind, "paused");
	CHECK_STR(model_event_nth(m, 0)->kind, "auto_pause");
	CHECK_INT(model_event_nth(m, 0)->time, ==, T0 + 60);
	CHECK_STR(model_event_nth(m, 0)->message,
		  "2.0 paused at 10.00%: 3 windows in a row without a verdict (the last: too few "
		  "requests to judge: 2.0 3, 1.0 0 (need 20 each))");
	CHECK_INT(ro->hist[ro->nhist - 1].type, ==, ROM_AUTO_PAUSE);
	CHECK_INT(rollout_tick(m, T0 + 100000), ==, false);

	row("%s", "judged while paused: a pass does not resume it");
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 70), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 71), ==, false);
	CHECK_INT(ro->phase, ==, RO_PAUSED);

	row("%s", "resume: maxInconclusive windows more before it pauses again");
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 75), ==, false);
	CHECK_INT(rollout_control(m, 0, RO_OP_RESUME, false, T0 + 80, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->an.inconclusive, ==, 0);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 85), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 90), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 91), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 95), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 96), ==, true);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_STR(model_event_nth(m, 0)->kind, "auto_pause");

	row("%s", "promote: the next step, still paused, its own windows");
	CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, false, T0 + 100, &err), ==, 0);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_INT(ro->an.inconclusive, ==, 0);
	check_layout(m, 0, S20, S10, 5000);
	CHECK_INT(rollout_control(m, 0, RO_OP_RESUME, false, T0 + 100, &err), ==, 0);

	row("%s", "a pass after the hold: the next step, no pause");
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 165), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 165), ==, true);
	CHECK_INT(ro->step, ==, 2);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);

	row("%s", "at 100%: paused for want of a verdict, waiting for promote");
	for (int i = 1; i <= 3; i++)
		CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 165 + 5 * i), ==,
			  false);
	CHECK_INT(rollout_tick(m, T0 + 181), ==, true);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_INT(ro->paused_left, ==, RO_WAIT);
	check_layout(m, 0, S20, S10, 10000);

	row("%s", "failures while paused roll back");
	for (int i = 1; i <= 3; i++)
		CHECK_INT(rollout_verdict(m, 0, V_FAIL, "error rate: high", T0 + 190 + 5 * i), ==,
			  i == 3);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	check_layout(m, 0, S20, S10, 0);
	CHECK_STR(model_event_nth(m, 0)->kind, "auto_rollback");
	/* The pause's reason stays the pause's in the history. */
	CHECK_HAS(ro->pause_why, "3 windows in a row");
	CHECK_HAS(ro->why, "error rate: high");

	row("%s", "onInconclusive advance: no pause, the event says so");
	setup_web(m);
	an.on_inconclusive = JUDGE_ADVANCE;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 3, &an, T0), ==, 0);
	for (int i = 1; i <= 3; i++)
		CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, "too few", T0 + 10 * i), ==, false);
	CHECK_STR(model_event_nth(m, 0)->kind, "inconclusive");
	CHECK_HAS(model_event_nth(m, 0)->message, "steps now advance without a verdict");
	CHECK_INT(rollout_tick(m, T0 + 60), ==, true);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->step, ==, 1);
}

/* More failures counted than requests (a 503 that was also reset, a
 * status read before its request) is an error rate of 100%, not more. */
static void test_window_error_rate_capped(void)
{
	struct window *w = tcalloc(sizeof(*w));
	struct window_sum s;

	w->requests = w->arrived = 2500;
	w->status5xx = 2500;
	w->errors = 1;
	window_summarize(w, 1, &s);
	CHECK_INT(s.errors, ==, 2500);
	CHECK(window_error_rate(&s) == 1.0, "error rate %f", window_error_rate(&s));
	w->status5xx = 10;
	window_summarize(w, 1, &s);
	CHECK_INT(s.errors, ==, 11);
}

const struct unit_case judge_cases[] = {
	TEST(test_judge),
	TEST(test_window_error_rate_capped),
	TEST(test_judge_defaults),
	TEST(test_judge_resolve),
	TEST(test_req_rollout_analysis),
	TEST(test_req_cluster_analysis),
	TEST(test_rollout_inconclusive_pause),
	{ NULL, NULL },
};
