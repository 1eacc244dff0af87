// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "kernel/dp_mirror.h"
#include "ctl/ctl.h"
#include "ctl/mirror.h"
#include "ctl/mirror_flow.h"
#include "ctl/mirror_replay.h"
#include "ctl/txn.h"

static void on_record(void *ctx, const struct vs_cap *rec, const uint8_t *data)
{
	struct mirror_state *ms = ctx;

	mirror_flows_record(ms, ms->flows, rec, data);
}

static void *capture_main(void *arg)
{
	struct mirror_state *ms = arg;
	uint64_t next_expire = 0;

	while (!atomic_load(&ms->stopping)) {
		uint64_t now;
		int ret = dp_capture_poll(ms->cap, 100);

		if (ret < 0 && ret != -EINTR) {
			pr_warn("mirror: reading the capture: %s; mirroring stops\n",
				strerror(-ret));
			break;
		}
		now = clock_mono_ns();
		if (now >= next_expire) {
			mirror_flows_expire(ms, ms->flows, now);
			next_expire = now + 1000000000ULL;
		}
	}
	return NULL;
}

static void *replay_main(void *arg)
{
	mirror_replay_run(arg);
	return NULL;
}

void mirror_init(struct mirror_state *ms)
{
	pthread_mutex_init(&ms->lock, NULL);
	/* Unknown: the pinned smirror may hold what a vsteerd before this
	 * one set, so the first tick writes every service's. */
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		ms->applied[s].bp = UINT16_MAX;
}

void mirror_fini(struct mirror_state *ms)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		free(ms->rep[s]);
	pthread_mutex_destroy(&ms->lock);
}

int mirror_start(struct ctl *c)
{
	struct mirror_state *ms = &c->mirror;
	int ret;

	if (!dp_mirror_supported(c->dp))
		return -EOPNOTSUPP;
	ms->flows = mirror_flows_new();
	ms->replay = mirror_replay_new();
	if (!ms->flows || !ms->replay) {
		ret = -ENOMEM;
		goto free_parts;
	}
	ret = dp_capture_open(c->dp, on_record, ms, &ms->cap);
	if (ret)
		goto free_parts;
	atomic_store(&ms->stopping, false);
	ret = -pthread_create(&ms->cap_thread, NULL, capture_main, ms);
	if (ret)
		goto close_capture;
	ret = -pthread_create(&ms->replay_thread, NULL, replay_main, ms);
	if (ret) {
		atomic_store(&ms->stopping, true);
		pthread_join(ms->cap_thread, NULL);
		goto close_capture;
	}
	ms->running = true;
	return 0;

close_capture:
	dp_capture_close(ms->cap);
	ms->cap = NULL;
free_parts:
	mirror_flows_free(ms->flows);
	mirror_replay_free(ms->replay);
	ms->flows = NULL;
	ms->replay = NULL;
	return ret;
}

void mirror_stop(struct ctl *c)
{
	struct mirror_state *ms = &c->mirror;

	if (!ms->running)
		return;
	atomic_store(&ms->stopping, true);
	pthread_join(ms->cap_thread, NULL);
	pthread_join(ms->replay_thread, NULL);
	dp_capture_close(ms->cap);
	mirror_flows_free(ms->flows);
	mirror_replay_free(ms->replay);
	ms->cap = NULL;
	ms->flows = NULL;
	ms->replay = NULL;
	ms->running = false;
}

/* Whether service s has a mirror to run: in progress, or paused (its
 * replays under way finish; the kernel samples nothing new). */
static bool mirroring(const struct model *m, uint32_t s)
{
	const struct rollout *ro = &m->svc[s].ro;

	return m->svc[s].used && ro->strategy == RO_MIRROR && rollout_active(ro) &&
	       m->cl[ro->to].used && m->cl[ro->from].used;
}

/* The kernel samples what a mirror in progress asks for, and nothing
 * else. Its budget: MIRROR_KERNEL_KIB a second per request a second. */
static void sync_kernel(struct ctl *c, uint32_t s)
{
	struct mirror_state *ms = &c->mirror;
	const struct rollout *ro = &c->m->svc[s].ro;
	struct vs_mirror want = {};
	uint64_t budget;
	int ret;

	if (ms->running && mirroring(c->m, s) && ro->phase == RO_PROGRESSING) {
		budget = (uint64_t)ro->mirror.max_per_second * MIRROR_KERNEL_KIB * 1024;
		want = (struct vs_mirror){ .bp = ro->mirror.bp,
					   .slot = ro->from,
					   .budget = budget > UINT32_MAX ? UINT32_MAX : budget };
	}
	if (!memcmp(&want, &ms->applied[s], sizeof(want)))
		return;
	ret = dp_mirror_set(c->dp, s, &want);
	if (ret)
		pr_warn("mirror of service %s: cannot set the kernel's sampling: %s\n",
			c->m->svc[s].name, strerror(-ret));
	else
		ms->applied[s] = want;
}

/* The threads' run of service s, as the model says; a new rollout
 * starts a report of its own. */
static void sync_run(struct ctl *c, uint32_t s, int64_t now)
{
	struct mirror_state *ms = &c->mirror;
	const struct rollout *ro = &c->m->svc[s].ro;
	struct mirror_run *run = &ms->run[s];
	bool on = mirroring(c->m, s);
	const struct cluster *t = &c->m->cl[ro->to], *st = &c->m->cl[ro->from];

	if (!on && !run->on)
		return;
	pthread_mutex_lock(&ms->lock);
	if (!on) {
		run->on = false;
		goto unlock;
	}
	if (!ms->rep[s] && !(ms->rep[s] = calloc(1, sizeof(*ms->rep[s])))) {
		run->on = false;
		goto unlock;
	}
	if (ms->rep[s]->started != ro->started) {
		memset(ms->rep[s], 0, sizeof(*ms->rep[s]));
		dp_mirror_stats(c->dp, s, &ms->rep[s]->capture_base);
		ms->rep[s]->started = ro->started;
		ms->rep[s]->judged_at = now;
		ms->in_flight[s] = 0;
	}
	run->on = true;
	run->started = ro->started;
	run->spec = ro->mirror;
	ms->rep[s]->spec = ro->mirror;
	snprintf(ms->rep[s]->tv, sizeof(ms->rep[s]->tv), "%s", t->version);
	snprintf(ms->rep[s]->sv, sizeof(ms->rep[s]->sv), "%s", st->version);
	run->ntarget = t->nsrv;
	memcpy(run->target, t->srv, sizeof(run->target));
	run->nstable = st->nsrv;
	memcpy(run->stable, st->srv, sizeof(run->stable));
unlock:
	pthread_mutex_unlock(&ms->lock);
}

/* A window's verdict (analysis on) and the verdict over everything so
 * far, each committed when it says something new. */
/* Service s's mirror over figures f of its report (ms->lock held). */
static enum verdict judge_fig(const struct model *m, uint32_t s, const struct mirror_report *rep,
			      const struct mirror_fig *f, char *why, size_t size)
{
	const struct rollout *ro = &m->svc[s].ro;

	return mirror_judge(&ro->an, &ro->mirror, f, rep->route, rep->nroutes,
			    m->cl[ro->to].version, m->cl[ro->from].version, why, size);
}

static void judge_run(struct ctl *c, uint32_t s, int64_t now)
{
	struct mirror_state *ms = &c->mirror;
	const struct rollout *ro = &c->m->svc[s].ro;
	struct mirror_report *rep = ms->rep[s];
	struct mirror_fig *win = NULL;
	enum verdict all, wv = V_INCONCLUSIVE;
	char why[256], wwhy[256] = "";
	struct model *next;
	struct vs_err err;
	bool window;

	if (!rep)
		return;
	pthread_mutex_lock(&ms->lock);
	all = judge_fig(c->m, s, rep, &rep->all, why, sizeof(why));
	window = ro->an.on && now - rep->judged_at >= (int64_t)ro->an.interval;
	if (window && (win = malloc(sizeof(*win)))) {
		mirror_fig_sub(win, &rep->all, &rep->judged_base);
		wv = judge_fig(c->m, s, rep, win, wwhy, sizeof(wwhy));
		rep->judged_base = rep->all;
		rep->judged_at = now;
	}
	pthread_mutex_unlock(&ms->lock);
	free(win);
	/* The sentence changes with every request: written with the windows
	 * (and at the end: mirror_refresh_due()). */
	if (!window && ro->mirror_verdict == all)
		return;
	next = malloc(sizeof(*next));
	if (!next)
		return;
	memcpy(next, c->m, sizeof(*next));
	rollout_mirror_verdict(next, s, all, why);
	if (window)
		rollout_verdict(next, s, wv, wwhy, clock_wall());
	if (txn_commit(c, next, &err))
		pr_warn("mirror verdict not recorded: %s\n", err.msg);
	free(next);
}

static void sync_all(struct ctl *c, int64_t now)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		sync_kernel(c, s);
		sync_run(c, s, now);
	}
}

void mirror_sync(struct ctl *c)
{
	sync_all(c, clock_mono_s());
}

void mirror_tick(struct ctl *c, int64_t now)
{
	sync_all(c, now);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (c->mirror.running && mirroring(c->m, s))
			judge_run(c, s, now);
}

void mirror_refresh(struct ctl *c, struct model *next, uint32_t svc)
{
	struct mirror_state *ms = &c->mirror;
	const struct rollout *ro = &next->svc[svc].ro;
	const struct mirror_report *rep = ms->rep[svc];
	enum verdict v;
	char why[256];

	if (ro->strategy != RO_MIRROR || !rep || rep->started != ro->started)
		return;
	pthread_mutex_lock(&ms->lock);
	/* The report stops here: what the verdict judged is what it shows
	 * (if the promote is refused, the next tick lets it go on). */
	ms->run[svc].on = false;
	v = judge_fig(next, svc, rep, &rep->all, why, sizeof(why));
	pthread_mutex_unlock(&ms->lock);
	rollout_mirror_verdict(next, svc, v, why);
}

void mirror_refresh_due(struct ctl *c, struct model *next, int64_t now)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct rollout *ro = &next->svc[s].ro;

		if (next->svc[s].used && ro->strategy == RO_MIRROR && ro->phase == RO_PROGRESSING &&
		    ro->steps[0].hold != RO_WAIT && now >= ro->step_started + ro->steps[0].hold)
			mirror_refresh(c, next, s);
	}
}

struct mirror_report *mirror_report_copy(struct mirror_state *ms, uint32_t svc)
{
	struct mirror_report *r = NULL;

	pthread_mutex_lock(&ms->lock);
	if (ms->rep[svc] && (r = malloc(sizeof(*r))))
		memcpy(r, ms->rep[svc], sizeof(*r));
	pthread_mutex_unlock(&ms->lock);
	return r;
}
