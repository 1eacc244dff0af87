// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "core/rollout.h"
#include "core/rollout_text.h"
#include "store/etcd_client.h"
#include "store/etcd_guard.h"
#include "ctl/ctl.h"
#include "ctl/fleet_drive.h"
#include "ctl/fleet_sync.h"
#include "ctl/txn.h"

#define DRIVE_KEY_MAX (FLEET_PREFIX_MAX + 16)

/* A service's rollout as the driver judged it, copied under the
 * controller's lock, and the hosts' judgement of it. */
struct drive_ro {
	char name[NAME_MAX_LEN];
	enum ro_phase phase;
	uint32_t step;
	int64_t started;
	int64_t since;
	int64_t due; /* when its hold ends; -1: it waits for a promote */
	uint32_t max_inconclusive, nsteps;
	struct fleet_judged judged;
};

static int drive_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct drive_ro *d = arg;
	const struct fleet_judged *a = &d->judged;
	struct rollout *ro = &next->svc[svc].ro;
	char why[sizeof(ro->why)];

	/* Changed since it was judged (the watch applied another state). */
	if (!ro->fleet || ro->started != d->started || ro->step != d->step || ro->phase != d->phase)
		return -EALREADY;
	if (a->failed[0]) {
		snprintf(why, sizeof(why), "on host %s: %s", a->failed, a->why);
		return rollout_fail(next, svc, why, clock_wall(), err);
	}
	ro->an.last_pass = a->last_pass;
	ro->an.inconclusive = a->inconclusive;
	return rollout_advance(next, svc, clock_wall()) ? 0 : -EALREADY;
}

/* A service whose fleet state this host could not apply (a rollout to a
 * version it lacks): it would drive what it does not run. */
static bool has_problem(struct fleet_state *f)
{
	bool any = false;

	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; i < VS_MAX_SERVICES && !any; i++)
		any = f->view.desired[i].problem[0];
	pthread_mutex_unlock(&f->lock);
	return any;
}

/* The key given up, only if it is still the one this host created. */
static void give_up(struct fleet_state *f, const char *key)
{
	struct vs_err err;
	bool done;
	int64_t rev;

	if (etcd_client_txn(f->client,
			    etcd_txn_req(json_pack("[o]", etcd_cmp(key, ETCD_CREATE, f->driver_rev)),
					 json_pack("[{s:o}]", "request_delete_range",
						   etcd_key_req(key, false)),
					 json_array()),
			    &done, &rev, &err))
		pr_warn("fleet: could not give up driving: %s\n", err.msg);
}

/* This host drives while PREFIX/driver names it under its lease: the key
 * is created only if absent, and goes with the lease of a host that
 * stopped or lost etcd; then another takes it. A host that could not
 * apply a service's state neither takes it nor keeps it. */
static void elect(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;
	char key[DRIVE_KEY_MAX], at[CLOCK_RFC3339_LEN], driver[NAME_MAX_LEN] = "";
	bool was = f->driving, won = false, problem = has_problem(f);
	struct etcd_range r;
	struct vs_err err;
	json_t *doc;
	int64_t rev;

	snprintf(key, sizeof(key), "%s/driver", f->cfg.prefix);
	if (etcd_client_range(f->client, key, false, &r, &err))
		return;
	if (r.n) {
		doc = json_loadb(r.kvs[0].value, r.kvs[0].value_len, 0, NULL);
		snprintf(driver, sizeof(driver), "%s",
			 json_string_value(json_object_get(doc, "host")) ?: "?");
		json_decref(doc);
		f->driving = !strcmp(driver, f->cfg.host_id) && r.kvs[0].lease == f->lease;
		if (f->driving)
			f->driver_rev = r.kvs[0].create_rev;
		if (f->driving && problem) {
			give_up(f, key);
			f->driving = false;
			driver[0] = '\0';
		}
	} else if (!problem && f->lease) {
		clock_rfc3339(clock_wall(), 0, at);
		if (!etcd_guard_create(f->client, key,
				       json_pack("{ssss}", "host", f->cfg.host_id, "since", at),
				       f->lease, &won, &rev, &err) &&
		    won) {
			snprintf(driver, sizeof(driver), "%s", f->cfg.host_id);
			f->driver_rev = rev; /* created by this transaction */
		}
		f->driving = won;
	} else {
		f->driving = false;
	}
	etcd_range_free(&r);
	pthread_mutex_lock(&f->lock);
	snprintf(f->view.driver, sizeof(f->view.driver), "%s", driver);
	f->view.driving = f->driving;
	pthread_mutex_unlock(&f->lock);
	if (f->driving && !was)
		fleet_event(c, "fleet_driver",
			    "this host drives the fleet's rollouts (%s/driver in etcd names it)",
			    f->cfg.prefix);
}

/* A step whose hold is over and that not enough hosts run: said in this
 * host's status (every host's GET /v1/fleet shows it), and once as an
 * event, when it begins. */
static void wait_for_hosts(struct ctl *c, json_t *waiting, const struct drive_ro *d)
{
	struct fleet_state *f = &c->fleet;
	const struct fleet_judged *a = &d->judged;
	char why[EVENT_MESSAGE_LEN - 64];
	bool said;

	snprintf(why, sizeof(why),
		 "step %u of %u waits for hosts: %u of %u run it, %u needed; not: %s", d->step + 1,
		 d->nsteps, a->applied, a->members, a->required, a->lagging[0] ? a->lagging : "-");
	json_object_set_new(waiting, d->name, json_string(why));
	pthread_mutex_lock(&f->lock);
	said = json_is_string(json_object_get(f->waiting, d->name));
	pthread_mutex_unlock(&f->lock);
	if (!said)
		fleet_event_svc(c, d->name, "fleet_rollout_waiting", "%s", why);
}

/* Each fleet rollout in progress: rolled back if a host failed it,
 * advanced as its schedule says once enough hosts run its step. */
static void drive(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;
	struct drive_ro ros[VS_MAX_SERVICES];
	json_t *hosts, *members, *waiting = json_object();
	struct vs_err err;
	uint32_t n = 0;
	int ret;

	pthread_mutex_lock(&c->lock);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct rollout *ro = &c->m->svc[s].ro;

		if (!c->m->svc[s].used || !ro->fleet || !rollout_active(ro))
			continue;
		snprintf(ros[n].name, sizeof(ros[n].name), "%s", c->m->svc[s].name);
		ros[n].phase = ro->phase;
		ros[n].step = ro->step;
		ros[n].started = ro->started;
		ros[n].since = rollout_gate_since(ro);
		ros[n].due = rollout_next_due(ro);
		ros[n].nsteps = ro->nsteps;
		ros[n++].max_inconclusive = ro->an.max_inconclusive;
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&f->lock);
	hosts = json_incref(f->view.hosts);
	members = json_incref(f->view.members);
	pthread_mutex_unlock(&f->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct drive_ro *d = &ros[i];
		const struct fleet_judged *a = &d->judged;

		fleet_rollout_judge(hosts, members, f->cfg.min_hosts, f->cfg.min_hosts_pct,
				    &(struct fleet_ro_ref){ d->name, d->started, d->step + 1,
							    ro_phase_name(d->phase), d->since,
							    d->max_inconclusive },
				    &d->judged);
		if (!a->failed[0] && !a->ready && d->phase == RO_PROGRESSING && d->due >= 0 &&
		    clock_wall() >= d->due)
			wait_for_hosts(c, waiting, d);
		if (!a->failed[0] && (!a->ready || d->phase != RO_PROGRESSING))
			continue;
		err = (struct vs_err){};
		ret = fleet_sync_change(c, d->name, drive_fn, d, f->driver_rev, &err);
		if (ret && ret != -EALREADY)
			pr_warn("fleet: driving service %s's rollout, retrying: %s\n", d->name,
				err.msg);
	}
	json_decref(hosts);
	json_decref(members);
	pthread_mutex_lock(&f->lock);
	json_decref(f->waiting);
	f->waiting = waiting;
	pthread_mutex_unlock(&f->lock);
}

/* Not driving: nothing of this host's waits. */
static void forget_waiting(struct fleet_state *f)
{
	pthread_mutex_lock(&f->lock);
	json_decref(f->waiting);
	f->waiting = NULL;
	pthread_mutex_unlock(&f->lock);
}

void fleet_drive_round(struct ctl *c)
{
	elect(c);
	if (c->fleet.driving)
		drive(c);
	else
		forget_waiting(&c->fleet);
}

void fleet_drive_lost(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;

	f->driving = false;
	pthread_mutex_lock(&f->lock);
	f->view.driving = false;
	pthread_mutex_unlock(&f->lock);
	forget_waiting(f);
}
