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

/* Slot s's cumulative values now, into cur. */
static int read_cur(struct recent_state *r, struct dataplane *dp, uint32_t s, struct window *cur)
{
	struct recent_sig now;
	bool now_ok;
	int ret;

	memset(&now, 0, sizeof(now));
	now_ok = !dp_ver_stats(dp, s, &now.st) && !dp_open_conns(dp, s, &now.open);
	if (now_ok && r->sig_ok[s] && r->v[s].start && !memcmp(&now, &r->sig[s], sizeof(now))) {
		*cur = r->v[s].base;
		return 0;
	}
	/* Counters read before the buckets: a request between the two
	 * moves them, so the next roll reads again. */
	ret = dp_read_window(dp, s, cur);
	if (ret || !now_ok)
		r->sig_ok[s] = false;
	else if (!r->sig_ok[s] || memcmp(&now, &r->sig[s], sizeof(now))) {
		r->sig[s] = now;
		r->sig_ok[s] = true;
	}
	return ret;
}

/* Version cl, at slot, as its service's sample holds it: its weight now,
 * its open connections, and its last whole window if it has one. */
static void point(const struct recent_state *r, struct dataplane *dp, const struct cluster *cl,
		  uint32_t slot, struct history_in *in)
{
	const struct window_track *t = &r->v[slot];
	struct window_sum sum;
	__s64 open;

	in->version = cl->version;
	in->p = (struct history_point){
		.weight = cl->weight,
		.open = HISTORY_UNKNOWN,
		.p50_ms = -1,
		.p99_ms = -1,
	};
	/* The connection tracker runs with metering off too (sessions and
	 * drains need it): open connections are counted either way. */
	if (!dp_open_conns(dp, slot, &open))
		in->p.open = open < 0 ? 0 : open < HISTORY_UNKNOWN ? open : HISTORY_UNKNOWN - 1;
	/* Without metering no window rolls: nothing measured. */
	if (!t->last_ok)
		return;
	/* Its own length, not RECENT_SECONDS: a tick late by a second makes
	 * a 6 s window, and its rate is over 6 s. */
	window_summarize(&t->last, t->last_seconds ?: 1, &sum);
	in->p.seconds = sum.seconds < UINT16_MAX ? sum.seconds : UINT16_MAX;
	in->p.requests = sum.requests < UINT32_MAX ? sum.requests : UINT32_MAX;
	in->p.errors = sum.errors < in->p.requests ? sum.errors : in->p.requests;
	/* An empty histogram's quantile is 0, which would chart as a fast
	 * version rather than as no answer at all. */
	if (sum.requests && hist_total(&t->last.lat)) {
		in->p.p50_ms = sum.p50_ms;
		in->p.p99_ms = sum.p99_ms;
	}
}

/* A sample of every service, at wall. */
static void sample(struct recent_state *r, struct dataplane *dp, const struct model *m,
		   int64_t wall)
{
	struct history_in in[VS_MAX_VERSIONS];
	uint32_t order[VS_MAX_VERSIONS], n;

	for (uint32_t id = 0; id < VS_MAX_SERVICES; id++) {
		const struct service *sv = &m->svc[id];

		if (!sv->used) {
			recent_forget_service(r, id);
			continue;
		}
		/* Another service has the id of one deleted since the last
		 * roll (ctl_del_service() frees it at once; this is for any
		 * other way a service could go). */
		if (r->hist[id] && strcmp(r->hist[id]->service, sv->name))
			history_init(r->hist[id], sv->name);
		if (!r->hist[id]) {
			r->hist[id] = malloc(sizeof(*r->hist[id]));
			/* No history then, and the next roll tries again. */
			if (!r->hist[id])
				continue;
			history_init(r->hist[id], sv->name);
		}
		n = model_order(m, id, order);
		for (uint32_t i = 0; i < n; i++)
			point(r, dp, &m->cl[order[i]], order[i], &in[i]);
		history_append(r->hist[id], wall, in, n);
	}
}

void recent_tick(struct recent_state *r, struct dataplane *dp, const struct model *m, int64_t now,
		 int64_t wall)
{
	bool longer = !r->long_start || now - r->long_start >= RECENT_BASELINE_SECONDS;
	bool metering = dp_metering(dp);
	struct window *cur = NULL;

	if (r->start && now - r->start < RECENT_SECONDS)
		return;
	/* ~560 per-CPU lookups per version: not when nothing is metered. */
	if (metering) {
		cur = malloc(sizeof(*cur));
		if (!cur)
			return;
		for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
			bool ok = m->cl[s].used && !read_cur(r, dp, s, cur);

			roll(&r->v[s], ok ? cur : NULL, now);
			if (longer)
				roll(&r->longer[s], ok ? cur : NULL, now);
		}
		if (longer)
			r->long_start = now;
		free(cur);
	}
	r->start = now;
	sample(r, dp, m, wall);
}

void recent_forget(struct recent_state *r, uint32_t slot)
{
	r->sig_ok[slot] = false;
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

const struct history *recent_history(const struct recent_state *r, uint32_t svc)
{
	return r->hist[svc];
}

void recent_forget_service(struct recent_state *r, uint32_t svc)
{
	free(r->hist[svc]);
	r->hist[svc] = NULL;
}

void recent_free(struct recent_state *r)
{
	for (uint32_t id = 0; id < VS_MAX_SERVICES; id++)
		recent_forget_service(r, id);
}
