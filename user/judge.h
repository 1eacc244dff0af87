/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Comparing a rollout's target with its stable version over a window of
 * the kernel's measurements. Pure: the verdict and the reason. */
#ifndef VS_JUDGE_H
#define VS_JUDGE_H

#include "model.h"
#include "stats.h"

/* What one version did in a window (or in all its life, as a baseline). */
struct window {
	uint64_t arrived;	/* requests that arrived */
	uint64_t requests;	/* requests answered */
	uint64_t status5xx;	/* HTTP 5xx responses (services watched for HTTP) */
	uint64_t errors;	/* resets sent + connections failed over away */
	struct hist lat;	/* ns */
	struct hist size;	/* bytes */
};

enum verdict { V_PASS, V_FAIL, V_INCONCLUSIVE };

/* Defaults for the analysis fields the request leaves out. */
void analysis_defaults(struct analysis *a);
/* Judge target t against stable s; why says which metric and values. */
enum verdict judge(const struct analysis *a, const struct window *t, const struct window *s,
		   const char *tv, const char *sv, char *why, size_t size);
const char *verdict_name(enum verdict v);

#endif
