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
#include "core/version.h"

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

const struct unit_case parse_cases[] = { TEST(test_version_valid), TEST(test_version_cmp),
					 TEST(test_ep_parse_good), TEST(test_ep_parse_bad),
					 TEST(test_percent_to_bp), { NULL, NULL } };
