// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "kernel/dp.h"
#include "kernel/dp_maps.h"
#include "ctl/recent.h"

/* Roll slot's track with its cumulative values cur (NULL: not readable,
 * or no version there). */
static void roll(struct window_track *t, const struct window *cur, int64_t now)
{
	/* A version not seen at the last roll only begins its window now
	 * (window_roll() leaves last_ok false). */
	if (!cur) {
		if (t->start || t->last_ok)
			window_forget(t);
		return;
	}
	window_roll(t, cur, now);
}

void recent_tick(struct recent_state *r, struct dataplane *dp, const struct model *m, int64_t now)
{
	bool longer = !r->long_start || now - r->long_start >= RECENT_BASELINE_SECONDS;
	struct window *cur;

	/* ~560 per-CPU lookups per version: not when nothing is metered. */
	if (!dp_metering(dp) || (r->start && now - r->start < RECENT_SECONDS))
		return;
	cur = malloc(sizeof(*cur));
	if (!cur)
		return;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		bool ok = m->cl[s].used && !dp_read_window(dp, s, cur);

		roll(&r->v[s], ok ? cur : NULL, now);
		if (longer)
			roll(&r->longer[s], ok ? cur : NULL, now);
	}
	r->start = now;
	if (longer)
		r->long_start = now;
	free(cur);
}

void recent_forget(struct recent_state *r, uint32_t slot)
{
	window_forget(&r->v[slot]);
	window_forget(&r->longer[slot]);
}

const struct window *recent_last(const struct recent_state *r, uint32_t slot)
{
	return r->v[slot].last_ok ? &r->v[slot].last : NULL;
}

void recent_baseline(const struct recent_state *r, struct dataplane *dp, uint32_t slot, int64_t now,
		     struct window_sum *out)
{
	const struct window_track *t = &r->longer[slot];
	struct window *w = malloc(2 * sizeof(*w));

	memset(out, 0, sizeof(*out));
	if (!w || !t->start || dp_read_window(dp, slot, &w[0]))
		goto free_w;
	window_sub(&w[1], &w[0], &t->base);
	if (t->last_ok)
		window_add(&w[1], &t->last);
	/* At least a second: 0 says "none". */
	window_summarize(&w[1], now - t->start + (t->last_ok ? t->last_seconds : 0) ?: 1, out);
free_w:
	free(w);
}
