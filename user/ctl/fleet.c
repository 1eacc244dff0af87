// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "store/etcd_client.h"
#include "store/etcd_guard.h"
#include "ctl/ctl.h"
#include "ctl/fleet.h"
#include "ctl/fleet_drive.h"
#include "ctl/fleet_sync.h"
#include "ctl/snap.h"
#include "ctl/txn.h"

#define FLEET_SLEEP_MS 100  /* how soon a stop is seen */
#define FLEET_CALL_MS  2000 /* one call on one member */
#define FLEET_KEY_MAX  (FLEET_PREFIX_MAX + NAME_MAX_LEN + 16)

int fleet_open(struct fleet_state *f, const struct fleet_cfg *cfg, struct vs_err *err)
{
	char password[FLEET_PASSWORD_MAX + 1] = "";
	struct etcd_client_opts o = {
		.endpoints = cfg->endpoints,
		.user = cfg->user[0] ? cfg->user : NULL,
		.password = cfg->password_file[0] ? password : NULL,
		.cacert = cfg->cacert[0] ? cfg->cacert : NULL,
		.cert = cfg->cert[0] ? cfg->cert : NULL,
		.key = cfg->key[0] ? cfg->key : NULL,
		.timeout_ms = FLEET_CALL_MS,
	};
	int ret;

	ret = fleet_cfg_check(cfg, err);
	if (ret || !cfg->endpoints[0])
		return ret;
	f->cfg = *cfg;
	if (cfg->password_file[0])
		ret = file_read_secret(cfg->password_file, "etcd password file", "passwordFile",
				       "bad_fleet", password, FLEET_PASSWORD_MAX, err);
	if (!ret)
		ret = etcd_client_open(&o, &f->client, err);
	explicit_bzero(password, sizeof(password));
	if (ret)
		return ret;
	f->view = (struct fleet_view){ .on = true, .lease_s = cfg->lease_s };
	snprintf(f->view.host_id, sizeof(f->view.host_id), "%s", cfg->host_id);
	snprintf(f->view.prefix, sizeof(f->view.prefix), "%s", cfg->prefix);
	snprintf(f->view.endpoints, sizeof(f->view.endpoints), "%s", cfg->endpoints);
	return 0;
}

void fleet_adopt(struct fleet_state *dst, struct fleet_state *src)
{
	dst->cfg = src->cfg;
	dst->client = src->client;
	dst->view = src->view;
	src->client = NULL;
	src->view = (struct fleet_view){};
}

void fleet_close(struct fleet_state *f)
{
	etcd_client_close(f->client);
	f->client = NULL;
	json_decref(f->waiting);
	f->waiting = NULL;
	fleet_view_free(&f->view);
}

int fleet_refuse_stale(struct fleet_state *f, struct vs_err *err)
{
	bool stale;

	pthread_mutex_lock(&f->lock);
	stale = f->view.stale || !f->view.joined;
	pthread_mutex_unlock(&f->lock);
	if (stale)
		return vs_errf(
			err, -EAGAIN, 503, "fleet_stale",
			"this host has no link to etcd: a change to the fleet is refused until it is back (GET /v1/fleet); steering goes on as last applied");
	return 0;
}

void fleet_view_take(struct fleet_state *f, struct fleet_view *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->view;
	out->hosts = json_deep_copy(f->view.hosts);
	out->members = json_deep_copy(f->view.members);
	pthread_mutex_unlock(&f->lock);
}

void fleet_view_free(struct fleet_view *v)
{
	json_decref(v->hosts);
	json_decref(v->members);
	v->hosts = v->members = NULL;
}

/* etcd answered (ok) or not: the contact time, the last error, and
 * staleness, which begins a lease's time after the last answer (the
 * lease lapsed by then: the others see this host missing). */
static void contact(struct ctl *c, bool ok, const struct vs_err *e)
{
	struct fleet_state *f = &c->fleet;
	int64_t now = clock_mono_ms();
	bool was_stale, stale, first = false;

	if (ok)
		f->contact_mono = now;
	pthread_mutex_lock(&f->lock);
	was_stale = f->view.stale;
	if (ok) {
		first = !f->view.joined;
		f->view.joined = true;
		f->view.contact_at = clock_wall() * 1000;
		f->view.error[0] = '\0';
	} else {
		snprintf(f->view.error, sizeof(f->view.error), "%s", e->msg);
	}
	stale = now - f->contact_mono >= (int64_t)f->cfg.lease_s * 1000;
	f->view.stale = stale;
	if (stale && !was_stale)
		f->view.stale_since = clock_wall();
	pthread_mutex_unlock(&f->lock);
	if (stale)
		fleet_drive_lost(c);
	if (first)
		fleet_event(c, "fleet_joined", "joined the fleet in etcd %s under %s as host %s",
			    f->cfg.endpoints, f->cfg.prefix, f->cfg.host_id);
	else if (stale && !was_stale)
		fleet_event(
			c, "fleet_stale",
			"etcd has not answered for %u s (%s): this host is stale; steering goes on as last applied",
			f->cfg.lease_s, e->msg[0] ? e->msg : "no answer");
	else if (!stale && was_stale)
		fleet_event(c, "fleet_reconnected",
			    "etcd answers again: this host is back in the fleet");
}

/* A lease for this host's status. */
static int grant(struct fleet_state *f, struct vs_err *err)
{
	int ret = etcd_client_grant(f->client, f->cfg.lease_s, &f->lease, err);

	if (ret)
		return ret;
	f->lease_checked = clock_mono_ms();
	f->published = 0;
	f->registered = false; /* it may have been forgotten meanwhile */
	return 0;
}

/* This host a member (created only if absent: the key has no lease and
 * stays when the host dies, so that the others see it missing). */
static int register_member(struct fleet_state *f, struct vs_err *err)
{
	char key[FLEET_KEY_MAX], joined[CLOCK_RFC3339_LEN];
	bool created;
	int64_t rev;
	int ret;

	fleet_key(&f->cfg, "members", f->cfg.host_id, key, sizeof(key));
	clock_rfc3339(clock_wall(), 0, joined);
	ret = etcd_guard_create(f->client, key, json_pack("{ss}", "joined", joined), 0, &created,
				&rev, err);
	f->registered = !ret;
	return ret;
}

/* What the status says of the fleet's desired state here: the revision
 * applied up to, and each service's state that could not be applied. */
static void add_sync_state(struct fleet_state *f, json_t *doc)
{
	json_t *problems = json_object_get(doc, "problems");

	pthread_mutex_lock(&f->lock);
	json_object_set_new(doc, "appliedRevision", json_integer(f->view.applied_rev));
	if (json_object_size(f->waiting))
		json_object_set(doc, "waiting", f->waiting);
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		if (f->view.desired[i].problem[0] && json_array_size(problems) < FLEET_PROBLEMS_MAX)
			json_array_append_new(problems, json_string(f->view.desired[i].problem));
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (f->view.versions[i].problem[0] &&
		    json_array_size(problems) < FLEET_PROBLEMS_MAX)
			json_array_append_new(problems, json_string(f->view.versions[i].problem));
	pthread_mutex_unlock(&f->lock);
}

/* This host's status, under its lease. */
static int publish(struct ctl *c, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	char key[FLEET_KEY_MAX], *text;
	struct snap *s;
	json_t *doc;
	int64_t rev;
	int ret;

	ret = snap_take(c, SNAP_VERSIONS, NULL, NULL, &s, err);
	if (ret)
		return ret;
	doc = f->render(s, f->cfg.host_id);
	snap_free(s);
	add_sync_state(f, doc);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	fleet_key(&f->cfg, "hosts", f->cfg.host_id, key, sizeof(key));
	ret = etcd_client_put(f->client, key, text, strlen(text), f->lease, &rev, err);
	free(text);
	return ret;
}

static bool failing(json_t *doc)
{
	return json_array_size(json_object_get(doc, "problems")) > 0;
}

/* Events for what changed between two reads: a member whose status went
 * (missing), came back, appeared, or began to report problems. */
static void changes(struct ctl *c, json_t *old_hosts, json_t *old_members, json_t *hosts,
		    json_t *members)
{
	const char *id;
	json_t *m, *doc, *was;

	if (!old_hosts) { /* the first read: nothing to compare with */
		char ids[256] = "";
		size_t n = 0;

		json_object_foreach (members, id, m)
			if (n < sizeof(ids))
				n += snprintf(ids + n, sizeof(ids) - n, "%s%s%s", n ? ", " : "", id,
					      json_object_get(hosts, id) ? "" : " (missing)");
		pr_info("fleet: %zu hosts: %s\n", json_object_size(members), ids);
		return;
	}
	json_object_foreach (members, id, m) {
		doc = json_object_get(hosts, id);
		was = json_object_get(old_hosts, id);
		if (!json_object_get(old_members, id))
			fleet_event(c, "fleet_host_joined", "host %s joined the fleet", id);
		else if (was && !doc)
			fleet_event(
				c, "fleet_host_missing",
				"host %s is missing: its status lapsed with its lease (vsteerd stopped, or it lost etcd)",
				id);
		else if (!was && doc)
			fleet_event(c, "fleet_host_back", "host %s is back", id);
		if (doc && failing(doc) && (!was || !failing(was)))
			fleet_event(c, "fleet_host_failing", "host %s: %s", id,
				    json_string_value(
					    json_array_get(json_object_get(doc, "problems"), 0)));
	}
}

/* kind's keys into {"ID": value}: statuses parsed (one that is not
 * vsteer's is left out, and said once a read), members as they are. */
static int read_kind(struct fleet_state *f, const char *kind, json_t **out, int64_t *rev,
		     struct vs_err *err)
{
	char key[FLEET_KEY_MAX];
	struct etcd_range r;
	struct vs_err bad;
	json_t *doc;
	int ret;

	fleet_key(&f->cfg, kind, NULL, key, sizeof(key));
	ret = etcd_client_range(f->client, key, true, &r, err);
	if (ret)
		return ret;
	*out = json_object();
	*rev = r.rev;
	for (size_t i = 0; i < r.n && i < FLEET_HOSTS_MAX; i++) {
		const char *id = fleet_key_id(&f->cfg, kind, r.kvs[i].key);

		if (!id)
			continue;
		/* A status that is not vsteer's is a host failing, not a
		 * missing one: it is there, and says nothing we can use. */
		if (!strcmp(kind, "hosts") &&
		    fleet_host_parse(id, r.kvs[i].value, r.kvs[i].value_len, &doc, &bad))
			doc = json_pack("{sss[s]s[]}", "host", id, "at", "", "problems", bad.msg,
					"services");
		if (!strcmp(kind, "members"))
			doc = fleet_member_parse(r.kvs[i].value, r.kvs[i].value_len);
		json_object_set_new(*out, id, doc);
	}
	etcd_range_free(&r);
	return 0;
}

static int read_fleet(struct ctl *c, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	json_t *hosts = NULL, *members = NULL, *old_hosts, *old_members;
	uint32_t nok = 0, nfailing = 0, nmissing = 0, nbehind = 0;
	int64_t rev, mrev, want;
	const char *id;
	json_t *m, *doc;
	int ret;

	/* Members first: a host that joins between the reads is a member
	 * with its status, never a status without a member. */
	ret = read_kind(f, "members", &members, &mrev, err);
	if (!ret)
		ret = read_kind(f, "hosts", &hosts, &rev, err);
	if (ret) {
		json_decref(members);
		return ret;
	}
	pthread_mutex_lock(&f->lock);
	want = f->view.desired_rev;
	pthread_mutex_unlock(&f->lock);
	/* Forgotten while away (DELETE /v1/fleet/hosts/ID): again. */
	if (!json_object_get(members, f->cfg.host_id))
		f->registered = false;
	json_object_foreach (hosts, id, doc)
		if (!json_object_get(members, id))
			json_object_set_new(members, id, json_object());
	json_object_foreach (members, id, m) {
		doc = json_object_get(hosts, id);
		nmissing += !doc;
		nfailing += doc && failing(doc);
		nbehind += doc && !failing(doc) && fleet_host_behind(doc, want);
		nok += doc && !failing(doc) && !fleet_host_behind(doc, want);
	}
	pthread_mutex_lock(&f->lock);
	old_hosts = f->view.hosts;
	old_members = f->view.members;
	f->view.hosts = hosts;
	f->view.members = members;
	f->view.read_at = clock_wall() * 1000;
	f->view.revision = rev;
	f->view.nok = nok;
	f->view.nfailing = nfailing;
	f->view.nmissing = nmissing;
	f->view.nbehind = nbehind;
	/* Its own references: fleet_forget() may replace the view's. */
	json_incref(hosts);
	json_incref(members);
	pthread_mutex_unlock(&f->lock);
	changes(c, old_hosts, old_members, hosts, members);
	json_decref(old_hosts);
	json_decref(old_members);
	json_decref(hosts);
	json_decref(members);
	return 0;
}

/* One round: a lease (granted, or kept alive a third of its TTL after the
 * last), then, when due, the status put and everyone's read. */
static int round_once(struct ctl *c, struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	int64_t now = clock_mono_ms(), ttl;
	int ret;

	if (!f->lease)
		return grant(f, err);
	if (now - f->lease_checked >= (int64_t)f->cfg.lease_s * 1000 / 3) {
		ret = etcd_client_keepalive(f->client, f->lease, &ttl, err);
		if (ret)
			return ret;
		f->lease_checked = now;
		if (!ttl) { /* lapsed while etcd was away: the status went with it */
			f->lease = 0;
			return grant(f, err);
		}
	}
	if (!f->registered)
		return register_member(f, err);
	if (now - f->published < FLEET_PUBLISH_MS)
		return 1; /* nothing was due */
	ret = publish(c, err);
	if (!ret)
		ret = read_fleet(c, err);
	if (!ret) {
		f->published = now;
		fleet_sync_retry(c);
		fleet_drive_round(c);
	}
	return ret;
}

static void *fleet_main(void *arg)
{
	struct ctl *c = arg;
	struct fleet_state *f = &c->fleet;
	struct vs_err err;
	int ret;

	f->contact_mono = clock_mono_ms();
	while (!atomic_load(&f->stopping)) {
		/* Nothing to say until the controller has its model. */
		pthread_mutex_lock(&c->lock);
		ret = c->pending ? 1 : 0;
		pthread_mutex_unlock(&c->lock);
		if (!ret) {
			err = (struct vs_err){};
			ret = round_once(c, &err);
			if (ret <= 0)
				contact(c, !ret, &err);
			if (ret < 0 && err.code[0] && strcmp(err.code, "etcd_unavailable"))
				pr_debug("fleet: %s\n", err.msg);
		}
		if (ret < 0 || ret == 1)
			usleep(FLEET_SLEEP_MS * 1000);
	}
	return NULL;
}

int fleet_start(struct ctl *c, fleet_render_fn render)
{
	int ret;

	if (!c->fleet.client)
		return 0;
	c->fleet.render = render;
	atomic_store(&c->fleet.stopping, false);
	ret = -pthread_create(&c->fleet.thread, NULL, fleet_main, c);
	c->fleet.running = !ret;
	if (!ret && (ret = fleet_sync_start(c)))
		fleet_stop(c);
	return ret;
}

void fleet_stop(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;
	struct vs_err err;

	if (!f->running)
		return;
	atomic_store(&f->stopping, true);
	pthread_join(f->thread, NULL);
	fleet_sync_stop(c);
	f->running = false;
	/* The others see it missing now rather than a lease later. */
	if (f->lease && etcd_client_revoke(f->client, f->lease, &err))
		pr_warn("fleet: could not give up the lease (its status lapses in %u s): %s\n",
			f->cfg.lease_s, err.msg);
	else if (f->lease)
		pr_info("fleet: gave up the lease: the other hosts see this one missing now%s\n",
			f->driving ? ", and one of them drives the fleet's rollouts" : "");
	f->lease = 0;
}

int fleet_forget(struct fleet_state *f, const char *id, struct vs_err *err)
{
	char member[FLEET_KEY_MAX], status[FLEET_KEY_MAX];
	struct etcd_range r;
	json_t *old;
	bool done;
	int64_t rev;
	int ret;

	if (!f->client)
		return vs_errf(
			err, -EOPNOTSUPP, 503, "no_fleet",
			"this vsteerd is not in a fleet (start it with --etcd and --host-id)");
	if (!model_name_valid(id) || fleet_key(&f->cfg, "members", id, member, sizeof(member)))
		return vs_errf(err, -ENOENT, 404, "unknown_host", "no host '%.64s' in the fleet",
			       id);
	ret = etcd_client_range(f->client, member, false, &r, err);
	if (ret)
		return ret;
	done = r.n > 0;
	etcd_range_free(&r);
	if (!done)
		return vs_errf(err, -ENOENT, 404, "unknown_host", "no host '%s' in the fleet", id);
	fleet_key(&f->cfg, "hosts", id, status, sizeof(status));
	/* Only while its status is absent: a live host is never forgotten. */
	ret = etcd_client_txn(f->client,
			      etcd_txn_req(json_pack("[o]", etcd_cmp(status, ETCD_CREATE, 0)),
					   json_pack("[{s:o}]", "request_delete_range",
						     etcd_key_req(member, false)),
					   json_array()),
			      &done, &rev, err);
	if (ret)
		return ret;
	if (!done)
		return vs_errf(
			err, -EBUSY, 409, "host_alive",
			"host %s has its status in etcd: it is alive; stop its vsteerd first (its status goes with it)",
			id);
	/* A new object, never a change to the one the fleet's thread may
	 * be walking (read_fleet()). */
	pthread_mutex_lock(&f->lock);
	old = f->view.members;
	f->view.members = old ? json_copy(old) : NULL;
	json_object_del(f->view.members, id);
	pthread_mutex_unlock(&f->lock);
	json_decref(old);
	return 0;
}
