// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include "core/judge.h"

void judge_defaults(struct analysis *a)
{
	*a = (struct analysis){
		.on = true,
		.interval = 5,
		.min_requests = 100,
		.max_latency_ratio = 1.5,
		.max_latency_increase_ms = 5,
		.max_size_deviation = 0.5,
		.max_error_rate_increase = 0.01,
		.failure_limit = 3,
		.max_inconclusive = 12,
	};
}

const char *judge_verdict_name(enum verdict v)
{
	return v == V_PASS ? "pass" : v == V_FAIL ? "fail" : "inconclusive";
}

/* Both a ratio and an absolute floor: microsecond noise on a fast
 * service is not a regression. */
static bool latency_worse(const struct analysis *a, double t_ns, double s_ns)
{
	return t_ns > s_ns * a->max_latency_ratio && t_ns - s_ns > a->max_latency_increase_ms * 1e6;
}

enum verdict judge(const struct analysis *a, const struct window *t, const struct window *s,
		   const char *tv, const char *sv, char *why, size_t size)
{
	static const struct {
		double q;
		const char *name;
	} qs[] = { { 0.5, "p50" }, { 0.99, "p99" } };
	double te, se, tm, sm;

	/* A version that stops answering has few answered requests to judge:
	 * look at what arrived. More than half left unanswered in a window is
	 * a hang (a slow but working version answers most of them). */
	if (t->arrived >= a->min_requests && t->requests * 2 < t->arrived) {
		snprintf(why, size, "unanswered: %s answered %llu of %llu requests in the window",
			 tv, (unsigned long long)t->requests, (unsigned long long)t->arrived);
		return V_FAIL;
	}
	if (t->requests < a->min_requests || s->requests < a->min_requests) {
		snprintf(why, size, "too few requests to judge: %s %llu, %s %llu (need %u each)",
			 tv, (unsigned long long)t->requests, sv, (unsigned long long)s->requests,
			 a->min_requests);
		return V_INCONCLUSIVE;
	}
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double tl = hist_quantile(&t->lat, qs[i].q), sl = hist_quantile(&s->lat, qs[i].q);

		if (latency_worse(a, tl, sl)) {
			snprintf(why, size,
				 "latency %s: %s %.2f ms vs %s %.2f ms (limit x%.2f and +%.2f ms)",
				 qs[i].name, tv, tl / 1e6, sv, sl / 1e6, a->max_latency_ratio,
				 a->max_latency_increase_ms);
			return V_FAIL;
		}
	}
	tm = hist_mean(&t->size);
	sm = hist_mean(&s->size);
	if (sm > 0 && fabs(tm - sm) / sm > a->max_size_deviation) {
		snprintf(why, size,
			 "response size: %s %.0f bytes vs %s %.0f bytes on average (limit %.0f%%)",
			 tv, tm, sv, sm, a->max_size_deviation * 100);
		return V_FAIL;
	}
	te = window_error_rate(t);
	se = window_error_rate(s);
	if (te - se > a->max_error_rate_increase) {
		snprintf(why, size, "error rate: %s %.2f%% vs %s %.2f%% (limit +%.2f%%)", tv,
			 te * 100, sv, se * 100, a->max_error_rate_increase * 100);
		return V_FAIL;
	}
	snprintf(why, size,
		 "%s p50 %.2f ms, %s p50 %.2f ms; sizes %.0f/%.0f bytes; errors %.2f%%/%.2f%%", tv,
		 hist_quantile(&t->lat, 0.5) / 1e6, sv, hist_quantile(&s->lat, 0.5) / 1e6, tm, sm,
		 te * 100, se * 100);
	return V_PASS;
}
