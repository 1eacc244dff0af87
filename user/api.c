// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "auth.h"
#include "dataplane.h"
#include "probe.h"
#include "parse.h"
#include "request.h"

struct call {
	struct ctl *c;
	const struct api_req *req;
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	json_t *body;		/* parsed request body, for PUT */
	struct vs_err err;
	int status;		/* on success */
	char *text;		/* a handler's reply that is not JSON */
};

typedef json_t *(*handler_fn)(struct call *k);

struct route {
	const char *method;
	const char *pattern;	/* "{}" matches one path segment */
	handler_fn fn;
	bool body;		/* takes a JSON object body */
};

static bool arg_true(struct call *k, const char *name);
static json_t *h_healthz(struct call *k);
static json_t *h_services(struct call *k);
static json_t *h_service(struct call *k);
static json_t *h_weights(struct call *k);
static json_t *h_clusters(struct call *k);
static json_t *h_cluster(struct call *k);
static json_t *h_cluster_put(struct call *k);
static json_t *h_cluster_delete(struct call *k);
static json_t *h_rollout_start(struct call *k);
static json_t *h_rollout_control(struct call *k);
static json_t *h_events(struct call *k);
static json_t *h_metrics(struct call *k);
static json_t *h_features(struct call *k);

static const struct route routes[] = {
	{ "GET",    "/healthz",                h_healthz,        false },
	{ "GET",    "/v1/services",            h_services,       false },
	{ "GET",    "/v1/services/{}",         h_service,        false },
	{ "PUT",    "/v1/services/{}/weights", h_weights,        true },
	{ "GET",    "/v1/clusters",            h_clusters,       false },
	{ "PUT",    "/v1/clusters",            h_cluster_put,    true },
	{ "GET",    "/v1/clusters/{}",         h_cluster,        false },
	{ "DELETE", "/v1/clusters/{}",         h_cluster_delete, false },
	{ "POST",   "/v1/services/{}/rollout", h_rollout_start,  true },
	{ "POST",   "/v1/services/{}/rollout/{}", h_rollout_control, false },
	{ "GET",    "/v1/events",              h_events,         false },
	{ "GET",    "/metrics",                h_metrics,        false },
	{ "GET",    "/v1/features",            h_features,       false },
};

/* Allow header values, indexed by a bitmask of the methods below. */
static const char *const methods[] = { "GET", "PUT", "POST", "DELETE" };
static const char *const allow_sets[16] = {
	"", "GET", "PUT", "GET, PUT", "POST", "GET, POST", "PUT, POST", "GET, PUT, POST",
	"DELETE", "GET, DELETE", "PUT, DELETE", "GET, PUT, DELETE", "POST, DELETE",
	"GET, POST, DELETE", "PUT, POST, DELETE", "GET, PUT, POST, DELETE",
};

/* Does path match pattern segment by segment? Captures go to caps. */
static bool path_matches(const char *pattern, const char *path,
			 char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN])
{
	int ncap = 0;

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");

		if (plen == 2 && !strncmp(pattern, "{}", 2)) {
			if (len == 0 || len >= ROUTE_CAP_LEN || ncap == ROUTE_MAX_CAPS)
				return false;
			memcpy(caps[ncap], path, len);
			caps[ncap++][len] = '\0';
		} else if (plen != len || strncmp(pattern, path, len)) {
			return false;
		}
		pattern += plen;
		path += len;
	}
	return !*pattern && !*path;
}

int api_route(const char *method, const char *path,
	      char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN], const char **allow)
{
	unsigned int set = 0;

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!path_matches(routes[i].pattern, path, caps))
			continue;
		if (!strcmp(routes[i].method, method))
			return i;
		for (size_t j = 0; j < ARRAY_SIZE(methods); j++)
			if (!strcmp(routes[i].method, methods[j]))
				set |= 1U << j;
	}
	if (!set)
		return -ENOENT;
	*allow = allow_sets[set];
	return -EPERM;
}

static json_t *fail(struct call *k, int status, const char *code, const char *fmt,
		    const char *arg)
{
	vs_errf(&k->err, -EINVAL, status, code, fmt, arg);
	return NULL;
}

static json_t *h_healthz(struct call *k)
{
	uint64_t ticks;

	pthread_mutex_lock(&k->c->lock);
	ticks = k->c->ticks;
	pthread_mutex_unlock(&k->c->lock);
	return json_pack("{sssIsI}", "status", "ok", "ticks", (json_int_t)ticks,
			 "time", (json_int_t)wall_now());
}

static json_t *h_features(struct call *k)
{
	if (!k->c->features)
		return fail(k, 503, "unavailable", "the kernel's features were not probed%s", "");
	return features_json(k->c->features, dp_watching(k->c->dp));
}

static json_t *h_services(struct call *k)
{
	return ctl_services_json(k->c);
}

static json_t *h_service(struct call *k)
{
	return ctl_service_json(k->c, k->caps[0], &k->err);
}

static json_t *h_clusters(struct call *k)
{
	return ctl_clusters_json(k->c);
}

static json_t *h_cluster(struct call *k)
{
	return ctl_cluster_json(k->c, k->caps[0], &k->err);
}

static json_t *h_weights(struct call *k)
{
	struct weights_req w;

	if (req_weights(k->body, &w, &k->err) ||
	    ctl_set_weights(k->c, k->caps[0], w.names, w.bp, w.n, &k->err))
		return NULL;
	return ctl_service_json(k->c, k->caps[0], &k->err);
}

static json_t *h_cluster_put(struct call *k)
{
	char svc[NAME_MAX_LEN], id[ID_LEN];
	struct cluster spec;

	if (req_cluster(k->body, svc, &spec, &k->err) ||
	    ctl_add_cluster(k->c, svc, &spec, id, &k->err))
		return NULL;
	k->status = 201;
	return ctl_cluster_json(k->c, id, &k->err);
}

static json_t *h_rollout_start(struct call *k)
{
	struct ro_request req;

	if (req_rollout(k->body, &req, &k->err) ||
	    ctl_rollout_start(k->c, k->caps[0], &req, &k->err))
		return NULL;
	k->status = 201;
	return ctl_service_json(k->c, k->caps[0], &k->err);
}

static json_t *h_rollout_control(struct call *k)
{
	enum ro_op op;

	if (ro_op_parse(k->caps[1], &op))
		return fail(k, 404, "not_found",
			    "no rollout action '%.40s' (promote, pause, resume, abort, rollback)",
			    k->caps[1]);
	if (ctl_rollout_control(k->c, k->caps[0], op, arg_true(k, "full"), &k->err))
		return NULL;
	return ctl_service_json(k->c, k->caps[0], &k->err);
}

/* Prometheus scrapes this; the reply is text, not JSON. */
static json_t *h_metrics(struct call *k)
{
	k->text = ctl_metrics_text(k->c);
	if (!k->text)
		vs_errf(&k->err, -ENOMEM, 500, "internal", "out of memory");
	return k->text ? json_null() : NULL;
}

static json_t *h_events(struct call *k)
{
	const char *svc = k->req->arg ? k->req->arg(k->req->arg_cls, "service") : NULL;

	return ctl_events_json(k->c, svc);
}

static bool arg_true(struct call *k, const char *name)
{
	const char *v = k->req->arg ? k->req->arg(k->req->arg_cls, name) : NULL;

	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static json_t *h_cluster_delete(struct call *k)
{
	if (ctl_del_cluster(k->c, k->caps[0], arg_true(k, "force"), &k->err))
		return NULL;
	return json_pack("{ssss}", "deleted", k->caps[0], "status", "ok");
}

static void reply(struct api_resp *resp, int status, json_t *j)
{
	resp->status = status;
	resp->body = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (resp->body) {
		size_t n = strlen(resp->body);
		char *b = realloc(resp->body, n + 2);

		if (b) {
			b[n] = '\n';
			b[n + 1] = '\0';
			resp->body = b;
		}
	}
}

static void reply_err(struct api_resp *resp, const struct vs_err *e)
{
	reply(resp, e->status ? e->status : 500,
	      json_pack("{s{ssss}}", "error", "code", e->code[0] ? e->code : "internal",
			"message", e->msg[0] ? e->msg : "internal error"));
}

void api_handle(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct call k = { .c = a->c, .req = req, .status = 200 };
	const struct route *r;
	json_error_t jerr;
	json_t *out;
	int i;

	memset(resp, 0, sizeof(*resp));
	i = api_route(req->method, req->path, k.caps, &resp->allow);
	if (i == -ENOENT) {
		vs_errf(&k.err, i, 404, "not_found", "no endpoint %.100s", req->path);
		return reply_err(resp, &k.err);
	}
	if (i == -EPERM) {
		vs_errf(&k.err, i, 405, "method_not_allowed", "%.100s takes %s, not %.10s",
			req->path, resp->allow, req->method);
		return reply_err(resp, &k.err);
	}
	r = &routes[i];
	/* Reading is open to whoever can reach the API; changing steering
	 * needs the token when one is configured. */
	if (a->token && strcmp(r->method, "GET") && !token_matches(a->token, req->authorization)) {
		resp->unauthorized = true;
		vs_errf(&k.err, -EACCES, 401, "unauthorized",
			"%s %.100s needs the header 'Authorization: Bearer TOKEN'", req->method,
			req->path);
		return reply_err(resp, &k.err);
	}
	if (req->body_len > API_MAX_BODY) {
		vs_errf(&k.err, -E2BIG, 413, "body_too_large", "request body over %d bytes",
			API_MAX_BODY);
		return reply_err(resp, &k.err);
	}
	if (r->body) {
		k.body = json_loadb(req->body ? req->body : "", req->body_len,
				    JSON_REJECT_DUPLICATES, &jerr);
		if (!k.body || !json_is_object(k.body)) {
			if (k.body)
				vs_errf(&k.err, -EINVAL, 400, "bad_json", "body must be a JSON object");
			else
				vs_errf(&k.err, -EINVAL, 400, "bad_json",
					"body is not JSON: line %d column %d: %s", jerr.line,
					jerr.column, jerr.text);
			json_decref(k.body);
			return reply_err(resp, &k.err);
		}
	} else if (req->body_len) {
		vs_errf(&k.err, -EINVAL, 400, "unexpected_body", "%s %.100s takes no body",
			req->method, req->path);
		return reply_err(resp, &k.err);
	}
	out = r->fn(&k);
	json_decref(k.body);
	if (!out)
		return reply_err(resp, &k.err);
	if (k.text) {
		json_decref(out);
		resp->status = k.status;
		resp->body = k.text;
		resp->content_type = "text/plain; version=0.0.4";
		return;
	}
	reply(resp, k.status, out);
}
