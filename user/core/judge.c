// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/judge.h"

#define F(name, field, kind, lo, hi)                                 \
	{                                                            \
		name, offsetof(struct analysis, field), kind, lo, hi \
	}
/* clang-format off */
const struct judge_field judge_fields[JUDGE_NFIELDS] = {
	F("interval", interval, JUDGE_COUNT, 1, 3600),
	F("minRequests", min_requests, JUDGE_COUNT, 1, 1e9),
	F("maxLatencyRatio", max_latency_ratio, JUDGE_NUMBER, 1, 1000),
	F("maxLatencyIncreaseMs", max_latency_increase_ms, JUDGE_NUMBER, 0, 3.6e6),
	F("maxSizeDeviation", max_size_deviation, JUDGE_NUMBER, 0, 1000),
	F("maxErrorRateIncrease", max_error_rate_increase, JUDGE_NUMBER, 0, 1),
	F("maxErrorRate", max_error_rate, JUDGE_LIMIT, 0, 1),
	F("maxLatencyP99Ms", max_latency_p99_ms, JUDGE_LIMIT, 0.001, 3.6e6),
	F("failureLimit", failure_limit, JUDGE_COUNT, 1, 1000),
	F("maxInconclusive", max_inconclusive, JUDGE_COUNT, 1, 1e6),
};
/* clang-format on */
#undef F

void judge_defaults(struct analysis *a)
{
	*a = (struct analysis){
		.on = true,
		.interval = 5,
		.min_requests = 20,
		.max_latency_ratio = 1.5,
		.max_latency_increase_ms = 20,
		.max_size_deviation = 0.5,
		.max_error_rate_increase = 0.01,
		.max_error_rate = JUDGE_NO_LIMIT,
		.max_latency_p99_ms = JUDGE_NO_LIMIT,
		.failure_limit = 3,
		.max_inconclusive = 12,
		.on_inconclusive = JUDGE_PAUSE,
	};
}

double judge_get(const struct analysis *a, const struct judge_field *f)
{
	const char *p = (const char *)a + f->off;

	return f->kind == JUDGE_COUNT ? *(const uint32_t *)p : *(const double *)p;
}

void judge_set(struct analysis *a, const struct judge_field *f, double v)
{
	char *p = (char *)a + f->off;

	if (f->kind == JUDGE_COUNT)
		*(uint32_t *)p = v;
	else
		*(double *)p = v;
}

void judge_resolve(struct analysis *out, const struct analysis *svc, const struct analysis_req *r)
{
	struct analysis a = *svc;

	if (r->set && !r->an.on) {
		a.on = false;
	} else if (r->set) {
		a.on = true;
		for (size_t i = 0; i < JUDGE_NFIELDS; i++)
			if (r->given & (1u << i))
				judge_set(&a, &judge_fields[i],
					  judge_get(&r->an, &judge_fields[i]));
		if (r->given & JUDGE_GIVEN_INCONCLUSIVE)
			a.on_inconclusive = r->an.on_inconclusive;
	}
	a.failures = a.inconclusive = a.windows = 0;
	a.last_pass = 0;
	memset(&a.base, 0, sizeof(a.base));
	a.last_verdict[0] = '\0';
	*out = a;
}

const char *judge_inconclusive_name(enum judge_inconclusive v)
{
	return v == JUDGE_ADVANCE ? "advance" : "pause";
}

int judge_inconclusive_parse(const char *s, enum judge_inconclusive *out)
{
	if (!strcmp(s, "pause"))
		*out = JUDGE_PAUSE;
	else if (!strcmp(s, "advance"))
		*out = JUDGE_ADVANCE;
	else
		return -EINVAL;
	return 0;
}

const char *judge_verdict_name(enum verdict v)
{
	return v == V_PASS ? "pass" : v == V_FAIL ? "fail" : "inconclusive";
}

/* Both a ratio and an absolute floor: microsecond noise on a fast
 * service is not a regression. */
bool judge_latency_worse(const struct analysis *a, double t_ms, double s_ms)
{
	return t_ms > s_ms * a->max_latency_ratio && t_ms - s_ms > a->max_latency_increase_ms;
}

/* The limits that need no baseline: the target against fixed numbers. */
static enum verdict judge_absolute(const struct analysis *a, const struct window_sum *t,
				   const char *tv, char *why, size_t size)
{
	double te = window_error_rate(t);

	if (a->max_error_rate >= 0 && te > a->max_error_rate) {
		snprintf(why, size, "error rate: %s %.2f%% (limit %.2f%%)", tv, te * 100,
			 a->max_error_rate * 100);
		return V_FAIL;
	}
	if (a->max_latency_p99_ms >= 0 && t->p99_ms > a->max_latency_p99_ms) {
		snprintf(why, size, "latency p99: %s %.2f ms (limit %.2f ms)", tv, t->p99_ms,
			 a->max_latency_p99_ms);
		return V_FAIL;
	}
	return V_PASS;
}

enum verdict judge(const struct analysis *a, const struct window_sum *t, const struct window_sum *s,
		   const char *tv, const char *sv, char *why, size_t size)
{
	const struct {
		double t, s;
		const char *name;
	} lat[] = { { t->p50_ms, s->p50_ms, "p50" }, { t->p99_ms, s->p99_ms, "p99" } };
	double te = window_error_rate(t), se = window_error_rate(s);

	/* A version that stops answering has few answered requests to judge:
	 * look at what arrived. More than half left unanswered in a window is
	 * a hang (a slow but working version answers most of them). */
	if (t->arrived >= a->min_requests && t->requests * 2 < t->arrived) {
		snprintf(why, size, "unanswered: %s answered %llu of %llu requests in the window",
			 tv, (unsigned long long)t->requests, (unsigned long long)t->arrived);
		return V_FAIL;
	}
	if (t->requests >= a->min_requests && judge_absolute(a, t, tv, why, size) == V_FAIL)
		return V_FAIL;
	if (t->requests < a->min_requests || s->requests < a->min_requests) {
		snprintf(why, size, "too few requests to judge: %s %llu, %s %llu (need %u each)",
			 tv, (unsigned long long)t->requests, sv, (unsigned long long)s->requests,
			 a->min_requests);
		return V_INCONCLUSIVE;
	}
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		if (judge_latency_worse(a, lat[i].t, lat[i].s)) {
			snprintf(why, size,
				 "latency %s: %s %.2f ms vs %s %.2f ms (limit x%.2f and +%.2f ms)",
				 lat[i].name, tv, lat[i].t, sv, lat[i].s, a->max_latency_ratio,
				 a->max_latency_increase_ms);
			return V_FAIL;
		}
	}
	if (s->mean_bytes > 0 &&
	    fabs(t->mean_bytes - s->mean_bytes) / s->mean_bytes > a->max_size_deviation) {
		snprintf(why, size,
			 "response size: %s %.0f bytes vs %s %.0f bytes on average (limit %.0f%%)",
			 tv, t->mean_bytes, sv, s->mean_bytes, a->max_size_deviation * 100);
		return V_FAIL;
	}
	if (te - se > a->max_error_rate_increase) {
		snprintf(why, size, "error rate: %s %.2f%% vs %s %.2f%% (limit +%.2f%%)", tv,
			 te * 100, sv, se * 100, a->max_error_rate_increase * 100);
		return V_FAIL;
	}
	snprintf(why, size,
		 "%s p50 %.2f ms, %s p50 %.2f ms; sizes %.0f/%.0f bytes; errors %.2f%%/%.2f%%", tv,
		 t->p50_ms, sv, s->p50_ms, t->mean_bytes, s->mean_bytes, te * 100, se * 100);
	return V_PASS;
}
