// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A fleet's settings and the documents hosts read from etcd (codec/fleet):
 * the config's "fleet" and its checks, keys and the ids taken back from
 * them, and a host's status refused unless it is vsteer's. The end-to-end
 * tests run hosts against a real etcd.
 */
#include <errno.h>
#include <string.h>

#include "codec/fleet.h"

#include "harness.h"
#include "helpers.h"

static int parse(const char *text, struct fleet_cfg *f, struct vs_err *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	fleet_cfg_init(f);
	ret = fleet_cfg_parse(j, f, err);
	json_decref(j);
	return ret ?: fleet_cfg_check(f, err);
}

static void test_fleet_cfg(void)
{
	struct fleet_cfg f;
	struct vs_err err;

	row("%s", "a list of endpoints, every field");
	CHECK_INT(
		parse("{\"etcd\": [\"http://a:1\", \"http://b:2\"], \"hostId\": \"web-1\","
		      " \"prefix\": \"/prod/vsteer\", \"user\": \"u\", \"passwordFile\": \"/p\","
		      " \"caCert\": \"/ca\", \"cert\": \"/c\", \"key\": \"/k\", \"leaseSeconds\": 5}",
		      &f, &err),
		==, 0);
	CHECK_STR(f.endpoints, "http://a:1,http://b:2");
	CHECK_STR(f.host_id, "web-1");
	CHECK_STR(f.prefix, "/prod/vsteer");
	CHECK_INT(f.lease_s, ==, 5);
	row("%s", "defaults");
	CHECK_INT(parse("{\"etcd\": \"http://a:1\", \"hostId\": \"h\"}", &f, &err), ==, 0);
	CHECK_STR(f.prefix, "/vsteer");
	CHECK_INT(f.lease_s, ==, FLEET_LEASE_DEFAULT);
	CHECK(!f.min_hosts && !f.min_hosts_pct, "%s", "every member by default");
	row("%s", "minHosts, a number or a percentage");
	CHECK_INT(parse("{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": 2}", &f, &err),
		  ==, 0);
	CHECK(f.min_hosts == 2 && !f.min_hosts_pct, "min_hosts %u", f.min_hosts);
	CHECK_INT(parse("{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": \"75%\"}", &f,
			&err),
		  ==, 0);
	CHECK(!f.min_hosts && f.min_hosts_pct == 75, "pct %u", f.min_hosts_pct);
	row("%s", "no fleet at all");
	CHECK_INT(parse("{}", &f, &err), ==, 0);
}

static void test_fleet_cfg_refused(void)
{
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "{\"etcd\": \"http://a:1\"}", "needs this host's id" },
		{ "{\"hostId\": \"h\"}", "a host id is for a fleet" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h/1\"}", "host id 'h/1'" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"\"}", "fleet.hostId" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"prefix\": \"/\"}",
		  "prefix '/'" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"prefix\": \"/a/\"}",
		  "prefix '/a/'" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"prefix\": \"/a//b\"}",
		  "prefix" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"prefix\": \"/a/..\"}",
		  "prefix" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"prefix\": \"a\"}",
		  "prefix 'a'" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"user\": \"u\"}", "go together" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"cert\": \"/c\"}",
		  "go together" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"leaseSeconds\": 61}",
		  "leaseSeconds" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": \"0%\"}",
		  "not '0%'" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": \"101%\"}",
		  "fleet.minHosts" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": \"50\"}",
		  "percentage" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": -1}", "minHosts" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"minHosts\": \"50%%\"}",
		  "fleet.minHosts" },
		{ "{\"etcd\": [], \"hostId\": \"h\"}", "fleet.etcd" },
		{ "{\"etcd\": [\"http://a:1,http://b:1\"], \"hostId\": \"h\"}", "fleet.etcd[0]" },
		{ "{\"etcd\": 7, \"hostId\": \"h\"}", "fleet.etcd" },
		{ "{\"etcd\": \"http://a:1\", \"hostId\": \"h\", \"port\": 1}", "port" },
		{ "[]", "fleet" },
	};
	struct fleet_cfg f;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].text);
		CHECK_INT(parse(bad[i].text, &f, &err), ==, -EINVAL);
		CHECK_HAS(err.msg, bad[i].says);
	}
}

static void test_fleet_keys(void)
{
	struct fleet_cfg f;
	char key[64];

	fleet_cfg_init(&f);
	CHECK_INT(fleet_key(&f, "hosts", "h1", key, sizeof(key)), ==, 0);
	CHECK_STR(key, "/vsteer/hosts/h1");
	CHECK_INT(fleet_key(&f, "hosts", NULL, key, sizeof(key)), ==, 0);
	CHECK_STR(key, "/vsteer/hosts/");
	CHECK_INT(fleet_key(&f, "hosts", "h1", key, 8), ==, -ENAMETOOLONG);
	CHECK_STR(fleet_key_id(&f, "hosts", "/vsteer/hosts/h1"), "h1");
	/* Not ours: another kind, a prefix that merely starts the same, an id
	 * with a slash or none. */
	CHECK(!fleet_key_id(&f, "hosts", "/vsteer/members/h1"), "%s", "members");
	CHECK(!fleet_key_id(&f, "hosts", "/vsteer2/hosts/h1"), "%s", "vsteer2");
	CHECK(!fleet_key_id(&f, "hosts", "/vsteer/hosts/a/b"), "%s", "a/b");
	CHECK(!fleet_key_id(&f, "hosts", "/vsteer/hosts/"), "%s", "empty");
	CHECK(!fleet_key_id(&f, "hosts", "/vsteer/host"), "%s", "short");
}

static void test_fleet_host_parse(void)
{
	static const char good[] =
		"{\"host\": \"h1\", \"at\": \"2026-12-07T10:00:00.000Z\", \"services\": "
		"[{\"name\": \"web\", \"versions\": []}], \"problems\": [\"x\"]}";
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "not json", "not JSON" },
		{ "[]", "\"host\"" },
		{ "{\"host\": \"h2\", \"at\": \"t\", \"services\": [], \"problems\": []}",
		  "\"host\"" },
		{ "{\"host\": \"h1\", \"services\": [], \"problems\": []}", "\"at\"" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"appliedRevision\": -1, \"services\": [], "
		  "\"problems\": []}",
		  "appliedRevision" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"services\": {}, \"problems\": []}",
		  "services" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"services\": [{\"name\": \"a b\", "
		  "\"versions\": []}], \"problems\": []}",
		  "services" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"services\": [{\"name\": \"a\"}], "
		  "\"problems\": []}",
		  "services" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"services\": [], \"problems\": [1]}",
		  "problems" },
		{ "{\"host\": \"h1\", \"at\": \"t\", \"services\": []}", "problems" },
	};
	struct vs_err err;
	json_t *doc;

	row("%s", "good");
	CHECK_INT(fleet_host_parse("h1", good, strlen(good), &doc, &err), ==, 0);
	CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "problems"), 0)), "x");
	json_decref(doc);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].text);
		CHECK_ERR(fleet_host_parse("h1", bad[i].text, strlen(bad[i].text), &doc, &err),
			  &err, -EPROTO, 502, "bad_host_status");
		CHECK_HAS(err.msg, bad[i].says);
		CHECK(!doc, "%s", "a refused document is not returned");
	}
}

static void test_fleet_desired_parse(void)
{
	static const char good[] =
		"{\"weights\": {\"1.0\": 25, \"2.0\": 75.5}, \"salt\": 4294967295, "
		"\"by\": \"h1\", \"at\": \"2026-12-07T10:00:00Z\"}";
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "nope", "not JSON" },
		{ "{\"weights\": [], \"by\": \"h1\"}", "not a service's desired state" },
		{ "{\"weights\": {\"1.0\": 25}, \"extra\": 1}", "extra" },
		{ "{\"weights\": {\"1.0\": 101}}", "percentage" },
		{ "{\"weights\": {}}", "1 to 8 versions" },
		{ "{\"weights\": {\"1.0\": 100}, \"salt\": 4294967296}", "salt" },
		{ "{\"weights\": {\"1.0\": 100}, \"salt\": -1}", "salt" },
	};
	static const char plain[] = "{\"weights\": {\"1.0\": 100}}";
	struct fleet_desired_doc d;
	struct vs_err err;
	json_t *host;

	row("%s", "good");
	CHECK_INT(fleet_desired_parse(good, strlen(good), &d, &err), ==, 0);
	CHECK_INT(d.w.n, ==, 2);
	CHECK_STR(d.w.names[1], "2.0");
	CHECK_INT(d.w.bp[1], ==, 7550);
	CHECK_STR(d.by, "h1");
	CHECK(d.has_salt && d.salt == UINT32_MAX, "salt %u", d.salt);
	fleet_desired_free(&d);
	row("%s", "no salt");
	CHECK_INT(fleet_desired_parse(plain, strlen(plain), &d, &err), ==, 0);
	CHECK(!d.has_salt && !d.by[0], "%s", "no salt, no by");
	fleet_desired_free(&d);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].text);
		CHECK_INT(fleet_desired_parse(bad[i].text, strlen(bad[i].text), &d, &err), ==,
			  -EPROTO);
		CHECK_HAS(err.msg, bad[i].says);
		fleet_desired_free(&d);
	}
	row("%s", "behind");
	host = json_pack("{sI}", "appliedRevision", (json_int_t)7);
	CHECK(!fleet_host_behind(host, 7), "%s", "at 7 of 7");
	CHECK(fleet_host_behind(host, 8), "%s", "at 7 of 8");
	json_decref(host);
	host = json_object();
	CHECK(fleet_host_behind(host, 1), "%s", "none of 1");
	json_decref(host);
}

static void test_fleet_member_parse(void)
{
	static const struct {
		const char *text;
		bool kept;
	} cases[] = {
		{ "{\"joined\": \"2026-12-07T10:00:00Z\"}", true },
		{ "{}", true },
		{ "{\"joined\": 7}", false },
		{ "{\"joined\": \"t\", \"more\": \"x\"}", false },
		{ "[\"joined\"]", false },
		{ "nope", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *m = fleet_member_parse(cases[i].text, strlen(cases[i].text));

		row("%s", cases[i].text);
		CHECK(json_is_object(m), "%s", "always an object");
		CHECK_INT(json_object_size(m) > 0 || !strcmp(cases[i].text, "{}"), ==,
			  cases[i].kept);
		json_decref(m);
	}
}

static void test_fleet_version_keys(void)
{
	static const struct {
		const char *key, *svc, *ver;
	} cases[] = {
		{ "/vsteer/services/web/versions/2.0", "web", "2.0" },
		{ "/vsteer/services/api-2/versions/10.2.3", "api-2", "10.2.3" },
		{ "/vsteer/services/web", NULL, NULL },
		{ "/vsteer/services/web/versions/", NULL, NULL },
		{ "/vsteer/services/we b/versions/2.0", NULL, NULL },
		{ "/vsteer/services//versions/2.0", NULL, NULL },
		{ "/vsteer/hosts/web/versions/2.0", NULL, NULL },
		{ "/other/services/web/versions/2.0", NULL, NULL },
		{ "/vsteer/services/web/versions/2.0/x", NULL, NULL },
		{ "/vs", NULL, NULL },
	};
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "nope", "not JSON" },
		{ "{\"servers\": []}", "1 to 16 servers" },
		{ "{\"servers\": \"127.0.0.1:1\"}", "1 to 16 servers" },
		{ "{\"servers\": [\"a\"], \"more\": 1}", "more" },
	};
	static const char good[] = "{\"servers\": [\"127.0.0.1:9003\"], \"by\": \"h1\"}";
	struct fleet_cfg f;
	char svc[NAME_MAX_LEN], ver[VERSION_MAX_LEN], key[256];
	struct fleet_version_doc d;
	struct vs_err err;

	fleet_cfg_init(&f);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool ok = fleet_version_key_parse(&f, cases[i].key, svc, ver);

		row("%s", cases[i].key);
		CHECK_INT(ok, ==, cases[i].svc != NULL);
		if (ok && cases[i].svc) {
			CHECK_STR(svc, cases[i].svc);
			CHECK_STR(ver, cases[i].ver);
			CHECK_INT(fleet_version_key(&f, svc, ver, key, sizeof(key)), ==, 0);
			CHECK_STR(key, cases[i].key);
		}
	}
	CHECK_INT(fleet_version_key(&f, "web", "2.0", key, 20), ==, -ENAMETOOLONG);
	row("%s", "a version's document");
	CHECK_INT(fleet_version_parse(good, strlen(good), &d, &err), ==, 0);
	CHECK_STR(d.by, "h1");
	CHECK_INT(json_array_size(d.servers), ==, 1);
	fleet_version_free(&d);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].text);
		CHECK_INT(fleet_version_parse(bad[i].text, strlen(bad[i].text), &d, &err), ==,
			  -EPROTO);
		CHECK_HAS(err.msg, bad[i].says);
		fleet_version_free(&d);
	}
}

const struct unit_case fleet_cases[] = {
	TEST(test_fleet_version_keys),	TEST(test_fleet_member_parse),
	TEST(test_fleet_desired_parse), TEST(test_fleet_cfg),
	TEST(test_fleet_cfg_refused),	TEST(test_fleet_keys),
	TEST(test_fleet_host_parse),	{ NULL, NULL },
};
