// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A mirror rollout's settings as JSON (codec/parse_mirror.h): what is
 * read, every bad value refused naming its field with nothing applied,
 * and the round trip through mirror_spec_json().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/parse_mirror.h"

#include "harness.h"
#include "helpers.h"

static int parse_sq(const char *sq, struct mirror_spec *s, struct vs_err *err)
{
	json_error_t jerr;
	json_t *j = json_loads(jq(sq), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
			       &jerr);
	int ret;

	if (!j)
		return BAD_TEST_INPUT;
	ret = parse_mirror(j, "body.mirror", "bad_mirror", s, err);
	json_decref(j);
	return ret;
}

static void test_parse_mirror_good(void)
{
	struct mirror_spec *s = tcalloc(sizeof(*s)), *want = tcalloc(sizeof(*want));
	struct vs_err err = {};

	mirror_spec_defaults(s);
	CHECK_INT(parse_sq("{}", s, &err), ==, 0);
	mirror_spec_defaults(want);
	CHECK(!memcmp(s, want, sizeof(*s)), "{} keeps the defaults");
	CHECK_INT(parse_sq("{'percent': 0.01, 'methods': ['POST', 'get'], 'duration': 0,"
			   " 'compare': {'ignore': ['items[].updatedAt', 'meta'], 'headers': []}}",
			   s, &err),
		  ==, 0);
	CHECK_INT(s->bp, ==, 1);
	CHECK_INT(s->nmethods, ==, 2);
	CHECK_STR(s->methods[0], "POST");
	CHECK_STR(s->methods[1], "get");
	CHECK_INT(s->duration, ==, 0);
	CHECK_INT(s->nignore, ==, 2);
	CHECK_STR(s->ignore[0], "items[].updatedAt");
	CHECK_INT(s->nheaders, ==, 0);
	/* What is not given keeps what s held. */
	CHECK_INT(s->max_per_second, ==, 100);
	CHECK_INT(s->noise_samples, ==, 10);
	CHECK(s->body, "body");
	CHECK_INT(parse_sq("{'percent': 100, 'methods': ['GET']}", s, &err), ==, 0);
	CHECK_INT(s->bp, ==, 10000);
	CHECK_INT(s->nmethods, ==, 1);
	CHECK_STR(s->methods[1], "");
	CHECK_INT(s->nignore, ==, 2);
}

static void test_parse_mirror_refused(void)
{
	/* clang-format off */
	static const struct {
		const char *json, *has;
	} t[] = {
		{ "[]", "body.mirror: must be an object" },
		{ "'mirror'", "body.mirror: must be an object" },
		{ "{'percnt': 10}", "body.mirror: unknown field 'percnt'" },
		{ "{'percent': 0}", "body.mirror.percent:" },
		{ "{'percent': -1}", "body.mirror.percent:" },
		{ "{'percent': 100.01}", "body.mirror.percent:" },
		{ "{'percent': 10.005}", "body.mirror.percent:" },
		{ "{'percent': '10'}", "body.mirror.percent:" },
		{ "{'percent': null}", "body.mirror.percent:" },
		{ "{'percent': 1e999}", NULL },	/* jansson refuses it first */
		{ "{'maxPerSecond': 0}", "body.mirror.maxPerSecond: must be a whole number from 1 to 100000" },
		{ "{'maxPerSecond': 100001}", "body.mirror.maxPerSecond:" },
		{ "{'maxPerSecond': 1.5}", "body.mirror.maxPerSecond:" },
		{ "{'maxPerSecond': '10'}", "body.mirror.maxPerSecond:" },
		{ "{'maxInFlight': 0}", "body.mirror.maxInFlight: must be a whole number from 1 to 1024" },
		{ "{'maxInFlight': 1025}", "body.mirror.maxInFlight:" },
		{ "{'duration': -1}", "body.mirror.duration: must be a whole number from 0 to 604800" },
		{ "{'duration': 604801}", "body.mirror.duration:" },
		{ "{'duration': 9223372036854775807}", "body.mirror.duration:" },
		{ "{'timeoutMs': 99}", "body.mirror.timeoutMs: must be a whole number from 100 to 60000" },
		{ "{'timeoutMs': 60001}", "body.mirror.timeoutMs:" },
		{ "{'authorization': 'yes'}", "body.mirror.authorization: must be true or false" },
		{ "{'cookies': 1}", "body.mirror.cookies: must be true or false" },
		{ "{'methods': 'GET'}", "body.mirror.methods: must be a list of 1 to 8" },
		{ "{'methods': []}", "body.mirror.methods: must be a list of 1 to 8" },
		{ "{'methods': ['A','B','C','D','E','F','G','H','I']}", "body.mirror.methods: must be a list of 1 to 8" },
		{ "{'methods': ['GET', 'GET']}", "body.mirror.methods[1]: 'GET' is given twice" },
		{ "{'methods': ['GET', 1]}", "body.mirror.methods[1]: '(not a string)'" },
		{ "{'methods': ['']}", "body.mirror.methods[0]: ''" },
		{ "{'methods': ['G T']}", "body.mirror.methods[0]: 'G T' is not one of HTTP methods" },
		{ "{'methods': ['GET\\r\\nX']}", "body.mirror.methods[0]: 'GET??X'" },
		{ "{'methods': ['GE\\u0000T']}", "body.mirror.methods[0]:" },
		{ "{'methods': ['ABCDEFGHIJKLMNOP']}", "1 to 15 bytes" },
		{ "{'compare': true}", "body.mirror.compare: must be an object" },
		{ "{'compare': {'bdy': true}}", "body.mirror.compare: unknown field 'bdy'" },
		{ "{'compare': {'body': 'true'}}", "body.mirror.compare.body: must be true or false" },
		{ "{'compare': {'ignore': 'a'}}", "body.mirror.compare.ignore: must be a list of 0 to 16" },
		{ "{'compare': {'ignore': ['a','b','c','d','e','f','g','h','i','j','k','l','m','n','o','p','q']}}",
		  "body.mirror.compare.ignore: must be a list of 0 to 16" },
		{ "{'compare': {'ignore': ['']}}", "body.mirror.compare.ignore[0]" },
		{ "{'compare': {'ignore': ['a\\nb']}}", "body.mirror.compare.ignore[0]: 'a?b'" },
		{ "{'compare': {'ignore': ['\\u00e9']}}", "body.mirror.compare.ignore[0]" },
		{ "{'compare': {'ignore': ['a', 'a']}}", "body.mirror.compare.ignore[1]: 'a' is given twice" },
		{ "{'compare': {'ignore': [null]}}", "body.mirror.compare.ignore[0]" },
		{ "{'compare': {'headers': ['Content Type']}}", "body.mirror.compare.headers[0]" },
		{ "{'compare': {'headers': ['ETag', 'etag']}}",
		  "body.mirror.compare.headers[1]: 'etag' is given twice (names are in any case)" },
		{ "{'compare': {'headers': ['a','b','c','d','e','f','g','h','i']}}",
		  "body.mirror.compare.headers: must be a list of 0 to 8" },
		{ "{'compare': {'noiseSamples': -1}}", "body.mirror.compare.noiseSamples: must be a whole number from 0 to 1000" },
		{ "{'compare': {'noiseSamples': 1001}}", "body.mirror.compare.noiseSamples" },
		{ "{'compare': {'noiseSamples': true}}", "body.mirror.compare.noiseSamples" },
		{ "{'compare': {'maxStatusMismatchRate': 1.01}}", "body.mirror.compare.maxStatusMismatchRate: must be a rate from 0 to 1" },
		{ "{'compare': {'maxStatusMismatchRate': -0.1}}", "body.mirror.compare.maxStatusMismatchRate" },
		{ "{'compare': {'maxBodyDiffRate': null}}", "body.mirror.compare.maxBodyDiffRate: must be a rate" },
		{ "{'compare': {'maxBodyDiffRate': '0.1'}}", "body.mirror.compare.maxBodyDiffRate" },
		/* A good field first: still nothing applied. */
		{ "{'percent': 50, 'methods': ['POST'], 'compare': {'body': false, 'noiseSamples': 5000}}",
		  "body.mirror.compare.noiseSamples" },
	};
	/* clang-format on */
	struct mirror_spec *s = tcalloc(sizeof(*s)), *before = tcalloc(sizeof(*before));
	char ign[MIRROR_IGNORE_MAX + 1];

	memset(ign, 'x', sizeof(ign) - 1);
	ign[sizeof(ign) - 1] = '\0';
	mirror_spec_defaults(s);
	*before = *s;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct vs_err err = {};
		int ret = parse_sq(t[i].json, s, &err);

		row("%s: %d %s", t[i].json, ret, err.msg);
		if (!t[i].has) {
			CHECK_INT(ret, ==, BAD_TEST_INPUT);
			continue;
		}
		CHECK_ERR(ret, &err, -EINVAL, 400,
			  strstr(err.msg, "unknown field") ? "unknown_field" : "bad_mirror");
		CHECK_HAS(err.msg, t[i].has);
		CHECK(!memcmp(s, before, sizeof(*s)), "nothing applied");
	}
	/* Paths of 95 bytes are taken; 96 are not. */
	{
		char json[200];
		struct vs_err err = {};

		snprintf(json, sizeof(json), "{'compare': {'ignore': ['%s']}}", ign);
		row("ignore of %zu bytes", strlen(ign));
		CHECK_INT(parse_sq(json, s, &err), ==, -EINVAL);
		CHECK_HAS(err.msg, "1 to 95 bytes");
		snprintf(json, sizeof(json), "{'compare': {'ignore': ['%s']}}", ign + 1);
		CHECK_INT(parse_sq(json, s, &err), ==, 0);
		CHECK_STR(s->ignore[0], ign + 1);
	}
}

static void roundtrip(const struct mirror_spec *s)
{
	struct mirror_spec *back = tcalloc(sizeof(*back));
	json_t *j = mirror_spec_json(s), *again;
	struct vs_err err = {};
	json_error_t jerr;
	char *text;

	CHECK(j, "json");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	CHECK(text, "dumps");
	track(text);
	row("%s", text);
	again = json_loads(text, 0, &jerr);
	CHECK(again, "loads: %s", jerr.text);
	mirror_spec_defaults(back);
	CHECK_INT(parse_mirror(again, "state", "bad_mirror", back, &err), ==, 0);
	json_decref(again);
	CHECK(!memcmp(back, s, sizeof(*s)), "the same spec back");
}

static void test_parse_mirror_roundtrip(void)
{
	struct mirror_spec *s = tcalloc(sizeof(*s));

	mirror_spec_defaults(s);
	CHECK_HELPER(roundtrip(s));
	CHECK_INT(parse_sq("{'percent': 12.34, 'maxPerSecond': 100000, 'maxInFlight': 1024,"
			   " 'methods': ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH',"
			   "  'PROPFIND'], 'duration': 604800, 'timeoutMs': 100,"
			   " 'authorization': true, 'cookies': true,"
			   " 'compare': {'body': false, 'ignore': ['a', 'b.c', 'items[].id', '[]',"
			   "  'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o'],"
			   "  'headers': ['ETag', 'Content-Type', 'X-1', 'X-2', 'X-3', 'X-4', 'X-5',"
			   "   'Cache-Control'], 'noiseSamples': 1000,"
			   "  'maxStatusMismatchRate': 0.1, 'maxBodyDiffRate': 0.333333333333}}",
			   s, &(struct vs_err){}),
		  ==, 0);
	CHECK_INT(s->bp, ==, 1234);
	CHECK_INT(s->nmethods, ==, MIRROR_MAX_METHODS);
	CHECK_INT(s->nignore, ==, MIRROR_MAX_IGNORE);
	CHECK_INT(s->nheaders, ==, MIRROR_MAX_HEADERS);
	CHECK(s->authorization && s->cookies && !s->body, "booleans");
	CHECK_HELPER(roundtrip(s));
}

const struct unit_case parse_mirror_cases[] = {
	TEST(test_parse_mirror_good),
	TEST(test_parse_mirror_refused),
	TEST(test_parse_mirror_roundtrip),
	{ NULL, NULL },
};
