// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>
#include "core/window.h"

/* Counters only grow, unless a slot was reset under us: clamp. */
static uint64_t grew(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : 0;
}

void window_sub(struct window *out, const struct window *now, const struct window *then)
{
	out->arrived = grew(now->arrived, then->arrived);
	out->requests = grew(now->requests, then->requests);
	out->status5xx = grew(now->status5xx, then->status5xx);
	out->errors = grew(now->errors, then->errors);
	hist_sub(&out->lat, &now->lat, &then->lat);
	hist_sub(&out->size, &now->size, &then->size);
}

void window_add(struct window *w, const struct window *more)
{
	w->arrived += more->arrived;
	w->requests += more->requests;
	w->status5xx += more->status5xx;
	w->errors += more->errors;
	for (uint32_t b = 0; b < VS_HBUCKETS; b++) {
		w->lat.b[b] += more->lat.b[b];
		w->size.b[b] += more->size.b[b];
	}
}

void window_summarize(const struct window *w, uint32_t seconds, struct window_sum *out)
{
	/* A request can be both a 5xx and reset, and the counters are read
	 * one map after another, so near a window's edge a status can land
	 * in the window before its request: at most every request failed. */
	uint64_t errors = w->errors + w->status5xx;

	*out = (struct window_sum){
		.seconds = seconds,
		.arrived = w->arrived,
		.requests = w->requests,
		.errors = errors < w->requests ? errors : w->requests,
		.p50_ms = hist_quantile(&w->lat, 0.5) / 1e6,
		.p99_ms = hist_quantile(&w->lat, 0.99) / 1e6,
		.mean_bytes = hist_mean(&w->size),
	};
}

double window_error_rate(const struct window_sum *s)
{
	return s->requests ? (double)s->errors / s->requests : 0.0;
}

bool window_due(const struct window_track *t, int64_t now, uint32_t seconds)
{
	return !t->start || now - t->start >= (int64_t)seconds;
}

void window_roll(struct window_track *t, const struct window *cur, int64_t now)
{
	if (t->start) {
		window_sub(&t->last, cur, &t->base);
		t->last_seconds = now - t->start;
	}
	t->last_ok = t->start != 0;
	t->base = *cur;
	t->start = now;
}

void window_stop(struct window_track *t)
{
	t->start = 0;
}

void window_forget(struct window_track *t)
{
	memset(t, 0, sizeof(*t));
}
