// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Routes (core/route): which path segments are ids, the target's forms,
 * what is dropped and replaced, the cut at ROUTE_MAX.
 */
#include <stdio.h>
#include <string.h>

#include "core/route.h"
#include "lib/compiler.h"

#include "harness.h"

static void test_route_table(void)
{
	/* clang-format off */
	static const struct {
		const char *method, *target, *want;
	} t[] = {
		/* digits */
		{ "GET", "/api/items/42", "GET /api/items/{id}" },
		{ "GET", "/api/items/0", "GET /api/items/{id}" },
		{ "GET", "/users/17/orders/9001", "GET /users/{id}/orders/{id}" },
		/* UUIDs, any case */
		{ "GET", "/o/123e4567-e89b-12d3-a456-426614174000", "GET /o/{id}" },
		{ "PUT", "/o/123E4567-E89B-12D3-A456-426614174000/x", "PUT /o/{id}/x" },
		{ "GET", "/o/e89b-12d3", "GET /o/e89b-12d3" },	/* a UUID's part, short */
		{ "GET", "/o/123e4567_e89b_12d3_a456_426614174000", "GET /o/{id}" }, /* long mixed token */
		/* hex: 8 or more with a digit */
		{ "GET", "/blob/deadbeef01", "GET /blob/{id}" },
		{ "GET", "/commit/5f3a9c2e", "GET /commit/{id}" },
		{ "GET", "/commit/5f3a9c2", "GET /commit/5f3a9c2" },	/* 7: kept */
		{ "GET", "/deadbeefcafe", "GET /deadbeefcafe" },	/* no digit: a word */
		{ "GET", "/DEADBEEF99", "GET /{id}" },
		/* long mixed tokens */
		{ "GET", "/s/aZ3kQ9xLmN2pR7tVw8xY", "GET /s/{id}" },
		{ "GET", "/s/a-Z3k_Q9xLmN2pR7", "GET /s/{id}" },
		{ "GET", "/s/aZ3kQ9xLmN2pR7tV", "GET /s/{id}" },		/* 16 */
		{ "GET", "/s/aZ3kQ9xLmN2pR7t", "GET /s/aZ3kQ9xLmN2pR7t" },	/* 15 */
		{ "GET", "/s/configurationfile", "GET /s/configurationfile" }, /* no digits */
		{ "GET", "/s/2024-01-01-2024-12-31", "GET /s/2024-01-01-2024-12-31" }, /* no letters */
		{ "GET", "/s/aZ3kQ9xLmN2pR7.json", "GET /s/aZ3kQ9xLmN2pR7.json" },	 /* '.' */
		/* short words kept */
		{ "GET", "/v1/api/items", "GET /v1/api/items" },
		{ "POST", "/2fa", "POST /2fa" },
		{ "GET", "/cafe/add/beef", "GET /cafe/add/beef" },
		{ "GET", "/v2", "GET /v2" },
		/* query and fragment */
		{ "GET", "/items/42?sort=asc&id=7", "GET /items/{id}" },
		{ "GET", "/items#top", "GET /items" },
		{ "GET", "/items/?x", "GET /items/" },
		{ "GET", "/?x=1", "GET /" },
		{ "GET", "/", "GET /" },
		{ "GET", "", "GET /" },
		{ "GET", "//a//7", "GET //a//{id}" },
		/* absolute form */
		{ "GET", "http://example.com/items/42?q", "GET /items/{id}" },
		{ "GET", "https://example.com:8443/a", "GET /a" },
		{ "GET", "http://example.com", "GET /" },
		{ "GET", "http://example.com?q=/x", "GET /" },
		{ "GET", "HTTP://h/7#f", "GET /{id}" },
		/* no path: as given */
		{ "OPTIONS", "*", "OPTIONS *" },
		{ "CONNECT", "example.com:443", "CONNECT example.com:443" },
		{ "GET", "a/b://c", "GET a/b://c" },
		/* replaced */
		{ "GET", "/a\"b/c\x01\x7f", "GET /a_b/c__" },
		{ "GET", "/a\tb\n", "GET /a_b_" },
		{ "G\"T", "/x", "G_T /x" },
		{ "GET", "http://h/\"/9", "GET /_/{id}" },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char out[ROUTE_MAX];

		memset(out, 'x', sizeof(out));
		row("%s %s", t[i].method, t[i].target);
		route_of(t[i].method, t[i].target, out, sizeof(out));
		CHECK_STR(out, t[i].want);
	}
}

static void test_route_cut(void)
{
	char target[600], out[ROUTE_MAX + 8], want[ROUTE_MAX];

	/* /abcd/abcd/...: cut at ROUTE_MAX - 1 characters and the NUL */
	for (size_t i = 0; i + 1 < sizeof(target); i++)
		target[i] = i % 5 ? 'a' + (char)(i % 5 - 1) : '/';
	target[sizeof(target) - 1] = '\0';
	memset(out, 'x', sizeof(out));
	route_of("GET", target, out, ROUTE_MAX);
	CHECK_INT(strlen(out), ==, ROUTE_MAX - 1);
	CHECK_INT(out[ROUTE_MAX], ==, 'x'); /* nothing written past size */
	snprintf(want, sizeof(want), "GET %s", target);
	CHECK_STR(out, want);
	/* cut in the middle of "{id}" */
	for (size_t size = 1; size < 12; size++) {
		char small[12];

		row("size %zu", size);
		memset(small, 'x', sizeof(small));
		route_of("GET", "/42", small, size);
		CHECK_INT(strlen(small), ==, size - 1 < 9 ? size - 1 : 9);
		CHECK(!strncmp(small, "GET /{id}", size - 1), "'%s'", small);
		if (size < sizeof(small))
			CHECK_INT(small[size], ==, 'x');
	}
	route_of("GET", "/42", out, 0); /* nothing written, no crash */
	CHECK_INT(out[0], ==, 'G');
}

const struct unit_case route_cases[] = { TEST(test_route_table),
					 TEST(test_route_cut),
					 { NULL, NULL } };
