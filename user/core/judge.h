/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Comparing a rollout's target with its stable version over a window of
 * the kernel's measurements. Pure: the verdict and the reason. */
#ifndef VS_JUDGE_H
#define VS_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/window.h"

/* Automatic analysis of a rollout: every `interval` seconds the target
 * is compared with the stable version over the same window. Settings
 * first, then the status the rollout engine keeps. */
struct analysis {
	bool on;
	uint32_t interval;		/* seconds */
	uint32_t min_requests;		/* fewer in a window: inconclusive */
	double max_latency_ratio;	/* p50 and p99: fail above ratio ... */
	double max_latency_increase_ms; /* ... and above this many ms more */
	double max_size_deviation;	/* |mean size - stable's| / stable's */
	double max_error_rate_increase; /* errors per request, over stable's */
	uint32_t failure_limit;		/* consecutive failing windows: rollback */
	uint32_t max_inconclusive;	/* then a step advances without a verdict */
	/* status */
	uint32_t failures, inconclusive, windows;
	int64_t last_pass; /* wall time of the last passing window */
	char last_verdict[160];
};

enum verdict { V_PASS, V_FAIL, V_INCONCLUSIVE };

/* The defaults for the analysis fields a request leaves out. */
void judge_defaults(struct analysis *a);
/* Judge target t against stable s; why says which metric and values. */
enum verdict judge(const struct analysis *a, const struct window *t, const struct window *s,
		   const char *tv, const char *sv, char *why, size_t size);
const char *judge_verdict_name(enum verdict v);

#endif
