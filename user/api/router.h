/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The REST API without the HTTP server: a request in, a status and a JSON
 * body out. http.c feeds it from libmicrohttpd; tests and fuzzers call it
 * directly. The routes are a table (router.c); the handlers are in
 * handlers.c. */
#ifndef VS_ROUTER_H
#define VS_ROUTER_H

#include <stddef.h>
#include <stdbool.h>

struct ctl;

#define API_MAX_BODY (64 * 1024)

/* The API: the controller it drives and, if set, the bearer token that
 * mutating requests must carry. */
struct api {
	struct ctl *c;
	const char *token;
};

/* A query parameter as given, repeats included; value NULL for a bare
 * "?name". */
struct api_arg {
	const char *name;
	const char *value;
};

struct api_req {
	const char *authorization; /* the Authorization header, or NULL */
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	const struct api_arg *args; /* the query, decoded */
	size_t nargs;
};

struct api_resp {
	int status;
	char *body;		  /* malloc'ed JSON text, ends in a newline */
	const char *content_type; /* NULL: application/json */
	const char *allow;	  /* for 405: the methods the path takes */
	bool unauthorized;	  /* for 401: send WWW-Authenticate */
};

/* A request that fails before its handler runs (no route, method,
 * token, body size or JSON, query parameters) never touches a->c. */
void api_handle(struct api *a, const struct api_req *req, struct api_resp *resp);
/* The same up to the handler, which it does not run: 0 if the request
 * would reach it, else -1 with the error reply in *resp (free its body).
 * Needs no controller, socket or kernel: the fuzzer and unit tests use it. */
int api_check(struct api *a, const struct api_req *req, struct api_resp *resp);

/* The router alone: index into the route table, -ENOENT for no such path,
 * -EPERM for a path that exists but not with this method (then *allow is
 * set). caps receives up to two {} segments. */
#define ROUTE_MAX_CAPS 2
#define ROUTE_CAP_LEN  64
int api_route(const char *method, const char *path, char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN],
	      const char **allow);

#endif
