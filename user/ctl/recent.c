// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include "kernel/dp.h"
#include "kernel/dp_maps.h"
#include "ctl/recent.h"

void recent_tick(struct recent_state *r, struct dataplane *dp, const struct model *m, int64_t now)
{
	struct window *cur;

	/* ~560 per-CPU lookups per version: not when nothing is metered. */
	if (!dp_metering(dp) || (r->start && now - r->start < RECENT_SECONDS))
		return;
	cur = malloc(sizeof(*cur));
	if (!cur)
		return;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		struct window_track *t = &r->v[s];

		/* A version not seen at the last roll only begins its window
		 * now (window_roll() leaves last_ok false). */
		if (!m->cl[s].used || dp_read_window(dp, s, cur)) {
			if (t->start || t->last_ok)
				window_forget(t);
			continue;
		}
		window_roll(t, cur, now);
	}
	r->start = now;
	free(cur);
}

void recent_forget(struct recent_state *r, uint32_t slot)
{
	window_forget(&r->v[slot]);
}

const struct window *recent_last(const struct recent_state *r, uint32_t slot)
{
	return r->v[slot].last_ok ? &r->v[slot].last : NULL;
}
