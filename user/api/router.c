// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/compiler.h"
#include "lib/hostport.h"
#include "lib/str.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "api/origin.h"
#include "api/router.h"
#include "api/ui.h"

typedef json_t *(*handler_fn)(struct api_call *k);

enum arg_type { ARG_BOOL = 1, ARG_STRING, ARG_UINT };

struct route_arg {
	const char *name;
	enum arg_type type;
};

#define ROUTE_MAX_ARGS 3

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
	{ "POST",   "/v1/services",                handle_service_post,    true,  {} },
	{ "GET",    "/v1/services/{}",             handle_service,         false, {} },
	{ "DELETE", "/v1/services/{}",             handle_service_delete,  false, { { "force", ARG_BOOL } } },
	{ "PUT",    "/v1/services/{}/weights",     handle_weights,         true,  { { "revision", ARG_UINT } } },
	{ "GET",    "/v1/services/{}/history",     handle_history,         false, { { "since", ARG_UINT } } },
	{ "GET",    "/v1/clusters",                handle_clusters,        false, {} },
	{ "PUT",    "/v1/clusters",                handle_cluster_put,     true,  {} },
	{ "GET",    "/v1/clusters/{}",             handle_cluster,         false, {} },
	{ "DELETE", "/v1/clusters/{}",             handle_cluster_delete,  false, { { "force", ARG_BOOL } } },
	{ "POST",   "/v1/services/{}/rollout",     handle_rollout_start,   true,  {} },
	{ "POST",   "/v1/services/{}/rollout/{}",  handle_rollout_control, false, { { "full", ARG_BOOL } } },
	{ "POST",   "/v1/reload",                  handle_reload,          false, {} },
	{ "GET",    "/v1/events",                  handle_events,          false, { { "service", ARG_STRING }, { "since", ARG_UINT }, { "wait", ARG_UINT } } },
	{ "GET",    "/metrics",                    handle_metrics,         false, {} },
	{ "GET",    "/v1/features",                handle_features,        false, {} },
	{ "GET",    "/v1/fleet",                   handle_fleet,           false, {} },
	{ "DELETE", "/v1/fleet/hosts/{}",          handle_fleet_host_delete, false, {} },
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

/* Does path match pattern segment by segment? Each segment is decoded on
 * its own, after the split: "default%2Fweights" is one segment, the name
 * "default/weights", which no route's segment is and no {} may take.
 * Captures go to caps. */
static bool path_matches(const char *pattern, const char *path,
			 char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN])
{
	char seg[ROUTE_CAP_LEN];
	int ncap = 0;

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
		int n = str_unescape(seg, sizeof(seg), path, len, false);

		if (n <= 0 || memchr(seg, '/', n))
			return false;
		if (plen == 2 && !strncmp(pattern, "{}", 2)) {
			if (ncap == ROUTE_MAX_CAPS)
				return false;
			memcpy(caps[ncap++], seg, n + 1);
		} else if (plen != (size_t)n || strncmp(pattern, seg, n)) {
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
static int check_args(const struct route *r, const struct api_call *k, struct vs_err *err)
{
	char name[44], value[44], takes[64] = "";

	for (size_t i = 0; i < k->nargs; i++) {
		const struct api_arg *a = &k->args[i];
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
			if (!strcmp(k->args[j].name, a->name))
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
		/* Digits only, and under 2^53: a JSON number says it exactly. */
		if (ra->type == ARG_UINT &&
		    (!a->value || !a->value[0] ||
		     strspn(a->value, "0123456789") != strlen(a->value) || strlen(a->value) > 15))
			return vs_errf(
				err, -EINVAL, 400, "bad_field",
				"query parameter '%s': '%s' is not a whole number below 10^15",
				name, value);
	}
	return 0;
}

/* "a=1&b&c=%20" into k->args, decoded ('+' is a space), in a copy k owns. */
static int parse_query(const char *query, struct api_call *k, struct vs_err *err)
{
	char shown[44];
	char *p;

	k->nargs = 0;
	if (!query || !*query)
		return 0;
	k->qbuf = strdup(query);
	if (!k->qbuf)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	for (p = k->qbuf; p; k->nargs++) {
		char *amp = strchr(p, '&'), *eq;
		struct api_arg *a = &k->args[k->nargs];

		if (k->nargs == API_MAX_ARGS)
			return vs_errf(err, -E2BIG, 400, "bad_field",
				       "over %d query parameters: no endpoint takes that many",
				       API_MAX_ARGS);
		if (amp)
			*amp++ = '\0';
		eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		a->name = p;
		a->value = eq;
		if (str_unescape(p, strlen(p) + 1, p, strlen(p), true) < 0 ||
		    (eq && str_unescape(eq, strlen(eq) + 1, eq, strlen(eq), true) < 0))
			return vs_errf(
				err, -EINVAL, 400, "bad_field",
				"query parameter '%s' is not percent-encoded (or encodes a NUL)",
				str_printable(shown, sizeof(shown), p));
		p = amp;
	}
	return 0;
}

/* The value of header `name` (any case), and how many times it came. */
static const char *header(const struct api_req *req, const char *name, int *count)
{
	const char *v = NULL;

	*count = 0;
	for (size_t i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name) && !(*count)++)
			v = req->headers[i].value;
	return v;
}

static bool is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* Where the body ends must be beyond doubt: two lengths that disagree, or
 * a length next to a transfer coding, are how one request is smuggled in
 * another (a proxy and vsteerd could each read a different one). Bodies
 * are small JSON, so a length is required: libmicrohttpd reads chunked
 * ones without a limit on a chunk's size. A head too large to route is
 * refused before anything else. */
static int check_framing(const struct api_req *req, struct vs_err *err)
{
	const char *cl = NULL, *te;
	size_t head = 0, target = strlen(req->path) + (req->query ? 1 + strlen(req->query) : 0);
	char shown[44];
	int n;

	for (size_t i = 0; i < req->nheaders; i++)
		head += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
	if (target > API_MAX_TARGET)
		return vs_errf(err, -E2BIG, 414, "uri_too_long",
			       "the request target is %zu bytes, over %d", target, API_MAX_TARGET);
	if (head > API_MAX_HEAD)
		return vs_errf(err, -E2BIG, 431, "headers_too_large",
			       "the header fields are %zu bytes, over %d", head, API_MAX_HEAD);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct api_arg *h = &req->headers[i];

		if (!is_token(h->name))
			return vs_errf(err, -EINVAL, 400, "bad_framing",
				       "header name '%s' is not a token (a space before the colon?)",
				       str_printable(shown, sizeof(shown), h->name));
		if (strcasecmp(h->name, "Content-Length"))
			continue;
		if (!h->value[0] || strspn(h->value, "0123456789") != strlen(h->value))
			return vs_errf(err, -EINVAL, 400, "bad_framing",
				       "Content-Length '%s' is not a number",
				       str_printable(shown, sizeof(shown), h->value));
		if (cl && strtoull(cl, NULL, 10) != strtoull(h->value, NULL, 10))
			return vs_errf(
				err, -EINVAL, 400, "bad_framing",
				"two different Content-Length headers: the body's end is ambiguous");
		cl = h->value;
	}
	te = header(req, "Transfer-Encoding", &n);
	if (te && cl)
		return vs_errf(
			err, -EINVAL, 400, "bad_framing",
			"both Content-Length and Transfer-Encoding: the body's end is ambiguous");
	if (te)
		return vs_errf(
			err, -EINVAL, 411, "length_required",
			"Transfer-Encoding '%s' is not taken: send the body with Content-Length",
			str_printable(shown, sizeof(shown), te));
	if (cl)
		cl += strspn(cl, "0");
	if (cl && (strlen(cl) > 9 || strtoull(cl, NULL, 10) > API_MAX_BODY))
		return vs_errf(err, -E2BIG, 413, "body_too_large",
			       "Content-Length %s: request body over %d bytes",
			       str_printable(shown, sizeof(shown), cl), API_MAX_BODY);
	return 0;
}

/* A browser sends Origin with every cross-site POST, PUT and DELETE, and
 * the name it connected to as Host: a page elsewhere, or a name of an
 * attacker's that resolves to the API's address (DNS rebinding), shows
 * there. Absent, the client is no browser (curl, a script). A valid token
 * lets any through: the token is what protects an API off loopback, and a
 * browser cannot add it cross-site. */
static int check_origin(const struct api *a, const struct api_req *req, bool token_ok,
			struct vs_err *err)
{
	const char *host, *origin;
	struct hostport hp;
	char shown[64];
	int nhost, norigin;

	host = header(req, "Host", &nhost);
	origin = header(req, "Origin", &norigin);
	if (nhost > 1)
		return vs_errf(err, -EINVAL, 400, "bad_host", "the Host header is given %d times",
			       nhost);
	if (!host && req->version && strcmp(req->version, "HTTP/1.0"))
		return vs_errf(err, -EINVAL, 400, "bad_host", "%s needs a Host header",
			       str_printable(shown, sizeof(shown), req->version));
	if (host && hostport_parse(host, &hp))
		return vs_errf(err, -EINVAL, 400, "bad_host", "Host '%s' is not HOST[:PORT]",
			       str_printable(shown, sizeof(shown), host));
	if (token_ok)
		return 0;
	if (host && (!a->origin || !origin_host_ok(a->origin, &hp)))
		return vs_errf(
			err, -EPERM, 403, "host_not_allowed",
			"Host '%s' is not this API's address nor in configService.allowedHosts (a name that resolves here is not enough: DNS rebinding)",
			str_printable(shown, sizeof(shown), host));
	if (norigin > 1)
		return vs_errf(err, -EPERM, 403, "origin_not_allowed",
			       "the Origin header is given %d times", norigin);
	if (origin &&
	    (hostport_parse_origin(origin, &hp) || !a->origin || !origin_ok(a->origin, &hp)))
		return vs_errf(
			err, -EPERM, 403, "origin_not_allowed",
			"Origin '%s' is not this API's address nor in configService.allowedOrigins: a web page elsewhere may not call the API",
			str_printable(shown, sizeof(shown), origin));
	return 0;
}

/* application/json, perhaps with "; charset=utf-8": nothing a cross-site
 * form can send (forms send urlencoded, multipart or text/plain), and
 * nothing fetch() sends cross-site without asking first (a preflight,
 * which the API does not answer). So it is required of every request that
 * changes something, body or not. */
static int check_content_type(const struct api_req *req, const char *method, const char *path,
			      struct vs_err *err)
{
	static const char json[] = "application/json";
	const char *v, *p;
	char shown[64];
	int n;

	v = header(req, "Content-Type", &n);
	if (!v || n > 1)
		return vs_errf(err, -EINVAL, 415, "unsupported_media_type",
			       "%s %s needs the header 'Content-Type: application/json'%s", method,
			       path, n > 1 ? ", once" : "");
	p = v + strspn(v, " \t");
	if (strncasecmp(p, json, sizeof(json) - 1))
		goto bad;
	p += sizeof(json) - 1;
	p += strspn(p, " \t");
	if (*p == ';') {
		p++;
		p += strspn(p, " \t");
		if (strncasecmp(p, "charset=", 8))
			goto bad;
		p += 8;
		if (!strncasecmp(p, "utf-8", 5))
			p += 5;
		else if (!strncasecmp(p, "\"utf-8\"", 7))
			p += 7;
		else
			goto bad;
		p += strspn(p, " \t");
	}
	if (!*p)
		return 0;
bad:
	return vs_errf(
		err, -EINVAL, 415, "unsupported_media_type",
		"%s %s takes 'Content-Type: application/json' (with charset=utf-8 at most), not '%s'",
		method, path, str_printable(shown, sizeof(shown), v));
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
	const char *msg = e->msg[0] ? e->msg : "internal error";
	char shown[sizeof(e->msg)];
	json_t *m = json_string(msg);

	/* A message may quote what the request sent, any bytes (a name in
	 * the path): jansson refuses one that is not UTF-8, and the reply
	 * would have no body at all. */
	if (!m)
		m = json_string(str_printable(shown, sizeof(shown), msg));
	reply(resp, e->status ? e->status : 500,
	      json_pack("{s{ssso}}", "error", "code", e->code[0] ? e->code : "internal", "message",
			m));
}

static int refuse(struct api_resp *resp, const struct vs_err *e)
{
	reply_err(resp, e);
	return -1;
}

/* The dashboard's files: read-only, any query ignored (the page asks for
 * none; a cache-busting one is harmless), no token (reading is open).
 * The request has passed the same Host and Origin checks as the API's. */
static int prepare_ui(struct api *a, const struct api_req *req, struct api_call *k,
		      struct api_resp *resp, bool head_only)
{
	char path[104], method[12];

	str_printable(path, sizeof(path), req->path);
	str_printable(method, sizeof(method), req->method);
	resp->headers = ui_headers;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		resp->allow = "GET, HEAD";
		vs_errf(&k->err, -EPERM, 405, "method_not_allowed", "%s takes GET, HEAD, not %s",
			path, method);
		return refuse(resp, &k->err);
	}
	/* No such file before a body: the head's checks say the same. */
	if (ui_reply(a->ui, req->path, resp)) {
		vs_errf(&k->err, -ENOENT, 404, "not_found", "no file %s in the dashboard", path);
		return refuse(resp, &k->err);
	}
	if (!head_only && req->body_len) {
		memset(resp, 0, sizeof(*resp));
		resp->headers = ui_headers;
		vs_errf(&k->err, -EINVAL, 400, "unexpected_body", "%s %s takes no body", method,
			path);
		return refuse(resp, &k->err);
	}
	return 0; /* k->route stays NULL: no handler */
}

/* Everything before the handler: framing, Host and Origin, route,
 * token, content type, query parameters and, unless head_only, body size
 * and JSON. 0 with k->route set (and k->body for a route that takes one:
 * the caller drops it); 0 with k->route NULL and the reply in *resp for
 * a file of the dashboard's (prepare_ui()); or -1 with the error reply in
 * *resp. Touches neither the controller nor the kernel. */
static int prepare(struct api *a, const struct api_req *req, struct api_call *k,
		   struct api_resp *resp, bool head_only)
{
	const struct route *r;
	const char *authorization;
	char path[104], method[12];
	json_error_t jerr;
	bool token_ok;
	int i, n;

	memset(resp, 0, sizeof(*resp));
	str_printable(path, sizeof(path), req->path);
	str_printable(method, sizeof(method), req->method);
	authorization = header(req, "Authorization", &n);
	token_ok = a->token && n == 1 && auth_token_matches(a->token, authorization);
	if (check_framing(req, &k->err) || check_origin(a, req, token_ok, &k->err)) {
		resp->close = true;
		return refuse(resp, &k->err);
	}
	if (ui_path(req->path))
		return prepare_ui(a, req, k, resp, head_only);
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
	if (a->token && strcmp(r->method, "GET") && !token_ok) {
		resp->unauthorized = true;
		vs_errf(&k->err, -EACCES, 401, "unauthorized",
			"%s %s needs the header 'Authorization: Bearer TOKEN'", method, path);
		return refuse(resp, &k->err);
	}
	if (strcmp(r->method, "GET") && check_content_type(req, method, path, &k->err))
		return refuse(resp, &k->err);
	if (parse_query(req->query, k, &k->err) || check_args(r, k, &k->err))
		return refuse(resp, &k->err);
	k->route = r;
	if (head_only)
		return 0;
	if (req->body_len > API_MAX_BODY) {
		vs_errf(&k->err, -E2BIG, 413, "body_too_large", "request body over %d bytes",
			API_MAX_BODY);
		return refuse(resp, &k->err);
	}
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
	return 0;
}

int api_check_head(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct api_call k = { .c = a->c, .req = req, .status = 200 };
	int ret = prepare(a, req, &k, resp, true);

	/* Refused before its body was read: the rest of the request is
	 * still on the connection, so it cannot carry another. */
	if (ret)
		resp->close = true;
	free(k.qbuf);
	return ret;
}

int api_check(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct api_call k = { .c = a->c, .req = req, .status = 200 };
	int ret = prepare(a, req, &k, resp, false);

	json_decref(k.body);
	free(k.qbuf);
	return ret;
}

void api_refuse(struct api_resp *resp, int status, const char *code, const char *msg)
{
	struct vs_err e;

	memset(resp, 0, sizeof(*resp));
	vs_errf(&e, -EBUSY, status, code, "%s", msg);
	resp->close = true;
	reply_err(resp, &e);
}

void api_handle(struct api *a, const struct api_req *req, struct api_resp *resp)
{
	struct api_call k = { .c = a->c, .req = req, .status = 200 };
	json_t *out;

	/* A file of the dashboard's is in *resp already (no route). */
	if (prepare(a, req, &k, resp, false) || !k.route) {
		free(k.qbuf);
		return;
	}
	out = k.route->fn(&k);
	json_decref(k.body);
	free(k.qbuf);
	if (!out)
		return reply_err(resp, &k.err);
	resp->wait_until = k.wait_until;
	resp->wait_seen = k.wait_seen;
	if (k.text) {
		json_decref(out);
		resp->status = k.status;
		resp->body = k.text;
		resp->content_type = "text/plain; version=0.0.4";
		return;
	}
	reply(resp, k.status, out);
}
