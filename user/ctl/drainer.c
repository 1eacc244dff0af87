// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vsteer_idle.h"
#include "lib/log.h"
#include "kernel/dp.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "ctl/ctl.h"
#include "ctl/drainer.h"
#include "ctl/nsfd.h"
#include "ctl/txn.h"

/* What one pass found of a version's connections. */
struct tally {
	uint32_t closed; /* idle, and closed */
	uint32_t busy;	 /* not idle: left open */
	bool passed;	 /* its connections were looked at */
	bool drained;	 /* it holds none: say so */
};

static struct model *copy_once(const struct ctl *c, struct model **next)
{
	if (!*next && (*next = malloc(sizeof(**next))))
		memcpy(*next, c->m, sizeof(**next));
	return *next;
}

/* Drains called off and deadlines reached, as one transaction: a version
 * marked due has its sessions follow the weights (model_svc_value) from
 * this commit on, before any of its connections is closed. A failed
 * commit is retried next tick, and nothing is closed meanwhile. */
static int settle(struct ctl *c, int64_t now)
{
	bool due[VS_MAX_SLOTS] = {};
	struct model *next = NULL;
	struct vs_err err = {};
	int ret;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		if (!cl->used || !cl->drain.on ||
		    (!cl->weight && !drain_comes_due(&cl->drain, now)))
			continue;
		if (!copy_once(c, &next))
			return -ENOMEM;
		if (!cl->weight) {
			next->cl[s].drain.due = due[s] = true;
			continue;
		}
		drain_cancel(&next->cl[s].drain);
		model_event(next, now, next->svc[cl->svc].name, "drain_cancelled",
			    "%s takes new sessions again (%u.%02u%%): its drain is called off",
			    cl->version, cl->weight / 100, cl->weight % 100);
	}
	if (!next)
		return 0;
	ret = txn_commit(c, next, &err);
	free(next);
	if (ret) {
		pr_warn("drain deadlines not applied, retrying: %s\n", err.msg);
		return ret;
	}
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		c->drain.deadline_new[s] |= due[s];
	return 0;
}

/* Whether this vsteerd can close slot's idle connections; said once per
 * version when it cannot. Without the request meters an idle connection
 * cannot be told from one whose request is being served. */
static bool can_close(struct ctl *c, uint32_t s)
{
	const struct cluster *cl = &c->m->cl[s];
	bool how = dp_drain_how(c->dp) != DP_DRAIN_NONE, watching = dp_metering(c->dp);

	if (how && watching)
		return true;
	if (!c->drain.said_cannot[s])
		txn_event(c, c->m->svc[cl->svc].name, "drain_unsupported",
			  "%s's idle connections stay open at its drain deadline: %s", cl->version,
			  !watching ? "requests are not measured here (--no-watch)" :
				      "this kernel cannot close them (GET /v1/features)");
	c->drain.said_cannot[s] = true;
	return false;
}

/* One iterator run over namespace nsfd's connections (-1: vsteerd's) of
 * the slots set, into the tally; the run's error, or the last close's. */
static int run(struct ctl *c, struct tally *t, int nsfd, const __u8 *slots)
{
	struct vs_drain_rec *r = NULL;
	size_t n = 0;
	int ret;

	ret = dp_drain_run_in(c->dp, nsfd, slots, &r, &n);
	for (size_t i = 0; i < n; i++) {
		struct tally *v = &t[r[i].slot % VS_MAX_SLOTS];

		if (r[i].verdict != VS_IDLE)
			v->busy++;
		else if (!r[i].err)
			v->closed++;
		/* Gone on its own meanwhile, or its addresses are another's
		 * now (the cookie differs): nothing to close. */
		else if (r[i].err != -ENOENT && r[i].err != -ESTALE)
			ret = r[i].err;
	}
	free(r);
	return ret;
}

/* A version steered by address has its connections in its servers'
 * namespaces: a run in each. */
static int run_by_addr(struct ctl *c, struct tally *t, uint32_t s)
{
	const struct cluster *cl = &c->m->cl[s];
	__u8 slots[VS_MAX_SLOTS] = {};
	struct vs_err err;
	int fd, ret = 0;

	slots[s] = 1;
	for (uint32_t v = 0; v < cl->nsrv; v++) {
		err = (struct vs_err){};
		fd = nsfd_open(&cl->netns[v], &c->sock.ctr_pid[s][v], &err);
		if (fd < 0)
			continue; /* gone: so are its connections */
		ret = run(c, t, fd, slots) ?: ret;
		close(fd);
	}
	return ret;
}

/* One pass for every version due that still holds connections. */
static void pass(struct ctl *c, struct tally *t)
{
	__u8 slots[VS_MAX_SLOTS] = {};
	bool any = false;
	int ret = 0;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];
		__s64 open = 0;

		if (!cl->used || !cl->drain.due || cl->weight)
			continue;
		if (dp_open_conns(c->dp, s, &open) == 0 && open <= 0) {
			t[s].drained = !cl->drain.drained;
			continue;
		}
		if (!can_close(c, s))
			continue;
		t[s].passed = true;
		if (model_by_addr(cl))
			ret = run_by_addr(c, t, s) ?: ret;
		else
			slots[s] = any = true;
	}
	if (any)
		ret = run(c, t, -1, slots) ?: ret;
	if (ret && ret != c->drain.last_err)
		pr_warn("drain: cannot close idle connections: %s; retrying every tick\n",
			strerror(-ret));
	c->drain.last_err = ret;
}

/* The pass's counts and sentences, in one transaction. If the state file
 * cannot be written they are kept all the same, and written with the
 * next change that commits, as txn_event() does: the connections are
 * closed whether or not the file says so, and none of this touches the
 * maps. */
static void report(struct ctl *c, int64_t now, const struct tally *t)
{
	struct drainer_state *ds = &c->drain;
	struct model *next = NULL, *m;
	struct vs_err err = {};

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];
		const char *svc = c->m->svc[cl->svc].name;
		bool first = ds->deadline_new[s] && t[s].passed;
		bool more = !first && t[s].closed && now - ds->said_at[s] >= DRAINER_SAY_EVERY;
		struct drain *d;

		if (!t[s].closed && !t[s].drained && !first)
			continue;
		if (!(m = copy_once(c, &next)))
			return;
		d = &m->cl[s].drain;
		d->closed += t[s].closed;
		ds->unsaid[s] += t[s].closed;
		if (first)
			model_event(
				m, now, svc, "drain_closed",
				"%s: drain deadline passed (%u s after the rollout completed): closed %u idle connections, %u busy left open until idle",
				cl->version, d->secs, t[s].closed, t[s].busy);
		else if (more)
			model_event(
				m, now, svc, "drain_closed",
				"%s: closed %u more idle connections (%llu in all), %u busy left open",
				cl->version, ds->unsaid[s], (unsigned long long)d->closed,
				t[s].busy);
		if (t[s].drained) {
			d->drained = true;
			model_event(
				m, now, svc, "drained",
				"%s holds no connections: drained, it can be stopped (the drain closed %llu)",
				cl->version, (unsigned long long)d->closed);
		}
		if (first || more || t[s].drained) {
			ds->deadline_new[s] = false;
			ds->said_at[s] = now;
			ds->unsaid[s] = 0;
		}
	}
	if (next && txn_commit(c, next, &err)) {
		pr_warn("drain counts not in the state file yet: %s\n", err.msg);
		memcpy(c->m, next, sizeof(*next));
	}
	free(next);
}

void drainer_tick(struct ctl *c, int64_t now)
{
	struct tally *t;

	if (settle(c, now))
		return;
	t = calloc(VS_MAX_SLOTS, sizeof(*t));
	if (!t)
		return;
	pass(c, t);
	report(c, now, t);
	free(t);
}

void drainer_forget(struct drainer_state *ds, uint32_t slot)
{
	ds->deadline_new[slot] = ds->said_cannot[slot] = false;
	ds->said_at[slot] = 0;
	ds->unsaid[slot] = 0;
}
