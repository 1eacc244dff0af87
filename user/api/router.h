/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The REST API without the HTTP server: a request in, a status and a JSON
 * body out. http.c feeds it from libmicrohttpd; tests and fuzzers call it
 * directly. The routes are a table (router.c); the handlers are in
 * handlers.c. */
#ifndef VS_ROUTER_H
#define VS_ROUTER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct ctl;
struct origin_policy;
struct ui_asset;

#define API_MAX_BODY   (64 * 1024)
#define API_MAX_TARGET (8 * 1024)  /* the request target: path and query */
#define API_MAX_HEAD   (32 * 1024) /* the header fields, each counted as "Name: value\r\n" */
#define API_MAX_ARGS   16	   /* query parameters */

/* The API: the controller it drives; if set, the bearer token that
 * mutating requests must carry; which Host and Origin values it takes
 * (NULL: only requests without either); and the dashboard's files
 * (api/ui.h; NULL: /ui/ is 404). */
struct api {
	struct ctl *c;
	const char *token;
	const struct origin_policy *origin;
	const struct ui_asset *ui;
};

/* A header field or a query parameter as given, repeats included; a
 * parameter's value is NULL for a bare "?name". */
struct api_arg {
	const char *name;
	const char *value;
};

/* A request as it came, before any decoding: the path is routed as sent,
 * so that an encoded '/' (%2F) cannot pass for a separator. */
struct api_req {
	const char *method;
	const char *version;	       /* "HTTP/1.1"; NULL for HTTP/1.0 */
	const char *path;	       /* percent-encoded as sent, without the query */
	const char *query;	       /* after the '?', percent-encoded; NULL for none */
	const struct api_arg *headers; /* every header field, in order */
	size_t nheaders;
	const char *body;
	size_t body_len;
	int64_t wait_deadline; /* a follower called again: its deadline (clock_mono_ms()); 0 */
};

struct api_resp {
	int status;
	char *body;		  /* malloc'ed JSON text, ends in a newline */
	const char *content_type; /* NULL: application/json */
	const char *allow;	  /* for 405: the methods the path takes */
	bool unauthorized;	  /* for 401: send WWW-Authenticate */
	bool close;		  /* refused before the body was read: close after */
	/* The dashboard's (api/ui.h): a built-in file sent instead of body,
	 * not freed; a redirect's target; more headers, ending with a NULL
	 * name. */
	const char *file;
	size_t file_len;
	const char *location;
	const struct api_arg *headers;
	/* A follower (GET /v1/events?wait=) with nothing to show yet: the
	 * reply may be held until an event after wait_seen, or wait_until
	 * (clock_mono_ms()), and the request handled again then. 0: send. */
	int64_t wait_until;
	uint64_t wait_seen;
};

/* A request that fails before its handler runs (framing, Host and
 * Origin, route, method, token, content type, query, body size or JSON)
 * never touches a->c. */
void api_handle(struct api *a, const struct api_req *req, struct api_resp *resp);
/* The same up to the handler, which it does not run: 0 if the request
 * would reach it, else -1 with the error reply in *resp (free its body).
 * Needs no controller, socket or kernel: the fuzzer and unit tests use it. */
int api_check(struct api *a, const struct api_req *req, struct api_resp *resp);
/* The checks that need no body, for a request whose head is in: 0, or -1
 * with the reply, to be sent before the body is read. */
int api_check_head(struct api *a, const struct api_req *req, struct api_resp *resp);
/* A refusal that is not about the request (too many connections): the
 * JSON error reply in *resp. */
void api_refuse(struct api_resp *resp, int status, const char *code, const char *msg);

/* The router alone: index into the route table, -ENOENT for no such path,
 * -EPERM for a path that exists but not with this method (then *allow is
 * set). The path is split at its '/' first, then each segment is
 * percent-decoded; a segment that decodes to a '/' or NUL, or is not
 * valid percent-encoding, matches nothing. caps receives up to two {}
 * segments, decoded. */
#define ROUTE_MAX_CAPS 2
#define ROUTE_CAP_LEN  64
int api_route(const char *method, const char *path, char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN],
	      const char **allow);

#endif
