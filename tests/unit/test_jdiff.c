// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Comparing two responses' bodies (codec/jdiff.h): JSON field by field,
 * noise learned from two of the stable version's responses, ignored
 * paths, bodies that are not JSON, and hostile depth.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codec/jdiff.h"

#include "harness.h"
#include "helpers.h"

/* jdiff_differ() of two single-quoted JSON texts (see jq()). */
static bool differ(const struct jdiff_noise *nz, const char (*ign)[JDIFF_PATH_MAX], uint32_t nign,
		   const char *a, const char *b, char *where)
{
	const char *ja = jq(a), *jb = jq(b);

	return jdiff_differ(nz, ign, nign, (const uint8_t *)ja, strlen(ja), (const uint8_t *)jb,
			    strlen(jb), where, JDIFF_PATH_MAX);
}

static void learn(struct jdiff_noise *nz, const char *a, const char *b)
{
	const char *ja = jq(a), *jb = jq(b);

	jdiff_learn(nz, (const uint8_t *)ja, strlen(ja), (const uint8_t *)jb, strlen(jb));
}

static void test_jdiff_table(void)
{
	/* clang-format off */
	static const struct {
		const char *a, *b;
		bool differs;
		const char *where;
	} t[] = {
		{ "{'a': 1, 'b': 'x'}", "{'b': 'x', 'a': 1}", false, "" },	/* key order */
		{ "{'a':[1,2],'b':{}}", " {\n\t'a' : [ 1 , 2 ] ,\r\n 'b' : { } }\n", false, "" },
		{ "{'a': 1}", "{'a': 2}", true, "a" },
		{ "{'a': {'b': {'c': {'d': 'x'}}}}", "{'a': {'b': {'c': {'d': 'y'}}}}", true,
		  "a.b.c.d" },
		{ "{'a': 1}", "{'a': 1, 'b': null}", true, "b" },		/* in one only */
		{ "{'a': 1, 'b': null}", "{'a': 1}", true, "b" },
		{ "{'a': 1}", "{'a': 1.0}", false, "" },			/* numbers */
		{ "{'a': 1e2}", "{'a': 100}", false, "" },
		{ "{'a': 1}", "{'a': '1'}", true, "a" },
		{ "{'a': null}", "{'a': false}", true, "a" },
		{ "{'a': true}", "{'a': true}", false, "" },
		{ "{'a': {}}", "{'a': []}", true, "a" },
		{ "{'items': [{'id': 1, 'v': 2}, {'id': 2, 'v': 3}]}",
		  "{'items': [{'v': 2, 'id': 1}, {'id': 9, 'v': 3}]}", true, "items[].id" },
		{ "{'items': [1, 2]}", "{'items': [1, 2, 3]}", true, "items[]" },
		{ "{'items': [1, 2]}", "{'items': [2, 1]}", true, "items[]" },	/* order counts */
		{ "[[1], [2]]", "[[1], [3]]", true, "[][]" },
		{ "'text'", "'text'", false, "" },				/* any JSON value */
		{ "42", "43", true, "" },
		{ "{'a\\u0022b': 1}", "{'a\\u0022b': 2}", true, "a_b" },	/* '"' in a key */
		{ "{'\\u00e9': 1}", "{'\\u00e9': 2}", true, "__" },		/* UTF-8 bytes */
		{ "not json", "not json", false, "" },				/* byte for byte */
		{ "not json", "not jsoN", true, "" },
		{ "", "", false, "" },
		{ "", "{}", true, "" },
		{ "{'a': 1}", "{'a': 1", true, "" },		/* JSON in one only */
		{ "{'a': 1", "{'a': 1}", true, "" },
		{ "{'a': 1, 'a': 2}", "{'a': 2}", true, "" },	/* duplicate keys: not JSON */
		{ "{'a': 1, 'a': 2}", "{'a': 1, 'a': 2}", false, "" },
		{ "{'a': 99999999999999999999}", "{'a': 99999999999999999999}", false, "" },
		{ "{'a': 99999999999999999999}", "{'a':99999999999999999999}", true, "" },
	};
	/* clang-format on */
	char where[JDIFF_PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		bool d = differ(NULL, NULL, 0, t[i].a, t[i].b, where);

		row("%zu: %s vs %s: %d at '%s'", i, t[i].a, t[i].b, d, where);
		CHECK_INT(d, ==, t[i].differs);
		CHECK_STR(where, t[i].where);
	}
}

/* Two responses of the stable version differ in a timestamp: learned as
 * noise, the target's differing there too is no difference; anywhere
 * else still is. */
static void test_jdiff_noise_learned(void)
{
	struct jdiff_noise *nz = tcalloc(sizeof(*nz));
	const char *p = "{'id': 7, 'at': '2025-01-01T10:00:00Z', 'items': [{'n': 1, 'ts': 5}]}";
	const char *t = "{'id': 7, 'at': '2025-01-01T10:00:03Z', 'items': [{'n': 1, 'ts': 9}]}";
	const char *t2 = "{'id': 8, 'at': '2025-01-01T10:00:03Z', 'items': [{'n': 1, 'ts': 9}]}";
	char where[JDIFF_PATH_MAX];

	CHECK(differ(nz, NULL, 0, p, t, where), "before learning");
	CHECK_STR(where, "at");
	learn(nz, p, "{'id': 7, 'at': '2025-01-01T10:00:01Z', 'items': [{'n': 1, 'ts': 6}]}");
	CHECK_INT(nz->samples, ==, 1);
	CHECK_INT(nz->n, ==, 2);
	CHECK_STR(nz->path[0], "at");
	CHECK_STR(nz->path[1], "items[].ts");
	CHECK(!nz->whole, "not whole");
	CHECK(!differ(nz, NULL, 0, p, t, where), "noise only: at '%s'", where);
	CHECK(differ(nz, NULL, 0, p, t2, where), "id still counts");
	CHECK_STR(where, "id");
	/* Learning the same again adds nothing. */
	learn(nz, p, t);
	CHECK_INT(nz->samples, ==, 2);
	CHECK_INT(nz->n, ==, 2);
	/* Noise at a path covers what is below it, not beside it. */
	memset(nz, 0, sizeof(*nz));
	learn(nz, "{'meta': {'a': 1}}", "{'meta': 2}");
	CHECK_STR(nz->path[0], "meta");
	CHECK(!differ(nz, NULL, 0, "{'meta': {'a': 1, 'b': [1]}}", "{'meta': {'b': [2]}}", where),
	      "below meta");
	CHECK(differ(nz, NULL, 0, "{'meta': 1, 'metadata': 1}", "{'meta': 1, 'metadata': 2}",
		     where),
	      "beside meta");
	CHECK_STR(where, "metadata");
}

static void test_jdiff_ignored(void)
{
	static const char ign[][JDIFF_PATH_MAX] = { "meta", "items[].id", "[]" };
	char where[JDIFF_PATH_MAX];

	CHECK(!differ(NULL, ign, 2, "{'meta': {'x': {'y': 1}}}", "{'meta': {'x': {'y': 2}}}",
		      where),
	      "below meta: at '%s'", where);
	CHECK(!differ(NULL, ign, 2, "{'meta': 1}", "{}", where), "meta in one only");
	CHECK(!differ(NULL, ign, 2, "{'items': [{'id': 1, 'n': 2}]}",
		      "{'items': [{'id': 3, 'n': 2}]}", where),
	      "items[].id");
	CHECK(differ(NULL, ign, 2, "{'items': [{'id': 1, 'n': 2}]}",
		     "{'items': [{'id': 3, 'n': 3}]}", where),
	      "items[].n");
	CHECK_STR(where, "items[].n");
	CHECK(differ(NULL, ign, 2, "{'metadata': 1}", "{'metadata': 2}", where), "metadata");
	CHECK(differ(NULL, ign, 2, "[1]", "[2]", where), "[] not in the first two");
	CHECK(!differ(NULL, ign, 3, "[1]", "[2]", where), "[] given");
	/* Ignoring says nothing about bodies that are not JSON. */
	CHECK(differ(NULL, ign, 3, "x", "y", where), "not JSON");
}

/* Noise that cannot be told apart: the route's bodies are not compared. */
static void test_jdiff_noise_whole(void)
{
	struct jdiff_noise *nz = tcalloc(sizeof(*nz));
	char a[2048] = "{", b[2048] = "{", where[JDIFF_PATH_MAX];

	learn(nz, "<html>1</html>", "<html>2</html>");
	CHECK(nz->whole, "two stable bodies that are not JSON differ");
	CHECK(!differ(nz, NULL, 0, "{'a': 1}", "other", where), "whole: nothing differs");
	learn(nz, "{'a': 1}", "{'a': 2}");
	CHECK_INT(nz->n, ==, 0);
	CHECK_INT(nz->samples, ==, 2);

	memset(nz, 0, sizeof(*nz));
	learn(nz, "x", "x");
	CHECK(!nz->whole, "equal bodies that are not JSON");
	memset(nz, 0, sizeof(*nz));
	learn(nz, "{'a': 1}", "{'a'");
	CHECK(nz->whole, "JSON in one only");

	/* More paths than fit. */
	memset(nz, 0, sizeof(*nz));
	for (int i = 0; i <= JDIFF_MAX_PATHS; i++) {
		snprintf(a + strlen(a), 32, "%s'f%d': 1", i ? ", " : "", i);
		snprintf(b + strlen(b), 32, "%s'f%d': 2", i ? ", " : "", i);
	}
	strcat(a, "}");
	strcat(b, "}");
	learn(nz, a, b);
	CHECK(nz->whole, "%u paths", nz->n);
	CHECK(!differ(nz, NULL, 0, a, b, where), "overflowed noise");
}

/* The top level's kind differing: noise at "" is the whole body. */
static void test_jdiff_top_kind(void)
{
	struct jdiff_noise *nz = tcalloc(sizeof(*nz));
	char where[JDIFF_PATH_MAX];

	learn(nz, "{'a': 1}", "[1]");
	CHECK(nz->whole, "learned at ''");
	CHECK(differ(NULL, NULL, 0, "{'a': 1}", "[1]", where), "differs");
	CHECK_STR(where, "");
}

/* size bytes of n levels: "[[[...0...]]]" (or objects {"a": ...}), the
 * innermost value leaf. */
static char *nest(int n, bool obj, char leaf)
{
	size_t size = (size_t)n * 6 + 2, i = 0;
	char *s = tcalloc(size + 1);

	for (int k = 0; k < n; k++)
		i += (size_t)sprintf(s + i, "%s", obj ? "{\"a\":" : "[");
	s[i++] = leaf;
	for (int k = 0; k < n; k++)
		s[i++] = obj ? '}' : ']';
	return s;
}

static void test_jdiff_deep(void)
{
	struct jdiff_noise *nz = tcalloc(sizeof(*nz));
	char where[JDIFF_PATH_MAX], want[JDIFF_PATH_MAX] = "";
	const char *a = nest(10000, false, '1'), *b = nest(10000, false, '2');

	/* Over jansson's 2048 levels: not JSON, byte for byte. */
	CHECK(jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			   strlen(b), where, sizeof(where)),
	      "10000 levels");
	CHECK_STR(where, "");
	CHECK(!jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)a,
			    strlen(a), where, sizeof(where)),
	      "10000 levels, equal");
	jdiff_learn(nz, (const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b));
	CHECK(nz->whole, "10000 levels learned");

	/* 1000 levels: JSON, compared whole below JDIFF_MAX_DEPTH, reported
	 * at the deepest path walked. */
	a = nest(1000, false, '1');
	b = nest(1000, false, '2');
	for (int i = 0; i < JDIFF_MAX_DEPTH; i++)
		strcat(want, "[]");
	CHECK(jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			   strlen(b), where, sizeof(where)),
	      "1000 levels");
	CHECK_STR(where, want);
	CHECK(!jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)a,
			    strlen(a), where, sizeof(where)),
	      "1000 levels, equal");
	/* Objects: the path stops where it would not fit (a.a.a..., 95 bytes). */
	a = nest(1000, true, '1');
	b = nest(1000, true, '2');
	CHECK(jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			   strlen(b), where, sizeof(where)),
	      "1000 objects");
	CHECK_INT(strlen(where), ==, 2 * JDIFF_MAX_DEPTH - 1);
	memset(nz, 0, sizeof(*nz));
	jdiff_learn(nz, (const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b));
	CHECK_INT(nz->n, ==, 1);
	CHECK(!jdiff_differ(nz, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			    strlen(b), where, sizeof(where)),
	      "learned");
}

/* A key too long for a path: its value is compared whole, at its
 * object's path. */
static void test_jdiff_long_key(void)
{
	char *a = tcalloc(400), *b = tcalloc(400), key[201], where[JDIFF_PATH_MAX];

	memset(key, 'k', 200);
	key[200] = '\0';
	snprintf(a, 400, "{\"x\": {\"%s\": {\"y\": 1}}}", key);
	snprintf(b, 400, "{\"x\": {\"%s\": {\"y\": 2}}}", key);
	CHECK(jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			   strlen(b), where, sizeof(where)),
	      "differs");
	CHECK_STR(where, "x");
	CHECK(!jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)a,
			    strlen(a), where, sizeof(where)),
	      "equal");
	/* A path that is full, then an empty key (fuzz_jdiff found it
	 * writing past the path). */
	key[JDIFF_PATH_MAX - 1] = '\0';
	snprintf(a, 400, "{\"%s\": {\"\": 1}}", key);
	snprintf(b, 400, "{\"%s\": {\"\": 2}}", key);
	CHECK(jdiff_differ(NULL, NULL, 0, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
			   strlen(b), where, sizeof(where)),
	      "differs");
	CHECK_STR(where, key);
}

const struct unit_case jdiff_cases[] = {
	TEST(test_jdiff_table),	   TEST(test_jdiff_noise_learned),
	TEST(test_jdiff_ignored),  TEST(test_jdiff_noise_whole),
	TEST(test_jdiff_top_kind), TEST(test_jdiff_deep),
	TEST(test_jdiff_long_key), { NULL, NULL },
};
