// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rollout engine: starting, schedules, controls, session
 * timeouts, instant takeovers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/rollout_text.h"
#include "core/model.h"
#include "core/rollout.h"
#include "codec/state.h"
#include "codec/state_parse.h"

#include "harness.h"
#include "helpers.h"

static void test_rollout_start_rejects(void)
{
	static const struct ro_step ok2[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	/* clang-format off */
	static const struct {
		const char *name;
		int pre;		/* 0: no rollout, 1: one to 2.0 progressing, 2: paused */
		const char *to;
		enum ro_strategy strategy;
		uint32_t timeout;
		struct ro_step steps[3];
		uint32_t nsteps;
		int ret, status;
		const char *code;
	} t[] = {
		{ "unknown version", 0, "9.0", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -ENOENT, 404, "unknown_target" },
		{ "unknown cluster id", 0, "c9", RO_INSTANT, 0, { }, 0, -ENOENT, 404, "unknown_target" },
		{ "another service's cluster id", 0, "api7", RO_INSTANT, 0, { }, 0,
		  -ENOENT, 404, "unknown_target" },
		{ "another service's version", 0, "7.0", RO_INSTANT, 0, { }, 0,
		  -ENOENT, 404, "unknown_target" },
		{ "empty target", 0, "", RO_INSTANT, 0, { }, 0, -ENOENT, 404, "unknown_target" },
		{ "target is the stable version", 0, "1.0", RO_INSTANT, 0, { }, 0,
		  -EINVAL, 409, "already_stable" },
		{ "stable, as 1", 0, "1", RO_SESSION, 60, { }, 0, -EINVAL, 409, "already_stable" },
		{ "stable, by cluster id", 0, "c1", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EINVAL, 409, "already_stable" },
		{ "target older than stable", 0, "0.5", RO_INSTANT, 0, { }, 0,
		  -EINVAL, 409, "target_older" },
		{ "older, by cluster id", 0, "c05", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EINVAL, 409, "target_older" },
		{ "instant with steps", 0, "2.0", RO_INSTANT, 0, { { 10000, RO_WAIT } }, 1,
		  -EINVAL, 400, "bad_rollout" },
		{ "instant with sessionTimeout", 0, "2.0", RO_INSTANT, 60, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "session without timeout", 0, "2.0", RO_SESSION, 0, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "sessionTimeout above a week", 0, "2.0", RO_SESSION, VS_MAX_SESSION_TIMEOUT + 1, { }, 0,
		  -ERANGE, 400, "bad_rollout" },
		{ "gradual without steps", 0, "2.0", RO_GRADUAL, 0, { }, 0, -EINVAL, 400, "bad_rollout" },
		{ "gradual with sessionTimeout, no steps", 0, "c2", RO_GRADUAL, 60, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "first step weight 0", 0, "2.0", RO_GRADUAL, 0, { { 0, 3600 }, { 10000, RO_WAIT } }, 2,
		  -EINVAL, 400, "bad_rollout" },
		{ "last step weight 0", 0, "2.0", RO_GRADUAL, 0, { { 1000, 3600 }, { 0, RO_WAIT } }, 2,
		  -EINVAL, 400, "bad_rollout" },
		{ "decreasing steps", 0, "2.0", RO_GRADUAL, 0,
		  { { 1000, 3600 }, { 5000, 3600 }, { 4999, RO_WAIT } }, 3, -EINVAL, 400, "bad_rollout" },
		{ "session with decreasing steps", 0, "2.0", RO_SESSION, 60,
		  { { 5000, 3600 }, { 1000, RO_WAIT } }, 2, -EINVAL, 400, "bad_rollout" },
		{ "while progressing", 1, "3.0", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EBUSY, 409, "rollout_in_progress" },
		{ "while progressing, same target", 1, "2.0", RO_INSTANT, 0, { }, 0,
		  -EBUSY, 409, "rollout_in_progress" },
		{ "while paused", 2, "3.0", RO_INSTANT, 0, { }, 0, -EBUSY, 409, "rollout_in_progress" },
		{ "while paused, by cluster id", 2, "c3", RO_SESSION, 60, { }, 0,
		  -EBUSY, 409, "rollout_in_progress" },
	};
	/* clang-format on */
	struct model *m = new_model(), *before = new_model();
	struct ro_request req;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		if (t[i].pre >= 1)
			CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, ok2, 2, T0), ==, 0);
		if (t[i].pre >= 2)
			CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 10, &err), ==, 0);
		CHECK_INT(m->svc[0].ro.phase, ==,
			  t[i].pre == 0 ? RO_NONE :
			  t[i].pre == 1 ? RO_PROGRESSING :
					  RO_PAUSED);
		memcpy(before, m, sizeof(*m));
		req = ro_req(t[i].to, t[i].strategy, t[i].timeout, t[i].steps, t[i].nsteps);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(rollout_start(m, 0, &req, T0 + 100, &err), &err, t[i].ret, t[i].status,
			  t[i].code);
		CHECK(err.msg[0], "no message");
		CHECK(!memcmp(m, before, sizeof(*m)), "the model changed (%s)", weights_str(m, 0));
	}
}

/* The target, by version (any spelling of it) or by cluster id. */
static void test_rollout_start_target_names(void)
{
	static const struct ro_step st[] = { { 2500, 3600 }, { 10000, RO_WAIT } };
	/* clang-format off */
	static const struct {
		const char *to;
		uint32_t slot;
	} t[] = {
		{ "2.0", S20 }, { "2", S20 }, { "2.0.0", S20 }, { "02.00", S20 }, { "c2", S20 },
		{ "3.0", S30 }, { "c3", S30 },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct vs_err err = { 0 };
	int slot;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("to '%s'", t[i].to);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, t[i].to, RO_GRADUAL, 0, st, 2, T0), ==, 0);
		CHECK_INT(m->svc[0].ro.phase, ==, RO_PROGRESSING);
		CHECK_INT(m->svc[0].ro.to, ==, t[i].slot);
		CHECK_INT(m->svc[0].ro.from, ==, S10);
		check_layout(m, 0, t[i].slot, S10, 2500);
		if (cur_failed)
			return;
	}
	row("%s", "a generated cluster id");
	setup_web(m);
	if (cur_failed)
		return;
	slot = add_cl(m, 0, "4.0", CL_MANUAL, "127.0.0.1:9004", NULL, &err);
	CHECK_INT(slot, ==, SAPI + 1);
	CHECK_INT(strlen(m->cl[slot].id), ==, 36);
	CHECK_INT(start(m, m->cl[slot].id, RO_GRADUAL, 0, st, 2, T0), ==, 0);
	CHECK_INT(m->svc[0].ro.to, ==, slot);
	check_layout(m, 0, slot, S10, 2500);
}

static void test_rollout_weights_layout(void)
{
	static const char *const names[] = { "1.0", "2.0", "0.5" };
	static const uint16_t bp[] = { 6000, 3000, 1000 }, tie[] = { 4000, 4000, 2000 };
	static const struct ro_step st[] = { { 1, 60 }, { 2500, 60 }, { 5000, 60 }, { 9999, 60 } };
	struct model *m = new_model();
	struct vs_err err = { 0 };

	/* 1.0 holds most of the weight, 2.0 and 0.5 some: the rollout is
	 * from 1.0, and the others drop to 0 */
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(model_set_weights(m, 0, names, bp, 3, &err), ==, 0);
	CHECK_INT(model_stable(m, 0), ==, S10);
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(m->svc[0].ro.from, ==, S10);
	for (uint32_t i = 0; i <= ARRAY_SIZE(st); i++) {
		uint16_t w = i < ARRAY_SIZE(st) ? st[i].weight : VS_BUCKETS;

		row("step %u", i);
		if (i)
			CHECK_INT(rollout_tick(m, T0 + 60 * i), ==, true);
		CHECK_INT(m->svc[0].ro.phase, ==,
			  i < ARRAY_SIZE(st) ? RO_PROGRESSING : RO_COMPLETED);
		CHECK_INT(rollout_weight(m, &m->svc[0].ro), ==, w);
		check_layout(m, 0, S30, S10, w);
		if (cur_failed)
			return;
		CHECK_STR(weights_str(m, 1), "7.0=10000"); /* the other service */
	}

	/* A tie: the newest of the heaviest versions is the stable one. */
	row("%s", "tie");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(model_set_weights(m, 0, names, tie, 3, &err), ==, 0);
	CHECK_INT(model_stable(m, 0), ==, S20);
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(m->svc[0].ro.from, ==, S20);
	check_layout(m, 0, S30, S20, 1);
}

/* What a script of controls and ticks expects after each of its acts. */
#define ACT_TICK 100
struct ro_act {
	int op; /* enum ro_op, or ACT_TICK */
	bool full;
	int64_t at;
	int ret;	  /* a tick: whether anything changed */
	const char *code; /* for ret < 0 */
	/* for ret > 0, or 0 and an op: */
	enum ro_phase phase;
	uint32_t step;
	uint16_t weight; /* the target's */
	int64_t since;	 /* step_started */
	int64_t due;	 /* rollout_next_due() */
	int64_t left;	 /* paused_left, if paused */
	int64_t ended;	 /* if ended */
};

/* A tick at t that changes nothing; an op refused as out of phase. */
/* clang-format off */
#define NOCHANGE(t) { .op = ACT_TICK, .at = (t) }
#define BAD_PHASE(o, f, t) { .op = (o), .full = (f), .at = (t), .ret = -EINVAL, .code = "bad_phase" }
/* clang-format on */

/* An error, or a tick that changes nothing, leaves the model as it was. */
static void run_acts(struct model *m, uint32_t svc, const struct ro_act *a, size_t n)
{
	static const char *const ops[] = { "promote", "pause", "resume", "abort", "rollback" };
	const struct rollout *ro = &m->svc[svc].ro;
	struct model *before = new_model();
	struct vs_err err;
	int ret;

	for (size_t i = 0; i < n; i++) {
		row("act %zu: %s%s at T0+%lld", i, a[i].op == ACT_TICK ? "tick" : ops[a[i].op],
		    a[i].full ? " full" : "", (long long)(a[i].at - T0));
		memcpy(before, m, sizeof(*m));
		memset(&err, 0, sizeof(err));
		if (a[i].op == ACT_TICK)
			ret = rollout_tick(m, a[i].at);
		else
			ret = rollout_control(m, svc, a[i].op, a[i].full, a[i].at, &err);
		CHECK_INT(ret, ==, a[i].ret);
		if (ret < 0) {
			CHECK_INT(err.status, ==, 409);
			CHECK_STR(err.code, a[i].code);
		}
		if (ret < 0 || (a[i].op == ACT_TICK && !ret)) {
			CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
			continue;
		}
		CHECK_INT(ro->phase, ==, a[i].phase);
		CHECK_INT(ro->step, ==, a[i].step);
		CHECK_INT(rollout_weight(m, ro), ==, a[i].weight);
		check_layout(m, svc, ro->to, ro->from, a[i].weight);
		if (cur_failed)
			return;
		CHECK_INT(rollout_next_due(ro), ==, a[i].due);
		if (rollout_active(ro))
			CHECK_INT(ro->step_started, ==, a[i].since);
		if (ro->phase == RO_PAUSED)
			CHECK_INT(ro->paused_left, ==, a[i].left);
		if (!rollout_active(ro))
			CHECK_INT(ro->ended, ==, a[i].ended);
	}
}

static void test_rollout_gradual_schedule(void)
{
	static const struct ro_step st[] = {
		{ 1000, 3600 },
		{ 5000, 21600 },
		{ 7500, RO_WAIT },
		{ 10000, RO_WAIT },
	};
	/* clang-format off */
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due */
		NOCHANGE(T0),
		NOCHANGE(T0 + 3599),
		{ ACT_TICK, 0, T0 + 3600, 1, NULL, RO_PROGRESSING, 1, 5000, T0 + 3600, T0 + 25200, 0, 0 },
		NOCHANGE(T0 + 3601),
		NOCHANGE(T0 + 25199),
		/* down for a day: one tick catches up with the schedule */
		{ ACT_TICK, 0, T0 + 3600 + 21600 + 100000, 1, NULL,
		  RO_PROGRESSING, 2, 7500, T0 + 25200, -1, 0, 0 },
		/* and waits for promote */
		NOCHANGE(T0 + 10000000),
	};
	/* clang-format on */
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	const struct event *e;

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->strategy, ==, RO_GRADUAL);
	CHECK_INT(ro->from, ==, S10);
	CHECK_INT(ro->to, ==, S20);
	CHECK_INT(ro->nsteps, ==, 4);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->started, ==, T0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(ro->ended, ==, 0);
	CHECK_INT(rollout_next_due(ro), ==, T0 + 3600);
	for (uint32_t i = 0; i < ARRAY_SIZE(st); i++) {
		row("steps[%u]", i);
		CHECK_INT(ro->steps[i].weight, ==, st[i].weight);
		CHECK_INT(ro->steps[i].hold, ==, st[i].hold);
	}
	check_layout(m, 0, S20, S10, 1000);
	if (cur_failed)
		return;
	run_acts(m, 0, a, ARRAY_SIZE(a));
	if (cur_failed)
		return;
	row("%s", "events");
	/* step 3 waits for promote: said once, with what to do */
	e = model_event_nth(m, 0);
	CHECK_STR(e->kind, "approval_needed");
	CHECK_STR(e->service, "web");
	CHECK_INT(e->time, ==, T0 + 25200);
	CHECK_STR(
		e->message,
		"step 3 of 4 (2.0 at 75.00%) waits for approval: POST /v1/services/web/rollout/promote goes on to 100.00%");
	CHECK_INT(m->events.last_id, ==, 5); /* started, step 1, 2, 3, approval_needed */
	e = model_event_nth(m, 1);
	CHECK_STR(e->kind, "step");
	CHECK_STR(e->service, "web");
	CHECK_INT(e->time, ==, T0 + 25200);
	CHECK_HAS(e->message, "step 3 of 4");
	CHECK_HAS(e->message, "75.00%");
	e = model_event_nth(m, 2);
	CHECK_STR(e->kind, "step");
	CHECK_INT(e->time, ==, T0 + 3600);
	CHECK_HAS(e->message, "step 2 of 4");
}

/* A rollout completes at a step of 100% that waits, or when the last
 * step's hold ends, whatever its weight; on schedule. */
static void test_rollout_completes(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		struct ro_step steps[3];
		uint32_t nsteps;
		int64_t tick;		/* 0: none */
		enum ro_phase phase;
		uint32_t step;
		uint16_t weight;
		int64_t ended;
	} t[] = {
		{ "one step of 100% that waits", { { 10000, RO_WAIT } }, 1, 0,
		  RO_COMPLETED, 0, 10000, T0 },
		{ "then 100% that waits", { { 1000, 3600 }, { 10000, RO_WAIT } }, 2, T0 + 3600,
		  RO_COMPLETED, 1, 10000, T0 + 3600 },
		{ "then 100% that waits, late tick", { { 1000, 3600 }, { 10000, RO_WAIT } }, 2, T0 + 9999,
		  RO_COMPLETED, 1, 10000, T0 + 3600 },
		{ "ends at 50%, before", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 7199,
		  RO_PROGRESSING, 1, 5000, 0 },
		{ "ends at 50%, when its hold ends", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 7200,
		  RO_COMPLETED, 1, 10000, T0 + 7200 },
		{ "ends at 50%, long after", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 1000000,
		  RO_COMPLETED, 1, 10000, T0 + 7200 },
		{ "one step of 1% with a hold", { { 1, 60 } }, 1, T0 + 60,
		  RO_COMPLETED, 0, 10000, T0 + 60 },
		{ "holds of 0", { { 2500, 0 }, { 5000, 0 } }, 2, 0, RO_COMPLETED, 1, 10000, T0 },
		{ "100% with a hold, during it", { { 1000, 60 }, { 10000, 3600 } }, 2, T0 + 60,
		  RO_PROGRESSING, 1, 10000, 0 },
		{ "100% with a hold, after it", { { 1000, 60 }, { 10000, 3600 } }, 2, T0 + 3660,
		  RO_COMPLETED, 1, 10000, T0 + 3660 },
		{ "a step below 100% that waits", { { 1000, 60 }, { 9999, RO_WAIT } }, 2, T0 + 99999,
		  RO_PROGRESSING, 1, 9999, 0 },
	};
	/* clang-format on */
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, t[i].steps, t[i].nsteps, T0), ==, 0);
		if (t[i].tick)
			CHECK_INT(rollout_tick(m, t[i].tick), ==, true);
		CHECK_INT(ro->phase, ==, t[i].phase);
		CHECK_INT(ro->step, ==, t[i].step);
		CHECK_INT(ro->ended, ==, t[i].ended);
		CHECK_INT(rollout_weight(m, ro), ==, t[i].weight);
		check_layout(m, 0, S20, S10, t[i].weight);
		if (cur_failed)
			return;
		if (ro->phase == RO_COMPLETED) {
			CHECK_INT(rollout_next_due(ro), ==, -1);
			CHECK_STR(model_event_nth(m, 0)->kind, "completed");
			CHECK_INT(model_event_nth(m, 0)->time, ==, t[i].ended);
			CHECK_INT(rollout_tick(m, T0 + 10000000), ==, false);
			CHECK_INT(model_stable(m, 0), ==, S20);
		}
	}
}

static void test_rollout_pause_resume(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 5000, 3600 }, { 10000, RO_WAIT } };
	static const struct ro_step wait[] = { { 1000, RO_WAIT }, { 10000, RO_WAIT } };
#define T1 (T0 + 100005)
	/* clang-format off */
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due, left, ended */
		{ RO_OP_PAUSE, 0, T0 + 600, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, 3000, 0 },
		BAD_PHASE(RO_OP_PAUSE, 0, T0 + 700),
		NOCHANGE(T0 + 3600),
		NOCHANGE(T0 + 100000),
		/* the 3000 s left of the hold count from the resume */
		{ RO_OP_RESUME, 0, T1, 0, NULL, RO_PROGRESSING, 0, 1000, T1 - 600, T1 + 3000, 0, 0 },
		BAD_PHASE(RO_OP_RESUME, 0, T1 + 1),
		NOCHANGE(T1 + 2999),
		{ ACT_TICK, 0, T1 + 3000, 1, NULL, RO_PROGRESSING, 1, 5000, T1 + 3000, T1 + 6600, 0, 0 },
		/* paused after the hold ended but before a tick noticed: 0 left */
		{ RO_OP_PAUSE, 0, T1 + 8000, 0, NULL, RO_PAUSED, 1, 5000, T1 + 3000, -1, 0, 0 },
		NOCHANGE(T1 + 8500),
		/* so resume moves on at once, to 100%, which completes */
		{ RO_OP_RESUME, 0, T1 + 9000, 0, NULL, RO_COMPLETED, 2, 10000, 0, -1, 0, T1 + 9000 },
		BAD_PHASE(RO_OP_PAUSE, 0, T1 + 9001),
		BAD_PHASE(RO_OP_RESUME, 0, T1 + 9002),
	};
	/* clang-format on */
	/* clang-format off */
	static const struct ro_act b[] = {
		/* a step that waits for promote: pausing it keeps nothing to count */
		{ RO_OP_PAUSE, 0, T0 + 50, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, RO_WAIT, 0 },
		{ RO_OP_RESUME, 0, T0 + 60, 0, NULL, RO_PROGRESSING, 0, 1000, T0, -1, 0, 0 },
		NOCHANGE(T0 + 10000000),
		{ RO_OP_PROMOTE, 0, T0 + 70, 0, NULL, RO_COMPLETED, 1, 10000, 0, -1, 0, T0 + 70 },
	};
	/* clang-format on */
#undef T1
	struct model *m = new_model();
	struct vs_err err = { 0 };

	setup_web(m);
	if (cur_failed)
		return;
	row("%s", "no rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_PAUSE, false, T0, &err), &err, -ENOENT, 409,
		  "no_rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_RESUME, false, T0, &err), &err, -ENOENT, 409,
		  "no_rollout");
	row("%s", "");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	run_acts(m, 0, a, ARRAY_SIZE(a));
	if (cur_failed)
		return;
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, wait, ARRAY_SIZE(wait), T0), ==, 0);
	run_acts(m, 0, b, ARRAY_SIZE(b));
}

static void test_rollout_promote(void)
{
	static const struct ro_step st[] = {
		{ 1000, 3600 },
		{ 5000, 21600 },
		{ 7500, RO_WAIT },
		{ 9000, 600 },
	};
	/* clang-format off */
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due, left, ended */
		/* the next step now, its hold counted from now */
		{ RO_OP_PROMOTE, 0, T0 + 100, 0, NULL,
		  RO_PROGRESSING, 1, 5000, T0 + 100, T0 + 21700, 0, 0 },
		NOCHANGE(T0 + 21699),
		{ RO_OP_PROMOTE, 0, T0 + 200, 0, NULL, RO_PROGRESSING, 2, 7500, T0 + 200, -1, 0, 0 },
		{ RO_OP_PROMOTE, 0, T0 + 300, 0, NULL, RO_PROGRESSING, 3, 9000, T0 + 300, T0 + 900, 0, 0 },
		/* past the last step */
		{ RO_OP_PROMOTE, 0, T0 + 400, 0, NULL, RO_COMPLETED, 3, 10000, 0, -1, 0, T0 + 400 },
		BAD_PHASE(RO_OP_PROMOTE, 0, T0 + 500),
		BAD_PHASE(RO_OP_PROMOTE, 1, T0 + 500),
	};
	/* clang-format on */
	static const struct ro_act full[] = {
		{ RO_OP_PROMOTE, 1, T0 + 50, 0, NULL, RO_COMPLETED, 0, 10000, 0, -1, 0, T0 + 50 },
	};
	/* clang-format off */
	static const struct ro_act paused[] = {
		{ RO_OP_PAUSE, 0, T0 + 10, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, 3590, 0 },
		/* promoted while paused: the next step, with all its hold left */
		{ RO_OP_PROMOTE, 0, T0 + 20, 0, NULL, RO_PAUSED, 1, 5000, T0 + 20, -1, 21600, 0 },
		NOCHANGE(T0 + 100000),
		{ RO_OP_RESUME, 0, T0 + 30, 0, NULL,
		  RO_PROGRESSING, 1, 5000, T0 + 30, T0 + 21630, 0, 0 },
		{ RO_OP_PAUSE, 0, T0 + 40, 0, NULL, RO_PAUSED, 1, 5000, T0 + 30, -1, 21590, 0 },
		{ RO_OP_PROMOTE, 1, T0 + 50, 0, NULL, RO_COMPLETED, 1, 10000, 0, -1, 0, T0 + 50 },
	};
	/* clang-format on */
	static const struct {
		const char *name;
		const struct ro_act *a;
		size_t n;
	} scripts[] = {
		{ "step by step", a, ARRAY_SIZE(a) },
		{ "full", full, ARRAY_SIZE(full) },
		{ "while paused", paused, ARRAY_SIZE(paused) },
	};
	struct model *m = new_model();

	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		row("%s", scripts[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
		run_acts(m, 0, scripts[i].a, scripts[i].n);
		if (cur_failed)
			return;
		CHECK_STR(model_event_nth(m, 0)->kind, "completed");
	}
}

/* The flags of slot's entry in the data plane's view of service svc. */
static int ver_flags(const struct model *m, uint32_t svc, uint32_t slot, uint32_t *session_ms)
{
	static const uint8_t nsock[VS_MAX_SLOTS];
	struct vs_svc v;

	model_svc_value(m, svc, nsock, &v);
	*session_ms = v.session_ms;
	for (uint32_t i = 0; i < v.nver; i++)
		if (v.ver[i].slot == slot)
			return v.ver[i].flags;
	return -1;
}

static void test_rollout_abort_rollback(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	static const enum ro_op after_end[] = { RO_OP_PROMOTE, RO_OP_PAUSE, RO_OP_RESUME,
						RO_OP_ABORT };
	struct model *m = new_model(), *before = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err;
	uint32_t ms;

	setup_web(m);
	if (cur_failed)
		return;
	row("%s", "no rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ABORT, false, T0, &err), &err, -ENOENT, 409,
		  "no_rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0, &err), &err, -ENOENT, 409,
		  "no_rollout");

	row("%s", "abort");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 120, st, 2, T0), ==, 0);
	CHECK_INT(m->svc[0].session_timeout, ==, 120);
	CHECK_INT(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 10, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ABORTED);
	CHECK_INT(ro->ended, ==, T0 + 10);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	CHECK_INT(m->cl[S20].weight, ==, 0);
	CHECK_INT(m->cl[S10].weight, ==, 10000);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(!m->cl[S20].no_affinity, "abort set no_affinity");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, 0);
	CHECK_INT(ms, ==, 120000);
	CHECK_STR(model_event_nth(m, 0)->kind, "aborted");
	CHECK_INT(rollout_tick(m, T0 + 10000000), ==, false);
	for (size_t i = 0; i < ARRAY_SIZE(after_end); i++) {
		row("aborted, op %d", after_end[i]);
		memcpy(before, m, sizeof(*m));
		CHECK_ERR(rollout_control(m, 0, after_end[i], false, T0 + 20, &err), &err, -EINVAL,
			  409, "bad_phase");
		CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
	}
	/* Rollback after abort: the target's sessions, kept by the abort,
	 * move back too; weights set by hand since are undone. */
	row("%s", "aborted, rollback");
	CHECK_INT(m->svc[0].rollbacks, ==, 0);
	CHECK_INT(model_set_weights(m, 0, (const char *const[]){ "2.0", "1.0" },
				    (const uint16_t[]){ 5000, 5000 }, 2, &err),
		  ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 20, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 20);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "rollback after abort left no_affinity unset");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, VS_VER_NO_AFFINITY);
	CHECK_INT(ms, ==, 120000);
	CHECK_INT(m->svc[0].rollbacks, ==, 1);
	CHECK_STR(model_event_nth(m, 0)->kind, "rolled_back");
	CHECK_STR(model_event_nth(m, 1)->kind, "aborted");
	CHECK_STR(ro_mark_name(ro->hist[ro->nhist - 1].type), "rolled_back");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 30, &err), &err, -EINVAL, 409,
		  "bad_phase");
	CHECK_HAS(err.msg, "it is rolled_back");

	row("%s", "rollback while paused");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, 2, T0 + 100), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 110, &err), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 120, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 120);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "rollback left no_affinity unset");
	CHECK(!m->cl[S10].no_affinity && !m->cl[S30].no_affinity && !m->cl[S05].no_affinity,
	      "no_affinity on a version that was not rolled back");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, VS_VER_NO_AFFINITY);
	CHECK_INT(ver_flags(m, 0, S10, &ms), ==, 0);
	CHECK_INT(ver_flags(m, 0, S30, &ms), ==, 0);
	CHECK_INT(ms, ==, 120000); /* the service's, kept */
	CHECK_STR(model_event_nth(m, 0)->kind, "rolled_back");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 130, &err), &err, -EINVAL, 409,
		  "bad_phase");

	/* A new rollout to the rolled-back version gives it affinity again. */
	row("%s", "start again, complete, roll back");
	CHECK_INT(start(m, "c2", RO_GRADUAL, 0, st, 2, T0 + 200), ==, 0);
	CHECK(!m->cl[S20].no_affinity, "no_affinity kept by a new rollout");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, true, T0 + 210, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	memcpy(before, m, sizeof(*m));
	CHECK_ERR(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 220, &err), &err, -EINVAL, 409,
		  "bad_phase");
	CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 230, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 230);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "rollback of a completed rollout left no_affinity unset");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, VS_VER_NO_AFFINITY);

	row("%s", "abort after a new start");
	CHECK_INT(start(m, "2.0", RO_SESSION, 30, NULL, 0, T0 + 300), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED); /* session: at once */
	CHECK(!m->cl[S20].no_affinity, "no_affinity kept by a new rollout");
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, 2, T0 + 400), ==, 0);
	CHECK_INT(ro->from, ==, S20);
	CHECK_INT(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 410, &err), ==, 0);
	check_layout(m, 0, S30, S20, 0);
	if (cur_failed)
		return;
	CHECK(!m->cl[S30].no_affinity, "abort set no_affinity");
	CHECK_INT(ver_flags(m, 0, S30, &ms), ==, 0);
	CHECK_INT(ms, ==, 30000);
}

/* Which session timeout the service gets from a start. */
static void test_rollout_session_timeout(void)
{
	static const struct ro_step st[] = { { 5000, RO_WAIT } };
	/* clang-format off */
	static const struct {
		const char *to;
		enum ro_strategy strategy;
		uint32_t timeout;
		uint32_t nsteps;
		uint32_t want;		/* the service's session_timeout */
		enum ro_phase phase;	/* right after the start */
	} t[] = {
		{ "2.0", RO_SESSION, 300, 0, 300, RO_COMPLETED },
		{ "3.0", RO_GRADUAL, 0, 1, 300, RO_PROGRESSING },	/* keeps it */
		{ "4.0", RO_GRADUAL, 45, 1, 45, RO_PROGRESSING },
		{ "5.0", RO_INSTANT, 0, 0, 0, RO_COMPLETED },		/* none at all */
		{ "6.0", RO_GRADUAL, 0, 1, 0, RO_PROGRESSING },
		{ "7.0", RO_SESSION, VS_MAX_SESSION_TIMEOUT, 0, VS_MAX_SESSION_TIMEOUT, RO_COMPLETED },
	};
	/* clang-format on */
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	char server[32];
	uint32_t ms;
	int slot;

	setup_web(m);
	if (cur_failed)
		return;
	m->svc[0].session_timeout = 0;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s rollout to %s", ro_strategy_name(t[i].strategy), t[i].to);
		slot = model_find_version(m, 0, t[i].to);
		if (slot < 0) {
			snprintf(server, sizeof(server), "127.0.0.1:%zu", 9200 + i);
			slot = add_cl(m, 0, t[i].to, CL_MANUAL, server, NULL, &err);
			CHECK(slot >= 0, "add %s: %s", t[i].to, err.msg);
		}
		CHECK_INT(start(m, t[i].to, t[i].strategy, t[i].timeout, st, t[i].nsteps,
				T0 + 100 * (int64_t)i),
			  ==, 0);
		CHECK_INT(ro->phase, ==, t[i].phase);
		CHECK_INT(ro->strategy, ==, t[i].strategy);
		CHECK_INT(ro->session_timeout, ==, t[i].timeout);
		CHECK_INT(ro->to, ==, slot);
		CHECK_INT(m->svc[0].session_timeout, ==, t[i].want);
		CHECK_INT(ver_flags(m, 0, slot, &ms), ==, 0);
		CHECK_INT(ms, ==, t[i].want * 1000);
		if (!t[i].nsteps) {
			/* instant and session: one step of 100%, done at once */
			CHECK_INT(ro->nsteps, ==, 1);
			CHECK_INT(ro->steps[0].weight, ==, VS_BUCKETS);
			CHECK_INT(ro->steps[0].hold, ==, RO_WAIT);
			CHECK_INT(ro->ended, ==, T0 + 100 * (int64_t)i);
		}
		if (ro->phase == RO_PROGRESSING)
			CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, true,
						  T0 + 100 * (int64_t)i + 50, &err),
				  ==, 0);
		CHECK_INT(ro->phase, ==, RO_COMPLETED);
		check_layout(m, 0, slot, ro->from, VS_BUCKETS);
		if (cur_failed)
			return;
		/* a completed rollout changes the timeout no more */
		CHECK_INT(m->svc[0].session_timeout, ==, t[i].want);
	}
}

static void test_rollout_record_instant(void)
{
	struct ro_request r = ro_req("", RO_INSTANT, 0, NULL, 0);
	struct model *m = new_model();
	struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	uint32_t nev;
	int slot;

	setup_web(m);
	if (cur_failed)
		return;
	/* leftovers of an earlier rollout are not kept */
	ro->phase = RO_ROLLED_BACK;
	ro->strategy = RO_GRADUAL;
	ro->nsteps = 3;
	ro->step = 2;
	ro->steps[1] = (struct ro_step){ 5000, 3600 };
	ro->steps[2] = (struct ro_step){ 7000, 60 };
	ro->paused_left = 77;
	ro->session_timeout = 99;
	m->svc[0].session_timeout = 99;
	nev = m->events.n;
	/* as ctl does: the cluster takes over on registration, then this */
	slot = add_cl(m, 0, "4.0", CL_INSTANT, "127.0.0.1:9004", "c4", &err);
	CHECK_INT(slot, ==, SAPI + 1);
	CHECK_STR(weights_str(m, 0), "4.0=10000 3.0=0 2.0=0 1.0=0 0.5=0");
	rollout_record_instant(m, 0, S10, slot, &r, T0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->strategy, ==, RO_INSTANT);
	CHECK_INT(ro->from, ==, S10);
	CHECK_INT(ro->to, ==, slot);
	CHECK_INT(ro->session_timeout, ==, 0);
	CHECK_INT(ro->nsteps, ==, 1);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->steps[0].weight, ==, VS_BUCKETS);
	CHECK_INT(ro->steps[0].hold, ==, RO_WAIT);
	for (uint32_t i = 1; i < RO_MAX_STEPS; i++) {
		row("steps[%u]", i);
		CHECK(!ro->steps[i].weight && !ro->steps[i].hold, "left over");
	}
	row("%s", "");
	CHECK_INT(ro->started, ==, T0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(ro->paused_left, ==, 0);
	CHECK_INT(ro->ended, ==, T0);
	CHECK_INT(m->svc[0].session_timeout, ==, 0);
	CHECK_INT(rollout_weight(m, ro), ==, VS_BUCKETS);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	check_layout(m, 0, slot, S10, VS_BUCKETS);
	if (cur_failed)
		return;
	CHECK_INT(m->events.n, ==, nev + 3);
	row("%s", "event started");
	CHECK_STR(model_event_nth(m, 2)->kind, "started");
	CHECK_STR(model_event_nth(m, 2)->service, "web");
	CHECK_INT(model_event_nth(m, 2)->time, ==, T0);
	CHECK_STR(model_event_nth(m, 2)->message, "instant rollout from 1.0 to 4.0, not judged");
	CHECK_STR(model_event_nth(m, 1)->kind, "step");
	row("%s", "event completed");
	CHECK_STR(model_event_nth(m, 0)->kind, "completed");
	CHECK_STR(model_event_nth(m, 0)->service, "web");
	CHECK_INT(model_event_nth(m, 0)->time, ==, T0);
	CHECK_HAS(model_event_nth(m, 0)->message, "4.0");
	row("%s", "a rollout from it");
	CHECK_INT(rollout_tick(m, T0 + 1000000), ==, false);
	CHECK_INT(model_stable(m, 0), ==, slot);
	CHECK_ERR(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 1, &err), &err, -EINVAL, 409,
		  "bad_phase");
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 2, &err), ==, 0);
	check_layout(m, 0, slot, S10, 0);

	/* Judged as the service says when the request does not: at 100% and
	 * progressing until a window passes, against the baseline given. */
	row("%s", "judged by the service's settings");
	setup_web(m);
	m->svc[0].an.interval = 2;
	r.an = (struct analysis_req){ 0 };
	r.base = (struct window_sum){ .seconds = 70, .requests = 300, .p99_ms = 1.5 };
	slot = add_cl(m, 0, "4.0", CL_INSTANT, "127.0.0.1:9004", "c4", &err);
	rollout_record_instant(m, 0, S10, slot, &r, T0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK(ro->an.on, "not judged");
	CHECK_INT(ro->an.interval, ==, 2);
	CHECK_INT(ro->an.base.seconds, ==, 70);
	CHECK_INT(ro->an.base.requests, ==, 300);
	check_layout(m, 0, slot, S10, VS_BUCKETS);
	CHECK_HAS(model_event_nth(m, 1)->message, "judged every 2 s (failureLimit 3)");
	CHECK_INT(rollout_tick(m, T0 + 100), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 2), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 3), ==, true);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 3);
}

/* A rollout keeps its own history: hundreds of other services' events
 * do not push it out, a full history keeps its "started", and it goes
 * through the state file unchanged. */
static void test_rollout_history(void)
{
	static const struct ro_step st[] = { { 1000, RO_WAIT },
					     { 5000, RO_WAIT },
					     { 10000, RO_WAIT } };
	struct model *m = new_model(), *back = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	char detail[160], *text;

	setup_web(m);
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, 3, T0), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 10, &err), ==, 0);
	for (int i = 0; i < 2 * EVENT_RING; i++)
		model_event(m, T0 + 20, "api", "backend_down", "noise %d", i);
	CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, true, T0 + 30, &err), ==, 0);
	CHECK_INT(ro->nhist, ==, 5);
	CHECK_STR(ro_mark_name(ro->hist[0].type), "started");
	CHECK_STR(ro_mark_name(ro->hist[1].type), "step");
	CHECK_STR(ro_mark_name(ro->hist[2].type), "paused");
	CHECK_INT(ro->hist[2].weight, ==, 1000);
	CHECK_STR(ro_mark_name(ro->hist[3].type), "promoted");
	CHECK_STR(ro_mark_name(ro->hist[4].type), "completed");
	ro_mark_detail(m, 0, &ro->hist[3], detail, sizeof(detail));
	CHECK_STR(detail, "2.0 straight to 100%");
	ro_mark_detail(m, 0, &ro->hist[1], detail, sizeof(detail));
	CHECK_STR(detail, "step 1 of 3: 2.0 at 10.00% of new sessions");

	text = track(state_dump(m));
	CHECK(text, "state_dump");
	CHECK_INT(state_parse(text, strlen(text), "t.json", back, &err), ==, 0);
	CHECK_INT(back->svc[0].ro.nhist, ==, 5);
	for (int i = 0; i < 5; i++) {
		const struct ro_mark *a = &ro->hist[i], *b = &back->svc[0].ro.hist[i];

		CHECK(a->time == b->time && a->weight == b->weight && a->type == b->type &&
			      a->step == b->step,
		      "history[%d] in the state file", i);
	}
	CHECK_INT(back->svc[0].ro.hist[3].type, ==, ROM_PROMOTED_FULL);

	/* Full: the oldest after "started" go. */
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 40, &err), ==, 0);
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, 3, T0 + 50), ==, 0);
	for (int i = 0; i < RO_MAX_HISTORY; i++) {
		CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 60 + 2 * i, &err), ==, 0);
		CHECK_INT(rollout_control(m, 0, RO_OP_RESUME, false, T0 + 61 + 2 * i, &err), ==, 0);
	}
	CHECK_INT(ro->nhist, ==, RO_MAX_HISTORY);
	CHECK_STR(ro_mark_name(ro->hist[0].type), "started");
	CHECK_INT(ro->hist[0].time, ==, T0 + 50);
	CHECK_STR(ro_mark_name(ro->hist[RO_MAX_HISTORY - 1].type), "resumed");
	CHECK_INT(ro->hist[RO_MAX_HISTORY - 1].time, ==, T0 + 61 + 2 * (RO_MAX_HISTORY - 1));
}

/* An operator's change to a service whose rollout is at 100% and only
 * being judged completes it; one with steps to go still refuses it. */
static void test_rollout_settle(void)
{
	static const struct ro_step st[] = { { 1000, 60 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis();
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	struct ro_request r;

	setup_web(m);
	if (cur_failed)
		return;
	row("%s", "no rollout");
	CHECK_INT(rollout_settle(m, 0, T0), ==, false);
	row("%s", "a step to go: still in progress, untouched");
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_settle(m, 0, T0 + 1), ==, true);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	check_layout(m, 0, S20, S10, 1000);
	r = ro_req("3.0", RO_INSTANT, 0, NULL, 0);
	CHECK_ERR(rollout_start(m, 0, &r, T0 + 1, &err), &err, -EBUSY, 409, "rollout_in_progress");
	row("%s", "at 100%, judged: completed by the change");
	CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, false, T0 + 2, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_settle(m, 0, T0 + 3), ==, false);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 3);
	CHECK_STR(model_event_nth(m, 0)->kind, "completed");
	check_layout(m, 0, S20, S10, 10000);
	row("%s", "paused at 100%: the same");
	CHECK_INT(start_an(m, "3.0", RO_INSTANT, 0, NULL, 0, &an, T0 + 4), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 5, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_INT(rollout_settle(m, 0, T0 + 6), ==, false);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_STR(model_event_nth(m, 0)->kind, "completed");
	check_layout(m, 0, S30, S20, 10000);
}

const struct unit_case rollout_cases[] = { TEST(test_rollout_start_rejects),
					   TEST(test_rollout_start_target_names),
					   TEST(test_rollout_weights_layout),
					   TEST(test_rollout_gradual_schedule),
					   TEST(test_rollout_completes),
					   TEST(test_rollout_pause_resume),
					   TEST(test_rollout_promote),
					   TEST(test_rollout_abort_rollback),
					   TEST(test_rollout_session_timeout),
					   TEST(test_rollout_record_instant),
					   TEST(test_rollout_history),
					   TEST(test_rollout_settle),
					   { NULL, NULL } };
