// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/compiler.h"
#include "lib/str.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "api/router.h"

typedef json_t *(*handler_fn)(struct api_call *k);

enum arg_type { ARG_BOOL = 1, ARG_STRING };

struct route_arg {
	const char *name;
	enum arg_type type;
};

#define ROUTE_MAX_ARGS 2

struct route {
	const char *method;
	const char *pattern; /* "{}" matches one path segment */
	handler_fn fn;
	bool body;			       /* takes a JSON object body */
	struct route_arg args[ROUTE_MAX_ARGS]; /* the query parameters it takes */
};

/* method, path, handler, takes a body, the query parameters it takes */
/* clang-format off */
static const struct route routes[] = {
	{ "GET",    "/healthz",                    handle_healthz,         false, {} },
	{ "GET",    "/v1/services",                handle_services,        false, {} },
	{ "GET",    "/v1/services/{}",             handle_service,         false, {} },
	{ "PUT",    "/v1/services/{}/weights",     handle_weights,         true,  {} },
	{ "GET",    "/v1/clusters",                handle_clusters,        false, {} },
	{ "PUT",    "/v1/clusters",                handle_cluster_put,     true,  {} },
	{ "GET",    "/v1/clusters/{}",             handle_cluster,         false, {} },
	{ "DELETE", "/v1/clusters/{}",             handle_cluster_delete,  false, { { "force", ARG_BOOL } } },
	{ "POST",   "/v1/services/{}/rollout",     handle_rollout_start,   true,  {} },
	{ "POST",   "/v1/services/{}/rollout/{}",  handle_rollout_control, false, { { "full", ARG_BOOL } } },
	{ "GET",    "/v1/events",                  handle_events,          false, { { "service", ARG_STRING } } },
	{ "GET",    "/metrics",                    handle_metrics,         false, {} },
	{ "GET",    "/v1/features",                handle_features,        false, {} },
};
/* clang-format on */

/* Allow header values, indexed by a bitmask of the methods below. */
static const char *const methods[] = { "GET", "PUT", "POST", "DELETE" };
/* clang-format off */
static const char *const allow_sets[16] = {
	"", "GET", "PUT", "GET, PUT", "POST", "GET, POST", "PUT, POST", "GET, PUT, POST",
	"DELETE", "GET, DELETE", "PUT, DELETE", "GET, PUT, DELETE", "POST, DELETE",
	"GET, POST, DELETE", "PUT, POST, DELETE", "GET, PUT, POST, DELETE",
};
/* clang-format on */

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

int api_route(const char *method, const char *path, char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN],
	      const char **allow)
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

/* Each query parameter must be one the route takes, given once and of
 * its type: ?force=yes or ?foce=true must not quietly mean false. */
static int check_args(const struct route *r, const struct api_req *req, struct vs_err *err)
{
	char name[44], value[44], takes[64] = "";

	for (size_t i = 0; i < req->nargs; i++) {
		const struct api_arg *a = &req->args[i];
		const struct route_arg *ra = NULL;

		for (size_t j = 0; j < ROUTE_MAX_ARGS && r->args[j].name; j++)
			if (!strcmp(r->args[j].name, a->name))
				ra = &r->args[j];
		str_printable(name, sizeof(name), a->name);
		str_printable(value, sizeof(value), a->value);
		if (!ra) {
			for (size_t j = 0; j < ROUTE_MAX_ARGS && r->args[j].name; j++)
				snprintf(takes + strlen(takes), sizeof(takes) - strlen(takes),
					 "%s%s", j ? ", " : "", r->args[j].name);
			return vs_errf(err, -EINVAL, 400, "unknown_field",
				       "unknown query parameter '%s': %s %s takes %s", name,
				       r->method, r->pattern, takes[0] ? takes : "none");
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(req->args[j].name, a->name))
				return vs_errf(err, -EINVAL, 400, "bad_field",
					       "query parameter '%s' given twice", name);
		if (ra->type == ARG_BOOL &&
		    (!a->value || (strcmp(a->value, "true") && strcmp(a->value, "false") &&
				   strcmp(a->value, "1") && strcmp(a->value, "0"))))
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "query parameter '%s': '%s' is not true, false, 1 or 0",
				       name, value);
		if (ra->type == ARG_STRING && (!a->value || !a->value[0]))
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "query parameter '%s' needs a value", name);
	}
	return 0;
}

static void reply(struct api_resp *resp, int status, json_t *j)
{
	resp->status = status;
	/* 12 significant digits: a weight of 0.29% reads 0.29, not the
	 * 0.28999999999999998 that jansson's default of 17 would print. */
	resp->body = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
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
	/* clang-format off */
	reply(resp, e->status ? e->status : 500,
	      json_pack("{s{ssss}}", "error", "code", e->code[0] ? e->code : "internal",
			"message", e->msg[0] ? e->msg : "internal error"));
	/* clang-format on */
}

static int refuse(struct api_resp *resp, const struct vs_err *e)
{
	reply_err(resp, e);
	return -1;
}

/* Everything before the handler: route, token, body size, query
 * parameters, JSON body. 0 with k->route and k->body set (the caller
 * drops the body), or -1 with the error reply in *resp. Touches neither
 * the controller nor the kernel. */
static int prepare(struct api *a, const struct api_req *req, struct api_call *k,
		   struct api_resp *resp)
{
	const struct route *r;
	char path[104], method[12];
	json_error_t jerr;
	int i;

	memset(resp, 0, sizeof(*resp));
	str_printable(path, sizeof(path), req->path);
	str_printable(method, sizeof(method), req->method);
	i = api_route(req->method, req->path, k->caps, &resp->allow);
	if (i == -ENOENT) {
		vs_errf(&k->err, i, 404, "not_found", "no endpoint %s", path);
		return refuse(resp, &k->err);
	}
	if (i == -EPERM) {
		vs_errf(&k->err, i, 405, "method_not_allowed", "%s takes %s, not %s", path,
			resp->allow, method);
		return refuse(resp, &k->err);
	}
	r = &routes[i];
	/* Reading is open to whoever can reach the API; changing steering
	 * needs the token when one is configured. */
	if (a->token && strcmp(r->method, "GET") &&
	    !auth_token_matches(a->token, req->authorization)) {
		resp->unauthorized = true;
		vs_errf(&k->err, -EACCES, 401, "unauthorized",
			"%s %s needs the header 'Authorization: Bearer TOKEN'", method, path);
		return refuse(resp, &k->err);
	}
	if (req->body_len > API_MAX_BODY) {
		vs_errf(&k->err, -E2BIG, 413, "body_too_large", "request body over %d bytes",
			API_MAX_BODY);
		return refuse(resp, &k->err);
	}
	if (check_args(r, req, &k->err))
		return refuse(resp, &k->err);
	if (r->body) {
		k->body = json_loadb(req->body ? req->body : "", req->body_len,
				     JSON_REJECT_DUPLICATES, &jerr);
		if (!k->body || !json_is_object(k->body)) {
			if (k->body)
				vs_errf(&k->err, -EINVAL, 400, "bad_json",
					"body must be a JSON object");
			else
				vs_errf(&k->err, -EINVAL, 400, "bad_json",
					"body is not JSON: line %d column %d: %s", jerr.line,
					jerr.column, jerr.text);
			json_decref(k->body);
			k->body = NULL;
			return refuse(resp, &k->err);
		}
	} else if (req->body_len) {
		vs_errf(&k->err, -EINVAL, 400, "unexpected_body", "%s %s takes no body", method,
			path);
		return refuse(resp, &k->err);
	}
	k->route = r;
	return 0;
}

int api_check(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct api_call k = { .c = a->c, .req = req, .status = 200 };

	if (prepare(a, req, &k, resp))
		return -1;
	json_decref(k.body);
	return 0;
}

void api_handle(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct api_call k = { .c = a->c, .req = req, .status = 200 };
	json_t *out;

	if (prepare(a, req, &k, resp))
		return;
	out = k.route->fn(&k);
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
