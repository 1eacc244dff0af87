// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/rand.h"
#include "codec/config.h"
#include "ctl/ctl.h"
#include "ctl/services.h"
#include "ctl/txn.h"

int ctl_add_service(struct ctl *c, const struct service *spec, bool takeover, struct vs_err *err)
{
	struct model *next = malloc(sizeof(*next));
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct config_svc *cs;
	char a[EP_STRLEN];
	uint32_t salt;
	int ret, id;

	if (!next || !cfg) {
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
		goto out;
	}
	ret = rand_bytes(&salt, sizeof(salt));
	if (ret) {
		vs_errf(err, ret, 500, "internal", "no random bytes for a salt");
		goto out;
	}
	/* The address check reads the takeover of the service's entry, as
	 * for a config's; "body" makes its refusal name the request's. */
	cfg->nsvc = 1;
	cs = &cfg->svc[0];
	snprintf(cs->name, sizeof(cs->name), "%s", spec->name);
	snprintf(cs->where, sizeof(cs->where), "body");
	cs->addr = spec->addr;
	cs->takeover = takeover;

	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	ret = id = model_add_service(next, spec->name, &spec->addr, salt, err);
	if (id >= 0) {
		next->svc[id].http = spec->http;
		next->svc[id].sess = spec->sess;
		next->svc[id].session_timeout = spec->session_timeout;
		next->svc[id].an = spec->an;
		next->svc[id].notify = spec->notify;
		ret = ctl_check_addresses(c->dp, next, cfg, err);
	}
	if (!ret) {
		ep_format(&spec->addr, a, sizeof(a));
		model_event(
			next, clock_wall(), spec->name, "service_added",
			"service added: %s (%s), no versions yet (PUT /v1/clusters with \"service\": \"%s\" adds one)",
			a, spec->http ? "http" : "tcp", spec->name);
		ret = txn_commit(c, next, err);
	}
	pthread_mutex_unlock(&c->lock);
out:
	free(cfg);
	free(next);
	return ret < 0 ? ret : 0;
}

struct del_svc_arg {
	bool force;
	uint32_t svc;
	bool slot[VS_MAX_SLOTS]; /* its clusters' */
};

static int del_svc_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	struct del_svc_arg *d = (struct del_svc_arg *)arg;
	const struct service *s = &next->svc[svc];
	uint32_t order[VS_MAX_VERSIONS], n = model_order(next, svc, order);
	int64_t now = clock_wall();
	char a[EP_STRLEN], name[NAME_MAX_LEN];
	int ret;

	d->svc = svc;
	snprintf(name, sizeof(name), "%s", s->name);
	ep_format(&s->addr, a, sizeof(a));
	if (n && !d->force)
		return model_del_service(next, svc, false, err);
	for (uint32_t i = 0; i < n; i++) {
		d->slot[order[i]] = true;
		model_event(next, now, name, "cluster_deleted",
			    "version %s deleted (cluster %s) with its service, forced",
			    next->cl[order[i]].version, next->cl[order[i]].id);
	}
	ret = model_del_service(next, svc, d->force, err);
	if (ret)
		return ret;
	if (n)
		model_event(
			next, now, name, "service_deleted_forced",
			"service deleted with its %u version%s (forced): new connections to %s are no longer steered",
			n, n == 1 ? "" : "s", a);
	else
		model_event(next, now, name, "service_deleted",
			    "service deleted: new connections to %s are no longer steered", a);
	return 0;
}

/* Once no service points at the slots any more, and before a new
 * cluster can take one. Its history goes now, not at the next roll: a
 * service of the same name added meanwhile starts with none. */
static void del_svc_after(struct ctl *c, const void *arg)
{
	const struct del_svc_arg *d = arg;

	recent_forget_service(&c->recent, d->svc);
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		if (d->slot[s])
			ctl_clear_slot(c, s);
}

int ctl_del_service(struct ctl *c, const char *name, bool force, struct vs_err *err)
{
	struct del_svc_arg *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	d->force = force;
	ret = txn_run(c, name, del_svc_fn, del_svc_after, d, err);
	free(d);
	return ret;
}
