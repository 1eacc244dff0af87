// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "codec/state.h"
#include "kernel/dp_connect.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_nat.h"
#include "kernel/dp_tc.h"
#include "ctl/ctl.h"
#include "ctl/txn.h"

static void ports_of(const struct model *m, struct vs_ports *p)
{
	memset(p, 0, sizeof(*p));
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (m->svc[s].used)
			p->w[m->svc[s].addr.port / 64] |= 1ULL << (m->svc[s].addr.port % 64);
}

/* What service s's maps should hold, computed without reading them. */
static void want_of(const struct ctl *c, const struct model *m, uint32_t s, struct txn_want *w)
{
	memset(w, 0, sizeof(*w));
	model_svc_opts(m, s, &w->o);
	w->n = model_order(m, s, w->order);
	for (uint32_t i = 0; i < w->n; i++) {
		if (!model_by_addr(&m->cl[w->order[i]]))
			continue;
		w->slot[i].svc = s;
		w->slot[i].flags = VS_SLOT_ADDR | (m->svc[s].http ? VS_SLOT_HTTP : 0);
	}
	model_svc_key(m, s, &w->k);
	model_svc_value(m, s, c->sock.nsock, &w->v);
}

/* Its slots, which the tracker reads for connections its versions steered
 * by address accept, and the connect hook, attached with the first such
 * version. */
static int sync_slots(struct ctl *c, const struct txn_want *w)
{
	struct vs_err err = {};
	struct vs_slot cur;
	int ret;

	for (uint32_t i = 0; i < w->n; i++) {
		if (w->slot[i].flags & VS_SLOT_ADDR) {
			ret = dp_connect_attach(c->dp, &err) ?: dp_nat_enable(c->dp, &err);
			if (ret) {
				pr_warn("%s\n", err.msg);
				return ret;
			}
		}
		if (dp_get_slot(c->dp, w->order[i], &cur) == 0 &&
		    !memcmp(&w->slot[i], &cur, sizeof(cur)))
			continue;
		ret = dp_set_slot(c->dp, w->order[i], &w->slot[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Write service s's maps unless they hold w already. Besides saving
 * syscalls this matters for correctness: svcs is a preallocated hash, and
 * the kernel recycles a replaced element for the next update on the same
 * CPU without waiting for readers, so back-to-back updates of several
 * services could let a lookup in flight read another service's value.
 * Writing only what changed keeps updates far apart. */
static int sync_want(struct ctl *c, uint32_t s, const struct txn_want *w)
{
	struct vs_svc_opts cur_o;
	struct vs_svc cur;
	int ret;

	/* The options first: the value that names the service comes after
	 * them, so its first lookups key clients as configured. */
	if (dp_get_opts(c->dp, s, &cur_o) || memcmp(&w->o, &cur_o, sizeof(cur_o))) {
		ret = dp_set_opts(c->dp, s, &w->o);
		if (ret)
			return ret;
	}
	ret = sync_slots(c, w);
	if (ret)
		return ret;
	if (dp_get_svc(c->dp, &w->k, &cur) == 0 && !memcmp(&w->v, &cur, sizeof(cur)))
		return 0;
	return dp_set_svc(c->dp, &w->k, &w->v);
}

static int sync_service(struct ctl *c, const struct model *m, uint32_t s)
{
	struct txn_want w;

	want_of(c, m, s, &w);
	return sync_want(c, s, &w);
}

/* The ports of the servers steered by address, whose replies packet
 * steering looks at (bports). */
static int sync_bports(struct ctl *c, const struct model *want)
{
	struct vs_ports ports = {};

	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++) {
		const struct cluster *cl = &want->cl[sl];

		if (!cl->used || !model_by_addr(cl))
			continue;
		for (uint32_t v = 0; v < cl->nsrv; v++)
			ports.w[cl->srv[v].port / 64] |= 1ULL << (cl->srv[v].port % 64);
	}
	return dp_set_bports(c->dp, &ports);
}

/* The TC meter on our interfaces while m has an http service; servers'
 * namespaces get it at the next scan, which turning it on asks for. */
static void want_meter(struct ctl *c, const struct model *m)
{
	if (dp_tc_want(c->dp, model_has_http(m)))
		c->sock.rescan = true;
}

int txn_write_maps(struct ctl *c, const struct model *want, const struct model *other)
{
	struct vs_svc_key k;
	struct vs_ports ports;
	int ret;

	/* The maps may end up as neither model says (a write that fails
	 * half-way): the next tick reads them all back. */
	memset(c->sync.ok, 0, sizeof(c->sync.ok));
	ret = sync_bports(c, want);
	if (ret)
		return ret;
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!want->svc[s].used)
			continue;
		ret = sync_service(c, want, s);
		if (ret)
			return ret;
	}
	ports_of(want, &ports);
	ret = dp_set_ports(c->dp, &ports);
	for (uint32_t s = 0; !ret && s < VS_MAX_SERVICES; s++) {
		if (!other->svc[s].used || want->svc[s].used)
			continue;
		model_svc_key(other, s, &k);
		ret = dp_del_svc(c->dp, &k);
	}
	/* Before the call returns: the first response of a new http service
	 * is read too. */
	want_meter(c, want);
	return ret;
}

/* Undo txn_write_maps(c, next, c->m). If even that fails the maps are
 * ahead of the model; every tick re-syncs them (txn_sync_services), so it
 * heals. */
static void revert_maps(struct ctl *c, const struct model *next)
{
	int ret = txn_write_maps(c, c->m, next);

	if (ret)
		pr_warn("undoing a failed change: %s; the next tick retries\n", strerror(-ret));
}

/* The new state is durable (a temp file, fsynced) before the kernel
 * steers by it, and becomes the state file only once the maps say the
 * same: a full disk or a failed map write leaves both as they were, and
 * a vsteerd killed in between comes back with the old state, which it
 * writes over the maps. */
int txn_commit(struct ctl *c, struct model *next, struct vs_err *err)
{
	struct file_staged sf;
	int ret;

	if (c->state_path && (ret = state_stage(next, c->state_path, &sf, err)))
		return ret;
	ret = txn_write_maps(c, next, c->m);
	if (ret) {
		revert_maps(c, next);
		ret = vs_errf(err, ret, 500, "bpf", "map update failed: %s; nothing was changed",
			      strerror(-ret));
		goto abort_state;
	}
	if (c->state_path && (ret = state_commit(&sf, err))) {
		revert_maps(c, next);
		return ret;
	}
	memcpy(c->m, next, sizeof(*next));
	c->sock.learned = false; /* owners recorded by a scan are in the file now */
	publish_events(c);
	return 0;

abort_state:
	if (c->state_path)
		state_abort(&sf);
	return ret;
}

int txn_run(struct ctl *c, const char *svc, txn_fn fn, txn_after_fn after, const void *arg,
	    struct vs_err *err)
{
	struct model *next = malloc(sizeof(*next));
	int s = 0, ret;

	if (!next)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	if (svc && (s = model_find_service(next, svc)) < 0)
		ret = vs_errf(err, s, 404, "unknown_service", "no service named '%.64s'", svc);
	else
		ret = fn(next, s, arg, err);
	if (!ret)
		ret = txn_commit(c, next, err);
	if (!ret && after)
		after(c, arg);
	pthread_mutex_unlock(&c->lock);
	free(next);
	return ret;
}

int txn_event(struct ctl *c, const char *svc, const char *kind, const char *fmt, ...)
{
	struct model *next = malloc(sizeof(*next));
	char message[EVENT_MESSAGE_LEN];
	struct vs_err err = {};
	va_list ap;
	int ret;

	if (!next)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	memcpy(next, c->m, sizeof(*next));
	model_event(next, clock_wall(), svc, kind, "%s", message);
	ret = txn_commit(c, next, &err);
	if (ret) {
		/* Shown all the same, and written with the next change that
		 * commits: an event must not vanish with a full disk. */
		model_event(c->m, clock_wall(), svc, kind, "%s", message);
		publish_events(c);
		pr_warn("event %llu (%s) is not in the state file yet: %s\n",
			(unsigned long long)c->m->events.last_id, kind, err.msg);
	}
	free(next);
	return ret;
}

void txn_sync_services(struct ctl *c)
{
	struct txn_sync_state *st = &c->sync;
	int64_t now = clock_mono_s();
	bool verify = now - st->verified >= TXN_VERIFY_EVERY;
	struct txn_want w;
	int ret;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!c->m->svc[s].used) {
			st->ok[s] = false;
			continue;
		}
		want_of(c, c->m, s, &w);
		if (!verify && st->ok[s] && !memcmp(&w, &st->last[s], sizeof(w)))
			continue;
		ret = sync_want(c, s, &w);
		st->ok[s] = !ret;
		st->last[s] = w;
		if (ret)
			pr_warn("service %s: map update failed: %s; retrying\n", c->m->svc[s].name,
				strerror(-ret));
	}
	if (verify)
		st->verified = now;
	/* After a map write that failed half-way: as the model says. */
	want_meter(c, c->m);
}
