// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Versions (validity, ordering), endpoints and percentages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <sys/socket.h>

#include "core/addr.h"
#include "core/model.h"
#include "core/owner.h"
#include "core/version.h"
#include "codec/parse.h"
#include "codec/state.h"

#include "harness.h"
#include "helpers.h"

static void test_version_valid(void)
{
	/* clang-format off */
	static const struct {
		const char *v;
		bool ok;
	} t[] = {
		{ "1", true }, { "0", true }, { "0.0", true }, { "1.10", true },
		{ "2.0.3", true }, { "123456789", true }, { "1.2.3.4.5.6.7.8", true },
		{ "123456789.123456789.123456789.1", true },	/* 31 chars */
		{ "", false }, { "1.", false }, { ".1", false }, { "1..2", false },
		{ "a", false }, { "1.2a", false }, { "v1", false }, { "-1", false },
		{ "+1", false }, { " 1", false }, { "1 ", false }, { "1,2", false },
		{ "1234567890", false },			/* 10-digit part */
		{ "1.1234567890", false },
		{ "1.2.3.4.5.6.7.8.9", false },			/* 9 parts */
		{ "123456789.123456789.123456789.12", false },	/* 32 chars */
		{ "1234567.1234567.1234567.1234567.12345678", false },	/* 40 chars */
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("'%s'", t[i].v);
		CHECK_INT(version_valid(t[i].v), ==, t[i].ok);
	}
	row("%s", "");
	CHECK_INT(strlen(t[ARRAY_SIZE(t) - 1].v), ==, 40);
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void test_version_cmp(void)
{
	/* clang-format off */
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
		{ "1.10", "1.9", 1 },
		{ "1.0", "1", 0 },
		{ "1", "1.0.0.0", 0 },
		{ "0.0", "0", 0 },
		{ "01.2", "1.02", 0 },
		{ "2", "1.99.99", 1 },
		{ "1.2.3", "1.2.4", -1 },
		{ "1.0.0.1", "1", 1 },
		{ "10", "9", 1 },
		{ "1.9.1", "1.10", -1 },
		{ "123456789", "123456788", 1 },
		{ "3", "3", 0 },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("'%s' vs '%s'", t[i].a, t[i].b);
		CHECK_INT(sign(version_cmp(t[i].a, t[i].b)), ==, t[i].want);
		CHECK_INT(sign(version_cmp(t[i].b, t[i].a)), ==, -t[i].want);
	}
	/* Strings that are no version must still compare, and end: the
	 * fuzzer found an endless loop here. The result is unspecified. */
	static const char *const junk[] = { "abc", "1.x", "..", "-1", "1..2", " 1", "" };

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
		row("junk '%s'", junk[i]);
		(void)version_cmp(junk[i], "1.0");
		(void)version_cmp("1.0", junk[i]);
		(void)version_cmp(junk[i], junk[i]);
	}
}

static void test_ep_parse_good(void)
{
	/* clang-format off */
	static const char *const good[] = {
		"127.0.0.1:80", "[::1]:9001", "0.0.0.0:1", "1.2.3.4:65535",
		"[2001:db8::1]:443", "[::]:8080", "255.255.255.255:9",
	};
	/* clang-format on */
	struct vs_endpoint e;
	char buf[EP_STRLEN];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		row("'%s'", good[i]);
		memset(&e, 0xa5, sizeof(e));
		CHECK_INT(ep_parse(good[i], &e), ==, 0);
		ep_format(&e, buf, sizeof(buf));
		CHECK_STR(buf, good[i]);
	}

	row("%s", "127.0.0.1:80 fields");
	memset(&e, 0xa5, sizeof(e));
	CHECK_INT(ep_parse("127.0.0.1:80", &e), ==, 0);
	CHECK_INT(e.family, ==, AF_INET);
	CHECK_INT(e.port, ==, 80);
	CHECK_INT(e.addr[0], ==, htonl(0x7f000001));
	CHECK(!e.addr[1] && !e.addr[2] && !e.addr[3], "IPv4 leaves addr[1..3] non-zero");
	CHECK(!ep_addr_is_any(&e), "127.0.0.1 is not the wildcard");

	row("%s", "[::1]:9001 fields");
	CHECK_INT(ep_parse("[::1]:9001", &e), ==, 0);
	CHECK_INT(e.family, ==, AF_INET6);
	CHECK_INT(e.port, ==, 9001);
	CHECK(!e.addr[0] && !e.addr[1] && !e.addr[2] && e.addr[3] == htonl(1), "::1");
	ep_format_addr(&e, buf, sizeof(buf));
	CHECK_STR(buf, "::1");

	row("%s", "wildcards");
	e = ep_of("0.0.0.0:1");
	CHECK(ep_addr_is_any(&e), "0.0.0.0");
	e = ep_of("[::]:1");
	CHECK(ep_addr_is_any(&e), "::");

	row("%s", "ep_equal");
	struct vs_endpoint a = ep_of("127.0.0.1:80"), b = ep_of("127.0.0.1:80");
	struct vs_endpoint c = ep_of("127.0.0.1:81"), d = ep_of("127.0.0.2:80");

	CHECK(ep_equal(&a, &b), "same");
	CHECK(!ep_equal(&a, &c), "port differs");
	CHECK(!ep_equal(&a, &d), "address differs");
}

static void test_ep_parse_bad(void)
{
	/* clang-format off */
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:0", ":80", "127.0.0.1:65536",
		"1.2.3:80", "::1:80", "[::1]80", "127.0.0.1:80x", "127.0.0.1:-1",
		"127.0.0.1: 80", "127.0.0.1:+80", "127.0.0.1:", "[::1]:", "[]:80",
		"[::1:80", "localhost:80", "1.2.3.4.5:80", "256.0.0.1:80",
		"127.0.0.1:99999999999999999999", "127.0.0.1:80 ", " 127.0.0.1:80",
		"[::1]:80:80", "::1", "[fe80::1%eth0]:80",
	};
	/* clang-format on */
	struct vs_endpoint e;

	/* Rejected at all first, so a wrong errno cannot hide an input
	 * that is let through. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("'%s'", bad[i]);
		CHECK(ep_parse(bad[i], &e) < 0, "accepted as %s", ep_str(&e));
	}
	/* addr.h: "-EINVAL unless the whole string parses and the port is
	 * 1..65535" */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("'%s'", bad[i]);
		CHECK_INT(ep_parse(bad[i], &e), ==, -EINVAL);
	}
}

static void test_percent_to_bp(void)
{
	/* clang-format off */
	static const struct {
		double pct;
		int ret;
		uint16_t bp;
	} t[] = {
		{ 25, 0, 2500 }, { 0.5, 0, 50 }, { 0.01, 0, 1 }, { 100, 0, 10000 },
		{ 0, 0, 0 }, { 33.33, 0, 3333 }, { 66.67, 0, 6667 }, { 99.99, 0, 9999 },
		{ -1, -EINVAL, 0 }, { 100.01, -EINVAL, 0 }, { 0.001, -EINVAL, 0 },
		{ 12.345, -EINVAL, 0 }, { -0.01, -EINVAL, 0 }, { 1e9, -EINVAL, 0 },
		{ NAN, -EINVAL, 0 }, { INFINITY, -EINVAL, 0 }, { -INFINITY, -EINVAL, 0 },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint16_t bp = 0xbeef;

		row("%g%%", t[i].pct);
		CHECK_INT(model_percent_to_bp(t[i].pct, &bp), ==, t[i].ret);
		if (t[i].ret == 0)
			CHECK_INT(bp, ==, t[i].bp);
		else
			CHECK_INT(bp, ==, 0xbeef); /* untouched on error */
	}
}

/* A cluster's "owner": what parses, and what a socket of a uid and
 * cgroup then may serve. */
static void test_owner(void)
{
	/* clang-format off */
	static const struct {
		const char *json;
		int ret;		/* of parse_owner */
		const char *code;	/* if ret */
		bool any_uid;
		uint32_t uid;
		const char *cgroup;
	} parse[] = {
		{ "{'uid': 1000}", 0, NULL, false, 1000, "" },
		{ "{'uid': 0, 'cgroup': '/system.slice/app-v2.service'}", 0, NULL, false, 0,
		  "/system.slice/app-v2.service" },
		{ "{'cgroup': '/'}", 0, NULL, true, 0, "/" },
		{ "{'uid': 4294967294}", 0, NULL, false, 4294967294u, "" },
		{ "{}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'uid': -1}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'uid': 4294967295}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'uid': '1000'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'uid': 1.5}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': 'system.slice'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': '/a/'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': '/a//b'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': '/a/../b'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': '/a/./b'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': '/a b'}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'cgroup': 7}", -EINVAL, "bad_owner", false, 0, NULL },
		{ "{'user': 1000}", -EINVAL, "unknown_field", false, 0, NULL },
		{ "[1000]", -EINVAL, "bad_field", false, 0, NULL },
	};
	static const struct {
		const char *owner;	/* NULL: not known yet */
		uint32_t uid;
		const char *cgroup;
		bool allowed;
	} allows[] = {
		{ NULL, 65534, "/x", true },
		{ "{'uid': 1000}", 1000, "/anything", true },
		{ "{'uid': 1000}", 1000, "", true },
		{ "{'uid': 1000}", 0, "/anything", false },
		{ "{'cgroup': '/system.slice/a.service'}", 5, "/system.slice/a.service", true },
		{ "{'cgroup': '/system.slice/a.service'}", 5, "/system.slice/a.service/sub", true },
		{ "{'cgroup': '/system.slice/a.service'}", 5, "/system.slice/a.service2", false },
		{ "{'cgroup': '/system.slice/a.service'}", 5, "/system.slice", false },
		{ "{'cgroup': '/system.slice/a.service'}", 5, "", false },
		{ "{'uid': 0, 'cgroup': '/a'}", 0, "/a", true },
		{ "{'uid': 0, 'cgroup': '/a'}", 1, "/a", false },
		{ "{'uid': 0, 'cgroup': '/'}", 0, "", true },
	};
	/* clang-format on */
	struct vs_err err;
	struct owner o;

	for (size_t i = 0; i < ARRAY_SIZE(parse); i++) {
		json_t *j = json_loads(jq(parse[i].json), 0, NULL);

		row("%s", parse[i].json);
		CHECK(j, "test input");
		memset(&err, 0, sizeof(err));
		CHECK_INT(parse_owner(j, "owner", &o, &err), ==, parse[i].ret);
		json_decref(j);
		if (parse[i].ret) {
			CHECK_STR(err.code, parse[i].code);
			CHECK_HAS(err.msg, "owner");
			continue;
		}
		CHECK(o.set, "set");
		CHECK_INT(o.any_uid, ==, parse[i].any_uid);
		CHECK_INT(o.uid, ==, parse[i].uid);
		CHECK_STR(o.cgroup, parse[i].cgroup);
	}
	for (size_t i = 0; i < ARRAY_SIZE(allows); i++) {
		row("%s: uid %u cgroup '%s'", allows[i].owner ? allows[i].owner : "unknown",
		    allows[i].uid, allows[i].cgroup);
		memset(&o, 0, sizeof(o));
		if (allows[i].owner) {
			json_t *j = json_loads(jq(allows[i].owner), 0, NULL);

			CHECK(j && !parse_owner(j, "owner", &o, &err), "test input");
			json_decref(j);
		}
		CHECK_INT(owner_allows(&o, allows[i].uid, allows[i].cgroup), ==, allows[i].allowed);
	}
	/* Recorded from a socket: its uid and exact cgroup. */
	owner_of(&o, 42, "/user.slice/session-3.scope");
	CHECK(o.set && !o.any_uid && o.uid == 42, "recorded uid");
	CHECK(owner_allows(&o, 42, "/user.slice/session-3.scope"), "its own socket");
	CHECK(!owner_allows(&o, 43, "/user.slice/session-3.scope"), "another uid");
	CHECK(!owner_allows(&o, 42, "/user.slice/session-4.scope"), "another cgroup");
}

/* The whole-number fields of a service's "sessions" and a cluster's
 * "health": defaults for what is left out, each bound, and nothing written
 * when one is refused. */
static void test_int_fields(void)
{
	/* clang-format off */
	static const struct {
		const char *json;
		int ret;
		const char *named;	/* in the error if ret */
		uint32_t key6, quota, quota4, quota6;
	} sess[] = {
		{ "{}", 0, NULL, 64, 256, 24, 48 },
		{ "{'ipv6Prefix': 56, 'quota': 0}", 0, NULL, 56, 0, 24, 48 },
		{ "{'ipv6Prefix': 128, 'quota': 1000000, 'quotaPrefix4': 32, 'quotaPrefix6': 1}", 0,
		  NULL, 128, 1000000, 32, 1 },
		{ "{'ipv6Prefix': 0}", -EINVAL,
		  "sessions.ipv6Prefix: must be a whole number from 1 to 128", 0, 0, 0, 0 },
		{ "{'ipv6Prefix': 129}", -EINVAL, "sessions.ipv6Prefix", 0, 0, 0, 0 },
		{ "{'quota': 1000001}", -EINVAL,
		  "sessions.quota: must be a whole number from 0 to 1000000", 0, 0, 0, 0 },
		{ "{'quota': -1}", -EINVAL, "sessions.quota", 0, 0, 0, 0 },
		{ "{'quotaPrefix4': 33}", -EINVAL, "sessions.quotaPrefix4", 0, 0, 0, 0 },
		{ "{'quotaPrefix6': 2.5}", -EINVAL, "sessions.quotaPrefix6", 0, 0, 0, 0 },
		{ "{'quota': '10'}", -EINVAL, "sessions.quota", 0, 0, 0, 0 },
		{ "{'quota': 10, 'window': 5}", -EINVAL, "window", 0, 0, 0, 0 },
	};
	static const struct {
		const char *health;
		int ret;
		const char *named;
		uint32_t interval_ms, timeout_ms, unhealthy_after, healthy_after;
	} health[] = {
		{ "{'path': '/healthz'}", 0, NULL, 1000, 500, 3, 2 },
		{ "{'path': '/h', 'intervalMs': 100, 'timeoutMs': 10, 'unhealthyAfter': 100, "
		  "'healthyAfter': 1}", 0, NULL, 100, 10, 100, 1 },
		{ "{'path': '/h', 'intervalMs': 99}", -EINVAL,
		  "c.health.intervalMs: must be a whole number from 100 to 3600000", 0, 0, 0, 0 },
		{ "{'path': '/h', 'timeoutMs': 60001}", -EINVAL, "c.health.timeoutMs", 0, 0, 0, 0 },
		{ "{'path': '/h', 'unhealthyAfter': 0}", -EINVAL, "c.health.unhealthyAfter", 0, 0, 0, 0 },
		{ "{'path': '/h', 'healthyAfter': true}", -EINVAL, "c.health.healthyAfter", 0, 0, 0, 0 },
		{ "{'path': '/h', 'intervalMs': 500, 'timeoutMs': 500}", -EINVAL,
		  "timeoutMs must be below intervalMs", 0, 0, 0, 0 },
	};
	/* clang-format on */
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(sess); i++) {
		json_t *j = json_loads(jq(sess[i].json), 0, NULL);
		struct sess_opts o;

		row("sessions %s", sess[i].json);
		CHECK(j, "test input");
		model_sess_defaults(&o);
		memset(&err, 0, sizeof(err));
		CHECK_INT(parse_sess_opts(j, "sessions", &o, &err), ==, sess[i].ret);
		json_decref(j);
		if (sess[i].ret) {
			struct sess_opts dflt;

			CHECK_HAS(err.msg, sess[i].named);
			model_sess_defaults(&dflt);
			CHECK(o.key6 == dflt.key6 && o.quota == dflt.quota &&
				      o.quota4 == dflt.quota4 && o.quota6 == dflt.quota6,
			      "refused, yet written");
			continue;
		}
		CHECK_INT(o.key6, ==, sess[i].key6);
		CHECK_INT(o.quota, ==, sess[i].quota);
		CHECK_INT(o.quota4, ==, sess[i].quota4);
		CHECK_INT(o.quota6, ==, sess[i].quota6);
	}
	for (size_t i = 0; i < ARRAY_SIZE(health); i++) {
		char text[512];
		json_t *j;
		struct cluster c = {};

		snprintf(text, sizeof(text),
			 "{'version': '1.0', 'servers': ['127.0.0.1:9001'], "
			 "'health': %s}",
			 health[i].health);
		row("health %s", health[i].health);
		j = json_loads(jq(text), 0, NULL);
		CHECK(j, "test input");
		memset(&err, 0, sizeof(err));
		CHECK_INT(parse_cluster(j, "c", NULL, &c, &err), ==, health[i].ret);
		json_decref(j);
		if (health[i].ret) {
			CHECK_STR(err.code, "bad_health");
			CHECK_HAS(err.msg, health[i].named);
			continue;
		}
		CHECK(c.health.on, "health on");
		CHECK_INT(c.health.interval_ms, ==, health[i].interval_ms);
		CHECK_INT(c.health.timeout_ms, ==, health[i].timeout_ms);
		CHECK_INT(c.health.unhealthy_after, ==, health[i].unhealthy_after);
		CHECK_INT(c.health.healthy_after, ==, health[i].healthy_after);
	}
}

/* Servers in other network namespaces: each form, and every way to get
 * one wrong, named in the error; the state file's form reads back. */
static void test_servers_netns(void)
{
	static const struct {
		const char *servers;
		int ret;
		enum netns_kind kind;
		const char *named; /* the error names it, or the spec it formats to */
	} rows[] = {
		{ "['10.88.0.2:80']", 0, NETNS_OWN, "" },
		{ "[{'address': '10.88.0.2:80', 'netns': '/run/netns/c1'}]", 0, NETNS_PATH,
		  "/run/netns/c1" },
		{ "[{'address': '10.88.0.2', 'port': 80, 'pid': 1234}]", 0, NETNS_PID, "pid 1234" },
		{ "[{'address': '10.88.0.2:80', 'container': 'web-2.0_a'}]", 0, NETNS_CONTAINER,
		  "container web-2.0_a" },
		{ "[{'address': '10.88.0.2:80'}]", 0, NETNS_OWN, "" },
		{ "[{'address': '10.88.0.2:80', 'netns': 'run/netns/c1'}]", -EINVAL, 0,
		  "servers[0].netns" },
		{ "[{'address': '10.88.0.2:80', 'netns': '/run/netns/../../etc'}]", -EINVAL, 0,
		  "servers[0].netns" },
		{ "[{'address': '10.88.0.2:80', 'netns': 5}]", -EINVAL, 0, "servers[0].netns" },
		{ "[{'address': '10.88.0.2:80', 'pid': 0}]", -EINVAL, 0, "servers[0].pid" },
		{ "[{'address': '10.88.0.2:80', 'pid': -3}]", -EINVAL, 0, "servers[0].pid" },
		{ "[{'address': '10.88.0.2:80', 'pid': 4294967296}]", -EINVAL, 0,
		  "servers[0].pid" },
		{ "[{'address': '10.88.0.2:80', 'pid': '12'}]", -EINVAL, 0, "servers[0].pid" },
		{ "[{'address': '10.88.0.2:80', 'container': '-rm'}]", -EINVAL, 0,
		  "servers[0].container" },
		{ "[{'address': '10.88.0.2:80', 'container': 'a b'}]", -EINVAL, 0,
		  "servers[0].container" },
		{ "[{'address': '10.88.0.2:80', 'pid': 5, 'container': 'x'}]", -EINVAL, 0,
		  "one of netns, pid and container" },
		{ "[{'address': '10.88.0.2:80', 'netnz': '/x'}]", -EINVAL, 0, "netnz" },
		{ "[{'netns': '/run/netns/c1'}]", -EINVAL, 0, "servers[0].address" },
	};
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char text[512], got[NETNS_STRLEN];
		struct cluster c = {}, back = {};
		json_t *j, *k;

		snprintf(text, sizeof(text), "{'version': '1.0', 'servers': %s}", rows[i].servers);
		row("servers %s", rows[i].servers);
		j = json_loads(jq(text), 0, NULL);
		CHECK(j, "test input");
		memset(&err, 0, sizeof(err));
		CHECK_INT(parse_cluster(j, "c", NULL, &c, &err), ==, rows[i].ret);
		json_decref(j);
		if (rows[i].ret) {
			CHECK_HAS(err.msg, rows[i].named);
			continue;
		}
		CHECK_INT(c.netns[0].kind, ==, rows[i].kind);
		netns_format(&c.netns[0], got, sizeof(got));
		CHECK_STR(got, rows[i].named);
		/* The state file writes it as the API takes it. */
		k = json_pack("{sss[o]}", "version", "1.0", "servers",
			      state_server_json(&c.srv[0], &c.netns[0]));
		CHECK_INT(parse_cluster(k, "c", NULL, &back, &err), ==, 0);
		json_decref(k);
		CHECK(netns_equal(&back.netns[0], &c.netns[0]) && ep_equal(&back.srv[0], &c.srv[0]),
		      "state form reads back");
		/* And its text form (the view's) parses back too. */
		CHECK_INT(netns_parse(got, &back.netns[1]), ==, 0);
		CHECK(netns_equal(&back.netns[1], &c.netns[0]), "text form reads back");
	}
	CHECK_INT(netns_parse("pid 0", &(struct netns_spec){}), ==, -EINVAL);
	CHECK_INT(netns_parse("pid 12x", &(struct netns_spec){}), ==, -EINVAL);
	CHECK_INT(netns_parse("container ", &(struct netns_spec){}), ==, -EINVAL);
	CHECK_INT(netns_parse("elsewhere", &(struct netns_spec){}), ==, -EINVAL);
}

const struct unit_case parse_cases[] = {
	TEST(test_version_valid), TEST(test_version_cmp),   TEST(test_ep_parse_good),
	TEST(test_ep_parse_bad),  TEST(test_percent_to_bp), TEST(test_owner),
	TEST(test_int_fields),	  TEST(test_servers_netns), { NULL, NULL }
};
