// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "kernel/dp_maps.h"
#include "ctl/analysis.h"
#include "ctl/ctl.h"
#include "ctl/txn.h"

static bool all_dead(const struct ctl *c, uint32_t slot)
{
	for (uint32_t v = 0; v < c->m->cl[slot].nsrv; v++)
		if (sock_live(&c->sock, slot, v))
			return false;
	return true;
}

/* Record a verdict on a copy of the model and commit it. */
static void record(struct ctl *c, uint32_t s, enum verdict v, const char *why, bool dead)
{
	struct model *next = malloc(sizeof(*next));
	struct vs_err err = {};

	if (!next) {
		pr_warn("analysis verdict not recorded: out of memory\n");
		return;
	}
	memcpy(next, c->m, sizeof(*next));
	/* Nothing left to judge: roll back on this verdict. */
	if (dead)
		next->svc[s].ro.an.failures = next->svc[s].ro.an.failure_limit - 1;
	rollout_verdict(next, s, v, why, clock_wall());
	if (txn_commit(c, next, &err))
		pr_warn("analysis verdict not recorded: %s\n", err.msg);
	pr_debug("analysis of %s: %s: %s\n", c->m->svc[s].name, judge_verdict_name(v), why);
	free(next);
}

/* What the target is compared with: the stable version's own window;
 * when it had too little traffic in it (the target takes most new
 * sessions, or all of them after an instant switch), its measurements
 * from just before the rollout started; failing those, its whole
 * history (cur: its counters now). sv says which, for the verdict. */
static void baseline(const struct model *m, const struct rollout *ro, const struct window *own,
		     const struct window *cur, struct window_sum *out, char *sv, size_t size)
{
	const struct analysis *a = &ro->an;
	const char *v = m->cl[ro->from].version;

	window_summarize(own, a->interval, out);
	snprintf(sv, size, "%s", v);
	if (out->requests >= a->min_requests)
		return;
	if (a->base.requests >= a->min_requests) {
		*out = a->base;
		snprintf(sv, size, "%s before the rollout", v);
		return;
	}
	window_summarize(cur, 0, out);
	snprintf(sv, size, "%s overall", v);
}

/* One service's analysed rollout, at a tick. */
static void judge_service(struct ctl *c, uint32_t s, int64_t now)
{
	struct analysis_state *as = &c->an;
	const struct rollout *ro = &c->m->svc[s].ro;
	const struct analysis *a = &ro->an;
	struct window_track *t = &as->win[s][ANALYSIS_TARGET], *st = &as->win[s][ANALYSIS_STABLE];
	struct window *cur = malloc(2 * sizeof(*cur));
	struct window_sum ts, ss;
	enum verdict v = V_INCONCLUSIVE;
	char why[160] = "", sv[VERSION_MAX_LEN + 24];
	bool dead, judged;

	if (!cur)
		return;
	if (dp_read_window(c->dp, ro->to, &cur[0]) || dp_read_window(c->dp, ro->from, &cur[1]))
		goto free_cur;
	/* A target with no live socket is judged at once, not at the end of
	 * its window: kernel failover already sends its clients to the old
	 * version, and there is nothing to wait for. A few ticks in a row: a
	 * backend being restarted, or a scan that could not place its
	 * socket, is not a dead version. */
	as->dead_ticks[s] = all_dead(c, ro->to) ? as->dead_ticks[s] + 1 : 0;
	dead = as->dead_ticks[s] >= ANALYSIS_DEAD_TICKS;
	if (!dead && !window_due(t, now, a->interval))
		goto free_cur;
	judged = t->start != 0;
	window_roll(t, &cur[0], now);
	window_roll(st, &cur[1], now);
	if (judged) {
		window_summarize(&t->last, a->interval, &ts);
		baseline(c->m, ro, &st->last, &cur[1], &ss, sv, sizeof(sv));
		v = judge(a, &ts, &ss, c->m->cl[ro->to].version, sv, why, sizeof(why));
	}
	if (dead) {
		v = V_FAIL;
		snprintf(why, sizeof(why), "every backend of %s is dead", c->m->cl[ro->to].version);
	}
	if (judged || dead)
		record(c, s, v, why, dead);
free_cur:
	free(cur);
}

void analysis_tick(struct ctl *c, int64_t now)
{
	struct analysis_state *as = &c->an;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct rollout *ro = &c->m->svc[s].ro;

		/* Paused too: a pause holds the weights, and the target still
		 * has its share of the traffic. */
		/* A mirror's target takes no traffic: ctl/mirror judges it. */
		if (!c->m->svc[s].used || !rollout_active(ro) || !ro->an.on ||
		    ro->strategy == RO_MIRROR) {
			window_stop(&as->win[s][ANALYSIS_TARGET]);
			window_stop(&as->win[s][ANALYSIS_STABLE]);
			as->dead_ticks[s] = 0;
			continue;
		}
		/* Windows of an earlier rollout are not this one's. */
		if (as->started[s] != ro->started) {
			window_forget(&as->win[s][ANALYSIS_TARGET]);
			window_forget(&as->win[s][ANALYSIS_STABLE]);
			as->started[s] = ro->started;
		}
		judge_service(c, s, now);
	}
}

const struct window *analysis_last(const struct analysis_state *a, const struct model *m,
				   uint32_t svc, uint32_t slot)
{
	const struct rollout *ro = &m->svc[svc].ro;

	if (!ro->an.on || !ro->an.windows)
		return NULL;
	if (slot == ro->to)
		return &a->win[svc][ANALYSIS_TARGET].last;
	if (slot == ro->from)
		return &a->win[svc][ANALYSIS_STABLE].last;
	return NULL;
}
