// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "codec/config.h"
#include "codec/state_parse.h"
#include "kernel/dp_maps.h"
#include "ctl/ctl.h"
#include "ctl/ops.h"
#include "ctl/reload.h"
#include "ctl/txn.h"

int ctl_load_models(const char *config_path, const char *state_path, struct config *cfg,
		    struct model *m, struct model *cm, bool *from_state, struct vs_err *err)
{
	char prefix[sizeof(err->msg)];
	int ret;

	ep_from_parts("127.0.0.1", VS_DEFAULT_API_PORT, &cfg->api);
	fleet_cfg_init(&cfg->fleet);
	if (config_path && (ret = config_load(config_path, cfg, cm, err)))
		return ret;
	ret = state_path ? state_load(state_path, m, err) : -ENOENT;
	if (ret == -ENOENT) {
		if (state_path)
			pr_info("no state file %s: starting from %s\n", state_path,
				config_path ?: "nothing");
		memcpy(m, cm, sizeof(*m));
		return 0;
	}
	if (!ret) {
		*from_state = true;
		pr_info("state file %s: adopting %u services%s\n", state_path, model_nservices(m),
			config_path ? "; the config adds what they lack" : "");
		return 0;
	}
	/* Never start empty over pinned steering: that would drop it. */
	snprintf(prefix, sizeof(prefix), "%s", err->msg);
	return vs_errf(
		err, ret, 500, err->code,
		"%s. Not starting; the file is left as it is, and steering keeps running. Fix it, or move it away to start from the config",
		prefix);
}

int ctl_reload_check(struct dataplane *dp, const struct model *m, const struct model *cm,
		     const struct config *cfg, struct vs_err *err)
{
	struct reconcile_result *r = malloc(sizeof(*r));
	struct model *next = malloc(sizeof(*next));
	int ret;

	if (!r || !next) {
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
		goto out;
	}
	memcpy(next, m, sizeof(*next));
	ret = reconcile_merge(next, cm, NULL, clock_wall(), r, err);
	if (!ret && r->nsvc)
		ret = ctl_check_addresses(dp, next, cfg, err);
out:
	free(next);
	free(r);
	return ret;
}

static bool hostports_equal(const struct hostport *a, int na, const struct hostport *b, int nb)
{
	return na == nb && !memcmp(a, b, sizeof(*a) * na);
}

/* The API's settings are taken at a start only: the API listens already. */
static void api_differs(const struct config *run, const struct config *cfg, struct model *next,
			struct reconcile_result *r, int64_t now)
{
	char fields[128] = "";

	if (!ep_equal(&run->api, &cfg->api))
		strcat(fields, ", address/port");
	if (strcmp(run->token_file, cfg->token_file))
		strcat(fields, ", tokenFile");
	if (strcmp(run->tls_cert, cfg->tls_cert) || strcmp(run->tls_key, cfg->tls_key))
		strcat(fields, ", tlsCert/tlsKey");
	if (!hostports_equal(run->allowed_hosts, run->nallowed_hosts, cfg->allowed_hosts,
			     cfg->nallowed_hosts))
		strcat(fields, ", allowedHosts");
	if (!hostports_equal(run->allowed_origins, run->nallowed_origins, cfg->allowed_origins,
			     cfg->nallowed_origins))
		strcat(fields, ", allowedOrigins");
	if (fields[0])
		reconcile_note(
			next, r, now, "",
			"configService differs from what the API runs with (%s): kept as it runs; the API's settings take effect at a restart",
			fields + 2);
	/* The same for the fleet's: its thread holds a lease under them. */
	if (!run->fleet_flags && memcmp(&run->fleet, &cfg->fleet, sizeof(cfg->fleet)))
		reconcile_note(
			next, r, now, "",
			"fleet differs from what vsteerd runs with: kept as it runs; the fleet's settings take effect at a restart");
}

/* New clusters' sockets, before their versions appear in the services.
 * Servers of a config may come up later, as at start: not an error. */
static int place_sockets(struct ctl *c, struct model *next, const struct reconcile_result *r,
			 struct vs_err *err)
{
	char a[EP_STRLEN];
	int ret;

	for (uint32_t i = 0; i < r->ncl; i++) {
		uint32_t slot = r->cl_slot[i];
		const struct cluster *cl = &next->cl[slot];

		ctl_clear_slot(c, slot);
		ret = dp_reset_slot(c->dp, slot);
		if (!ret)
			ret = sock_reconcile(&c->sock, c->dp, next, slot);
		if (ret)
			return vs_errf(err, ret, 500, "bpf", "cannot place sockets: %s",
				       strerror(-ret));
		sock_baseline(&c->sock, slot, cl->nsrv);
		for (uint32_t v = 0; v < cl->nsrv; v++) {
			if (sock_live(&c->sock, slot, v))
				continue;
			ep_format(&cl->srv[v], a, sizeof(a));
			pr_warn("service %s: version %s: nothing listens on %s yet; it is steered to once it does\n",
				next->svc[cl->svc].name, cl->version, a);
		}
	}
	return 0;
}

int ctl_apply_config(struct ctl *c, const struct config *cfg, const struct model *cm,
		     const char *how, bool quiet, struct reconcile_result *r, struct vs_err *err)
{
	struct reconcile_result *own = r ? NULL : malloc(sizeof(*own));
	struct model *next = malloc(sizeof(*next));
	uint64_t avoid[VS_MAX_SLOTS / 64];
	int64_t now = clock_wall();
	char sum[192], prefix[PATH_MAX + 8];
	int ret;

	r = r ?: own;
	if (!next || !r) {
		free(next);
		free(own);
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	}
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	ctl_avoid_slots(c, next, avoid);
	ret = reconcile_merge(next, cm, avoid, now, r, err);
	if (ret) {
		snprintf(prefix, sizeof(prefix), "config %s", c->config_path);
		vs_err_prefix(err, prefix);
		goto unlock;
	}
	if (c->config)
		api_differs(c->config, cfg, next, r, now);
	if (quiet && !r->nsvc && !r->ncl && !r->nan && !r->nnotify && !r->nnotes)
		goto unlock;
	if (r->nsvc && (ret = ctl_check_addresses(c->dp, next, cfg, err)))
		goto unlock;
	ret = place_sockets(c, next, r, err);
	reconcile_summary(r, sum, sizeof(sum));
	model_event(next, now, "", "reloaded", "config %s %s %s: %s", c->config_path,
		    quiet ? "read" : "reloaded", how, sum);
	if (!ret)
		ret = txn_commit(c, next, err);
	if (ret)
		for (uint32_t i = 0; i < r->ncl; i++)
			sock_clear(&c->sock, c->dp, r->cl_slot[i]);
unlock:
	pthread_mutex_unlock(&c->lock);
	free(next);
	free(own);
	return ret;
}

void ctl_reload_start(struct ctl *c, const char *path, const struct config *cfg,
		      const struct model *cm)
{
	struct vs_err err = {};

	c->config_path = path;
	c->config = path ? cfg : NULL;
	if (path && cm && ctl_apply_config(c, cfg, cm, "at start", true, NULL, &err))
		pr_err("applying the config %s at start: %s; vsteerd runs as the state file has it\n",
		       path, err.msg);
}

int ctl_reload(struct ctl *c, const char *how, struct reconcile_result *r, struct vs_err *err)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct model *cm = calloc(1, sizeof(*cm));
	int ret;

	if (!cfg || !cm)
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	else if (!c->config_path)
		ret = vs_errf(
			err, -ENOENT, 409, "no_config",
			"vsteerd was started without --config: there is no config file to reload");
	else
		ret = config_load(c->config_path, cfg, cm, err);
	if (!ret)
		ret = ctl_apply_config(c, cfg, cm, how, false, r, err);
	if (ret) {
		pthread_mutex_lock(&c->lock);
		txn_event(c, "", "reload_failed", "reload %s failed, nothing changed: %s", how,
			  err->msg);
		pthread_mutex_unlock(&c->lock);
	}
	free(cm);
	free(cfg);
	return ret;
}
