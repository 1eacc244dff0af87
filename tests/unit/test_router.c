// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * API input: the API router, rollout strategy and operation names,
 * and listener matching.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "lib/hostport.h"
#include "lib/str.h"
#include "core/rollout_text.h"
#include "api/origin.h"
#include "api/router.h"
#include "api/ui.h"
#include "ctl/sock.h"
#include "core/rollout.h"

#include "harness.h"
#include "helpers.h"

static void test_ro_strategy_parse(void)
{
	/* clang-format off */
	static const struct {
		const char *s;
		int ret;
		enum ro_strategy want;
	} t[] = {
		{ "instant", 0, RO_INSTANT }, { "Session", 0, RO_SESSION }, { "GRADUAL", 0, RO_GRADUAL },
		{ "session", 0, RO_SESSION }, { "gradual", 0, RO_GRADUAL }, { "INSTANT", 0, RO_INSTANT },
		/* the thesis's names */
		{ "rapid", 0, RO_INSTANT }, { "Rapid", 0, RO_INSTANT },
		{ "newsession", 0, RO_SESSION }, { "new-session", 0, RO_SESSION },
		{ "NewSession", 0, RO_SESSION },
		{ "long-term", 0, RO_GRADUAL }, { "longterm", 0, RO_GRADUAL },
		{ "Long-Term", 0, RO_GRADUAL },
		{ "", -EINVAL, 0 }, { "instan", -EINVAL, 0 }, { "instant ", -EINVAL, 0 },
		{ " session", -EINVAL, 0 }, { "long term", -EINVAL, 0 }, { "new_session", -EINVAL, 0 },
		{ "manual", -EINVAL, 0 }, { "none", -EINVAL, 0 }, { "promote", -EINVAL, 0 },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		enum ro_strategy s = (enum ro_strategy)77;

		row("'%s'", t[i].s);
		CHECK_INT(ro_strategy_parse(t[i].s, &s), ==, t[i].ret);
		CHECK_INT(s, ==, t[i].ret ? 77 : (int)t[i].want);
		if (!t[i].ret) {
			enum ro_strategy back = (enum ro_strategy)77;

			CHECK_INT(ro_strategy_parse(ro_strategy_name(s), &back), ==, 0);
			CHECK_INT(back, ==, s);
		}
	}
}

static void test_ro_op_parse(void)
{
	/* clang-format off */
	static const struct {
		const char *s;
		int ret;
		enum ro_op want;
	} t[] = {
		{ "promote", 0, RO_OP_PROMOTE }, { "pause", 0, RO_OP_PAUSE },
		{ "resume", 0, RO_OP_RESUME }, { "abort", 0, RO_OP_ABORT },
		{ "rollback", 0, RO_OP_ROLLBACK }, { "Rollback", 0, RO_OP_ROLLBACK },
		{ "PAUSE", 0, RO_OP_PAUSE },
		{ "", -EINVAL, 0 }, { "stop", -EINVAL, 0 }, { "roll-back", -EINVAL, 0 },
		{ "promote ", -EINVAL, 0 }, { "pause2", -EINVAL, 0 }, { "instant", -EINVAL, 0 },
		{ "rolled_back", -EINVAL, 0 },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		enum ro_op op = (enum ro_op)77;

		row("'%s'", t[i].s);
		CHECK_INT(ro_op_parse(t[i].s, &op), ==, t[i].ret);
		CHECK_INT(op, ==, t[i].ret ? 77 : (int)t[i].want);
	}
}

static void test_api_route_match(void)
{
	static char long63[80], path63[128];
	/* clang-format off */
	static const struct {
		const char *method, *path;
		const char *route;	/* same name, same route table entry */
		const char *cap;
	} t[] = {
		{ "GET", "/healthz", "healthz", NULL },
		{ "GET", "/v1/services", "services", NULL },
		{ "GET", "/v1/services/default", "service", "default" },
		{ "GET", "/v1/services/web-1.2_x", "service", "web-1.2_x" },
		{ "PUT", "/v1/services/x/weights", "weights", "x" },
		{ "PUT", "/v1/services/default/weights", "weights", "default" },
		{ "GET", "/v1/services/default/history", "history", "default" },
		{ "GET", "/v1/services/a%20b/history", "history", "a b" },
		{ "GET", "/v1/clusters", "clusters", NULL },
		{ "PUT", "/v1/clusters", "cluster_put", NULL },
		{ "GET", "/v1/clusters/3f2a-11", "cluster_get", "3f2a-11" },
		{ "DELETE", "/v1/clusters/3f2a-11", "cluster_delete", "3f2a-11" },
		{ "DELETE", "/v1/clusters/x", "cluster_delete", "x" },
		{ "GET", path63, "service", long63 },
	};
	/* clang-format on */
	const char *route_of[32] = { NULL };
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	const char *allow;

	memset(long63, 'a', 63);
	long63[63] = '\0';
	snprintf(path63, sizeof(path63), "/v1/services/%s", long63);

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s %s", t[i].method, t[i].path);
		memset(caps, 0, sizeof(caps));
		allow = NULL;
		int r = api_route(t[i].method, t[i].path, caps, &allow);

		CHECK(r >= 0 && r < (int)ARRAY_SIZE(route_of), "route %d", r);
		if (!route_of[r])
			route_of[r] = t[i].route;
		CHECK_STR(route_of[r], t[i].route);
		if (t[i].cap)
			CHECK_STR(caps[0], t[i].cap);
	}
	/* and distinct routes got distinct entries */
	for (size_t i = 0; i < ARRAY_SIZE(route_of); i++)
		for (size_t j = i + 1; j < ARRAY_SIZE(route_of); j++) {
			row("entries %zu and %zu", i, j);
			CHECK(!route_of[i] || !route_of[j] || strcmp(route_of[i], route_of[j]),
			      "route '%s' twice", route_of[i]);
		}
}

static void test_api_route_errors(void)
{
	static char path64[128];
	/* clang-format off */
	static const struct {
		const char *method, *path;
		int ret;
		const char *allow;
	} t[] = {
		{ "GET", "/v1/nope", -ENOENT, NULL },
		{ "GET", "/v1/services/a/b", -ENOENT, NULL },
		{ "GET", "/v1/clusters/", -ENOENT, NULL },
		{ "DELETE", "/v1/clusters/", -ENOENT, NULL },
		{ "GET", "//healthz", -ENOENT, NULL },
		{ "GET", "/healthz/", -ENOENT, NULL },
		{ "GET", "healthz", -ENOENT, NULL },
		{ "GET", "/", -ENOENT, NULL },
		{ "GET", "", -ENOENT, NULL },
		{ "GET", "/V1/services", -ENOENT, NULL },
		{ "GET", "/v1/servicesx", -ENOENT, NULL },
		{ "PUT", "/v1/services//weights", -ENOENT, NULL },
		{ "GET", path64, -ENOENT, NULL },		/* 64-char segment */
		{ "PUT", "/v1/clusters/abc", -EPERM, "GET, DELETE" },
		{ "POST", "/healthz", -EPERM, "GET" },
		{ "DELETE", "/v1/services", -EPERM, "GET, POST" },
		{ "PUT", "/v1/services/x", -EPERM, "GET, DELETE" },
		{ "GET", "/v1/reload", -EPERM, "POST" },
		{ "POST", "/v1/clusters", -EPERM, "GET, PUT" },
		{ "DELETE", "/v1/services/x/weights", -EPERM, "PUT" },
		{ "PUT", "/v1/services/x/history", -EPERM, "GET" },
		{ "GET", "/v1/services/x/history/1", -ENOENT, NULL },
		{ "GET", "/v1/services//history", -ENOENT, NULL },
		{ "get", "/healthz", -EPERM, "GET" },
	};
	/* clang-format on */
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	char seg[80];
	const char *allow;

	memset(seg, 'b', 64);
	seg[64] = '\0';
	snprintf(path64, sizeof(path64), "/v1/services/%s", seg);

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s '%s'", t[i].method, t[i].path);
		allow = NULL;
		CHECK_INT(api_route(t[i].method, t[i].path, caps, &allow), ==, t[i].ret);
		if (t[i].allow)
			CHECK_STR(allow, t[i].allow);
	}
}

/* Query parameters are checked before any handler runs, so these answer
 * without a controller: router.c never touches a.c on this path. The query
 * is given as sent and decoded by the router. Input that is not UTF-8
 * still gets a JSON error naming it (jansson refuses such strings: a
 * message quoting one would be no body at all). */
static void test_api_query_args(void)
{
	static char long_name[100], many[200];
	/* clang-format off */
	static const struct {
		const char *method, *path, *query;
		int status;
		const char *code, *says;
	} t[] = {
		{ "DELETE", "/v1/clusters/x", "force=yes", 400, "bad_field", "'force': 'yes'" },
		{ "DELETE", "/v1/clusters/x", "force=TRUE", 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", "force=", 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", "force", 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", "force=1&force=0", 400, "bad_field", "'force' given twice" },
		{ "DELETE", "/v1/clusters/x", "foce=true", 400, "unknown_field",
		  "'foce': DELETE /v1/clusters/{} takes force" },
		{ "DELETE", "/v1/clusters/x", "force=tr%75e&force=1", 400, "bad_field", "twice" },
		{ "POST", "/v1/services/a/rollout/promote", "full=2", 400, "bad_field", "'full'" },
		{ "POST", "/v1/services/a/rollout/promote", "full=%ff%fe", 400, "bad_field", "'?" "?'" },
		{ "POST", "/v1/services/a/rollout/promote", "full=%zz", 400, "bad_field", "percent-encoded" },
		{ "POST", "/v1/services/a/rollout/promote", "full=%0", 400, "bad_field", "'full'" },
		{ "POST", "/v1/services/a/rollout/promote", "full=tr%00ue", 400, "bad_field", "NUL" },
		{ "POST", "/v1/services/a/rollout/promote", "fu%6cl=no", 400, "bad_field", "'full': 'no'" },
		{ "POST", "/v1/services/a/rollout", "full=true", 400, "unknown_field", "takes none" },
		{ "GET", "/v1/services", "verbose=1", 400, "unknown_field", "takes none" },
		{ "GET", "/v1/services", "&", 400, "unknown_field", "''" },
		{ "GET", "/healthz", "%c3=1", 400, "unknown_field", "'?'" },
		{ "PUT", "/v1/services/a/weights", "dryRun=true", 400, "unknown_field", "'dryRun'" },
		{ "GET", "/v1/events", "service=", 400, "bad_field", "'service' needs a value" },
		{ "GET", "/v1/events", "service", 400, "bad_field", "'service'" },
		{ "GET", "/v1/events", "service=a&svc=a", 400, "unknown_field", "'svc'" },
		{ "GET", "/v1/events", "service=a&service=b", 400, "bad_field", "twice" },
		{ "GET", "/v1/events", "service=a+b&service=a%20b", 400, "bad_field", "twice" },
		{ "GET", "/v1/events", many, 400, "bad_field", "over 16 query parameters" },
		{ "GET", "/v1/services/a/history", "since=-1", 400, "bad_field", "'since': '-1'" },
		{ "GET", "/v1/services/a/history", "since=1e9", 400, "bad_field", "whole number" },
		{ "GET", "/v1/services/a/history", "since=", 400, "bad_field", "'since'" },
		{ "GET", "/v1/services/a/history", "since", 400, "bad_field", "'since'" },
		{ "GET", "/v1/services/a/history", "since=1765000000.5", 400, "bad_field", "whole number" },
		{ "GET", "/v1/services/a/history", "since=9999999999999999", 400, "bad_field", "below 10^15" },
		{ "GET", "/v1/services/a/history", "since=1&since=2", 400, "bad_field", "twice" },
		{ "GET", "/v1/services/a/history", "wait=5", 400, "unknown_field", "takes since" },
		{ "GET", "/metrics", long_name, 400, "unknown_field", "aaaaaaaa..'" },
		{ "GET", "/v1/\xff", NULL, 404, "not_found", "no endpoint /v1/?" },
		{ "PUT", "/healthz/\xe2\x82", NULL, 404, "not_found", "/healthz/?" "?" },
	};
	static const struct api_arg json[] = { { "Content-Type", "application/json" } };
	/* clang-format on */
	struct api a = { .c = NULL };

	memset(long_name, 'a', sizeof(long_name) - 3);
	strcpy(long_name + sizeof(long_name) - 3, "=1");
	for (int i = 0; i < 17; i++)
		strcat(many, "service=a&");
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_req req = { .method = t[i].method,
				       .path = t[i].path,
				       .query = t[i].query,
				       .headers = json,
				       .nheaders = 1 };
		struct api_resp resp;
		json_t *body, *e;

		row("%s %s ? %.40s", t[i].method, t[i].path, t[i].query ? t[i].query : "(none)");
		api_handle(&a, &req, &resp);
		track(resp.body);
		CHECK_INT(resp.status, ==, t[i].status);
		CHECK(resp.body, "no body");
		body = json_loads(resp.body, 0, NULL);
		CHECK(body, "not JSON: %s", resp.body);
		e = json_object_get(body, "error");
		CHECK_STR(json_string_value(json_object_get(e, "code")), t[i].code);
		CHECK_HAS(json_string_value(json_object_get(e, "message")), t[i].says);
		json_decref(body);
	}
}

/* A path is split at its '/' before its segments are decoded: an encoded
 * slash is part of a name, never a separator. */
static void test_api_route_encoded(void)
{
	/* clang-format off */
	static const struct {
		const char *method, *path;
		int ret;		/* -ENOENT, -EPERM or >= 0 */
		const char *cap;
	} t[] = {
		{ "PUT", "/v1/services/default%2Fweights", -ENOENT, NULL },
		{ "PUT", "/v1/services/default%2fweights", -ENOENT, NULL },
		{ "GET", "/v1/services/default%2Fweights", -ENOENT, NULL },
		{ "GET", "/v1/services/default%2Fhistory", -ENOENT, NULL },
		{ "PUT", "/v1%2Fservices/default/weights", -ENOENT, NULL },
		{ "GET", "/v1/services/%2F", -ENOENT, NULL },
		{ "GET", "/v1/services/a%2", -ENOENT, NULL },
		{ "GET", "/v1/services/a%zz", -ENOENT, NULL },
		{ "GET", "/v1/services/a%00b", -ENOENT, NULL },
		{ "GET", "/v1/services/%64efault", 0, "default" },
		{ "GET", "/v1/%73ervices/default", 0, "default" },
		{ "GET", "/v1/services/a%20b", 0, "a b" },
		{ "GET", "/v1/services/a+b", 0, "a+b" },		/* '+' is a plus in a path */
		{ "PUT", "/v1/services/x/weight%73", 0, "x" },
		{ "DELETE", "/v1/services/default%2Fweights", -ENOENT, NULL },
	};
	/* clang-format on */
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	const char *allow;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int r;

		row("%s %s", t[i].method, t[i].path);
		memset(caps, 0, sizeof(caps));
		r = api_route(t[i].method, t[i].path, caps, &allow);
		if (t[i].ret < 0) {
			CHECK_INT(r, ==, t[i].ret);
			continue;
		}
		CHECK(r >= 0, "not routed: %d", r);
		CHECK_STR(caps[0], t[i].cap);
	}
}

/* The API of these tests: 127.0.0.1:9900, a token, one more host and one
 * more origin allowed. */
static const struct hostport test_hosts[] = { { .host = "vsteer.example", .port = 9900 } };
static const struct hostport test_origins[] = {
	{ .host = "dash.example", .port = 443, .https = true },
};
#define TEST_TOKEN "test-token-0123456789"

static struct origin_policy test_policy(const char *addr, int port, bool tls)
{
	struct origin_policy p = { .tls = tls,
				   .hosts = test_hosts,
				   .nhosts = ARRAY_SIZE(test_hosts),
				   .origins = test_origins,
				   .norigins = ARRAY_SIZE(test_origins) };

	ep_from_parts(addr, port, &p.ep);
	return p;
}

/* Up to 4 headers of a table row as a request's list. */
struct hdrs {
	struct api_arg v[4];
};

static size_t count_hdrs(const struct hdrs *h)
{
	size_t n = 0;

	while (n < ARRAY_SIZE(h->v) && h->v[n].name)
		n++;
	return n;
}

/* An error reply: status, a JSON body with the code, the message naming
 * what it is about. */
static void check_refusal(const struct api_resp *resp, int status, const char *code,
			  const char *says)
{
	json_t *body, *e;

	CHECK_INT(resp->status, ==, status);
	CHECK(resp->body, "no body");
	body = json_loads(resp->body, 0, NULL);
	CHECK(body, "not JSON: %s", resp->body);
	e = json_object_get(body, "error");
	CHECK_STR(json_string_value(json_object_get(e, "code")), code);
	CHECK_HAS(json_string_value(json_object_get(e, "message")), says);
	json_decref(body);
}

/* Host and Origin: the API's own names and the configured ones pass, any
 * other is 403, unless the request carries the token. */
static void test_api_origin(void)
{
#define AUTH                                          \
	{                                             \
		"Authorization", "Bearer " TEST_TOKEN \
	}
	/* clang-format off */
	static const struct {
		const char *listen;
		int port;
		bool tls;
		struct hdrs h;
		int status;		/* 0: passes */
		const char *code;
	} t[] = {
		{ "127.0.0.1", 9900, false, { { { "Host", "127.0.0.1:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "host", "localhost:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "LocalHost:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "[::1]:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "[0:0::1]:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "vsteer.example:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "VSTEER.example:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "127.0.0.1" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "127.0.0.1:9901" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "127.0.0.2:9900" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "evil.example:9900" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "localhost.:9900" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "vsteer.example:9901" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "a b:9900" } } }, 400, "bad_host" },
		{ "127.0.0.1", 9900, false, { { { "Host", "x:0" } } }, 400, "bad_host" },
		{ "127.0.0.1", 9900, false, { { { "Host", "[::1" } } }, 400, "bad_host" },
		{ "127.0.0.1", 9900, false, { { { "Host", "" } } }, 400, "bad_host" },
		{ "127.0.0.1", 9900, false, { { { "Host", "127.0.0.1:9900" }, { "Host", "127.0.0.1:9900" } } },
		  400, "bad_host" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://127.0.0.1:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "HTTPS://localhost:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://[::1]:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "https://dash.example" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "https://dash.example:443" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://vsteer.example:9900" } } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://dash.example" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "https://dash.example:8443" } } }, 403,
		  "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://127.0.0.1" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://127.0.0.1:9900/" } } }, 403,
		  "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "null" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "file://" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://evil.example" } } }, 403, "origin_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://127.0.0.1:9900" },
					       { "Origin", "http://evil.example" } } }, 403, "origin_not_allowed" },
		/* the token lets a foreign Host or Origin through, nothing else */
		{ "127.0.0.1", 9900, false, { { { "Origin", "http://evil.example" }, AUTH } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "evil.example:9900" }, AUTH } }, 0, NULL },
		{ "127.0.0.1", 9900, false, { { { "Host", "evil.example:9900" },
					       { "Authorization", "Bearer test-token-012345678" } } },
		  403, "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "evil.example:9900" }, AUTH, AUTH } }, 403,
		  "host_not_allowed" },
		{ "127.0.0.1", 9900, false, { { { "Host", "a b" }, AUTH } }, 400, "bad_host" },
		/* a wildcard API: any IP address, localhost, the configured names */
		{ "0.0.0.0", 9900, false, { { { "Host", "10.9.8.7:9900" } } }, 0, NULL },
		{ "0.0.0.0", 9900, false, { { { "Host", "[2001:db8::1]:9900" } } }, 0, NULL },
		{ "0.0.0.0", 9900, false, { { { "Host", "localhost:9900" } } }, 0, NULL },
		{ "0.0.0.0", 9900, false, { { { "Host", "vsteer.example:9900" } } }, 0, NULL },
		{ "0.0.0.0", 9900, false, { { { "Host", "myhost:9900" } } }, 403, "host_not_allowed" },
		{ "0.0.0.0", 9900, false, { { { "Host", "10.9.8.7:80" } } }, 403, "host_not_allowed" },
		/* an API on another address: only it */
		{ "10.0.0.5", 9900, false, { { { "Host", "10.0.0.5:9900" } } }, 0, NULL },
		{ "10.0.0.5", 9900, false, { { { "Host", "localhost:9900" } } }, 403, "host_not_allowed" },
		{ "10.0.0.5", 9900, false, { { { "Host", "127.0.0.1:9900" } } }, 403, "host_not_allowed" },
		{ "::1", 9900, false, { { { "Host", "[::1]:9900" } } }, 0, NULL },
		{ "::1", 9900, false, { { { "Host", "127.0.0.1:9900" } } }, 0, NULL },
		/* a port left out is the scheme's */
		{ "127.0.0.1", 443, true, { { { "Host", "localhost" } } }, 0, NULL },
		{ "127.0.0.1", 443, false, { { { "Host", "localhost" } } }, 403, "host_not_allowed" },
		{ "127.0.0.1", 80, false, { { { "Host", "127.0.0.1" } } }, 0, NULL },
		{ "127.0.0.1", 80, false, { { { "Origin", "http://localhost" } } }, 0, NULL },
		{ "127.0.0.1", 80, false, { { { "Origin", "https://localhost" } } }, 403, "origin_not_allowed" },
	};
	/* clang-format on */
#undef AUTH
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct origin_policy p = test_policy(t[i].listen, t[i].port, t[i].tls);
		struct api a = { .c = NULL, .token = TEST_TOKEN, .origin = &p };
		struct api_req req = { .method = "GET",
				       .version = "HTTP/1.1",
				       .path = "/v1/services",
				       .headers = t[i].h.v,
				       .nheaders = count_hdrs(&t[i].h) };
		struct api_resp resp;
		int r;

		row("API on %s:%d%s, %s: %s%s%s", t[i].listen, t[i].port, t[i].tls ? " (TLS)" : "",
		    t[i].h.v[0].name, t[i].h.v[0].value, t[i].h.v[1].name ? " and " : "",
		    t[i].h.v[1].name ? t[i].h.v[1].name : "");
		if (!strcmp(t[i].h.v[0].name, "Origin")) /* HTTP/1.0: no Host needed */
			req.version = NULL;
		r = api_check(&a, &req, &resp);
		track(resp.body);
		if (!t[i].status) {
			CHECK(r == 0, "refused: %d %s", resp.status, resp.body);
			continue;
		}
		CHECK_INT(r, ==, -1);
		CHECK_HELPER(check_refusal(&resp, t[i].status, t[i].code,
					   t[i].status == 400			  ? "Host" :
					   !strcmp(t[i].code, "host_not_allowed") ? "Host '" :
										    "Origin"));
		CHECK(resp.close, "a refused head does not close the connection");
	}
}

/* Every request that changes something needs Content-Type:
 * application/json, with a body or without: a cross-site form cannot
 * send it. */
static void test_api_content_type(void)
{
	/* clang-format off */
	static const struct {
		const char *method, *path, *body;
		struct hdrs h;
		int status;
	} t[] = {
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "application/json" } } }, 0 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "content-type", "Application/JSON" } } }, 0 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "application/json; charset=utf-8" } } }, 0 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "application/json;charset=\"UTF-8\"" } } }, 0 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", " application/json " } } }, 0 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { NULL, NULL } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "text/plain" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "text/plain; charset=utf-8" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "application/x-www-form-urlencoded" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "multipart/form-data; boundary=x" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "application/jsonx" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "application/json-patch+json" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "application/json; charset=latin1" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}",
		  { { { "Content-Type", "application/json; boundary=x" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "application/json, text/plain" } } }, 415 },
		{ "PUT", "/v1/services/a/weights", "{}", { { { "Content-Type", "application/json" },
							     { "Content-Type", "application/json" } } }, 415 },
		{ "POST", "/v1/services/a/rollout", "{}", { { { "Content-Type", "text/plain" } } }, 415 },
		{ "DELETE", "/v1/clusters/x", NULL, { { { NULL, NULL } } }, 415 },
		{ "DELETE", "/v1/clusters/x", NULL, { { { "Content-Type", "application/json" } } }, 0 },
		{ "POST", "/v1/services/a/rollout/rollback", NULL, { { { NULL, NULL } } }, 415 },
		{ "POST", "/v1/services/a/rollout/rollback", NULL,
		  { { { "Content-Type", "application/x-www-form-urlencoded" } } }, 415 },
		{ "POST", "/v1/services/a/rollout/rollback", NULL, { { { "Content-Type", "application/json" } } }, 0 },
		{ "GET", "/v1/services", NULL, { { { NULL, NULL } } }, 0 },
		{ "GET", "/v1/services", NULL, { { { "Content-Type", "text/plain" } } }, 0 },
	};
	/* clang-format on */
	struct api a = { .c = NULL };

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_req req = { .method = t[i].method,
				       .path = t[i].path,
				       .headers = t[i].h.v,
				       .nheaders = count_hdrs(&t[i].h),
				       .body = t[i].body,
				       .body_len = t[i].body ? strlen(t[i].body) : 0 };
		struct api_resp resp;
		int r;

		row("%s %s, Content-Type %s", t[i].method, t[i].path,
		    t[i].h.v[0].value ? t[i].h.v[0].value : "(none)");
		r = api_check(&a, &req, &resp);
		track(resp.body);
		if (!t[i].status) {
			CHECK(r == 0, "refused: %d %s", resp.status, resp.body);
			continue;
		}
		CHECK_INT(r, ==, -1);
		CHECK_HELPER(check_refusal(&resp, 415, "unsupported_media_type", "Content-Type"));
	}
}

/* Where a body ends must be beyond doubt, and a head must fit: checked
 * when the head is in, before a body is read. */
static void test_api_framing(void)
{
	static char long_target[API_MAX_TARGET + 2], big_header[API_MAX_HEAD];
	/* clang-format off */
	static const struct {
		const char *version, *path;
		struct hdrs h;
		int status;
		const char *code, *says;
	} t[] = {
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "12" } } },
		  0, NULL, NULL },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "12" },
						  { "content-length", "12" } } }, 0, NULL, NULL },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "12" },
						  { "Content-Length", "012" } } }, 0, NULL, NULL },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "0000000000065536" } } },
		  0, NULL, NULL },
		{ "HTTP/1.0", "/v1/clusters", { { { "Content-Length", "5" } } }, 0, NULL, NULL },
		{ NULL, "/v1/clusters", { { { NULL, NULL } } }, 0, NULL, NULL },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "12" },
						  { "Content-Length", "3" } } },
		  400, "bad_framing", "two different Content-Length" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "12" },
						  { "Transfer-Encoding", "chunked" } } },
		  400, "bad_framing", "both Content-Length and Transfer-Encoding" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Transfer-Encoding", "chunked" } } },
		  411, "length_required", "Transfer-Encoding 'chunked'" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "transfer-encoding", "gzip, chunked" } } },
		  411, "length_required", "Content-Length" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "1a" } } },
		  400, "bad_framing", "'1a' is not a number" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "" } } },
		  400, "bad_framing", "Content-Length" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "-1" } } },
		  400, "bad_framing", "Content-Length" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length", "65537" } } },
		  413, "body_too_large", "65536" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" },
						  { "Content-Length", "99999999999999999999" } } },
		  413, "body_too_large", "65536" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "Content-Length ", "12" } } },
		  400, "bad_framing", "'Content-Length ' is not a token" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "", "x" } } },
		  400, "bad_framing", "not a token" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "X\x01", "x" } } },
		  400, "bad_framing", "'X?'" },
		{ "HTTP/1.1", "/v1/clusters", { { { NULL, NULL } } }, 400, "bad_host", "HTTP/1.1 needs a Host" },
		{ "HTTP/1.2", "/v1/clusters", { { { NULL, NULL } } }, 400, "bad_host", "HTTP/1.2 needs a Host" },
		{ "HTTP/1.1", long_target, { { { "Host", "127.0.0.1:9900" } } }, 414, "uri_too_long", "8192" },
		{ "HTTP/1.1", "/v1/clusters", { { { "Host", "127.0.0.1:9900" }, { "X-Big", big_header } } },
		  431, "headers_too_large", "32768" },
	};
	/* clang-format on */
	struct origin_policy p = test_policy("127.0.0.1", 9900, false);
	struct api a = { .c = NULL, .origin = &p };

	long_target[0] = '/';
	memset(long_target + 1, 'a', sizeof(long_target) - 2);
	memset(big_header, 'b', sizeof(big_header) - 1);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		static const struct api_arg json = { "Content-Type", "application/json" };
		struct api_arg h[5];
		size_t n = count_hdrs(&t[i].h);
		struct api_req req = { .method = "PUT",
				       .version = t[i].version,
				       .path = t[i].path };
		struct api_resp resp;
		int r;

		memcpy(h, t[i].h.v, n * sizeof(h[0]));
		h[n++] = json;
		req.headers = h;
		req.nheaders = n;
		row("%s %.30s: %s %.20s%s%s", t[i].version ? t[i].version : "(no version)",
		    t[i].path, n > 1 ? h[1].name : "", n > 1 ? h[1].value : "",
		    n > 2 ? " and " : "", n > 2 ? h[2].name : "");
		r = api_check_head(&a, &req, &resp);
		track(resp.body);
		if (!t[i].status) {
			CHECK(r == 0, "refused: %d %s", resp.status, resp.body);
			continue;
		}
		CHECK_INT(r, ==, -1);
		CHECK(resp.close, "the connection is not closed after a refused head");
		CHECK_HELPER(check_refusal(&resp, t[i].status, t[i].code, t[i].says));
	}
}

/* The dashboard's files: as named, read-only, with the page's headers
 * (errors too); nothing decoded, so no path leaves the table; the same
 * Host check as the API's; never a handler (a->c is NULL here). */
static void test_api_ui(void)
{
	static const struct ui_asset files[] = {
		{ "index.html", "text/html; charset=utf-8", "<!doctype html>", 15 },
		{ "app.js", "text/javascript; charset=utf-8", "start();", 8 },
		{ "vendor/uplot/uPlot.min.css", "text/css; charset=utf-8", ".u{}", 4 },
		{ 0 },
	};
	/* clang-format off */
	static const struct {
		const char *method, *path, *query, *host;
		bool none; /* a vsteerd without the files */
		int status;
		const char *type_or_code, *location;
	} t[] = {
		{ "GET", "/ui/", NULL, NULL, false, 200, "text/html; charset=utf-8", NULL },
		{ "GET", "/ui/index.html", NULL, NULL, false, 200, "text/html; charset=utf-8", NULL },
		{ "HEAD", "/ui/app.js", NULL, NULL, false, 200, "text/javascript; charset=utf-8", NULL },
		{ "GET", "/ui/app.js", "v=1&x", NULL, false, 200, "text/javascript; charset=utf-8", NULL },
		{ "GET", "/ui/vendor/uplot/uPlot.min.css", NULL, NULL, false, 200, "text/css; charset=utf-8", NULL },
		{ "GET", "/ui", NULL, NULL, false, 301, "text/plain; charset=utf-8", "/ui/" },
		{ "HEAD", "/ui", NULL, NULL, false, 301, "text/plain; charset=utf-8", "/ui/" },
		{ "POST", "/ui/", NULL, NULL, false, 405, "method_not_allowed", NULL },
		{ "DELETE", "/ui/app.js", NULL, NULL, false, 405, "method_not_allowed", NULL },
		{ "GET", "/ui/x", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/../v1/services", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/%2e%2e/v1/services", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/%61pp.js", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui//app.js", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/vendor/", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/app.js/", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/app.js%00", NULL, NULL, false, 404, "not_found", NULL },
		{ "GET", "/ui/", NULL, NULL, true, 404, "not_found", NULL },
		{ "GET", "/ui/", NULL, "evil.example:9900", false, 403, "host_not_allowed", NULL },
	};
	/* clang-format on */
	struct origin_policy p = test_policy("127.0.0.1", 9900, false);

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api a = { .c = NULL, .origin = &p, .ui = t[i].none ? NULL : files };
		struct api_arg h[2] = { { "Host", t[i].host ? t[i].host : "127.0.0.1:9900" },
					{ "Content-Type", "application/json" } };
		struct api_req req = { .method = t[i].method,
				       .version = "HTTP/1.1",
				       .path = t[i].path,
				       .query = t[i].query,
				       .headers = h,
				       .nheaders = 2 };
		struct api_resp resp;

		row("%s %s%s%s", t[i].method, t[i].path, t[i].query ? "?" : "",
		    t[i].query ? t[i].query : "");
		api_handle(&a, &req, &resp);
		track(resp.body);
		if (t[i].status >= 400) {
			CHECK_HELPER(check_refusal(&resp, t[i].status, t[i].type_or_code, ""));
			/* a refusal of the page's Host check is the API's own */
			CHECK(t[i].status == 403 || resp.headers == ui_headers,
			      "no page headers on an error under /ui");
			CHECK(t[i].status != 405 || !strcmp(resp.allow, "GET, HEAD"), "Allow: %s",
			      resp.allow);
			continue;
		}
		CHECK_INT(resp.status, ==, t[i].status);
		CHECK(!resp.body && resp.file, "not a file of the table's");
		CHECK_STR(resp.content_type, t[i].type_or_code);
		CHECK(resp.headers == ui_headers, "no page headers");
		CHECK(t[i].location ? resp.location && !strcmp(resp.location, t[i].location) :
				      !resp.location,
		      "Location: %s", resp.location);
	}
	/* A body: 400 for a file, as JSON; 404 first for no file (what the
	 * head's checks said). */
	for (int i = 0; i < 2; i++) {
		struct api a = { .c = NULL, .origin = &p, .ui = files };
		struct api_arg h[1] = { { "Host", "127.0.0.1:9900" } };
		struct api_req req = { .method = "GET",
				       .version = "HTTP/1.1",
				       .path = i ? "/ui/x" : "/ui/",
				       .headers = h,
				       .nheaders = 1,
				       .body = "{}",
				       .body_len = 2 };
		struct api_resp resp;

		row("GET %s with a body", req.path);
		CHECK_INT(api_check(&a, &req, &resp), ==, -1);
		track(resp.body);
		CHECK_HELPER(check_refusal(&resp, i ? 404 : 400,
					   i ? "not_found" : "unexpected_body", ""));
		CHECK(!resp.content_type && !resp.file && resp.headers == ui_headers,
		      "a JSON error with the page's headers");
	}
	for (const struct api_arg *h = ui_headers; h->name; h++)
		if (!strcmp(h->name, "Content-Security-Policy")) {
			CHECK_HAS(h->value, "default-src 'self'");
			CHECK_HAS(h->value, "frame-ancestors 'none'");
			CHECK(!strstr(h->value, "unsafe-"), "CSP: %s", h->value);
		}
}

static void test_hostport_parse(void)
{
	/* clang-format off */
	static const struct {
		const char *s;
		bool origin;
		int ret;
		const char *host;
		int family, port;
		bool https;
	} t[] = {
		{ "localhost", false, 0, "localhost", 0, 0, false },
		{ "LocalHost:9900", false, 0, "localhost", 0, 9900, false },
		{ "a-b_c.example:1", false, 0, "a-b_c.example", 0, 1, false },
		{ "127.0.0.1:65535", false, 0, "127.0.0.1", AF_INET, 65535, false },
		{ "[::1]:80", false, 0, "::1", AF_INET6, 80, false },
		{ "[0:0:0::1]", false, 0, "::1", AF_INET6, 0, false },
		{ "[::FFFF:127.0.0.1]:1", false, 0, "::ffff:127.0.0.1", AF_INET6, 1, false },
		{ "http://Example.com", true, 0, "example.com", 0, 80, false },
		{ "https://example.com", true, 0, "example.com", 0, 443, true },
		{ "HTTPS://[::1]:9900", true, 0, "::1", AF_INET6, 9900, true },
		{ "", false, -EINVAL, NULL, 0, 0, false },
		{ ":80", false, -EINVAL, NULL, 0, 0, false },
		{ "a:", false, -EINVAL, NULL, 0, 0, false },
		{ "a:0", false, -EINVAL, NULL, 0, 0, false },
		{ "a:65536", false, -EINVAL, NULL, 0, 0, false },
		{ "a:123456", false, -EINVAL, NULL, 0, 0, false },
		{ "a:+80", false, -EINVAL, NULL, 0, 0, false },
		{ "a:80:80", false, -EINVAL, NULL, 0, 0, false },
		{ "a b", false, -EINVAL, NULL, 0, 0, false },
		{ "a/b", false, -EINVAL, NULL, 0, 0, false },
		{ "user@a", false, -EINVAL, NULL, 0, 0, false },
		{ "::1", false, -EINVAL, NULL, 0, 0, false },
		{ "[::1", false, -EINVAL, NULL, 0, 0, false },
		{ "[::1]x", false, -EINVAL, NULL, 0, 0, false },
		{ "[]", false, -EINVAL, NULL, 0, 0, false },
		{ "[localhost]", false, -EINVAL, NULL, 0, 0, false },
		{ "null", true, -EINVAL, NULL, 0, 0, false },
		{ "example.com", true, -EINVAL, NULL, 0, 0, false },
		{ "ftp://example.com", true, -EINVAL, NULL, 0, 0, false },
		{ "http://", true, -EINVAL, NULL, 0, 0, false },
		{ "http://example.com/", true, -EINVAL, NULL, 0, 0, false },
		{ "http://example.com:80/x", true, -EINVAL, NULL, 0, 0, false },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct hostport hp;
		int r;

		row("%s'%s'", t[i].origin ? "origin " : "", t[i].s);
		r = t[i].origin ? hostport_parse_origin(t[i].s, &hp) : hostport_parse(t[i].s, &hp);
		CHECK_INT(r, ==, t[i].ret);
		if (r)
			continue;
		CHECK_STR(hp.host, t[i].host);
		CHECK_INT(hp.family, ==, t[i].family);
		CHECK_INT(hp.port, ==, t[i].port);
		CHECK_INT(hp.https, ==, t[i].https);
	}
}

static void test_str_unescape(void)
{
	/* clang-format off */
	static const struct {
		const char *s;
		bool plus;
		int ret;
		const char *out;
	} t[] = {
		{ "abc", false, 3, "abc" },
		{ "a%2Fb", false, 3, "a/b" },
		{ "a%2fb", false, 3, "a/b" },
		{ "%41%42", false, 2, "AB" },
		{ "a+b", false, 3, "a+b" },
		{ "a+b", true, 3, "a b" },
		{ "a%2Bb", true, 3, "a+b" },
		{ "%ff", false, 1, "\xff" },
		{ "", false, 0, "" },
		{ "%", false, -EINVAL, NULL },
		{ "%4", false, -EINVAL, NULL },
		{ "a%4", false, -EINVAL, NULL },
		{ "%zz", false, -EINVAL, NULL },
		{ "%4g", false, -EINVAL, NULL },
		{ "a%00b", false, -EINVAL, NULL },
		{ "0123456789", false, -ENAMETOOLONG, NULL },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char out[10];

		row("'%s'%s", t[i].s, t[i].plus ? " (+ is a space)" : "");
		CHECK_INT(str_unescape(out, sizeof(out), t[i].s, strlen(t[i].s), t[i].plus), ==,
			  t[i].ret);
		if (t[i].out)
			CHECK_STR(out, t[i].out);
	}
}

static void test_sock_serves(void)
{
	/* clang-format off */
	static const struct {
		const char *addr;	/* listener address */
		uint16_t port;
		bool v6only;
		const char *bk;
		bool want;
	} t[] = {
		{ "127.0.0.1", 9001, false, "127.0.0.1:9001", true },
		{ "0.0.0.0", 9001, false, "127.0.0.1:9001", true },
		{ "0.0.0.0", 9001, false, "10.1.2.3:9001", true },
		{ "127.0.0.1", 9002, false, "127.0.0.1:9001", false },
		{ "0.0.0.0", 9002, false, "127.0.0.1:9001", false },
		{ "127.0.0.2", 9001, false, "127.0.0.1:9001", false },
		{ "::", 9001, false, "127.0.0.1:9001", true },		/* dual stack */
		{ "::", 9001, true, "127.0.0.1:9001", false },		/* v6only */
		{ "::", 9002, false, "127.0.0.1:9001", false },
		{ "::1", 9001, false, "127.0.0.1:9001", false },
		{ "::", 9001, false, "[::1]:9001", true },
		{ "::", 9001, true, "[::1]:9001", true },
		{ "::1", 9001, false, "[::1]:9001", true },
		{ "::2", 9001, false, "[::1]:9001", false },
		{ "0.0.0.0", 9001, false, "[::1]:9001", false },	/* IPv4 never serves IPv6 */
		{ "127.0.0.1", 9001, false, "[::ffff:127.0.0.1]:9001", false },
		{ "0.0.0.0", 9001, false, "[::]:9001", false },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct vs_listener l;
		struct vs_endpoint bk = ep_of(t[i].bk);

		row("listener %s port %u%s, backend %s", t[i].addr, t[i].port,
		    t[i].v6only ? " v6only" : "", t[i].bk);
		CHECK(bk.family, "bad backend in the table");
		memset(&l, 0, sizeof(l));
		l.cookie = 1000 + i;
		l.port = t[i].port;
		l.v6only = t[i].v6only;
		if (inet_pton(AF_INET, t[i].addr, l.addr) == 1)
			l.family = AF_INET;
		else if (inet_pton(AF_INET6, t[i].addr, l.addr) == 1)
			l.family = AF_INET6;
		CHECK(l.family, "bad listener in the table");
		CHECK_INT(sock_serves(&l, &bk), ==, t[i].want);
	}
}

const struct unit_case router_cases[] = {
	TEST(test_ro_strategy_parse), TEST(test_ro_op_parse),
	TEST(test_api_route_match),   TEST(test_api_route_errors),
	TEST(test_api_query_args),    TEST(test_api_route_encoded),
	TEST(test_api_origin),	      TEST(test_api_content_type),
	TEST(test_api_framing),	      TEST(test_api_ui),
	TEST(test_hostport_parse),    TEST(test_str_unescape),
	TEST(test_sock_serves),	      { NULL, NULL }
};
