// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "core/version.h"
#include "codec/request.h"
#include "codec/state.h"
#include "store/etcd_client.h"
#include "store/etcd_guard.h"
#include "ctl/ctl.h"
#include "ctl/fleet_sync.h"
#include "ctl/fleet_versions.h"
#include "ctl/ops.h"

#define VERSION_KEY_MAX (FLEET_PREFIX_MAX + NAME_MAX_LEN + VERSION_MAX_LEN + 32)

/* Its place in the view, made if asked and there is room; f->lock held. */
static struct fleet_version *entry_of(struct fleet_state *f, const char *svc, const char *ver,
				      bool make)
{
	struct fleet_version *free_one = NULL;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		struct fleet_version *e = &f->view.versions[i];

		if (!strcmp(e->svc, svc) && !strcmp(e->version, ver))
			return e;
		if (!e->svc[0] && !free_one)
			free_one = e;
	}
	if (make && free_one) {
		snprintf(free_one->svc, sizeof(free_one->svc), "%s", svc);
		snprintf(free_one->version, sizeof(free_one->version), "%s", ver);
	}
	return make ? free_one : NULL;
}

/* The id of service svc's cluster of version ver here (spelled so: "2"
 * and "2.0" are one version to the model, two keys to etcd), or "" if
 * none; false if this host has no such service. */
static bool local_cluster(struct ctl *c, const char *svc, const char *ver, char id[ID_LEN])
{
	int s, slot;

	id[0] = '\0';
	pthread_mutex_lock(&c->lock);
	s = model_find_service(c->m, svc);
	slot = s < 0 ? -1 : model_find_version(c->m, s, ver);
	if (slot >= 0 && !strcmp(c->m->cl[slot].version, ver))
		memcpy(id, c->m->cl[slot].id, ID_LEN);
	pthread_mutex_unlock(&c->lock);
	return s >= 0;
}

/* The version registered here with the servers the fleet gives, as
 * PUT /v1/clusters would with mode manual: the fleet's weights and
 * rollouts give it traffic. */
static int take(struct ctl *c, const char *svc, const char *ver, json_t *servers,
		struct vs_err *err)
{
	json_t *body = json_pack("{sssssOs{ss}}", "service", svc, "version", ver, "servers",
				 servers, "upgradeTransition", "mode", "manual");
	char name[NAME_MAX_LEN], id[ID_LEN];
	struct analysis_req an;
	struct cluster spec;
	int ret;

	if (!body)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	/* A process id names a process of the host that registered it. */
	for (size_t i = 0; i < json_array_size(servers); i++)
		if (json_object_get(json_array_get(servers, i), "pid")) {
			json_decref(body);
			return vs_errf(err, -EINVAL, 409, "not_here",
				       "its server %zu is named by another host's process id", i);
		}
	ret = req_cluster(body, name, &spec, &an, err);
	if (!ret)
		ret = ctl_add_cluster(c, name, &spec, &an, id, err);
	json_decref(body);
	return ret;
}

/* One version key's state applied; apply_lock held. */
static void apply_locked(struct ctl *c, const char *svc, const char *ver, bool put,
			 const char *text, size_t len, int64_t mod_rev)
{
	struct fleet_state *f = &c->fleet;
	struct fleet_version_doc doc = {};
	char id[ID_LEN], problem[sizeof(f->view.versions[0].problem)] = "";
	struct fleet_version *e;
	struct vs_err err = {};
	bool said = false, old;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	e = entry_of(f, svc, ver, false);
	old = e && mod_rev < e->mod_rev; /* older than what was applied */
	pthread_mutex_unlock(&f->lock);
	/* A service this host does not have is not its business. */
	if (old || !local_cluster(c, svc, ver, id))
		return;
	if (put)
		ret = fleet_version_parse(text, len, &doc, &err);
	/* A version this host has is its own: its servers stay. */
	if (put && !id[0]) {
		if (!ret)
			ret = take(c, svc, ver, doc.servers, &err);
		if (ret)
			snprintf(problem, sizeof(problem),
				 "service %s: version %s of the fleet (servers as %s gave them) is not registered here: %s; register this host's own (PUT /v1/clusters)",
				 svc, ver, doc.by[0] ? doc.by : "another host", err.msg);
	} else if (!put && id[0]) {
		ret = ctl_del_cluster(c, id, false, &err);
		if (ret)
			snprintf(problem, sizeof(problem),
				 "service %s: version %s left the fleet and is not deleted here: %s",
				 svc, ver, err.msg);
	}
	pthread_mutex_lock(&f->lock);
	e = entry_of(f, svc, ver, put || problem[0]);
	if (e && (put || problem[0])) {
		said = !strcmp(e->problem, problem);
		e->mod_rev = mod_rev;
		e->gone = !put;
		snprintf(e->by, sizeof(e->by), "%s", doc.by);
		snprintf(e->problem, sizeof(e->problem), "%s", problem);
	} else if (e) {
		memset(e, 0, sizeof(*e));
	}
	pthread_mutex_unlock(&f->lock);
	if (problem[0] && !said)
		pr_warn("fleet: %s%s\n", problem, e ? "" : " (too many versions to follow)");
	fleet_version_free(&doc);
}

bool fleet_versions_apply(struct ctl *c, const char *key, bool put, const char *text, size_t len,
			  int64_t mod_rev)
{
	char svc[NAME_MAX_LEN], ver[VERSION_MAX_LEN];

	if (!fleet_version_key_parse(&c->fleet.cfg, key, svc, ver))
		return false;
	pthread_mutex_lock(&c->fleet.apply_lock);
	apply_locked(c, svc, ver, put, text, len, mod_rev);
	pthread_mutex_unlock(&c->fleet.apply_lock);
	return true;
}

/* Whether the range has service svc's version ver (NULL: any of its). */
static bool in_range(const struct fleet_cfg *cfg, const struct etcd_range *r, const char *svc,
		     const char *ver)
{
	char s[NAME_MAX_LEN], v[VERSION_MAX_LEN];

	for (size_t i = 0; i < r->n; i++)
		if (fleet_version_key_parse(cfg, r->kvs[i].key, s, v) && !strcmp(s, svc) &&
		    (!ver || !strcmp(v, ver)))
			return true;
	return false;
}

/* PREFIX/services/SVC/versions/VER, created with this host's servers if
 * absent; *created says whether it was. */
static int tell(struct ctl *c, const char *svc, const char *ver, json_t *servers, bool *created,
		struct vs_err *err)
{
	struct fleet_state *f = &c->fleet;
	char key[VERSION_KEY_MAX], at[CLOCK_RFC3339_LEN];
	int64_t rev;

	if (fleet_version_key(&f->cfg, svc, ver, key, sizeof(key)))
		return vs_errf(err, -ENAMETOOLONG, 400, "bad_name", "version key too long");
	clock_rfc3339(clock_wall(), 0, at);
	return etcd_guard_create(f->client, key,
				 json_pack("{sOssss}", "servers", servers, "by", f->cfg.host_id,
					   "at", at),
				 0, created, &rev, err);
}

/* At the start, the versions of each service the fleet has none of yet:
 * this host's config (and state) say what exists. A service the fleet
 * has versions of takes new ones by PUT /v1/clusters only: a restarted
 * host must not bring back a version deleted while it was away. */
static void tell_all(struct ctl *c, const struct etcd_range *r)
{
	struct model *m = malloc(sizeof(*m));
	struct vs_err err;
	bool created;

	if (!m)
		return;
	pthread_mutex_lock(&c->lock);
	memcpy(m, c->m, sizeof(*m));
	pthread_mutex_unlock(&c->lock);
	c->fleet.versions_told = true;
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		const struct cluster *cl = &m->cl[i];
		const char *svc = m->svc[cl->svc].name;
		json_t *servers;

		if (!cl->used || in_range(&c->fleet.cfg, r, svc, NULL))
			continue;
		servers = json_array();
		for (uint32_t k = 0; k < cl->nsrv; k++)
			json_array_append_new(servers,
					      state_server_json(&cl->srv[k], &cl->netns[k]));
		err = (struct vs_err){};
		if (tell(c, svc, cl->version, servers, &created, &err)) {
			pr_warn("fleet: version %s of %s not written to the fleet, retrying: %s\n",
				cl->version, svc, err.msg);
			c->fleet.versions_told = false;
		}
		json_decref(servers);
	}
	free(m);
}

void fleet_versions_read(struct ctl *c, const struct etcd_range *r)
{
	struct fleet_state *f = &c->fleet;
	char svc[NAME_MAX_LEN], ver[VERSION_MAX_LEN];
	struct fleet_version *gone = malloc(VS_MAX_SLOTS * sizeof(*gone));
	uint32_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (fleet_version_key_parse(&f->cfg, r->kvs[i].key, svc, ver))
			fleet_versions_apply(c, r->kvs[i].key, true, r->kvs[i].value,
					     r->kvs[i].value_len, r->kvs[i].mod_rev);
	/* Versions that left the fleet while the watch was down. */
	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; gone && i < VS_MAX_SLOTS; i++) {
		const struct fleet_version *e = &f->view.versions[i];

		if (e->svc[0] && !e->gone && !in_range(&f->cfg, r, e->svc, e->version))
			gone[n++] = *e;
	}
	pthread_mutex_unlock(&f->lock);
	for (uint32_t i = 0; i < n; i++) {
		pthread_mutex_lock(&f->apply_lock);
		apply_locked(c, gone[i].svc, gone[i].version, false, NULL, 0, r->rev);
		pthread_mutex_unlock(&f->apply_lock);
	}
	free(gone);
	if (!f->versions_told)
		tell_all(c, r);
}

void fleet_versions_retry(struct ctl *c)
{
	struct fleet_state *f = &c->fleet;
	struct fleet_version *todo = malloc(VS_MAX_SLOTS * sizeof(*todo));
	char key[VERSION_KEY_MAX];
	struct etcd_range r;
	struct vs_err err;
	uint32_t n = 0;

	if (!todo)
		return;
	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (f->view.versions[i].problem[0])
			todo[n++] = f->view.versions[i];
	pthread_mutex_unlock(&f->lock);
	for (uint32_t i = 0; i < n; i++) {
		if (fleet_version_key(&f->cfg, todo[i].svc, todo[i].version, key, sizeof(key)))
			continue;
		/* Read and applied with the watch held off: what it applies
		 * meanwhile is never undone by an older read. */
		pthread_mutex_lock(&f->apply_lock);
		if (!etcd_client_range(f->client, key, false, &r, &err)) {
			apply_locked(c, todo[i].svc, todo[i].version, r.n > 0,
				     r.n ? r.kvs[0].value : NULL, r.n ? r.kvs[0].value_len : 0,
				     r.n ? r.kvs[0].mod_rev : r.rev);
			etcd_range_free(&r);
		}
		pthread_mutex_unlock(&f->apply_lock);
	}
	free(todo);
	if (!f->versions_told && fleet_key(&f->cfg, "services", NULL, key, sizeof(key)) == 0 &&
	    !etcd_client_range(f->client, key, true, &r, &err)) {
		tell_all(c, &r);
		etcd_range_free(&r);
	}
}

/* Whether a cluster spec takes over service svc when registered (the
 * rule of ctl_add_cluster()). */
static bool takes_over(struct ctl *c, const char *svc, const struct cluster *spec)
{
	uint32_t order[VS_MAX_VERSIONS], n = 0;
	bool newer = false;
	int s;

	pthread_mutex_lock(&c->lock);
	s = model_find_service(c->m, svc);
	if (s >= 0)
		n = model_order(c->m, s, order);
	if (n)
		newer = version_cmp(spec->version, c->m->cl[order[0]].version) > 0;
	pthread_mutex_unlock(&c->lock);
	return n && (spec->mode == CL_SESSION || (spec->mode == CL_INSTANT && newer));
}

static void undo_add(struct ctl *c, const char *svc, const char *ver, const char *id, bool created)
{
	char key[VERSION_KEY_MAX];
	struct vs_err err;
	int64_t rev;

	if (ctl_del_cluster(c, id, true, &err))
		pr_warn("fleet: version %s of %s stays registered here: %s\n", ver, svc, err.msg);
	if (created && (fleet_version_key(&c->fleet.cfg, svc, ver, key, sizeof(key)) ||
			etcd_client_delete(c->fleet.client, key, false, &rev, &err)))
		pr_warn("fleet: version %s of %s stays in the fleet: %s\n", ver, svc, err.msg);
}

int fleet_versions_add(struct ctl *c, const char *svc, json_t *body, const struct cluster *spec,
		       const struct analysis_req *an, char id[ID_LEN], struct vs_err *err)
{
	struct ro_request req = { .strategy = spec->mode == CL_INSTANT ? RO_INSTANT : RO_SESSION,
				  .session_timeout = spec->session_timeout,
				  .session_timeout_set = spec->mode == CL_SESSION,
				  .drain = spec->drain_deadline,
				  .an = *an };
	struct cluster manual = *spec;
	struct analysis_req none = {};
	bool over, created = false;
	int ret;

	ret = fleet_refuse_stale(&c->fleet, err);
	if (ret)
		return ret;
	/* Registered without traffic here; a takeover is a rollout of the
	 * fleet, which every host runs. */
	over = takes_over(c, svc, spec);
	manual.mode = CL_MANUAL;
	ret = ctl_add_cluster(c, svc, &manual, &none, id, err);
	if (ret)
		return ret;
	ret = tell(c, svc, spec->version, json_object_get(body, "servers"), &created, err);
	if (!ret && over) {
		snprintf(req.to, sizeof(req.to), "%s", spec->version);
		ret = ctl_rollout_start(c, svc, &req, err);
	}
	/* Not once the fleet has the takeover (written, not applied here):
	 * the others run it; this host says why it cannot. */
	if (ret && ret != FLEET_SYNC_WRITTEN)
		undo_add(c, svc, spec->version, id, created);
	return ret;
}

int fleet_versions_delete(struct ctl *c, const char *id, bool force, struct vs_err *err)
{
	char svc[NAME_MAX_LEN] = "", ver[VERSION_MAX_LEN] = "", key[VERSION_KEY_MAX];
	uint16_t weight = 0;
	int slot, ret;
	int64_t rev;

	ret = fleet_refuse_stale(&c->fleet, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&c->lock);
	slot = model_find_cluster(c->m, id);
	if (slot >= 0) {
		snprintf(svc, sizeof(svc), "%s", c->m->svc[c->m->cl[slot].svc].name);
		snprintf(ver, sizeof(ver), "%s", c->m->cl[slot].version);
		weight = c->m->cl[slot].weight;
	}
	pthread_mutex_unlock(&c->lock);
	/* Its weight is in the fleet's weights, which every host would keep
	 * naming: to 0 first, through the fleet. */
	if (weight)
		return vs_errf(
			err, -EBUSY, 409, "version_in_use",
			"version %s of service %s takes %u.%02u%% of new sessions in the fleet: set its weight to 0 first (PUT /v1/services/%s/weights), then delete it",
			ver, svc, weight / 100, weight % 100, svc);
	ret = fleet_sync_check_applied(c, svc, err);
	if (!ret)
		ret = ctl_del_cluster(c, id, force, err);
	if (ret || fleet_version_key(&c->fleet.cfg, svc, ver, key, sizeof(key)))
		return ret;
	ret = etcd_client_delete(c->fleet.client, key, false, &rev, err);
	if (ret) {
		char msg[sizeof(err->msg)], code[sizeof(err->code)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		snprintf(code, sizeof(code), "%s", err->code);
		vs_errf(err, ret, err->status, code,
			"version %s deleted here, but not from the fleet (it comes back at the next read of the fleet): %.160s",
			ver, msg);
	}
	return ret;
}
