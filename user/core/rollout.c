// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/approval.h"
#include "core/model.h"
#include "core/rollout.h"
#include "core/rollout_text.h"

/* Record a step of the rollout in its history and as an event. */
static void mark(struct model *m, uint32_t svc, int64_t now, enum ro_mark_type type)
{
	struct rollout *ro = &m->svc[svc].ro;
	struct ro_mark mk = {
		.time = now, .weight = m->cl[ro->to].weight, .type = type, .step = ro->step
	};
	char detail[EVENT_MESSAGE_LEN];

	if (ro->nhist == RO_MAX_HISTORY) {
		memmove(&ro->hist[1], &ro->hist[2], (RO_MAX_HISTORY - 2) * sizeof(ro->hist[0]));
		ro->nhist--;
	}
	ro->hist[ro->nhist++] = mk;
	ro->nmarks++;
	ro_mark_detail(m, svc, &mk, detail, sizeof(detail));
	model_event(m, now, m->svc[svc].name, ro_mark_name(type), "%s", detail);
}

bool rollout_active(const struct rollout *ro)
{
	return ro->phase == RO_PROGRESSING || ro->phase == RO_PAUSED;
}

uint16_t rollout_weight(const struct model *m, const struct rollout *ro)
{
	return ro->phase == RO_NONE ? 0 : m->cl[ro->to].weight;
}

/* The target gets w, the stable version the rest, every other version 0:
 * newest first, so clients only move towards the target. */
static void apply_weight(struct model *m, uint32_t svc, uint16_t w)
{
	struct rollout *ro = &m->svc[svc].ro;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (m->cl[i].used && m->cl[i].svc == svc)
			m->cl[i].weight = 0;
	m->cl[ro->to].weight = w;
	m->cl[ro->from].weight += VS_BUCKETS - w;
}

static void complete(struct model *m, uint32_t svc, int64_t t)
{
	struct rollout *ro = &m->svc[svc].ro;

	apply_weight(m, svc, VS_BUCKETS);
	ro->phase = RO_COMPLETED;
	ro->ended = t;
	mark(m, svc, t, ROM_COMPLETED);
	/* From now on the version moved from gets no new session, and no
	 * verdict can give it any back: its drain clock starts. */
	if (ro->drain.on && ro->from != ro->to && m->cl[ro->from].used)
		drain_schedule(&m->cl[ro->from].drain, &ro->drain, t);
}

bool rollout_settle(struct model *m, uint32_t svc, int64_t now)
{
	struct rollout *ro = &m->svc[svc].ro;
	const struct ro_step *st = &ro->steps[ro->step];

	if (!rollout_active(ro))
		return false;
	/* The fleet's completes by its driver only, on every host at once. */
	if (ro->fleet || ro->step + 1 != ro->nsteps || st->weight != VS_BUCKETS ||
	    st->hold != RO_WAIT)
		return true;
	complete(m, svc, now);
	return false;
}

static void enter_step(struct model *m, uint32_t svc, int64_t t)
{
	struct rollout *ro = &m->svc[svc].ro;
	const struct ro_step *st = &ro->steps[ro->step];

	ro->step_started = t;
	/* A mirror steers nothing: the weights stay as they are. */
	if (ro->strategy == RO_MIRROR)
		return;
	apply_weight(m, svc, st->weight);
	mark(m, svc, t, ROM_STEP);
	approval_ask(m, svc, t);
}

static void pause(struct model *m, uint32_t svc, int64_t now)
{
	struct rollout *ro = &m->svc[svc].ro;
	const struct ro_step *st = &ro->steps[ro->step];

	ro->phase = RO_PAUSED;
	ro->paused_left = st->hold == RO_WAIT		    ? RO_WAIT :
			  ro->step_started + st->hold > now ? ro->step_started + st->hold - now :
							      0;
	mark(m, svc, now, ROM_PAUSED);
}

/* No verdict for max_inconclusive windows in a row once the step's hold
 * is over: a person decides (promote, resume, abort, rollback) rather
 * than the rollout going on unjudged. Its windows are still judged. */
static void auto_pause(struct model *m, uint32_t svc, int64_t now)
{
	struct rollout *ro = &m->svc[svc].ro;
	char last[sizeof(ro->an.last_verdict)];

	memcpy(last, ro->an.last_verdict, sizeof(last));
	snprintf(ro->pause_why, sizeof(ro->pause_why),
		 "%u windows in a row without a verdict (the last: %s)", ro->an.inconclusive, last);
	pause(m, svc, now);
	mark(m, svc, now, ROM_AUTO_PAUSE);
}

/* A mirror's end (its duration over, or promoted): a passing verdict
 * starts the rollout that follows, if it has one; any other stops it.
 * Either way the target stays as it was: no client ever reached it. */
static void mirror_end(struct model *m, uint32_t svc, int64_t t)
{
	struct rollout *ro = &m->svc[svc].ro;
	bool pass = ro->mirror_verdict == V_PASS;
	struct ro_request then;
	struct vs_err err;

	ro->phase = pass ? RO_COMPLETED : RO_ABORTED;
	ro->ended = t;
	mark(m, svc, t, pass ? ROM_MIRROR_PASSED : ROM_MIRROR_FAILED);
	if (!pass || !ro->has_then)
		return;
	then = ro->then;
	snprintf(then.to, sizeof(then.to), "%s", m->cl[ro->to].id);
	then.then = NULL;
	if (rollout_start(m, svc, &then, t, &err))
		model_event(m, t, m->svc[svc].name, "mirror_failed",
			    "the rollout after the mirror did not start: %s", err.msg);
}

bool rollout_mirror_verdict(struct model *m, uint32_t svc, enum verdict v, const char *why)
{
	struct rollout *ro = &m->svc[svc].ro;

	if (ro->strategy != RO_MIRROR || !rollout_active(ro) ||
	    (ro->mirror_verdict == v && !strncmp(ro->mirror_why, why, sizeof(ro->mirror_why) - 1)))
		return false;
	ro->mirror_verdict = v;
	snprintf(ro->mirror_why, sizeof(ro->mirror_why), "%s", why);
	return true;
}

enum gate { GATE_SHUT, GATE_OPEN, GATE_PAUSE };

/* With analysis on, a step ends only once a window has passed after its
 * hold ended. With no traffic to judge, after max_inconclusive windows
 * in a row it pauses, or (on_inconclusive "advance") ends without a
 * verdict. */
int64_t rollout_gate_since(const struct rollout *ro)
{
	const struct ro_step *st = &ro->steps[ro->step];
	int64_t due = st->hold == RO_WAIT ? ro->step_started : ro->step_started + st->hold;

	/* The passing window must also be one the step's own traffic went
	 * through: a hold of 0 must not ride on the last step's verdict. */
	return due > ro->step_started + (int64_t)ro->an.interval ?
		       due :
		       ro->step_started + (int64_t)ro->an.interval;
}

static enum gate gate(const struct rollout *ro)
{
	int64_t since = rollout_gate_since(ro);

	if (!ro->an.on || ro->an.last_pass >= since)
		return GATE_OPEN;
	if (ro->an.inconclusive < ro->an.max_inconclusive)
		return GATE_SHUT;
	return ro->an.on_inconclusive == JUDGE_ADVANCE ? GATE_OPEN : GATE_PAUSE;
}

/* Move a progressing rollout on as far as `now` allows. Each step starts
 * when the previous one's hold ended, not when we noticed: a controller
 * that was down for an hour catches up to the schedule. */
static bool advance(struct model *m, uint32_t svc, int64_t now)
{
	struct rollout *ro = &m->svc[svc].ro;
	bool changed = false;

	while (ro->phase == RO_PROGRESSING) {
		const struct ro_step *st = &ro->steps[ro->step];
		enum gate g;
		int64_t due;

		if (ro->strategy == RO_MIRROR) {
			if (st->hold == RO_WAIT || now < ro->step_started + st->hold)
				break;
			mirror_end(m, svc, ro->step_started + st->hold);
			return true;
		}
		/* A step without a hold waits for promote, but after 100%
		 * there is nothing to promote to: it ends on the gate. */
		if (st->hold == RO_WAIT && st->weight < VS_BUCKETS)
			break;
		due = st->hold == RO_WAIT ? ro->step_started : ro->step_started + st->hold;
		if (now < due)
			break;
		g = gate(ro);
		if (g == GATE_PAUSE)
			auto_pause(m, svc, now);
		if (g != GATE_OPEN)
			return changed || g == GATE_PAUSE;
		if (st->hold == RO_WAIT) {
			complete(m, svc, ro->an.on ? now : ro->step_started);
			return true;
		}
		if (ro->an.on)
			due = now; /* the schedule waited for a verdict */
		changed = true;
		if (++ro->step == ro->nsteps) {
			ro->step = ro->nsteps - 1;
			complete(m, svc, due);
		} else {
			enter_step(m, svc, due);
		}
	}
	return changed;
}

bool rollout_tick(struct model *m, int64_t now)
{
	bool changed = false;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (m->svc[s].used && m->svc[s].ro.phase == RO_PROGRESSING && !m->svc[s].ro.fleet)
			changed |= advance(m, s, now);
	return changed;
}

bool rollout_advance(struct model *m, uint32_t svc, int64_t now)
{
	return m->svc[svc].ro.phase == RO_PROGRESSING && advance(m, svc, now);
}

int64_t rollout_next_due(const struct rollout *ro)
{
	const struct ro_step *st = &ro->steps[ro->step];

	if (ro->phase != RO_PROGRESSING || st->hold == RO_WAIT)
		return -1;
	return ro->step_started + st->hold;
}

/* What a request asks of its strategy, whatever the model holds. */
static int check_plan(const struct ro_request *req, struct vs_err *err)
{
	uint16_t prev = 0;

	if (req->session_timeout > VS_MAX_SESSION_TIMEOUT)
		return vs_errf(err, -ERANGE, 400, "bad_rollout",
			       "sessionTimeout must be 1 to %d seconds", VS_MAX_SESSION_TIMEOUT);
	if (req->drain.on && req->drain.secs > DRAIN_MAX_DEADLINE)
		return vs_errf(err, -ERANGE, 400, "bad_rollout",
			       "drainDeadline must be 0 to %d seconds", DRAIN_MAX_DEADLINE);
	if (req->strategy == RO_INSTANT && (req->nsteps || req->session_timeout))
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "the instant strategy takes neither steps nor sessionTimeout");
	if (req->strategy == RO_SESSION && !req->session_timeout)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "the session strategy needs sessionTimeout (seconds)");
	if (req->strategy == RO_GRADUAL && !req->nsteps)
		return vs_errf(
			err, -EINVAL, 400, "bad_rollout",
			"the gradual strategy needs steps, e.g. [{\"weight\": 5, \"hold\": 3600}, {\"weight\": 100}]");
	if (req->nsteps > RO_MAX_STEPS)
		return vs_errf(err, -E2BIG, 400, "bad_rollout", "at most %d steps", RO_MAX_STEPS);
	for (uint32_t i = 0; i < req->nsteps; i++) {
		if (req->steps[i].weight == 0 || req->steps[i].weight > VS_BUCKETS ||
		    req->steps[i].weight < prev)
			return vs_errf(
				err, -EINVAL, 400, "bad_rollout",
				"steps[%u].weight: must be above 0 and not below the step before (clients only move forward)",
				i);
		prev = req->steps[i].weight;
	}

	return 0;
}

/* A mirror's target gets no client while it runs, and what follows it
 * must be a rollout of its own. */
static int check_mirror(const struct model *m, int to, const struct ro_request *req,
			struct vs_err *err)
{
	int ret;

	if (req->nsteps || req->session_timeout_set || req->drain.on)
		return vs_errf(
			err, -EINVAL, 400, "bad_rollout",
			"the mirror strategy takes no steps, sessionTimeout or drainDeadline: give them to \"then\"");
	if (m->cl[to].weight)
		return vs_errf(
			err, -EINVAL, 409, "target_has_weight",
			"%s has %u.%02u%% of new sessions: a mirror's target must have none (set its weight to 0 first)",
			m->cl[to].version, m->cl[to].weight / 100, m->cl[to].weight % 100);
	if (!req->then)
		return 0;
	if (req->then->strategy == RO_MIRROR)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "then.strategy: a mirror cannot follow a mirror");
	ret = check_plan(req->then, err);
	if (ret)
		vs_err_prefix(err, "body.then");
	return ret;
}

static int find_target(const struct model *m, uint32_t svc, const char *to)
{
	int slot = model_find_cluster(m, to);

	if (slot >= 0 && m->cl[slot].svc == svc)
		return slot;
	if (version_valid(to))
		return model_find_version(m, svc, to);
	return -ENOENT;
}

int rollout_start(struct model *m, uint32_t svc, const struct ro_request *req, int64_t now,
		  struct vs_err *err)
{
	struct service *s = &m->svc[svc];
	struct rollout *ro = &s->ro;
	int to, from, ret;

	if (rollout_settle(m, svc, now))
		return vs_errf(
			err, -EBUSY, 409, "rollout_in_progress",
			"service '%s' has a %s rollout to %s %s; pause, abort or promote it first",
			s->name, ro_strategy_name(ro->strategy), m->cl[ro->to].version,
			ro_phase_name(ro->phase));
	to = find_target(m, svc, req->to);
	if (to < 0)
		return vs_errf(err, -ENOENT, 404, "unknown_target",
			       "service '%s' has no version or cluster '%.40s'", s->name, req->to);
	from = model_stable(m, svc);
	if (from == to)
		return vs_errf(err, -EINVAL, 409, "already_stable",
			       "%s is already the stable version of '%s'", m->cl[to].version,
			       s->name);
	if (version_cmp(m->cl[to].version, m->cl[from].version) < 0)
		return vs_errf(
			err, -EINVAL, 409, "target_older",
			"target %s is older than the stable %s: a rollout only moves clients to newer versions (use rollback, or weights)",
			m->cl[to].version, m->cl[from].version);
	ret = check_plan(req, err);
	if (!ret && req->strategy == RO_MIRROR)
		ret = check_mirror(m, to, req, err);
	if (ret)
		return ret;
	if (req->then && req->strategy != RO_MIRROR)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "then: only a mirror is followed by another rollout");

	memset(ro, 0, sizeof(*ro));
	ro->phase = RO_PROGRESSING;
	ro->strategy = req->strategy;
	ro->from = from;
	ro->to = to;
	ro->session_timeout = req->session_timeout;
	ro->started = now;
	ro->nsteps = req->nsteps;
	memcpy(ro->steps, req->steps, sizeof(ro->steps));
	judge_resolve(&ro->an, &s->an, &req->an);
	ro->an.base = req->base;
	ro->drain = req->drain;
	if (req->strategy == RO_MIRROR) {
		ro->mirror = req->mirror;
		ro->mirror_verdict = V_INCONCLUSIVE;
		snprintf(ro->mirror_why, sizeof(ro->mirror_why), "no request compared yet");
		ro->has_then = req->then != NULL;
		if (req->then)
			ro->then = *req->then;
		ro->then.then = NULL;
		ro->nsteps = 1;
		ro->steps[0] = (struct ro_step){ .weight = 0,
						 .hold = req->mirror.duration ?
								 (int64_t)req->mirror.duration :
								 RO_WAIT };
	}
	if (!ro->nsteps) {
		ro->nsteps = 1;
		ro->steps[0] = (struct ro_step){ .weight = VS_BUCKETS, .hold = RO_WAIT };
	}
	/* Instant means every new connection, affinity or not; a mirror
	 * changes nothing of the steering. */
	s->session_timeout = req->strategy == RO_MIRROR	 ? s->session_timeout :
			     req->strategy == RO_INSTANT ? 0 :
			     req->session_timeout || req->session_timeout_set ?
							   req->session_timeout :
							   s->session_timeout;
	m->cl[to].no_affinity = false;
	mark(m, svc, now, ROM_STARTED);
	enter_step(m, svc, now);
	advance(m, svc, now);
	return 0;
}

void rollout_record_instant(struct model *m, uint32_t svc, uint32_t from, uint32_t to,
			    const struct ro_request *req, int64_t now)
{
	struct rollout *ro = &m->svc[svc].ro;

	memset(ro, 0, sizeof(*ro));
	*ro = (struct rollout){ .phase = RO_PROGRESSING,
				.strategy = RO_INSTANT,
				.from = from,
				.to = to,
				.nsteps = 1,
				.started = now };
	ro->steps[0] = (struct ro_step){ .weight = VS_BUCKETS, .hold = RO_WAIT };
	judge_resolve(&ro->an, &m->svc[svc].an, &req->an);
	ro->an.base = req->base;
	ro->drain = m->cl[to].drain_deadline;
	m->svc[svc].session_timeout = 0;
	mark(m, svc, now, ROM_STARTED);
	enter_step(m, svc, now);
	advance(m, svc, now);
}

bool rollout_verdict(struct model *m, uint32_t svc, enum verdict v, const char *why, int64_t now)
{
	struct service *s = &m->svc[svc];
	struct rollout *ro = &s->ro;
	struct analysis *a = &ro->an;
	struct vs_err err;

	a->windows++;
	if ((unsigned int)v < ARRAY_SIZE(s->windows))
		s->windows[v]++;
	snprintf(a->last_verdict, sizeof(a->last_verdict), "%s", why);
	if (v == V_PASS) {
		a->failures = 0;
		a->inconclusive = 0;
		a->last_pass = now;
		return false;
	}
	if (v == V_INCONCLUSIVE) {
		/* Pausing says so itself, once the step's hold is over. */
		bool limit = ++a->inconclusive == a->max_inconclusive &&
			     a->on_inconclusive == JUDGE_ADVANCE;

		if (a->inconclusive == 1 || limit)
			model_event(m, now, s->name, "inconclusive", "%s%s", why,
				    limit ? "; steps now advance without a verdict" : "");
		return false;
	}
	a->inconclusive = 0;
	model_event(m, now, s->name, "analysis_failed", "window %u/%u: %s%s", a->failures + 1,
		    a->failure_limit, why,
		    ro->fleet && a->failures + 1 >= a->failure_limit ?
			    "; the fleet's driver rolls every host back" :
			    "");
	if (++a->failures < a->failure_limit)
		return false;
	/* The fleet's: its driver reads this from this host's status. */
	if (ro->fleet) {
		if (!ro->why[0])
			snprintf(ro->why, sizeof(ro->why), "%s", why);
		return false;
	}
	return rollout_fail(m, svc, why, now, &err) == 0;
}

int rollout_fail(struct model *m, uint32_t svc, const char *why, int64_t now, struct vs_err *err)
{
	struct service *s = &m->svc[svc];
	struct rollout *ro = &s->ro;
	int ret;

	if (!rollout_active(ro))
		return vs_errf(err, -EINVAL, 409, "bad_phase",
			       "service '%s' has no rollout in progress", s->name);
	ret = rollout_control(m, svc, RO_OP_ROLLBACK, false, now, err);
	if (ret)
		return ret;
	s->auto_rollbacks++;
	snprintf(ro->why, sizeof(ro->why), "%s", why);
	mark(m, svc, now, ROM_AUTO_ROLLBACK);
	return 0;
}

int rollout_control(struct model *m, uint32_t svc, enum ro_op op, bool full, int64_t now,
		    struct vs_err *err)
{
	struct service *s = &m->svc[svc];
	struct rollout *ro = &s->ro;
	const struct ro_step *st;

	if (ro->phase == RO_NONE)
		return vs_errf(err, -ENOENT, 409, "no_rollout", "service '%s' has no rollout",
			       s->name);
	if (op == RO_OP_ROLLBACK ? ro->phase == RO_ROLLED_BACK :
	    op == RO_OP_RESUME	 ? ro->phase != RO_PAUSED :
	    op == RO_OP_PAUSE	 ? ro->phase != RO_PROGRESSING :
				   !rollout_active(ro))
		return vs_errf(err, -EINVAL, 409, "bad_phase",
			       "cannot %s the rollout of '%s' to %s: it is %s", ro_op_name(op),
			       s->name, m->cl[ro->to].version, ro_phase_name(ro->phase));
	st = &ro->steps[ro->step];
	switch (op) {
	case RO_OP_PROMOTE:
		/* The next step gets maxInconclusive windows of its own before
		 * it pauses for want of a verdict. */
		if (ro->an.on_inconclusive == JUDGE_PAUSE)
			ro->an.inconclusive = 0;
		mark(m, svc, now, full ? ROM_PROMOTED_FULL : ROM_PROMOTED);
		if (ro->strategy == RO_MIRROR) {
			mirror_end(m, svc, now);
			break;
		}
		if (full || ro->step + 1 == ro->nsteps) {
			complete(m, svc, now);
			break;
		}
		ro->step++;
		enter_step(m, svc, now);
		if (ro->phase == RO_PAUSED)
			ro->paused_left = ro->steps[ro->step].hold;
		/* The fleet's goes on by its driver, judged by every host's
		 * windows, not by the windows of the host that promoted it. */
		if (!ro->fleet)
			advance(m, svc, now);
		break;
	case RO_OP_PAUSE:
		pause(m, svc, now);
		break;
	case RO_OP_RESUME: {
		bool ask = approval_deferred(ro);

		/* As promote: or it would pause again at once. */
		if (ro->an.on_inconclusive == JUDGE_PAUSE)
			ro->an.inconclusive = 0;
		ro->phase = RO_PROGRESSING;
		if (st->hold != RO_WAIT)
			ro->step_started = now - (st->hold - ro->paused_left);
		mark(m, svc, now, ROM_RESUMED);
		if (ask)
			approval_ask(m, svc, now);
		if (!ro->fleet) /* as promote */
			advance(m, svc, now);
		break;
	}
	case RO_OP_ABORT:
	case RO_OP_ROLLBACK:
		if (!m->cl[ro->from].used)
			return vs_errf(err, -ENOENT, 409, "no_fallback",
				       "the version rolled out from is no longer registered");
		if (ro->strategy != RO_MIRROR)
			apply_weight(m, svc, 0);
		ro->ended = now;
		/* Abort keeps sessions where they are; rollback also moves the
		 * target's active sessions back on their next connection. */
		if (op == RO_OP_ROLLBACK) {
			m->cl[ro->to].no_affinity = true;
			s->rollbacks++;
		}
		ro->phase = op == RO_OP_ABORT ? RO_ABORTED : RO_ROLLED_BACK;
		mark(m, svc, now, op == RO_OP_ABORT ? ROM_ABORTED : ROM_ROLLED_BACK);
		break;
	}
	return 0;
}
