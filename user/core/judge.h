/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Comparing a rollout's target with its stable version over a window of
 * the kernel's measurements. Pure: the verdict and the reason. */
#ifndef VS_JUDGE_H
#define VS_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/window.h"

/* An absolute limit not set (JSON null). */
#define JUDGE_NO_LIMIT (-1.0)

/* What maxInconclusive windows in a row without a verdict do once a
 * step's hold is over. */
enum judge_inconclusive { JUDGE_PAUSE, JUDGE_ADVANCE };

/* Automatic analysis of a rollout: every `interval` seconds the target
 * is compared with the stable version over the same window. Settings
 * first, then the status the rollout engine keeps. A service holds the
 * settings its rollouts start from. */
struct analysis {
	bool on;
	uint32_t interval;		/* seconds */
	uint32_t min_requests;		/* fewer in a window: inconclusive */
	double max_latency_ratio;	/* p50 and p99: fail above ratio ... */
	double max_latency_increase_ms; /* ... and above this many ms more */
	double max_size_deviation;	/* |mean size - stable's| / stable's */
	double max_error_rate_increase; /* errors per request, over stable's */
	double max_error_rate;	   /* errors per request, whatever stable's, or JUDGE_NO_LIMIT */
	double max_latency_p99_ms; /* the target's p99, whatever stable's, or JUDGE_NO_LIMIT */
	uint32_t failure_limit;	   /* consecutive failing windows: rollback */
	uint32_t max_inconclusive; /* then a step pauses, or advances without a verdict */
	enum judge_inconclusive on_inconclusive;
	/* status */
	uint32_t failures, inconclusive, windows;
	int64_t last_pass; /* wall time of the last passing window */
	/* The stable version's measurements from just before the rollout
	 * started: the baseline when it has too little traffic of its own
	 * (an instant switch leaves it none). seconds 0: none. */
	struct window_sum base;
	char last_verdict[256];
};

/* The settings by name, as the API, the config and the state file give
 * them (onInconclusive aside: a word, not a number). */
enum judge_kind {
	JUDGE_COUNT,  /* a whole number, a uint32_t in struct analysis */
	JUDGE_NUMBER, /* a double */
	JUDGE_LIMIT,  /* a double, or null: JUDGE_NO_LIMIT */
};
struct judge_field {
	const char *name;
	size_t off; /* in struct analysis */
	enum judge_kind kind;
	double lo, hi;
};
#define JUDGE_NFIELDS 10
extern const struct judge_field judge_fields[JUDGE_NFIELDS];
/* A request's `given` bit for onInconclusive; bit i is judge_fields[i]. */
#define JUDGE_GIVEN_INCONCLUSIVE (1u << JUDGE_NFIELDS)

/* What a request asks of a rollout's analysis: nothing (!set: the
 * service's settings), off (an.on false), or the settings named in
 * `given` over the service's. */
struct analysis_req {
	bool set;
	uint32_t given;
	struct analysis an;
};

enum verdict { V_PASS, V_FAIL, V_INCONCLUSIVE };

/* The built-in settings: a service's until its config says otherwise. */
void judge_defaults(struct analysis *a);
double judge_get(const struct analysis *a, const struct judge_field *f);
void judge_set(struct analysis *a, const struct judge_field *f, double v);
/* A rollout's settings: the service's svc with what r asks over them;
 * the status cleared. */
void judge_resolve(struct analysis *out, const struct analysis *svc, const struct analysis_req *r);
const char *judge_inconclusive_name(enum judge_inconclusive v);
int judge_inconclusive_parse(const char *s, enum judge_inconclusive *out);
/* Judge target t against the stable version's s (sv names it: "1.0",
 * "1.0 before the switch"); why says which metric and values. The
 * absolute limits need no baseline: they apply when s has too few
 * requests too. */
enum verdict judge(const struct analysis *a, const struct window_sum *t, const struct window_sum *s,
		   const char *tv, const char *sv, char *why, size_t size);
const char *judge_verdict_name(enum verdict v);
/* Whether a latency of t_ms is worse than s_ms: over both the ratio and
 * the increase a allows (core/mirror's verdict uses it too). */
bool judge_latency_worse(const struct analysis *a, double t_ms, double s_ms);

#endif
