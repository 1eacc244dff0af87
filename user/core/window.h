/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A window: what one version did between two readings of the data
 * plane's counters, which only grow. One implementation for both users:
 * the analysis of a rollout (a window every `interval` seconds, judged)
 * and the API's per-version "lastWindow" (every few seconds, shown).
 * Pure: the caller reads the counters and passes the time.
 */
#ifndef VS_WINDOW_H
#define VS_WINDOW_H

#include <stdbool.h>
#include <stdint.h>
#include "core/hist.h"

/* A version's measurements: cumulative (as read) or over a window. */
struct window {
	uint64_t arrived;   /* requests that arrived */
	uint64_t requests;  /* requests answered */
	uint64_t status5xx; /* HTTP 5xx responses (services metered for HTTP) */
	uint64_t errors;    /* resets sent + connections failed over away */
	struct hist lat;    /* ns */
	struct hist size;   /* bytes */
};

/* What the judge compares and the API shows of a window: its counts and
 * the figures its histograms give. Small, so a rollout can keep the
 * stable version's from before it started (core/judge.h). */
struct window_sum {
	uint32_t seconds; /* how long it covers; 0: nothing */
	uint64_t arrived, requests;
	uint64_t errors; /* resets, failovers away and 5xx */
	double p50_ms, p99_ms, mean_bytes;
};

/* out = now - then, field by field. */
void window_sub(struct window *out, const struct window *now, const struct window *then);
/* w += more, field by field: two windows one after the other as one. */
void window_add(struct window *w, const struct window *more);
void window_summarize(const struct window *w, uint32_t seconds, struct window_sum *out);
/* Errors per answered request; 0 for none. */
double window_error_rate(const struct window_sum *s);

/* Successive windows of one version. */
struct window_track {
	struct window base;    /* the cumulative values when the current window began */
	struct window last;    /* the last complete window */
	int64_t start;	       /* when the current window began; 0: not begun */
	uint32_t last_seconds; /* how long last is */
	bool last_ok;	       /* last holds a whole window */
};

/* Whether the current window, of `seconds`, has ended at `now` (or none
 * has begun). */
bool window_due(const struct window_track *t, int64_t now, uint32_t seconds);
/* End the current window with the cumulative values cur and begin the
 * next one. The first call only begins one: last_ok stays false. */
void window_roll(struct window_track *t, const struct window *cur, int64_t now);
/* Forget the current window (the next roll only begins one); the last
 * complete window stays readable. */
void window_stop(struct window_track *t);
/* Forget everything: a slot about to hold another version. */
void window_forget(struct window_track *t);

#endif
