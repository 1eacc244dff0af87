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

#include "api/router.h"
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
		{ "GET", "/v1/clusters", "clusters", NULL },
		{ "PUT", "/v1/clusters", "cluster_put", NULL },
		{ "GET", "/v1/clusters/3f2a-11", "cluster_get", "3f2a-11" },
		{ "DELETE", "/v1/clusters/3f2a-11", "cluster_delete", "3f2a-11" },
		{ "DELETE", "/v1/clusters/x", "cluster_delete", "x" },
		{ "GET", path63, "service", long63 },
	};
	/* clang-format on */
	const char *route_of[16] = { NULL };
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
		{ "DELETE", "/v1/services", -EPERM, "GET" },
		{ "POST", "/v1/clusters", -EPERM, "GET, PUT" },
		{ "DELETE", "/v1/services/x/weights", -EPERM, "PUT" },
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
 * without a controller: router.c never touches a.c on this path. Input that
 * is not UTF-8 still gets a JSON error naming it (jansson refuses such
 * strings: a message quoting one would be no body at all). */
static void test_api_query_args(void)
{
	static char long_name[100];
	/* clang-format off */
	static const struct {
		const char *method, *path;
		struct api_arg args[2];
		size_t nargs;
		int status;
		const char *code, *says;
	} t[] = {
		{ "DELETE", "/v1/clusters/x", { { "force", "yes" } }, 1, 400, "bad_field", "'force': 'yes'" },
		{ "DELETE", "/v1/clusters/x", { { "force", "TRUE" } }, 1, 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", { { "force", "" } }, 1, 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", { { "force", NULL } }, 1, 400, "bad_field", "'force'" },
		{ "DELETE", "/v1/clusters/x", { { "force", "1" }, { "force", "0" } }, 2, 400, "bad_field",
		  "'force' given twice" },
		{ "DELETE", "/v1/clusters/x", { { "foce", "true" } }, 1, 400, "unknown_field",
		  "'foce': DELETE /v1/clusters/{} takes force" },
		{ "POST", "/v1/services/a/rollout/promote", { { "full", "2" } }, 1, 400, "bad_field", "'full'" },
		{ "POST", "/v1/services/a/rollout/promote", { { "full", "\xff\xfe" } }, 1, 400, "bad_field",
		  "'?" "?'" },
		{ "POST", "/v1/services/a/rollout", { { "full", "true" } }, 1, 400, "unknown_field", "takes none" },
		{ "GET", "/v1/services", { { "verbose", "1" } }, 1, 400, "unknown_field", "takes none" },
		{ "GET", "/healthz", { { "\xc3", "1" } }, 1, 400, "unknown_field", "'?'" },
		{ "PUT", "/v1/services/a/weights", { { "dryRun", "true" } }, 1, 400, "unknown_field", "'dryRun'" },
		{ "GET", "/v1/events", { { "service", "" } }, 1, 400, "bad_field", "'service' needs a value" },
		{ "GET", "/v1/events", { { "service", NULL } }, 1, 400, "bad_field", "'service'" },
		{ "GET", "/v1/events", { { "service", "a" }, { "svc", "a" } }, 2, 400, "unknown_field", "'svc'" },
		{ "GET", "/v1/events", { { "service", "a" }, { "service", "b" } }, 2, 400, "bad_field", "twice" },
		{ "GET", "/metrics", { { long_name, "1" } }, 1, 400, "unknown_field", "aaaaaaaa..'" },
		{ "GET", "/v1/\xff", { { NULL, NULL } }, 0, 404, "not_found", "no endpoint /v1/?" },
		{ "PUT", "/healthz/\xe2\x82", { { NULL, NULL } }, 0, 404, "not_found", "/healthz/?" "?" },
	};
	/* clang-format on */
	struct api a = { .c = NULL };

	memset(long_name, 'a', sizeof(long_name) - 1);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_req req = { .method = t[i].method,
				       .path = t[i].path,
				       .args = t[i].args,
				       .nargs = t[i].nargs };
		struct api_resp resp;
		json_t *body, *e;

		row("%s %s %s=%s", t[i].method, t[i].path,
		    t[i].args[0].name ? t[i].args[0].name : "",
		    t[i].args[0].value ? t[i].args[0].value : "(none)");
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

const struct unit_case router_cases[] = { TEST(test_ro_strategy_parse),
					  TEST(test_ro_op_parse),
					  TEST(test_api_route_match),
					  TEST(test_api_route_errors),
					  TEST(test_api_query_args),
					  TEST(test_sock_serves),
					  { NULL, NULL } };
