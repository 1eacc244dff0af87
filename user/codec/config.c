// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/config.h"
#include "codec/parse.h"
#include "codec/request.h"
#include "codec/fleet.h"
#include "codec/parse_notify.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/rand.h"
#include "lib/str.h"

/* The thesis's Multi-Version Update in a config file: the newest cluster
 * says "mirror", and its upgradeTransition (of the list's element of its
 * version) says how. */
static int start_mirror(struct model *m, uint32_t svc, const struct cluster *c, json_t *list,
			const char *where, struct vs_err *err)
{
	struct ro_request *req = malloc(2 * sizeof(*req));
	json_t *one;
	char w[128];
	size_t i;
	int ret = 0;

	if (!req)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	json_array_foreach (list, i, one) {
		json_t *v = json_object_get(one, "version");

		if (!json_is_string(v) || strcmp(json_string_value(v), c->version))
			continue;
		snprintf(w, sizeof(w), "%s[%zu].upgradeTransition", where, i);
		ret = req_transition_plan(json_object_get(one, "upgradeTransition"), w, &req[0],
					  &req[1], err);
		if (!ret) {
			snprintf(req[0].to, sizeof(req[0].to), "%s", c->id);
			ret = rollout_start(m, svc, &req[0], clock_wall(), err);
		}
		break;
	}
	free(req);
	return ret;
}

/* The thesis's New Session Update in a config file: when the newest
 * cluster says "Session", new sessions go to it, active ones stay. */
static int start_session_rollout(struct model *m, uint32_t svc, json_t *list, const char *where,
				 struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	struct ro_request req = { .strategy = RO_SESSION };
	const struct cluster *c;

	if (n < 2)
		return 0;
	c = &m->cl[order[0]];
	if (c->mode == CL_MIRROR)
		return start_mirror(m, svc, c, list, where, err);
	if (c->mode != CL_SESSION)
		return 0;
	req.session_timeout = c->session_timeout;
	req.drain = c->drain_deadline;
	snprintf(req.to, sizeof(req.to), "%s", c->id);
	return rollout_start(m, svc, &req, clock_wall(), err);
}

/* Clusters of one service, from a single object or a list of them. */
static int add_clusters(json_t *j, const char *where, uint32_t svc, struct model *m,
			struct vs_err *err)
{
	json_t *one = j, *list = j;
	struct cluster spec;
	char w[128];
	size_t i;
	int ret;

	if (json_is_object(j)) {
		list = json_array();
		json_array_append(list, one);
	} else if (!json_is_array(j)) {
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s: must be a cluster object or a list of them", where);
	} else {
		json_incref(list);
	}
	json_array_foreach (list, i, one) {
		snprintf(w, sizeof(w), "%s[%zu]", where, i);
		memset(&spec, 0, sizeof(spec));
		spec.svc = svc;
		ret = parse_cluster(one, w, NULL, &spec, err);
		if (!ret) {
			ret = model_add_cluster(m, &spec, NULL, err);
			if (ret < 0)
				vs_err_prefix(err, w);
		}
		if (ret < 0) {
			json_decref(list);
			return ret;
		}
	}
	ret = start_session_rollout(m, svc, list, where, err);
	json_decref(list);
	return ret;
}

/* obj: "ADDRESS:PORT", or an object of the fields parse_service() reads.
 * takeover is not in the model: it only matters the first time vsteerd
 * steers the address, and the config is read at every start. */
static int add_service(struct config *cfg, struct model *m, const char *name, json_t *obj,
		       const char *where, struct vs_err *err)
{
	struct config_svc *cs = &cfg->svc[cfg->nsvc];
	struct service s = {};
	bool takeover = false;
	uint32_t salt;
	int ret;

	if (json_is_object(obj)) {
		ret = parse_service(obj, where, &s, &takeover, err);
	} else {
		model_sess_defaults(&s.sess);
		judge_defaults(&s.an);
		ret = parse_endpoint(obj, where, &s.addr, err);
	}
	if (ret)
		return ret;
	ret = rand_bytes(&salt, sizeof(salt));
	if (ret)
		return vs_errf(err, ret, 500, "internal", "no random bytes for a salt");
	ret = model_add_service(m, name, &s.addr, salt, err);
	if (ret < 0)
		return ret;
	m->svc[ret].http = s.http;
	m->svc[ret].sess = s.sess;
	m->svc[ret].session_timeout = s.session_timeout;
	m->svc[ret].an = s.an;
	m->svc[ret].notify = s.notify;
	/* cs is in bounds: model_add_service() refuses a service beyond
	 * VS_MAX_SERVICES, and each of cfg's is one of m's. */
	snprintf(cs->name, sizeof(cs->name), "%s", name);
	snprintf(cs->where, sizeof(cs->where), "%s", where);
	cs->addr = s.addr;
	cs->takeover = takeover;
	cfg->nsvc++;
	return ret;
}

static int parse_services(json_t *list, struct config *cfg, struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "name",	      "address",  "port",
					    "protocol",	      "sessions", "takeover",
					    "sessionTimeout", "analysis", "notifications",
					    "clusters",	      NULL };
	json_t *s, *name;
	char w[64];
	size_t i;
	int ret;

	if (!json_is_array(list))
		return vs_errf(err, -EINVAL, 400, "bad_field", "services: must be a list");
	json_array_foreach (list, i, s) {
		snprintf(w, sizeof(w), "services[%zu]", i);
		ret = parse_keys(s, keys, w, err);
		if (ret)
			return ret;
		name = json_object_get(s, "name");
		if (!json_is_string(name))
			return vs_errf(err, -EINVAL, 400, "bad_field", "%s.name: must be a string",
				       w);
		if (!json_object_get(s, "address") || !json_object_get(s, "port"))
			return vs_errf(err, -EINVAL, 400, "bad_field", "%s: needs address and port",
				       w);
		ret = add_service(cfg, m, json_string_value(name), s, w, err);
		if (ret < 0)
			return ret;
		if (json_object_get(s, "clusters")) {
			char cw[80];

			snprintf(cw, sizeof(cw), "%s.clusters", w);
			ret = add_clusters(json_object_get(s, "clusters"), cw, ret, m, err);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int path_field(json_t *obj, const char *key, char *out, size_t size, struct vs_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    str_copy(out, size, json_string_value(v)))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "configService.%s: must be a file path", key);
	return 0;
}

/* allowedHosts ("HOST[:PORT]") or allowedOrigins ("http(s)://HOST[:PORT]"):
 * a list of at most CONFIG_MAX_ALLOWED strings, each parsed here so that a
 * typo stops vsteerd rather than locking out the browser it was for. */
static int allowed_field(json_t *obj, const char *key, bool origins, struct hostport *out, int *n,
			 struct vs_err *err)
{
	json_t *list = json_object_get(obj, key), *v;
	size_t i;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > CONFIG_MAX_ALLOWED)
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "configService.%s: must be a list of at most %d strings", key,
			       CONFIG_MAX_ALLOWED);
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		char shown[64];

		if (!s ||
		    (origins ? hostport_parse_origin(s, &out[i]) : hostport_parse(s, &out[i])))
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "configService.%s[%zu]: '%s' is not %s", key, i,
				       str_printable(shown, sizeof(shown),
						     s ? s : "(not a string)"),
				       origins ? "http://HOST[:PORT] or https://HOST[:PORT]" :
						 "HOST or HOST:PORT");
	}
	*n = (int)json_array_size(list);
	return 0;
}

static int parse_api(json_t *api, struct config *cfg, struct vs_err *err)
{
	static const char *const keys[] = { "address", "port",	       "tokenFile",	 "tlsCert",
					    "tlsKey",  "allowedHosts", "allowedOrigins", NULL };
	json_t *a, *p, *da, *dp;
	int ret;

	if (json_is_string(api)) /* "127.0.0.1:9900" */
		return parse_endpoint(api, "configService", &cfg->api, err);
	ret = parse_keys(api, keys, "configService", err);
	if (ret)
		return ret;
	/* Either may be left out: the default fills in. */
	a = json_object_get(api, "address");
	p = json_object_get(api, "port");
	da = a ? NULL : json_string("127.0.0.1");
	dp = p ? NULL : json_integer(VS_DEFAULT_API_PORT);
	ret = parse_addr_port(a ?: da, p ?: dp, "configService", &cfg->api, err);
	json_decref(da);
	json_decref(dp);
	if (!ret)
		ret = path_field(api, "tokenFile", cfg->token_file, sizeof(cfg->token_file), err);
	if (!ret)
		ret = path_field(api, "tlsCert", cfg->tls_cert, sizeof(cfg->tls_cert), err);
	if (!ret)
		ret = path_field(api, "tlsKey", cfg->tls_key, sizeof(cfg->tls_key), err);
	if (!ret)
		ret = allowed_field(api, "allowedHosts", false, cfg->allowed_hosts,
				    &cfg->nallowed_hosts, err);
	if (!ret)
		ret = allowed_field(api, "allowedOrigins", true, cfg->allowed_origins,
				    &cfg->nallowed_origins, err);
	if (!ret && !cfg->tls_cert[0] != !cfg->tls_key[0])
		ret = vs_errf(err, -EINVAL, 400, "bad_field",
			      "configService: tlsCert and tlsKey go together");
	return ret;
}

static int parse_root(json_t *root, struct config *cfg, struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "proxy",	     "configService", "cluster", "services",
					    "notifications", "fleet",	      NULL };
	json_t *proxy, *api, *cl;
	int ret, svc;

	ret = parse_keys(root, keys, "top level", err);
	if (ret)
		return ret;
	memset(cfg, 0, sizeof(*cfg));
	ep_from_parts("127.0.0.1", VS_DEFAULT_API_PORT, &cfg->api);
	fleet_cfg_init(&cfg->fleet);
	if (json_object_get(root, "fleet") &&
	    (ret = fleet_cfg_parse(json_object_get(root, "fleet"), &cfg->fleet, err)))
		return ret;
	api = json_object_get(root, "configService");
	if (api && (ret = parse_api(api, cfg, err)))
		return ret;
	if (json_object_get(root, "notifications") &&
	    (ret = parse_notifications(json_object_get(root, "notifications"), "notifications",
				       &cfg->notify, err)))
		return ret;

	proxy = json_object_get(root, "proxy");
	cl = json_object_get(root, "cluster");
	if (cl && !proxy)
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "cluster: needs a proxy section with the service address");
	if (proxy) {
		static const char *const proxy_keys[] = {
			"address",	  "port",     "protocol",      "sessions", "takeover",
			"sessionTimeout", "analysis", "notifications", NULL
		};

		if (json_is_object(proxy) && (ret = parse_keys(proxy, proxy_keys, "proxy", err)))
			return ret;
		svc = add_service(cfg, m, VS_DEFAULT_SERVICE, proxy, "proxy", err);
		if (svc < 0)
			return svc;
		if (cl && (ret = add_clusters(cl, "cluster", svc, m, err)))
			return ret;
	}
	if (json_object_get(root, "services"))
		return parse_services(json_object_get(root, "services"), cfg, m, err);
	return 0;
}

int config_parse(const char *text, size_t len, const char *name, struct config *cfg,
		 struct model *m, struct vs_err *err)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vs_errf(err, -EINVAL, 400, "bad_json", "config %s: line %d column %d: %s",
			       name, jerr.line, jerr.column, jerr.text);
	ret = parse_root(root, cfg, m, err);
	json_decref(root);
	if (ret < 0) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "config %s", name);
		vs_err_prefix(err, prefix);
		return ret;
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, struct model *m, struct vs_err *err)
{
	size_t len;
	char *buf;
	int ret;

	ret = file_read(path, 0, CONFIG_MAX_SIZE, &buf, &len);
	if (ret == -EFBIG)
		return vs_errf(err, ret, 400, "config", "config %s: over %d KiB", path,
			       CONFIG_MAX_SIZE >> 10);
	if (ret)
		return vs_errf(err, ret, 400, "config", "config %s: %s", path, file_strerror(ret));
	ret = config_parse(buf, len, path, cfg, m, err);
	free(buf);
	return ret;
}
