// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include "kernel/dp.h"
#include "kernel/dp_maps.h"
#include "ctl/recent.h"

void recent_tick(struct recent_state *r, struct dataplane *dp, const struct model *m, int64_t now)
{
	struct window *cur;

	/* ~560 per-CPU lookups per version: not when nothing is metered. */
	if (!dp_metering(dp))
		return;
	cur = malloc(sizeof(*cur));
	if (!cur)
		return;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		struct window_track *t = &r->v[s];

		if (!m->cl[s].used) {
			if (t->start || t->last_ok)
				window_forget(t);
			continue;
		}
		if (!window_due(t, now, RECENT_SECONDS))
			continue;
		if (dp_read_window(dp, s, cur))
			window_forget(t);
		else
			window_roll(t, cur, now);
	}
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
