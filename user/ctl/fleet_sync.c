// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/rand.h"
#include "core/rollout.h"
#include "core/rollout_fleet.h"
#include "store/etcd_client.h"
#include "store/etcd_guard.h"
#include "store/etcd_watch.h"
#include "ctl/ctl.h"
#include "ctl/fleet.h"
#include "ctl/fleet_sync.h"
#include "ctl/fleet_versions.h"
#include "ctl/ops.h"
#include "ctl/txn.h"

#define SYNC_RETRY_MS 500 /* after a read or watch that failed */
#define SYNC_KEY_MAX  (FLEET_PREFIX_MAX + NAME_MAX_LEN + 16)

/* Its place in the view, made if asked and there is room; f->lock held. */
static struct fleet_desired *desired_of(struct fleet_state *f, const char *name, bool make)
{
	struct fleet_desired *free_one = NULL;

	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++) {
		struct fleet_desired *d = &f->view.desired[i];

		if (!strcmp(d->name, name))
			return d;
		if (!d->name[0] && !free_one)
			free_one = d;
	}
	if (make && free_one)
		snprintf(free_one->name, sizeof(free_one->name), "%s", name);
	return make ? free_one : NULL;
}

/* The fleet's rollout and the weights that go with it, in place of this
 * host's (a local rollout too: the fleet's desired state wins). */
static int adopt_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct fleet_desired_doc *doc = arg;
	struct rollout *before = malloc(sizeof(*before));
	int ret;

	if (!before)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	*before = next->svc[svc].ro;
	ret = fleet_rollout_load(doc->rollout, next, svc, err);
	if (ret == 1) /* an ended rollout: this host keeps its own */
		next->svc[svc].ro = *before;
	if (ret >= 0)
		ret = model_set_weights(next, svc, doc->w.names, doc->w.bp, doc->w.n, err);
	if (!ret) {
		if (doc->has_salt)
			next->svc[svc].salt = doc->salt;
		if (doc->has_session_timeout)
			next->svc[svc].session_timeout = doc->session_timeout;
		rollout_fleet_adopt(next, svc, before, doc->by, clock_wall());
	}
	free(before);
	return ret;
}

/* Service name's desired state at mod_rev, unless this host applied it
 * (or a newer one) already; one it could not apply is tried again each
 * time (fleet_sync_retry()). apply_lock held. 0, or the error that kept
 * it from being applied, with err filled. */
static int apply_locked(struct ctl *c, const char *name, const char *text, size_t len,
			int64_t mod_rev, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	char problem[sizeof(f->view.desired[0].problem)] = "";
	struct fleet_desired_doc doc;
	struct fleet_desired *d;
	bool done, said;
	int ret;

	pthread_mutex_lock(&f->lock);
	d = desired_of(f, name, false);
	done = d && d->mod_rev >= mod_rev && !d->problem[0];
	pthread_mutex_unlock(&f->lock);
	if (done)
		return 0;
	ret = fleet_desired_parse(text, len, &doc, err);
	if (!ret && doc.rollout)
		ret = txn_run(c, name, adopt_fn, NULL, &doc, err);
	else if (!ret)
		ret = ctl_set_weights(c, name, doc.w.names, doc.w.bp, doc.w.n,
				      &(struct ctl_fleet_weights){ doc.has_salt, doc.salt, doc.by },
				      err);
	if (ret)
		snprintf(problem, sizeof(problem),
			 "service %s: the fleet's %s (revision %lld%s%s) not applied here: %s",
			 name, doc.rollout ? "rollout is" : "weights are", (long long)mod_rev,
			 doc.by[0] ? ", by " : "", doc.by, err->msg);
	pthread_mutex_lock(&f->lock);
	d = desired_of(f, name, true);
	said = d && !strcmp(d->problem, problem);
	if (d) {
		d->mod_rev = mod_rev;
		snprintf(d->by, sizeof(d->by), "%s", doc.by);
		snprintf(d->problem, sizeof(d->problem), "%s", problem);
		d->has_salt = doc.has_salt;
		d->salt = doc.salt;
	}
	if (mod_rev > f->view.desired_rev)
		f->view.desired_rev = mod_rev;
	pthread_mutex_unlock(&f->lock);
	if (problem[0] && !said) /* once, not at every retry */
		pr_warn("fleet: %s\n", problem);
	fleet_desired_free(&doc);
	return ret;
}

static void apply(struct ctl *c, const char *name, const char *text, size_t len, int64_t mod_rev)
{
	struct vs_err err = {};

	pthread_mutex_lock(&c->fleet.apply_lock);
	apply_locked(c, name, text, len, mod_rev, &err);
	pthread_mutex_unlock(&c->fleet.apply_lock);
}

/* The key went: nothing to apply, the service keeps its weights. */
static void forget(struct fleet_state *f, const char *name)
{
	struct fleet_desired *d;

	pthread_mutex_lock(&f->lock);
	d = desired_of(f, name, false);
	if (d)
		memset(d, 0, sizeof(*d));
	pthread_mutex_unlock(&f->lock);
}

static void applied_up_to(struct fleet_state *f, int64_t rev)
{
	pthread_mutex_lock(&f->lock);
	if (rev > f->view.applied_rev)
		f->view.applied_rev = rev;
	pthread_mutex_unlock(&f->lock);
}

static int on_msg(const struct etcd_watch_msg *m, void *arg)
{
	struct ctl *c = arg;
	struct fleet_state *f = &c->fleet;

	for (size_t i = 0; i < m->nev; i++) {
		const struct etcd_kv *kv = &m->ev[i].kv;
		const char *name = fleet_key_id(&f->cfg, "services", kv->key);

		if (fleet_versions_apply(c, kv->key, m->ev[i].type == ETCD_PUT, kv->value,
					 kv->value_len, kv->mod_rev))
			applied_up_to(f, kv->mod_rev);
		if (!name)
			continue;
		if (m->ev[i].type == ETCD_PUT)
			apply(c, name, kv->value, kv->value_len, kv->mod_rev);
		else
			forget(f, name);
		applied_up_to(f, kv->mod_rev);
	}
	/* A progress notification: every change up to its revision came.
	 * Not the first message (changes from the start revision may follow)
	 * nor a cancel. */
	if (!m->nev && !m->created && !m->canceled)
		applied_up_to(f, m->rev);
	return 0;
}

/* Everything under services/ as it is now: applied, and the services that
 * went forgotten. The revision it was read at, or -errno. */
static int64_t read_all(struct ctl *c, const char *key, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	struct fleet_desired *d;
	struct etcd_range r;
	int64_t rev;
	bool seen;
	int ret;

	ret = etcd_client_range(f->client, key, true, &r, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < r.n; i++) {
		const char *name = fleet_key_id(&f->cfg, "services", r.kvs[i].key);

		if (name)
			apply(c, name, r.kvs[i].value, r.kvs[i].value_len, r.kvs[i].mod_rev);
	}
	pthread_mutex_lock(&f->lock);
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		d = &f->view.desired[s];
		seen = false;
		for (size_t i = 0; d->name[0] && i < r.n; i++) {
			const char *name = fleet_key_id(&f->cfg, "services", r.kvs[i].key);

			seen |= name && !strcmp(name, d->name);
		}
		if (d->name[0] && !seen)
			memset(d, 0, sizeof(*d));
	}
	pthread_mutex_unlock(&f->lock);
	fleet_versions_read(c, &r);
	rev = r.rev;
	etcd_range_free(&r);
	applied_up_to(f, rev);
	return rev;
}

static void pause_ms(struct fleet_state *f, int ms)
{
	for (int t = 0; t < ms && !atomic_load(&f->stopping); t += 100)
		usleep(100 * 1000);
}

/* Read, then watch from the revision after the read; read again after a
 * watch that ended (a cancel, a member lost): applying is idempotent. */
static void *sync_main(void *arg)
{
	struct ctl *c = arg;
	struct fleet_state *f = &c->fleet;
	char key[SYNC_KEY_MAX];
	struct vs_err err;
	bool started;
	int64_t rev;

	fleet_key(&f->cfg, "services", NULL, key, sizeof(key));
	while (!atomic_load(&f->stopping)) {
		pthread_mutex_lock(&c->lock);
		started = !c->pending;
		pthread_mutex_unlock(&c->lock);
		if (!started) {
			pause_ms(f, 100);
			continue;
		}
		err = (struct vs_err){};
		rev = read_all(c, key, &err);
		if (rev >= 0)
			etcd_watch(f->client, key, true, rev + 1, on_msg, c, &f->stopping, &err);
		if (!atomic_load(&f->stopping)) {
			pr_debug("fleet: services: %s\n", err.msg);
			pause_ms(f, SYNC_RETRY_MS);
		}
	}
	return NULL;
}

/* Each service whose desired state this host could not apply. */
static void retry_services(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;
	char names[VS_MAX_SERVICES][NAME_MAX_LEN], key[SYNC_KEY_MAX];
	struct etcd_range r;
	struct vs_err err;
	uint32_t n = 0;

	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		if (f->view.desired[i].problem[0])
			memcpy(names[n++], f->view.desired[i].name, NAME_MAX_LEN);
	pthread_mutex_unlock(&f->lock);
	for (uint32_t i = 0; i < n; i++) {
		if (fleet_key(&f->cfg, "services", names[i], key, sizeof(key)) ||
		    etcd_client_range(f->client, key, false, &r, &err))
			continue;
		if (r.n)
			apply(c, names[i], r.kvs[0].value, r.kvs[0].value_len, r.kvs[0].mod_rev);
		etcd_range_free(&r);
	}
}

void fleet_sync_retry(struct ctl *c)
{
	fleet_versions_retry(c);
	retry_services(c);
}

int fleet_sync_start(struct ctl *c)
{
	int ret = -pthread_create(&c->fleet.sync_thread, NULL, sync_main, c);

	c->fleet.sync_running = !ret;
	return ret;
}

void fleet_sync_stop(struct ctl *c)
{
	if (!c->fleet.sync_running)
		return;
	pthread_join(c->fleet.sync_thread, NULL);
	c->fleet.sync_running = false;
}

/* doc (the desired state but its salt, by and at, added here; taken)
 * written to PREFIX/services/svc if the key is still at revision base
 * (-1: the one this host applied last), then applied here. apply_lock
 * held from the caller's reading of what the change was made on. */
static int write_locked(struct ctl *c, const char *svc, json_t *doc, int64_t base, int64_t driver,
			struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	char key[SYNC_KEY_MAX], at[CLOCK_RFC3339_LEN], *text = NULL, msg[sizeof(err->msg)];
	char code[sizeof(err->code)], dkey[FLEET_PREFIX_MAX + 16];
	json_t *fence = NULL;
	struct fleet_desired *d;
	bool won, has_salt;
	int64_t rev, mine;
	uint32_t salt;
	int ret = 0;

	/* A change made on a state this host could not apply would undo
	 * what the fleet has (a rollout it lacks a version of): refused,
	 * unless the caller names the revision it means to replace. */
	if (base < 0 && (ret = fleet_sync_check_applied(c, svc, err))) {
		json_decref(doc);
		return ret;
	}
	pthread_mutex_lock(&f->lock);
	d = desired_of(f, svc, false);
	mine = d ? d->mod_rev : 0;
	has_salt = d && d->has_salt;
	salt = has_salt ? d->salt : 0;
	pthread_mutex_unlock(&f->lock);
	if (base < 0)
		base = mine;
	/* The fleet's salt, or a new one: the first write of a service
	 * gives every host the same. */
	if (!has_salt && (ret = rand_bytes(&salt, sizeof(salt))))
		ret = vs_errf(err, ret, 500, "internal", "no random bytes for a salt");
	clock_rfc3339(clock_wall(), 0, at);
	if (!ret && doc &&
	    (json_object_set_new(doc, "salt", json_integer(salt)) ||
	     json_object_set_new(doc, "by", json_string(f->cfg.host_id)) ||
	     json_object_set_new(doc, "at", json_string(at))))
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	text = !ret && doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!ret && (!text || fleet_key(&f->cfg, "services", svc, key, sizeof(key))))
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	if (!ret && driver && snprintf(dkey, sizeof(dkey), "%s/driver", f->cfg.prefix) > 0)
		fence = json_pack("[o]", etcd_cmp(dkey, ETCD_CREATE, driver));
	if (!ret)
		ret = etcd_guard_put(f->client, key, text, base, fence, &won, &rev, err);
	if (!ret && !won)
		ret = vs_errf(
			err, -EBUSY, 409, "fleet_conflict",
			"service %s changed in the fleet since revision %lld (this host has applied revision %lld): read it again (GET /v1/fleet) and retry",
			svc, (long long)base, (long long)mine);
	/* Written: every host applies it, and so does this one, or says why
	 * not (it changed here since the check: a rollout started). */
	if (!ret && apply_locked(c, svc, text, strlen(text), rev, err)) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		snprintf(code, sizeof(code), "%s", err->code);
		ret = vs_errf(err, FLEET_SYNC_WRITTEN, err->status, code,
			      "written to the fleet (revision %lld), but not applied here: %s",
			      (long long)rev, msg);
	}
	free(text);
	return ret;
}

int fleet_sync_check_applied(struct ctl *c, const char *svc, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	char problem[sizeof(f->view.desired[0].problem)] = "";
	struct fleet_desired *d;

	pthread_mutex_lock(&f->lock);
	d = desired_of(f, svc, false);
	if (d)
		snprintf(problem, sizeof(problem), "%s", d->problem);
	pthread_mutex_unlock(&f->lock);
	if (problem[0])
		return vs_errf(
			err, -EBUSY, 409, "fleet_not_applied",
			"this host could not apply the fleet's state of service %s (%.200s): change it on a host that did, or set its weights with ?revision=N to replace it",
			svc, problem);
	return 0;
}

int fleet_sync_set_weights(struct ctl *c, const char *svc, json_t *body,
			   const struct weights_req *w, int64_t base, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	int ret;

	ret = fleet_refuse_stale(f, err);
	if (!ret)
		ret = ctl_check_weights(c, svc, w->names, w->bp, w->n, err);
	if (ret)
		return ret;
	if (strlen(svc) >= NAME_MAX_LEN)
		return vs_errf(err, -ENAMETOOLONG, 400, "bad_name", "service name too long");
	/* Held from reading the revision and salt to the apply: the watch
	 * cannot apply another state in between. */
	pthread_mutex_lock(&f->apply_lock);
	ret = write_locked(c, svc, json_pack("{sO}", "weights", body), base, 0, err);
	pthread_mutex_unlock(&f->apply_lock);
	return ret;
}

/* Service svc's desired state from the model: its versions' weights (the
 * ones that take any: a version only some hosts have can have none), the
 * rollout and the session timeout. */
static json_t *desired_json(const struct model *m, uint32_t svc)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	json_t *w = json_object();

	for (uint32_t i = 0; i < n; i++)
		if (m->cl[order[i]].weight)
			json_object_set_new(w, m->cl[order[i]].version,
					    json_real(m->cl[order[i]].weight / 100.0));
	return json_pack("{sososI}", "weights", w, "rollout", fleet_rollout_json(m, svc),
			 "sessionTimeout", (json_int_t)m->svc[svc].session_timeout);
}

int fleet_sync_change(struct ctl *c, const char *svc, txn_fn fn, const void *arg, int64_t driver,
		      struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	struct model *next;
	json_t *doc = NULL;
	int ret, s;

	ret = fleet_refuse_stale(f, err);
	if (ret)
		return ret;
	next = malloc(sizeof(*next));
	if (!next)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_lock(&f->apply_lock);
	/* fn as txn_run() runs it: under the lock (a baseline reads the
	 * tick's measurements), on a copy that is not committed here. */
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	s = model_find_service(next, svc);
	if (s < 0)
		ret = vs_errf(err, s, 404, "unknown_service", "no service named '%.64s'", svc);
	else
		ret = fn(next, s, arg, err);
	pthread_mutex_unlock(&c->lock);
	if (!ret) {
		next->svc[s].ro.fleet = next->svc[s].ro.phase != RO_NONE;
		doc = desired_json(next, s);
		ret = doc ? 0 : vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	}
	free(next);
	if (!ret)
		ret = write_locked(c, svc, doc, -1, driver, err);
	pthread_mutex_unlock(&f->apply_lock);
	return ret;
}
