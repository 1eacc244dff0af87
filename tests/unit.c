// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the controller library: session hashing and version
 * picking (the very header the data plane runs), versions, endpoints,
 * the model, the rollout engine, the config and state files, the API
 * router and listener matching. No root, no BPF, no live controller.
 *
 * Every test_*() function is one counted case; it stops at its first
 * failed check. Output, one line per case:
 *     ok N - name
 *     not ok N - name: line L: [row] what failed
 * and last `unit: P passed, F failed`; the exit status is 0 iff F == 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vsteer_hash.h"
#include "addr.h"
#include "api.h"
#include "config.h"
#include "ctl.h"
#include "judge.h"
#include "model.h"
#include "parse.h"
#include "request.h"
#include "rollout.h"
#include "state.h"
#include "stats.h"
#include "util.h"
#include "version.h"

/* ---- the harness ------------------------------------------------------ */

static bool cur_failed;
static char cur_detail[768];
static char cur_row[160];

/* Allocations of the running case, freed after it whether it passed or
 * stopped half-way at a failed check. */
static void *tmp_ptrs[64];
static size_t tmp_n;

static void *track(void *p)
{
	if (p && tmp_n < ARRAY_SIZE(tmp_ptrs))
		tmp_ptrs[tmp_n++] = p;
	return p;
}

static void *tcalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		fprintf(stderr, "unit: out of memory\n");
		exit(2);
	}
	return track(p);
}

static void tmp_free_all(void)
{
	while (tmp_n)
		free(tmp_ptrs[--tmp_n]);
}

/* Name the table row the following checks are about. */
static void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void row(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur_row, sizeof(cur_row), fmt, ap);
	va_end(ap);
}

static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cur_failed)
		return;
	cur_failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(cur_detail, sizeof(cur_detail), "line %d: %s%s%s%s", line,
		 cur_row[0] ? "[" : "", cur_row, cur_row[0] ? "] " : "", msg);
}

#define CHECK(cond, fmt, ...) do {						\
	if (!(cond)) {								\
		fail_at(__LINE__, "%s: " fmt, #cond, ##__VA_ARGS__);		\
		return;								\
	}									\
} while (0)

#define CHECK_INT(a, op, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);			\
	if (!(_a op _b)) {							\
		fail_at(__LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, _a, _b); \
		return;								\
	}									\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *_a = (a), *_b = (b);					\
	if (!_a || !_b || strcmp(_a, _b)) {					\
		fail_at(__LINE__, "%s == %s ('%s' vs '%s')", #a, #b,		\
			_a ? _a : "(null)", _b ? _b : "(null)");		\
		return;								\
	}									\
} while (0)

#define CHECK_HAS(hay, needle) do {						\
	const char *_h = (hay), *_n = (needle);					\
	if (!strstr(_h, _n)) {							\
		fail_at(__LINE__, "'%s' does not contain '%s'", _h, _n);	\
		return;								\
	}									\
} while (0)

/* An error return: the -errno, the HTTP status and the code. */
#define CHECK_ERR(ret, e, want_ret, want_status, want_code) do {		\
	CHECK_INT(ret, ==, want_ret);						\
	CHECK_INT((e)->status, ==, want_status);				\
	CHECK_STR((e)->code, want_code);					\
} while (0)

/* ---- helpers ---------------------------------------------------------- */

/* JSON with single quotes, so the tables stay readable. */
static char *jq(const char *s)
{
	char *t = tcalloc(strlen(s) + 1);

	for (size_t i = 0; s[i]; i++)
		t[i] = s[i] == '\'' ? '"' : s[i];
	return t;
}

static struct model *new_model(void)
{
	return tcalloc(sizeof(struct model));
}

/* All zero (family 0) if s does not parse: later checks then fail. */
static struct vs_endpoint ep_of(const char *s)
{
	struct vs_endpoint e;

	memset(&e, 0, sizeof(e));
	if (ep_parse(s, &e))
		memset(&e, 0, sizeof(e));
	return e;
}

static int add_svc(struct model *m, const char *name, const char *addr,
		   uint32_t salt, struct vs_err *err)
{
	struct vs_endpoint e = ep_of(addr);

	return model_add_service(m, name, &e, salt, err);
}

#define BAD_TEST_INPUT (-10000)

/* servers: comma separated "ADDR:PORT"s, may be empty. id may be NULL. */
static int add_cl(struct model *m, uint32_t svc, const char *ver, enum cl_mode mode,
		  const char *servers, const char *id, struct vs_err *err)
{
	struct cluster spec;
	char buf[512], *tok, *save = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.svc = svc;
	spec.mode = mode;
	if (str_copy(spec.version, sizeof(spec.version), ver) ||
	    str_copy(spec.id, sizeof(spec.id), id ? id : "") ||
	    str_copy(buf, sizeof(buf), servers))
		return BAD_TEST_INPUT;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (spec.nbk == VS_MAX_BACKENDS || ep_parse(tok, &spec.bk[spec.nbk]))
			return BAD_TEST_INPUT;
		spec.nbk++;
	}
	return model_add_cluster(m, &spec, err);
}

static int weight_of(const struct model *m, uint32_t svc, const char *ver)
{
	int slot = model_find_version(m, svc, ver);

	return slot < 0 ? -1 : m->cl[slot].weight;
}

static uint32_t nclusters(const struct model *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		n += m->cl[i].used;
	return n;
}

/* "3.0=0 2.0=10000 1.0=0": versions of svc newest first, with weights. */
static const char *weights_str(const struct model *m, uint32_t svc)
{
	static char buf[512];
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n && off < sizeof(buf); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s=%u", i ? " " : "",
				m->cl[order[i]].version, m->cl[order[i]].weight);
	return buf;
}

static const char *ep_str(const struct vs_endpoint *e)
{
	static char buf[EP_STRLEN];

	ep_format(e, buf, sizeof(buf));
	return buf;
}

/* Deterministic PRNG (xorshift32) so property tests are reproducible. */
static uint32_t rng_state = 0x2545f491;

static uint32_t rng(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static double chi2_uniform(const uint32_t *count, uint32_t k, double expected)
{
	double chi2 = 0;

	for (uint32_t i = 0; i < k; i++)
		chi2 += (count[i] - expected) * (count[i] - expected) / expected;
	return chi2;
}

/* A vs_svc whose versions have these weights, newest first. */
static void svc_from_weights(struct vs_svc *s, const uint16_t *w, uint32_t n)
{
	uint32_t upto = 0;

	memset(s, 0, sizeof(*s));
	s->nver = n;
	for (uint32_t i = 0; i < n; i++) {
		upto += w[i];
		s->ver[i].slot = i;
		s->ver[i].upto = upto;
	}
}

/* ---- session hash and version choice ---------------------------------- */

static void test_hash_bucket_uniform(void)
{
	static uint32_t cnt4[100], cnt6[100];
	const uint32_t salt = 0x5eed1234;

	memset(cnt4, 0, sizeof(cnt4));
	memset(cnt6, 0, sizeof(cnt6));
	for (uint32_t i = 0; i < 100000; i++) {
		__u32 a4[4] = { htonl(0x0a000000u + i), 0, 0, 0 };
		__u32 a6[4] = { htonl(0x20010db8u), 0, 0, htonl(i) };
		uint32_t b4 = vs_bucket(vs_session_hash(a4, salt));
		uint32_t b6 = vs_bucket(vs_session_hash(a6, salt));

		CHECK(b4 < VS_BUCKETS && b6 < VS_BUCKETS, "bucket %u/%u", b4, b6);
		cnt4[b4 / 100]++;
		cnt6[b6 / 100]++;
	}
	/* 100 groups of 100 buckets, 1000 addresses expected in each; with
	 * df = 99, P(chi2 > 160) is about 1.0e-4 for a uniform hash. */
	double c4 = chi2_uniform(cnt4, 100, 1000.0), c6 = chi2_uniform(cnt6, 100, 1000.0);

	CHECK(c4 < 160.0, "IPv4 10.0.0.0/15: chi2 = %.1f (df 99)", c4);
	CHECK(c6 < 160.0, "IPv6 2001:db8::/112: chi2 = %.1f (df 99)", c6);
}

static void test_hash_salt_and_determinism(void)
{
	uint32_t differ = 0;

	for (uint32_t i = 0; i < 1000; i++) {
		__u32 a[4] = { htonl(0xc0a80000u + i), 0, 0, 0 };
		__u32 copy[4];
		uint32_t h1 = vs_session_hash(a, 1), h2 = vs_session_hash(a, 2);

		memcpy(copy, a, sizeof(copy));
		CHECK(vs_session_hash(copy, 1) == h1, "salt 1 not deterministic at %u", i);
		CHECK(vs_session_hash(a, 2) == h2, "salt 2 not deterministic at %u", i);
		CHECK(vs_backend_hash(h1) == vs_backend_hash(h1), "backend hash at %u", i);
		differ += vs_bucket(h1) != vs_bucket(h2);
	}
	/* Independent uniform buckets collide with p = 1/10000. */
	CHECK(differ >= 990, "only %u of 1000 addresses change bucket with the salt", differ);
}

/* Which backend of a version a client gets must not depend on which
 * bucket it hashed to. The sharpest case is a small canary: a version of
 * weight 0.1% owns buckets 0..9 only, and if the backend index were
 * drawn from the same bits (h % n, with n dividing 10000) its clients
 * would land on 10 of its 20 backends. Among ~2000 such clients, the
 * backend index as try_version() computes it must be uniform over 20. */
static void test_backend_hash_independent(void)
{
	static uint32_t cnt[20];
	uint32_t total = 0;

	memset(cnt, 0, sizeof(cnt));
	for (uint32_t i = 0; i < (1u << 21); i++) {
		__u32 a[4] = { htonl(0x0a000000u + i), 0, 0, 0 };
		uint32_t h = vs_session_hash(a, 77);

		if (vs_bucket(h) >= 10)
			continue;
		cnt[vs_backend_hash(h) % 20]++;
		total++;
	}
	CHECK(total > 1800 && total < 2400, "%u clients in 0.1%% of buckets", total);
	/* df = 19: P(chi2 > 51) is about 1e-4. */
	double c = chi2_uniform(cnt, 20, total / 20.0);

	CHECK(c < 51.0, "chi2 = %.1f over 20 backends, %u clients", c, total);
}

static void test_pick_version_table(void)
{
	static const struct {
		uint16_t w[VS_MAX_VERSIONS];
		uint32_t n;
		uint32_t want[4];	/* buckets 0, 2499, 2500, 9999 */
	} t[] = {
		{ .w = { 10000 },           .n = 1, .want = { 0, 0, 0, 0 } },
		{ .w = { 2500, 7500 },      .n = 2, .want = { 0, 0, 1, 1 } },
		{ .w = { 0, 10000 },        .n = 2, .want = { 1, 1, 1, 1 } },
		{ .w = { 5000, 5000 },      .n = 2, .want = { 0, 0, 0, 1 } },
		{ .w = { 0, 0, 10000 },     .n = 3, .want = { 2, 2, 2, 2 } },
		{ .w = { 2499, 1, 7500 },   .n = 3, .want = { 0, 1, 2, 2 } },
		{ .w = { 1, 0, 9998, 1 },   .n = 4, .want = { 0, 2, 2, 3 } },
		{ .w = { 1250, 1250, 1250, 1250, 1250, 1250, 1250, 1250 }, .n = 8,
		  .want = { 0, 1, 2, 7 } },
		/* Weights that do not cover the range: nver, not a version. */
		{ .w = { 5000 },            .n = 1, .want = { 0, 0, 0, 1 } },
		{ .w = { 0 },               .n = 0, .want = { 0, 0, 0, 0 } },
	};
	static const uint32_t buckets[4] = { 0, 2499, 2500, 9999 };
	struct vs_svc s;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		svc_from_weights(&s, t[i].w, t[i].n);
		for (size_t j = 0; j < 4; j++) {
			row("weights #%zu, bucket %u", i, buckets[j]);
			CHECK_INT(vs_pick_version(&s, buckets[j]), ==, t[i].want[j]);
		}
	}
}

/* Moving weight from older versions to the newest one only ever moves a
 * client to a newer version (lower index), never back to an older one. */
static void test_pick_version_monotone(void)
{
	uint16_t w[VS_MAX_VERSIONS], w2[VS_MAX_VERSIONS];
	struct vs_svc before, after;
	uint32_t moved = 0;

	for (uint32_t trial = 0; trial < 1000; trial++) {
		uint32_t n = 2 + rng() % (VS_MAX_VERSIONS - 1), left = VS_BUCKETS;
		uint32_t taken = 0;

		for (uint32_t i = 0; i + 1 < n; i++) {
			w[i] = rng() % 4 == 0 ? 0 : rng() % (left + 1);
			left -= w[i];
		}
		w[n - 1] = left;
		memcpy(w2, w, sizeof(w));
		for (uint32_t i = 1; i < n; i++) {
			uint32_t t = rng() % (w2[i] + 1u);

			w2[i] -= t;
			taken += t;
		}
		w2[0] += taken;
		svc_from_weights(&before, w, n);
		svc_from_weights(&after, w2, n);
		CHECK_INT(after.ver[n - 1].upto, ==, VS_BUCKETS);
		for (uint32_t b = 0; b < VS_BUCKETS; b++) {
			uint32_t x = vs_pick_version(&before, b), y = vs_pick_version(&after, b);

			row("trial %u, n %u, bucket %u", trial, n, b);
			CHECK(y <= x, "moved from version %u to older %u", x, y);
			moved += y < x;
		}
	}
	row("%s", "");
	CHECK(moved > 0, "no bucket ever moved: the property test is vacuous");

	/* The control: weight taken from the newest version does send some
	 * clients to an older one, so the check above can fail. */
	for (uint32_t trial = 0; trial < 100; trial++) {
		uint32_t n = 2 + rng() % (VS_MAX_VERSIONS - 1), older = 0;
		uint16_t give = 1 + rng() % 5000;

		memset(w, 0, sizeof(w));
		w[0] = VS_BUCKETS;
		memcpy(w2, w, sizeof(w));
		w2[0] -= give;
		w2[n - 1] += give;
		svc_from_weights(&before, w, n);
		svc_from_weights(&after, w2, n);
		for (uint32_t b = 0; b < VS_BUCKETS; b++)
			older += vs_pick_version(&after, b) > vs_pick_version(&before, b);
		row("control trial %u", trial);
		CHECK_INT(older, ==, give);
	}
}

static void test_failover_order(void)
{
	for (uint32_t nver = 1; nver <= VS_MAX_VERSIONS; nver++) {
		for (uint32_t i = 0; i < nver; i++) {
			uint32_t seen = 0;

			for (uint32_t k = 0; k < nver; k++) {
				uint32_t v = vs_failover_order(i, k, nver);
				/* i, then i+1..nver-1 ascending, then i-1..0 descending */
				uint32_t want = k < nver - i ? i + k : i - 1 - (k - (nver - i));

				row("nver %u, i %u, k %u", nver, i, k);
				CHECK(v < nver, "index %u out of range", v);
				CHECK(!(seen & (1u << v)), "version %u tried twice", v);
				CHECK_INT(v, ==, want);
				seen |= 1u << v;
			}
			row("nver %u, i %u", nver, i);
			CHECK_INT(seen, ==, (1u << nver) - 1);
		}
	}
}

/* ---- versions, endpoints, percentages --------------------------------- */

static void test_version_valid(void)
{
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
	static const char *const good[] = {
		"127.0.0.1:80", "[::1]:9001", "0.0.0.0:1", "1.2.3.4:65535",
		"[2001:db8::1]:443", "[::]:8080", "255.255.255.255:9",
	};
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
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:0", ":80", "127.0.0.1:65536",
		"1.2.3:80", "::1:80", "[::1]80", "127.0.0.1:80x", "127.0.0.1:-1",
		"127.0.0.1: 80", "127.0.0.1:+80", "127.0.0.1:", "[::1]:", "[]:80",
		"[::1:80", "localhost:80", "1.2.3.4.5:80", "256.0.0.1:80",
		"127.0.0.1:99999999999999999999", "127.0.0.1:80 ", " 127.0.0.1:80",
		"[::1]:80:80", "::1", "[fe80::1%eth0]:80",
	};
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

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint16_t bp = 0xbeef;

		row("%g%%", t[i].pct);
		CHECK_INT(percent_to_bp(t[i].pct, &bp), ==, t[i].ret);
		if (t[i].ret == 0)
			CHECK_INT(bp, ==, t[i].bp);
		else
			CHECK_INT(bp, ==, 0xbeef);	/* untouched on error */
	}
}

/* ---- the model -------------------------------------------------------- */

static void test_model_add_service(void)
{
	struct model *m = new_model();
	struct vs_err err = { 0 };
	char name[80];

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "[::1]:8080", 2, &err), ==, 1);
	CHECK_INT(model_find_service(m, "api"), ==, 1);
	CHECK_INT(model_find_service(m, "nope"), ==, -ENOENT);
	CHECK_INT(m->svc[1].salt, ==, 2);
	CHECK_STR(ep_str(&m->svc[1].addr), "[::1]:8080");

	static const struct {
		const char *name, *addr;
		int ret, status;
		const char *code;
	} t[] = {
		{ "web", "127.0.0.1:8081", -EEXIST, 409, "duplicate_service" },
		{ "web2", "127.0.0.1:8080", -EEXIST, 409, "duplicate_service" },
		{ "", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "a b", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "a/b", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "1234567890123456789012345678901234567890123456789012345678901234",
		  "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("'%s' at %s", t[i].name, t[i].addr);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(add_svc(m, t[i].name, t[i].addr, 3, &err), &err,
			  t[i].ret, t[i].status, t[i].code);
		CHECK_INT(model_nservices(m), ==, 2);
	}
	row("%s", "fill up");
	CHECK_INT(add_svc(m, "A-z_0.9-123456789012345678901234567890123456789012345678901234",
			  "127.0.0.1:8082", 3, &err), ==, 2);	/* 63 characters */
	for (int i = 3; i < VS_MAX_SERVICES; i++) {
		char addr[32];

		snprintf(name, sizeof(name), "s%d", i);
		snprintf(addr, sizeof(addr), "127.0.1.%d:80", i);
		CHECK_INT(add_svc(m, name, addr, i, &err), ==, i);
	}
	CHECK_INT(model_nservices(m), ==, VS_MAX_SERVICES);
	memset(&err, 0, sizeof(err));
	CHECK_ERR(add_svc(m, "one-too-many", "127.0.2.1:80", 0, &err), &err, -ENOSPC, 409, "limit");
}

static void test_model_add_weights(void)
{
	static const struct {
		const char *ver;
		enum cl_mode mode;
		const char *server, *want;
	} steps[] = {
		{ "1.0", CL_INSTANT, "127.0.0.1:9001", "1.0=10000" },
		/* an instant newer cluster takes everything */
		{ "2.0", CL_INSTANT, "127.0.0.1:9002", "2.0=10000 1.0=0" },
		/* a manual one takes nothing */
		{ "3.0", CL_MANUAL, "127.0.0.1:9003", "3.0=0 2.0=10000 1.0=0" },
		/* an instant one that is not the newest takes nothing */
		{ "1.5", CL_INSTANT, "127.0.0.1:9004", "3.0=0 2.0=10000 1.5=0 1.0=0" },
		{ "2.0.1", CL_INSTANT, "127.0.0.1:9005", "3.0=0 2.0.1=0 2.0=10000 1.5=0 1.0=0" },
		{ "4.0", CL_INSTANT, "127.0.0.1:9006", "4.0=10000 3.0=0 2.0.1=0 2.0=0 1.5=0 1.0=0" },
	};
	struct model *m = new_model();
	struct vs_err err = { 0 };
	int slot;

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		row("add %s", steps[i].ver);
		slot = add_cl(m, 0, steps[i].ver, steps[i].mode, steps[i].server, NULL, &err);
		CHECK_INT(slot, ==, (int)i);
		CHECK(m->cl[slot].used, "slot not in use");
		CHECK_INT(strlen(m->cl[slot].id), ==, 36);	/* a generated UUID */
		CHECK_INT(m->cl[slot].mode, ==, steps[i].mode);
		CHECK_INT(m->cl[slot].svc, ==, 0);
		CHECK_INT(m->cl[slot].nbk, ==, 1);
		CHECK_STR(ep_str(&m->cl[slot].bk[0]), steps[i].server);
		CHECK_STR(weights_str(m, 0), steps[i].want);
	}
	row("%s", "ids");
	CHECK(strcmp(m->cl[0].id, m->cl[1].id), "two clusters got id %s", m->cl[0].id);
	CHECK_INT(model_find_cluster(m, m->cl[3].id), ==, 3);
	CHECK_INT(model_find_cluster(m, "no-such-id"), ==, -ENOENT);

	/* The first cluster of a service takes every session, even manual. */
	row("%s", "first cluster manual");
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	slot = add_cl(m, 1, "7", CL_MANUAL, "127.0.0.1:9101", "given-id", &err);
	CHECK_INT(slot, ==, ARRAY_SIZE(steps));
	CHECK_STR(m->cl[slot].id, "given-id");
	CHECK_STR(weights_str(m, 1), "7=10000");
	/* ... and the other service is untouched. */
	CHECK_STR(weights_str(m, 0), steps[ARRAY_SIZE(steps) - 1].want);
}

static void test_model_add_cluster_rejects(void)
{
	static const struct {
		const char *name;
		uint32_t svc;
		const char *ver, *servers, *id;
		int ret, status;
		const char *code;
	} t[] = {
		{ "version 1 is 1.0", 0, "1", "127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_version" },
		{ "version 1.0.0 is 1.0", 0, "1.0.0", "127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_version" },
		{ "server of another cluster", 0, "2.0", "127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server of another service's cluster", 1, "1.0", "127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server listed twice", 0, "2.0", "127.0.0.1:9002,127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_server" },
		{ "second server taken", 0, "2.0", "127.0.0.1:9002,127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server is the service", 0, "2.0", "127.0.0.1:8080", NULL, -EINVAL, 400, "bad_server" },
		{ "server is another service", 0, "2.0", "127.0.0.1:8081", NULL, -EINVAL, 400, "bad_server" },
		{ "wildcard server", 0, "2.0", "0.0.0.0:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "IPv6 wildcard server", 2, "1.0", "[::]:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "IPv6 server, IPv4 service", 0, "2.0", "[::1]:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "bad version", 0, "2.x", "127.0.0.1:9002", NULL, -EINVAL, 400, "bad_version" },
		{ "empty version", 0, "", "127.0.0.1:9002", NULL, -EINVAL, 400, "bad_version" },
		{ "no servers", 0, "2.0", "", NULL, -EINVAL, 400, "bad_servers" },
		{ "unknown service", 7, "2.0", "127.0.0.1:9002", NULL, -ENOENT, 404, "unknown_service" },
		{ "service out of range", VS_MAX_SERVICES, "2.0", "127.0.0.1:9002", NULL, -ENOENT, 404, "unknown_service" },
		{ "id taken", 0, "2.0", "127.0.0.1:9002", "c1", -EEXIST, 409, "duplicate_cluster" },
	};
	struct model *m = new_model();
	struct vs_err err = { 0 };

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	CHECK_INT(add_svc(m, "v6", "[::1]:8080", 3, &err), ==, 2);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", "c1", &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(add_cl(m, t[i].svc, t[i].ver, CL_INSTANT, t[i].servers, t[i].id, &err),
			  &err, t[i].ret, t[i].status, t[i].code);
		CHECK(err.msg[0], "no message");
		/* nothing half-applied */
		CHECK_INT(nclusters(m), ==, 1);
		CHECK_STR(weights_str(m, 0), "1.0=10000");
	}
}

static void test_model_order(void)
{
	static const char *const add[] = { "1.9", "1.10", "0.0", "2", "1.9.1", "10", "1.10.0.1", "0.1" };
	struct model *m = new_model();
	struct vs_err err = { 0 };
	uint32_t order[VS_MAX_VERSIONS];
	char server[32];
	char got[256] = "";

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "other", "127.0.0.1:8081", 1, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "5", CL_MANUAL, "127.0.0.1:9100", NULL, &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(add); i++) {
		row("add %s", add[i]);
		snprintf(server, sizeof(server), "127.0.0.1:%zu", 9001 + i);
		CHECK_INT(add_cl(m, 0, add[i], CL_MANUAL, server, NULL, &err), ==, (int)i + 1);
	}
	row("%s", "order");
	uint32_t n = model_order(m, 0, order);

	CHECK_INT(n, ==, VS_MAX_VERSIONS);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_INT(m->cl[order[i]].svc, ==, 0);
		strcat(got, i ? " " : "");
		strcat(got, m->cl[order[i]].version);
	}
	CHECK_STR(got, "10 2 1.10.0.1 1.10 1.9.1 1.9 0.1 0.0");
	CHECK_INT(model_order(m, 1, order), ==, 1);
	CHECK_INT(order[0], ==, 0);
	CHECK_INT(model_order(m, 5, order), ==, 0);

	row("%s", "ninth version");
	memset(&err, 0, sizeof(err));
	CHECK_ERR(add_cl(m, 0, "11", CL_INSTANT, "127.0.0.1:9999", NULL, &err), &err,
		  -ENOSPC, 409, "limit");
	CHECK_INT(nclusters(m), ==, 9);
}

static void test_model_del_cluster(void)
{
	static const struct {
		const char *del, *want;
	} t[] = {
		/* its weight goes to the next older version ... */
		{ "3.0", "2.0=8000 1.0=2000" },
		{ "2.0", "3.0=5000 1.0=5000" },
		/* ... or, for the oldest, to the next newer one */
		{ "1.0", "3.0=5000 2.0=5000" },
	};
	static const char *const names[] = { "3.0", "2.0", "1.0" };
	static const uint16_t bp[] = { 5000, 3000, 2000 };
	struct vs_err err = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct model *m = new_model();
		int slot;

		row("delete %s", t[i].del);
		CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
		CHECK_INT(add_cl(m, 0, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 0);
		CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 1);
		CHECK_INT(add_cl(m, 0, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
		CHECK_INT(model_set_weights(m, 0, names, bp, 3, &err), ==, 0);
		CHECK_STR(weights_str(m, 0), "3.0=5000 2.0=3000 1.0=2000");
		slot = model_find_version(m, 0, t[i].del);
		CHECK(slot >= 0, "version not found");
		CHECK_INT(model_del_cluster(m, slot, false, &err), ==, 0);
		CHECK(!m->cl[slot].used, "slot still in use");
		CHECK_STR(weights_str(m, 0), t[i].want);
		/* the freed slot is the next one handed out */
		CHECK_INT(add_cl(m, 0, "9", CL_MANUAL, "127.0.0.1:9009", NULL, &err), ==, slot);
	}

	row("%s", "unknown slots");
	struct model *m = new_model();

	memset(&err, 0, sizeof(err));
	CHECK_ERR(model_del_cluster(m, 5, false, &err), &err, -ENOENT, 404, "unknown_cluster");
	CHECK_ERR(model_del_cluster(m, VS_MAX_SLOTS, true, &err), &err, -ENOENT, 404,
		  "unknown_cluster");
}

static void test_model_del_last_needs_force(void)
{
	struct model *m = new_model();
	struct vs_err err = { 0 };

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_ERR(model_del_cluster(m, 0, false, &err), &err, -EBUSY, 409, "last_cluster");
	CHECK(m->cl[0].used, "refused delete removed the cluster");
	CHECK_INT(weight_of(m, 0, "1"), ==, VS_BUCKETS);
	CHECK_INT(model_del_cluster(m, 0, true, &err), ==, 0);
	CHECK_INT(nclusters(m), ==, 0);
	CHECK(m->svc[0].used, "the service goes with its last cluster");
	/* a new first cluster starts with every session again */
	CHECK_INT(add_cl(m, 0, "0.5", CL_MANUAL, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_STR(weights_str(m, 0), "0.5=10000");
}

static void test_model_set_weights(void)
{
	static const struct {
		const char *name;
		const char *names[4];
		uint16_t bp[4];
		uint32_t n;
		int ret, status;
		const char *code, *want;
	} t[] = {
		{ "odd split, 2.0 unnamed", { "1.0", "3.0" }, { 3333, 6667 }, 2, 0, 0, "",
		  "3.0=6667 2.0=0 1.0=3333" },
		{ "all to one, by an equal version", { "2" }, { 10000 }, 1, 0, 0, "",
		  "3.0=0 2.0=10000 1.0=0" },
		{ "explicit zeros", { "1.0", "2.0", "3.0" }, { 0, 0, 10000 }, 3, 0, 0, "",
		  "3.0=10000 2.0=0 1.0=0" },
		{ "sum 9999", { "1.0", "3.0" }, { 3333, 6666 }, 2, -EINVAL, 400, "bad_weights", NULL },
		{ "sum 10001", { "1.0", "3.0" }, { 3334, 6667 }, 2, -EINVAL, 400, "bad_weights", NULL },
		{ "nothing named", { NULL }, { 0 }, 0, -EINVAL, 400, "bad_weights", NULL },
		{ "unknown version", { "1.0", "4.0" }, { 5000, 5000 }, 2, -ENOENT, 404,
		  "unknown_version", NULL },
		{ "named twice", { "1.0", "1.0" }, { 5000, 5000 }, 2, -EEXIST, 400, "bad_weights", NULL },
		{ "named twice, spelt differently", { "1.0", "1" }, { 5000, 5000 }, 2, -EEXIST, 400,
		  "bad_weights", NULL },
	};
	struct model *m = new_model();
	struct vs_err err = { 0 };
	const char *before;
	char saved[512];

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "empty", "127.0.0.1:8081", 1, &err), ==, 1);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_INT(add_cl(m, 0, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 1);
	CHECK_INT(add_cl(m, 0, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		before = weights_str(m, 0);
		snprintf(saved, sizeof(saved), "%s", before);
		memset(&err, 0, sizeof(err));
		int ret = model_set_weights(m, 0, t[i].names, t[i].bp, t[i].n, &err);

		if (t[i].ret) {
			CHECK_ERR(ret, &err, t[i].ret, t[i].status, t[i].code);
			CHECK_STR(weights_str(m, 0), saved);	/* unchanged */
		} else {
			CHECK_INT(ret, ==, 0);
			CHECK_STR(weights_str(m, 0), t[i].want);
		}
	}
	row("%s", "service without clusters");
	memset(&err, 0, sizeof(err));
	static const char *const one[] = { "1.0" };
	static const uint16_t all[] = { 10000 };

	CHECK_INT(model_set_weights(m, 1, one, all, 1, &err), ==, -ENOENT);
}

static void test_model_svc_value(void)
{
	static const char *const names[] = { "3.0", "1.0" };
	static const uint16_t bp[] = { 1000, 9000 };
	struct model *m = new_model();
	struct vs_err err = { 0 };
	uint8_t nsock[VS_MAX_SLOTS];
	struct vs_svc_key k;
	struct vs_svc v;

	memset(nsock, 9, sizeof(nsock));
	nsock[0] = 3;
	nsock[1] = 5;
	nsock[2] = 7;
	CHECK_INT(add_svc(m, "pad", "127.0.0.1:1", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 0xabcd1234, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 0);
	CHECK_INT(add_cl(m, 1, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
	CHECK_INT(model_set_weights(m, 1, names, bp, 2, &err), ==, 0);

	memset(&v, 0xa5, sizeof(v));
	model_svc_value(m, 1, nsock, &v);
	CHECK_INT(v.id, ==, 1);
	CHECK_INT(v.salt, ==, 0xabcd1234);
	CHECK_INT(v.nver, ==, 3);
	CHECK_INT(v.session_ms, ==, 0);
	static const struct vs_ver want[3] = {
		{ .slot = 2, .upto = 1000, .nsock = 7 },	/* 3.0 */
		{ .slot = 0, .upto = 1000, .nsock = 3 },	/* 2.0, weight 0 */
		{ .slot = 1, .upto = 10000, .nsock = 5 },	/* 1.0 */
	};
	for (uint32_t i = 0; i < VS_MAX_VERSIONS; i++) {
		row("ver[%u]", i);
		CHECK_INT(v.ver[i].slot, ==, i < 3 ? want[i].slot : 0);
		CHECK_INT(v.ver[i].upto, ==, i < 3 ? want[i].upto : 0);
		CHECK_INT(v.ver[i].nsock, ==, i < 3 ? want[i].nsock : 0);
	}
	row("%s", "picks");
	/* what the data plane makes of it: 2.0 (weight 0) gets no bucket */
	CHECK_INT(vs_pick_version(&v, 0), ==, 0);
	CHECK_INT(vs_pick_version(&v, 999), ==, 0);
	CHECK_INT(vs_pick_version(&v, 1000), ==, 2);
	CHECK_INT(vs_pick_version(&v, 9999), ==, 2);

	row("%s", "key");
	memset(&k, 0xa5, sizeof(k));
	model_svc_key(m, 1, &k);
	CHECK_INT(k.family, ==, AF_INET);
	CHECK_INT(k.proto, ==, VS_PROTO_TCP);
	CHECK_INT(k.port, ==, 8080);
	CHECK_INT(k.addr[0], ==, htonl(0x7f000001));
	CHECK(!k.addr[1] && !k.addr[2] && !k.addr[3], "addr[1..3]");

	row("%s", "service without clusters");
	model_svc_value(m, 0, nsock, &v);
	CHECK_INT(v.id, ==, 0);
	CHECK_INT(v.nver, ==, 0);
	CHECK_INT(v.ver[0].upto, ==, 0);
}

/* ---- the config file -------------------------------------------------- */

static int cfg_parse(const char *sq_json, struct config *cfg, struct model *m,
		     struct vs_err *err)
{
	char *text = jq(sq_json);

	memset(m, 0, sizeof(*m));
	memset(cfg, 0xa5, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	return config_parse(text, strlen(text), "t.json", cfg, m, err);
}

static void test_config_thesis_single(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int svc, slot;

	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			    " 'configService': {'address': '127.0.0.1', 'port': 9901},"
			    " 'cluster': {'version': '1.0',"
			    "             'servers': ['127.0.0.1:9001', '127.0.0.1:9002']}}",
			    &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9901");
	CHECK_INT(model_nservices(m), ==, 1);
	svc = model_find_service(m, VS_DEFAULT_SERVICE);
	CHECK_INT(svc, ==, 0);
	CHECK_STR(ep_str(&m->svc[svc].addr), "127.0.0.1:8080");
	CHECK_INT(nclusters(m), ==, 1);
	slot = model_find_version(m, svc, "1.0");
	CHECK_INT(slot, ==, 0);
	CHECK_INT(m->cl[slot].weight, ==, VS_BUCKETS);
	CHECK_INT(m->cl[slot].mode, ==, CL_INSTANT);
	CHECK_INT(strlen(m->cl[slot].id), ==, 36);
	CHECK_INT(m->cl[slot].nbk, ==, 2);
	CHECK_STR(ep_str(&m->cl[slot].bk[0]), "127.0.0.1:9001");
	CHECK_STR(ep_str(&m->cl[slot].bk[1]), "127.0.0.1:9002");
}

static void test_config_cluster_list(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int slot;

	/* servers as {address, port}; the first cluster has no version */
	CHECK_INT(cfg_parse("{'proxy': {'address': '::1', 'port': 8080},"
			    " 'cluster': ["
			    "  {'servers': [{'address': '::1', 'port': 9001}]},"
			    "  {'version': '2.0', 'servers': [{'address': '::1', 'port': 9002},"
			    "                                 '[::1]:9003'],"
			    "   'upgradeTransition': {'mode': 'Instant'}}]}",
			    &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&m->svc[0].addr), "[::1]:8080");
	CHECK_INT(nclusters(m), ==, 2);
	CHECK_STR(weights_str(m, 0), "2.0=10000 0.0=0");
	slot = model_find_version(m, 0, "0.0");
	CHECK_INT(slot, ==, 0);
	CHECK_STR(m->cl[slot].version, "0.0");
	CHECK_INT(m->cl[slot].nbk, ==, 1);
	CHECK_STR(ep_str(&m->cl[slot].bk[0]), "[::1]:9001");
	slot = model_find_version(m, 0, "2.0");
	CHECK_INT(slot, ==, 1);
	CHECK_INT(m->cl[slot].nbk, ==, 2);
	CHECK_STR(ep_str(&m->cl[slot].bk[0]), "[::1]:9002");
	CHECK_STR(ep_str(&m->cl[slot].bk[1]), "[::1]:9003");
	CHECK(strcmp(m->cl[0].id, m->cl[1].id), "same id twice");
}

static void test_config_modes(void)
{
	static const struct {
		const char *mode;
		int ret;
		const char *code;
		enum cl_mode want;
		const char *weights;
	} t[] = {
		{ "Instant", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "instant", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "INSTANT", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "manual", 0, "", CL_MANUAL, "2.0=0 1.0=10000" },
		{ "Manual", 0, "", CL_MANUAL, "2.0=0 1.0=10000" },
		/* session needs its sessionTimeout */
		{ "Session", -EINVAL, "bad_field", CL_INSTANT, NULL },
		{ "session", -EINVAL, "bad_field", CL_INSTANT, NULL },
		{ "gradual", -EINVAL, "bad_mode", CL_INSTANT, NULL },
		{ "", -EINVAL, "bad_mode", CL_INSTANT, NULL },
	};
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	char text[512];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("mode '%s'", t[i].mode);
		snprintf(text, sizeof(text),
			 "{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			 " 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
			 "  {'version': '2.0', 'servers': ['127.0.0.1:9002'],"
			 "   'upgradeTransition': {'mode': '%s'}}]}", t[i].mode);
		int ret = cfg_parse(text, &cfg, m, &err);

		if (t[i].ret) {
			CHECK_ERR(ret, &err, t[i].ret, 400, t[i].code);
			CHECK_HAS(err.msg, "cluster[1].upgradeTransition");
			continue;
		}
		CHECK_INT(ret, ==, 0);
		CHECK_INT(m->cl[model_find_version(m, 0, "2.0")].mode, ==, t[i].want);
		CHECK_STR(weights_str(m, 0), t[i].weights);
	}
	row("%s", "sessionTimeout without session");
	CHECK_ERR(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			    " 'cluster': {'servers': ['127.0.0.1:9001'],"
			    "  'upgradeTransition': {'mode': 'instant', 'sessionTimeout': 5}}}",
			    &cfg, m, &err), &err, -EINVAL, 400, "bad_field");
}

static void test_config_errors(void)
{
#define PROXY "'proxy': {'address': '127.0.0.1', 'port': 8080}"
	static const struct {
		const char *json;
		int status;
		const char *code, *has1, *has2;
	} t[] = {
		{ "{" PROXY ", 'proxyy': 1}", 400, "unknown_field", "'proxyy'", "top level" },
		{ "{" PROXY ", 'cluster': [{'servers': ['127.0.0.1:9001']},"
		  " {'servers': ['127.0.0.1:9002'], 'version': '2', 'weight': 5}]}",
		  400, "unknown_field", "cluster[1]", "'weight'" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 0}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 70000}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': '80'}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 80.5}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1'}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': 'localhost', 'port': 80}}", 400, "bad_address", "proxy.address", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 80, 'tls': true}}", 400,
		  "unknown_field", "proxy", "'tls'" },
		{ "{'proxy': '127.0.0.1:0'}", 400, "bad_address", "proxy", "" },
		{ "{'configService': {'address': '127.0.0.1', 'port': 65536}}", 400, "bad_port",
		  "configService.port", "" },
		{ "{" PROXY ", 'cluster': {'servers': [{'address': '127.0.0.1', 'port': 0}]}}",
		  400, "bad_port", "cluster[0].servers[0].port", "" },
		{ "{" PROXY ", 'cluster': {'servers': ['127.0.0.1:9001', '127.0.0.1:70000']}}",
		  400, "bad_address", "cluster[0].servers[1]", "" },
		{ "{" PROXY ", 'cluster': {'servers': []}}", 400, "bad_servers", "cluster[0].servers", "" },
		{ "{" PROXY ", 'cluster': {'version': '1.2a', 'servers': ['127.0.0.1:9001']}}",
		  400, "bad_version", "cluster[0].version", "1.2a" },
		{ "{" PROXY ", 'cluster': {'version': 2, 'servers': ['127.0.0.1:9001']}}",
		  400, "bad_version", "cluster[0].version", "" },
		{ "{" PROXY ", 'cluster': 5}", 400, "bad_field", "cluster", "" },
		{ "{" PROXY ", 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
		  " {'version': '1', 'servers': ['127.0.0.1:9002']}]}",
		  409, "duplicate_version", "cluster[1]", "" },
		{ "{" PROXY ", 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
		  " {'version': '2', 'servers': ['127.0.0.1:9001']}]}",
		  409, "duplicate_server", "cluster[1]", "" },
		{ "{'cluster': {'servers': ['127.0.0.1:9001']}}", 400, "bad_field", "proxy", "" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80},"
		  " {'name': 'b', 'address': '127.0.0.1', 'port': 81, 'cluster': []}]}",
		  400, "unknown_field", "services[1]", "'cluster'" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1'}]}", 400, "bad_field",
		  "services[0]", "address and port" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80,"
		  " 'clusters': [{'servers': ['127.0.0.1:80']}]}]}",
		  400, "bad_server", "services[0].clusters[0]", "" },
		{ "{'services': {'name': 'a'}}", 400, "bad_field", "services", "" },
		{ "{'proxy': ", 400, "bad_json", "line", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 8080},}", 400, "bad_json", "", "" },
		{ "{'proxy': {}, 'proxy': {}}", 400, "bad_json", "", "" },
		{ "", 400, "bad_json", "", "" },
		{ "[]", 400, "bad_field", "top level", "" },
	};
#undef PROXY
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].json);
		int ret = cfg_parse(t[i].json, &cfg, m, &err);

		CHECK(ret < 0, "accepted");
		CHECK_INT(err.status, ==, t[i].status);
		CHECK_STR(err.code, t[i].code);
		CHECK_HAS(err.msg, "t.json");
		CHECK_HAS(err.msg, t[i].has1);
		CHECK_HAS(err.msg, t[i].has2);
	}
}

static void test_config_services_form(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int web, v6;

	CHECK_INT(cfg_parse("{'configService': '127.0.0.1:9911',"
			    " 'services': ["
			    "  {'name': 'web', 'address': '0.0.0.0', 'port': 80, 'clusters': ["
			    "    {'version': '1.0', 'servers': ['127.0.0.1:9001']},"
			    "    {'version': '1.1', 'servers': ['127.0.0.1:9002'],"
			    "     'upgradeTransition': {'mode': 'manual'}}]},"
			    "  {'name': 'v6', 'address': '::', 'port': 81,"
			    "   'clusters': {'version': '3', 'servers': ['[::1]:9101']}},"
			    "  {'name': 'idle', 'address': '127.0.0.2', 'port': 82}]}",
			    &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9911");
	CHECK_INT(model_nservices(m), ==, 3);
	web = model_find_service(m, "web");
	v6 = model_find_service(m, "v6");
	CHECK_INT(web, ==, 0);
	CHECK_INT(v6, ==, 1);
	CHECK_INT(model_find_service(m, "idle"), ==, 2);
	CHECK_INT(model_find_service(m, VS_DEFAULT_SERVICE), ==, -ENOENT);
	CHECK_STR(ep_str(&m->svc[web].addr), "0.0.0.0:80");
	CHECK_STR(ep_str(&m->svc[v6].addr), "[::]:81");
	CHECK_STR(weights_str(m, web), "1.1=0 1.0=10000");
	CHECK_STR(weights_str(m, v6), "3=10000");
	CHECK_STR(weights_str(m, 2), "");
	CHECK_INT(m->cl[model_find_version(m, v6, "3")].svc, ==, v6);

	/* the thesis form and the services form together */
	row("%s", "proxy and services");
	CHECK_INT(cfg_parse("{'proxy': '127.0.0.1:8080', 'cluster': {'servers': ['127.0.0.1:9001']},"
			    " 'services': [{'name': 'web', 'address': '127.0.0.1', 'port': 80}]}",
			    &cfg, m, &err), ==, 0);
	CHECK_INT(model_find_service(m, VS_DEFAULT_SERVICE), ==, 0);
	CHECK_INT(model_find_service(m, "web"), ==, 1);
	row("%s", "services named twice");
	CHECK_ERR(cfg_parse("{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80},"
			    " {'name': 'a', 'address': '127.0.0.1', 'port': 81}]}",
			    &cfg, m, &err), &err, -EEXIST, 409, "duplicate_service");
}

static void test_config_api_default(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;

	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080}}", &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9900");
	CHECK_INT(cfg.api.port, ==, VS_DEFAULT_API_PORT);
	CHECK_INT(model_nservices(m), ==, 1);
	CHECK_INT(nclusters(m), ==, 0);
	row("%s", "empty object");
	CHECK_INT(cfg_parse("{}", &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9900");
	CHECK_INT(model_nservices(m), ==, 0);
	row("%s", "IPv6 configService");
	CHECK_INT(cfg_parse("{'configService': {'address': '::1', 'port': 9000}}", &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "[::1]:9000");
}

/* ---- the state file --------------------------------------------------- */

static void check_models_equal(const struct model *a, const struct model *b)
{
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++) {
		const struct service *x = &a->svc[i], *y = &b->svc[i];

		row("service id %u", i);
		CHECK_INT(x->used, ==, y->used);
		if (!x->used)
			continue;
		CHECK_STR(x->name, y->name);
		CHECK(ep_equal(&x->addr, &y->addr), "%s", ep_str(&y->addr));
		CHECK_INT(x->salt, ==, y->salt);
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		const struct cluster *x = &a->cl[i], *y = &b->cl[i];

		row("slot %u", i);
		CHECK_INT(x->used, ==, y->used);
		if (!x->used)
			continue;
		CHECK_STR(x->id, y->id);
		CHECK_STR(x->version, y->version);
		CHECK_INT(x->svc, ==, y->svc);
		CHECK_INT(x->weight, ==, y->weight);
		CHECK_INT(x->mode, ==, y->mode);
		CHECK_INT(x->nbk, ==, y->nbk);
		for (uint32_t j = 0; j < x->nbk; j++)
			CHECK(ep_equal(&x->bk[j], &y->bk[j]), "server %u: %s", j, ep_str(&y->bk[j]));
	}
	row("%s", "");
}

static void test_state_roundtrip(void)
{
	static const char *const names[] = { "2.0", "3.0" };
	static const uint16_t bp[] = { 3333, 6667 };
	struct model *m = new_model(), *m2 = new_model();
	uint8_t nsock[VS_MAX_SLOTS] = { 0 };
	struct vs_svc v1, v2;
	struct config cfg;
	struct vs_err err;
	char *text, *text2;

	CHECK_INT(cfg_parse("{'services': ["
			    "  {'name': 'web', 'address': '127.0.0.1', 'port': 8080, 'clusters': ["
			    "    {'version': '1.0', 'servers': ['127.0.0.1:9001']},"
			    "    {'version': '2.0', 'servers': ['127.0.0.1:9002',"
			    "                                   {'address': '127.0.0.2', 'port': 9012}]},"
			    "    {'version': '3.0', 'servers': ['127.0.0.1:9003'],"
			    "     'upgradeTransition': {'mode': 'manual'}}]},"
			    "  {'name': 'v6', 'address': '::', 'port': 8443,"
			    "   'clusters': {'version': '7.1', 'servers': ['[::1]:9101']}}]}",
			    &cfg, m, &err), ==, 0);
	/* Leave slots out of version order and a hole at slot 3. */
	CHECK_INT(model_del_cluster(m, 0, false, &err), ==, 0);
	CHECK_INT(add_cl(m, 0, "2.5", CL_MANUAL, "127.0.0.1:9025", NULL, &err), ==, 0);
	CHECK_INT(add_cl(m, 1, "7.2", CL_MANUAL, "[::1]:9102", NULL, &err), ==, 4);
	CHECK_INT(model_del_cluster(m, 3, false, &err), ==, 0);
	CHECK_INT(model_set_weights(m, 0, names, bp, 2, &err), ==, 0);
	CHECK_STR(weights_str(m, 0), "3.0=6667 2.5=0 2.0=3333");
	CHECK_STR(weights_str(m, 1), "7.2=10000");

	text = track(state_dump(m));
	CHECK(text, "state_dump failed");
	memset(m2, 0xa5, sizeof(*m2));	/* state_parse must start from nothing */
	memset(&err, 0, sizeof(err));
	CHECK_INT(state_parse(text, strlen(text), "t.json", m2, &err), ==, 0);
	check_models_equal(m, m2);
	if (cur_failed)
		return;
	text2 = track(state_dump(m2));
	CHECK(text2, "state_dump failed");
	CHECK_STR(text2, text);
	nsock[0] = 1;
	nsock[2] = 2;
	for (uint32_t s = 0; s < 2; s++) {
		row("svc value %u", s);
		model_svc_value(m, s, nsock, &v1);
		model_svc_value(m2, s, nsock, &v2);
		CHECK(!memcmp(&v1, &v2, sizeof(v1)), "data plane views differ");
	}
}

static void test_state_rejects(void)
{
	/* vsteerState, top-level extra, service id, cluster a's extra, slot a,
	 * weight a, slot b, weight b */
	static const char fmt[] =
		"{'vsteerState': %d, %s"
		" 'services': [{'name': 'default', 'id': %d, 'address': '127.0.0.1', 'port': 8080, 'salt': 7}],"
		" 'clusters': ["
		"  {%s'id': 'a', 'version': '1.0', 'slot': %d, 'servers': ['127.0.0.1:9001'],"
		"   'weight': %d, 'upgradeTransition': {'mode': 'instant'}, 'service': 'default'},"
		"  {'id': 'b', 'version': '2.0', 'slot': %d, 'servers': ['127.0.0.1:9002'],"
		"   'weight': %d, 'upgradeTransition': {'mode': 'manual'}, 'service': 'default'}]}";
	static const struct {
		const char *name;
		int format;
		const char *extra;
		int sid;
		const char *cl_extra;
		int slot_a, w_a, slot_b, w_b;
		bool ok;
		const char *has;
	} t[] = {
		{ "valid", 1, "", 0, "", 0, 5000, 3, 5000, true, "" },
		{ "valid, slots reversed", 1, "", 5, "", 4, 10000, 0, 0, true, "" },
		{ "weights sum to 9999", 1, "", 0, "", 0, 5000, 3, 4999, false, "10000" },
		{ "weights sum to 10001", 1, "", 0, "", 0, 5001, 3, 5000, false, "10000" },
		{ "weight out of range", 1, "", 0, "", 0, 10001, 3, 0, false, "clusters[0]" },
		{ "negative weight", 1, "", 0, "", 0, -1, 3, 10001, false, "clusters[0]" },
		{ "repeated slot", 1, "", 0, "", 3, 5000, 3, 5000, false, "clusters[1]" },
		{ "slot out of range", 1, "", 0, "", 0, 5000, VS_MAX_SLOTS, 5000, false, "clusters[1]" },
		{ "service id out of range", 1, "", VS_MAX_SERVICES, "", 0, 5000, 1, 5000, false, "services[0]" },
		{ "unknown top-level field", 1, "'bogus': 1,", 0, "", 0, 5000, 3, 5000, false, "bogus" },
		{ "unknown cluster field", 1, "", 0, "'bogus': 1,", 0, 5000, 3, 5000, false, "bogus" },
		{ "format 2", 2, "", 0, "", 0, 5000, 3, 5000, false, "vsteerState" },
		{ "format 0", 0, "", 0, "", 0, 5000, 3, 5000, false, "vsteerState" },
	};
	struct model *m = new_model();
	struct vs_err err;
	char sq[2048];
	char *text;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		snprintf(sq, sizeof(sq), fmt, t[i].format, t[i].extra, t[i].sid, t[i].cl_extra,
			 t[i].slot_a, t[i].w_a, t[i].slot_b, t[i].w_b);
		text = jq(sq);
		memset(&err, 0, sizeof(err));
		int ret = state_parse(text, strlen(text), "t.json", m, &err);

		if (!t[i].ok) {
			CHECK(ret < 0, "accepted");
			CHECK_INT(err.status, ==, 400);
			CHECK_HAS(err.msg, "state t.json");
			CHECK_HAS(err.msg, t[i].has);
			continue;
		}
		CHECK_INT(ret, ==, 0);
		CHECK_INT(model_nservices(m), ==, 1);
		CHECK(m->svc[t[i].sid].used, "service not at id %d", t[i].sid);
		CHECK_INT(m->svc[t[i].sid].salt, ==, 7);
		CHECK_INT(nclusters(m), ==, 2);
		CHECK_STR(m->cl[t[i].slot_a].id, "a");
		CHECK_STR(m->cl[t[i].slot_b].id, "b");
		CHECK_INT(m->cl[t[i].slot_a].svc, ==, t[i].sid);
		CHECK_INT(m->cl[t[i].slot_a].weight, ==, t[i].w_a);
		CHECK_INT(m->cl[t[i].slot_b].weight, ==, t[i].w_b);
		CHECK_INT(m->cl[t[i].slot_a].mode, ==, CL_INSTANT);
		CHECK_INT(m->cl[t[i].slot_b].mode, ==, CL_MANUAL);
	}
	row("%s", "not JSON");
	CHECK(state_parse("{", 1, "t.json", m, &err) < 0, "accepted");
	CHECK_HAS(err.msg, "t.json");
	row("%s", "no vsteerState");
	text = jq("{'services': [], 'clusters': []}");
	CHECK(state_parse(text, strlen(text), "t.json", m, &err) < 0, "accepted");
	row("%s", "empty state");
	text = jq("{'vsteerState': 1, 'services': [], 'clusters': []}");
	CHECK_INT(state_parse(text, strlen(text), "t.json", m, &err), ==, 0);
	CHECK_INT(model_nservices(m), ==, 0);
}

/* ---- the rollout engine ----------------------------------------------- */

/* The engine never reads the clock: every call gets `now`, counted from
 * here. */
#define T0 1700000000LL

/* Slots setup_web() gives its clusters. */
enum { S10 = 0, S20 = 1, S30 = 2, S05 = 3, SAPI = 4 };

/* Service "web" (id 0): 1.0 (slot 0, id c1, instant and first, so it has
 * every session), 2.0 (c2), 3.0 (c3) and 0.5 (c05), all manual at 0.
 * Service "api" (id 1): 7.0 (slot 4, id api7). */
static void setup_web(struct model *m)
{
	static const struct {
		uint32_t svc;
		const char *ver;
		enum cl_mode mode;
		const char *server, *id;
	} cl[] = {
		{ 0, "1.0", CL_INSTANT, "127.0.0.1:9001", "c1" },
		{ 0, "2.0", CL_MANUAL, "127.0.0.1:9002", "c2" },
		{ 0, "3.0", CL_MANUAL, "127.0.0.1:9003", "c3" },
		{ 0, "0.5", CL_MANUAL, "127.0.0.1:9005", "c05" },
		{ 1, "7.0", CL_INSTANT, "127.0.0.1:9101", "api7" },
	};
	struct vs_err err = { 0 };

	memset(m, 0, sizeof(*m));
	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	for (size_t i = 0; i < ARRAY_SIZE(cl); i++)
		CHECK_INT(add_cl(m, cl[i].svc, cl[i].ver, cl[i].mode, cl[i].server, cl[i].id, &err),
			  ==, (int)i);
	CHECK_STR(weights_str(m, 0), "3.0=0 2.0=0 1.0=10000 0.5=0");
	CHECK_STR(weights_str(m, 1), "7.0=10000");
}

static struct ro_request ro_req(const char *to, enum ro_strategy strategy, uint32_t timeout,
				const struct ro_step *steps, uint32_t nsteps)
{
	struct ro_request r;

	memset(&r, 0, sizeof(r));
	if (str_copy(r.to, sizeof(r.to), to))
		r.to[0] = '\0';
	r.strategy = strategy;
	r.session_timeout = timeout;
	r.nsteps = nsteps;
	if (nsteps)
		memcpy(r.steps, steps, nsteps * sizeof(*steps));
	return r;
}

/* Start a rollout of service 0 that the test needs to succeed. */
static int start(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
		 const struct ro_step *steps, uint32_t nsteps, int64_t now)
{
	struct ro_request r = ro_req(to, strategy, timeout, steps, nsteps);
	struct vs_err err = { 0 };

	return rollout_start(m, 0, &r, now, &err);
}

/* During a rollout: the target has w, the version rolled out from the
 * rest, every other version of the service 0, and they sum to 10000. */
static void check_layout(const struct model *m, uint32_t svc, uint32_t to, uint32_t from,
			 uint16_t w)
{
	uint32_t sum = 0, want;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		if (!m->cl[i].used || m->cl[i].svc != svc)
			continue;
		want = i == to ? w : i == from ? VS_BUCKETS - w : 0;
		CHECK(m->cl[i].weight == want, "%s has %u, want %u (%s)", m->cl[i].version,
		      m->cl[i].weight, want, weights_str(m, svc));
		sum += m->cl[i].weight;
	}
	CHECK_INT(sum, ==, VS_BUCKETS);
}

/* The k-th newest event, 0 the newest. */
static const struct event *nth_event(const struct model *m, uint32_t k)
{
	return &m->events[(m->event_head + 2 * RO_MAX_EVENTS - 1 - k) % RO_MAX_EVENTS];
}

static void test_rollout_start_rejects(void)
{
	static const struct ro_step ok2[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	static const struct {
		const char *name;
		int pre;		/* 0: no rollout, 1: one to 2.0 progressing, 2: paused */
		const char *to;
		enum ro_strategy strategy;
		uint32_t timeout;
		struct ro_step steps[3];
		uint32_t nsteps;
		int ret, status;
		const char *code;
	} t[] = {
		{ "unknown version", 0, "9.0", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -ENOENT, 404, "unknown_target" },
		{ "unknown cluster id", 0, "c9", RO_INSTANT, 0, { }, 0, -ENOENT, 404, "unknown_target" },
		{ "another service's cluster id", 0, "api7", RO_INSTANT, 0, { }, 0,
		  -ENOENT, 404, "unknown_target" },
		{ "another service's version", 0, "7.0", RO_INSTANT, 0, { }, 0,
		  -ENOENT, 404, "unknown_target" },
		{ "empty target", 0, "", RO_INSTANT, 0, { }, 0, -ENOENT, 404, "unknown_target" },
		{ "target is the stable version", 0, "1.0", RO_INSTANT, 0, { }, 0,
		  -EINVAL, 409, "already_stable" },
		{ "stable, as 1", 0, "1", RO_SESSION, 60, { }, 0, -EINVAL, 409, "already_stable" },
		{ "stable, by cluster id", 0, "c1", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EINVAL, 409, "already_stable" },
		{ "target older than stable", 0, "0.5", RO_INSTANT, 0, { }, 0,
		  -EINVAL, 409, "target_older" },
		{ "older, by cluster id", 0, "c05", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EINVAL, 409, "target_older" },
		{ "instant with steps", 0, "2.0", RO_INSTANT, 0, { { 10000, RO_WAIT } }, 1,
		  -EINVAL, 400, "bad_rollout" },
		{ "instant with sessionTimeout", 0, "2.0", RO_INSTANT, 60, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "session without timeout", 0, "2.0", RO_SESSION, 0, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "sessionTimeout above a week", 0, "2.0", RO_SESSION, RO_MAX_SESSION_TIMEOUT + 1, { }, 0,
		  -ERANGE, 400, "bad_rollout" },
		{ "gradual without steps", 0, "2.0", RO_GRADUAL, 0, { }, 0, -EINVAL, 400, "bad_rollout" },
		{ "gradual with sessionTimeout, no steps", 0, "c2", RO_GRADUAL, 60, { }, 0,
		  -EINVAL, 400, "bad_rollout" },
		{ "first step weight 0", 0, "2.0", RO_GRADUAL, 0, { { 0, 3600 }, { 10000, RO_WAIT } }, 2,
		  -EINVAL, 400, "bad_rollout" },
		{ "last step weight 0", 0, "2.0", RO_GRADUAL, 0, { { 1000, 3600 }, { 0, RO_WAIT } }, 2,
		  -EINVAL, 400, "bad_rollout" },
		{ "decreasing steps", 0, "2.0", RO_GRADUAL, 0,
		  { { 1000, 3600 }, { 5000, 3600 }, { 4999, RO_WAIT } }, 3, -EINVAL, 400, "bad_rollout" },
		{ "session with decreasing steps", 0, "2.0", RO_SESSION, 60,
		  { { 5000, 3600 }, { 1000, RO_WAIT } }, 2, -EINVAL, 400, "bad_rollout" },
		{ "while progressing", 1, "3.0", RO_GRADUAL, 0, { { 1000, 3600 } }, 1,
		  -EBUSY, 409, "rollout_in_progress" },
		{ "while progressing, same target", 1, "2.0", RO_INSTANT, 0, { }, 0,
		  -EBUSY, 409, "rollout_in_progress" },
		{ "while paused", 2, "3.0", RO_INSTANT, 0, { }, 0, -EBUSY, 409, "rollout_in_progress" },
		{ "while paused, by cluster id", 2, "c3", RO_SESSION, 60, { }, 0,
		  -EBUSY, 409, "rollout_in_progress" },
	};
	struct model *m = new_model(), *before = new_model();
	struct ro_request req;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		if (t[i].pre >= 1)
			CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, ok2, 2, T0), ==, 0);
		if (t[i].pre >= 2)
			CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 10, &err), ==, 0);
		CHECK_INT(m->svc[0].ro.phase, ==, t[i].pre == 0 ? RO_NONE :
			  t[i].pre == 1 ? RO_PROGRESSING : RO_PAUSED);
		memcpy(before, m, sizeof(*m));
		req = ro_req(t[i].to, t[i].strategy, t[i].timeout, t[i].steps, t[i].nsteps);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(rollout_start(m, 0, &req, T0 + 100, &err), &err,
			  t[i].ret, t[i].status, t[i].code);
		CHECK(err.msg[0], "no message");
		CHECK(!memcmp(m, before, sizeof(*m)), "the model changed (%s)", weights_str(m, 0));
	}
}

/* The target, by version (any spelling of it) or by cluster id. */
static void test_rollout_start_target_names(void)
{
	static const struct ro_step st[] = { { 2500, 3600 }, { 10000, RO_WAIT } };
	static const struct {
		const char *to;
		uint32_t slot;
	} t[] = {
		{ "2.0", S20 }, { "2", S20 }, { "2.0.0", S20 }, { "02.00", S20 }, { "c2", S20 },
		{ "3.0", S30 }, { "c3", S30 },
	};
	struct model *m = new_model();
	struct vs_err err = { 0 };
	int slot;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("to '%s'", t[i].to);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, t[i].to, RO_GRADUAL, 0, st, 2, T0), ==, 0);
		CHECK_INT(m->svc[0].ro.phase, ==, RO_PROGRESSING);
		CHECK_INT(m->svc[0].ro.to, ==, t[i].slot);
		CHECK_INT(m->svc[0].ro.from, ==, S10);
		check_layout(m, 0, t[i].slot, S10, 2500);
		if (cur_failed)
			return;
	}
	row("%s", "a generated cluster id");
	setup_web(m);
	if (cur_failed)
		return;
	slot = add_cl(m, 0, "4.0", CL_MANUAL, "127.0.0.1:9004", NULL, &err);
	CHECK_INT(slot, ==, SAPI + 1);
	CHECK_INT(strlen(m->cl[slot].id), ==, 36);
	CHECK_INT(start(m, m->cl[slot].id, RO_GRADUAL, 0, st, 2, T0), ==, 0);
	CHECK_INT(m->svc[0].ro.to, ==, slot);
	check_layout(m, 0, slot, S10, 2500);
}

static void test_rollout_weights_layout(void)
{
	static const char *const names[] = { "1.0", "2.0", "0.5" };
	static const uint16_t bp[] = { 6000, 3000, 1000 }, tie[] = { 4000, 4000, 2000 };
	static const struct ro_step st[] = { { 1, 60 }, { 2500, 60 }, { 5000, 60 }, { 9999, 60 } };
	struct model *m = new_model();
	struct vs_err err = { 0 };

	/* 1.0 holds most of the weight, 2.0 and 0.5 some: the rollout is
	 * from 1.0, and the others drop to 0 */
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(model_set_weights(m, 0, names, bp, 3, &err), ==, 0);
	CHECK_INT(model_stable(m, 0), ==, S10);
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(m->svc[0].ro.from, ==, S10);
	for (uint32_t i = 0; i <= ARRAY_SIZE(st); i++) {
		uint16_t w = i < ARRAY_SIZE(st) ? st[i].weight : VS_BUCKETS;

		row("step %u", i);
		if (i)
			CHECK_INT(rollout_tick(m, T0 + 60 * i), ==, true);
		CHECK_INT(m->svc[0].ro.phase, ==, i < ARRAY_SIZE(st) ? RO_PROGRESSING : RO_COMPLETED);
		CHECK_INT(rollout_weight(m, &m->svc[0].ro), ==, w);
		check_layout(m, 0, S30, S10, w);
		if (cur_failed)
			return;
		CHECK_STR(weights_str(m, 1), "7.0=10000");	/* the other service */
	}

	/* A tie: the newest of the heaviest versions is the stable one. */
	row("%s", "tie");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(model_set_weights(m, 0, names, tie, 3, &err), ==, 0);
	CHECK_INT(model_stable(m, 0), ==, S20);
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(m->svc[0].ro.from, ==, S20);
	check_layout(m, 0, S30, S20, 1);
}

/* What a script of controls and ticks expects after each of its acts. */
#define ACT_TICK 100
struct ro_act {
	int op;			/* enum ro_op, or ACT_TICK */
	bool full;
	int64_t at;
	int ret;		/* a tick: whether anything changed */
	const char *code;	/* for ret < 0 */
	/* for ret > 0, or 0 and an op: */
	enum ro_phase phase;
	uint32_t step;
	uint16_t weight;	/* the target's */
	int64_t since;		/* step_started */
	int64_t due;		/* rollout_next_due() */
	int64_t left;		/* paused_left, if paused */
	int64_t ended;		/* if ended */
};

/* A tick at t that changes nothing; an op refused as out of phase. */
#define NOCHANGE(t) { .op = ACT_TICK, .at = (t) }
#define BAD_PHASE(o, f, t) { .op = (o), .full = (f), .at = (t), .ret = -EINVAL, .code = "bad_phase" }

/* An error, or a tick that changes nothing, leaves the model as it was. */
static void run_acts(struct model *m, uint32_t svc, const struct ro_act *a, size_t n)
{
	static const char *const ops[] = { "promote", "pause", "resume", "abort", "rollback" };
	const struct rollout *ro = &m->svc[svc].ro;
	struct model *before = new_model();
	struct vs_err err;
	int ret;

	for (size_t i = 0; i < n; i++) {
		row("act %zu: %s%s at T0+%lld", i, a[i].op == ACT_TICK ? "tick" : ops[a[i].op],
		    a[i].full ? " full" : "", (long long)(a[i].at - T0));
		memcpy(before, m, sizeof(*m));
		memset(&err, 0, sizeof(err));
		if (a[i].op == ACT_TICK)
			ret = rollout_tick(m, a[i].at);
		else
			ret = rollout_control(m, svc, a[i].op, a[i].full, a[i].at, &err);
		CHECK_INT(ret, ==, a[i].ret);
		if (ret < 0) {
			CHECK_INT(err.status, ==, 409);
			CHECK_STR(err.code, a[i].code);
		}
		if (ret < 0 || (a[i].op == ACT_TICK && !ret)) {
			CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
			continue;
		}
		CHECK_INT(ro->phase, ==, a[i].phase);
		CHECK_INT(ro->step, ==, a[i].step);
		CHECK_INT(rollout_weight(m, ro), ==, a[i].weight);
		check_layout(m, svc, ro->to, ro->from, a[i].weight);
		if (cur_failed)
			return;
		CHECK_INT(rollout_next_due(ro), ==, a[i].due);
		if (rollout_active(ro))
			CHECK_INT(ro->step_started, ==, a[i].since);
		if (ro->phase == RO_PAUSED)
			CHECK_INT(ro->paused_left, ==, a[i].left);
		if (!rollout_active(ro))
			CHECK_INT(ro->ended, ==, a[i].ended);
	}
}

static void test_rollout_gradual_schedule(void)
{
	static const struct ro_step st[] = {
		{ 1000, 3600 }, { 5000, 21600 }, { 7500, RO_WAIT }, { 10000, RO_WAIT },
	};
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due */
		NOCHANGE(T0),
		NOCHANGE(T0 + 3599),
		{ ACT_TICK, 0, T0 + 3600, 1, NULL, RO_PROGRESSING, 1, 5000, T0 + 3600, T0 + 25200, 0, 0 },
		NOCHANGE(T0 + 3601),
		NOCHANGE(T0 + 25199),
		/* down for a day: one tick catches up with the schedule */
		{ ACT_TICK, 0, T0 + 3600 + 21600 + 100000, 1, NULL,
		  RO_PROGRESSING, 2, 7500, T0 + 25200, -1, 0, 0 },
		/* and waits for promote */
		NOCHANGE(T0 + 10000000),
	};
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	const struct event *e;

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->strategy, ==, RO_GRADUAL);
	CHECK_INT(ro->from, ==, S10);
	CHECK_INT(ro->to, ==, S20);
	CHECK_INT(ro->nsteps, ==, 4);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->started, ==, T0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(ro->ended, ==, 0);
	CHECK_INT(rollout_next_due(ro), ==, T0 + 3600);
	for (uint32_t i = 0; i < ARRAY_SIZE(st); i++) {
		row("steps[%u]", i);
		CHECK_INT(ro->steps[i].weight, ==, st[i].weight);
		CHECK_INT(ro->steps[i].hold, ==, st[i].hold);
	}
	check_layout(m, 0, S20, S10, 1000);
	if (cur_failed)
		return;
	run_acts(m, 0, a, ARRAY_SIZE(a));
	if (cur_failed)
		return;
	row("%s", "events");
	e = nth_event(m, 0);
	CHECK_STR(e->type, "step");
	CHECK_STR(e->service, "web");
	CHECK_INT(e->time, ==, T0 + 25200);
	CHECK_HAS(e->detail, "step 3 of 4");
	CHECK_HAS(e->detail, "75.00%");
	e = nth_event(m, 1);
	CHECK_STR(e->type, "step");
	CHECK_INT(e->time, ==, T0 + 3600);
	CHECK_HAS(e->detail, "step 2 of 4");
}

/* A rollout completes at a step of 100% that waits, or when the last
 * step's hold ends, whatever its weight; on schedule. */
static void test_rollout_completes(void)
{
	static const struct {
		const char *name;
		struct ro_step steps[3];
		uint32_t nsteps;
		int64_t tick;		/* 0: none */
		enum ro_phase phase;
		uint32_t step;
		uint16_t weight;
		int64_t ended;
	} t[] = {
		{ "one step of 100% that waits", { { 10000, RO_WAIT } }, 1, 0,
		  RO_COMPLETED, 0, 10000, T0 },
		{ "then 100% that waits", { { 1000, 3600 }, { 10000, RO_WAIT } }, 2, T0 + 3600,
		  RO_COMPLETED, 1, 10000, T0 + 3600 },
		{ "then 100% that waits, late tick", { { 1000, 3600 }, { 10000, RO_WAIT } }, 2, T0 + 9999,
		  RO_COMPLETED, 1, 10000, T0 + 3600 },
		{ "ends at 50%, before", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 7199,
		  RO_PROGRESSING, 1, 5000, 0 },
		{ "ends at 50%, when its hold ends", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 7200,
		  RO_COMPLETED, 1, 10000, T0 + 7200 },
		{ "ends at 50%, long after", { { 1000, 3600 }, { 5000, 3600 } }, 2, T0 + 1000000,
		  RO_COMPLETED, 1, 10000, T0 + 7200 },
		{ "one step of 1% with a hold", { { 1, 60 } }, 1, T0 + 60,
		  RO_COMPLETED, 0, 10000, T0 + 60 },
		{ "holds of 0", { { 2500, 0 }, { 5000, 0 } }, 2, 0, RO_COMPLETED, 1, 10000, T0 },
		{ "100% with a hold, during it", { { 1000, 60 }, { 10000, 3600 } }, 2, T0 + 60,
		  RO_PROGRESSING, 1, 10000, 0 },
		{ "100% with a hold, after it", { { 1000, 60 }, { 10000, 3600 } }, 2, T0 + 3660,
		  RO_COMPLETED, 1, 10000, T0 + 3660 },
		{ "a step below 100% that waits", { { 1000, 60 }, { 9999, RO_WAIT } }, 2, T0 + 99999,
		  RO_PROGRESSING, 1, 9999, 0 },
	};
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, t[i].steps, t[i].nsteps, T0), ==, 0);
		if (t[i].tick)
			CHECK_INT(rollout_tick(m, t[i].tick), ==, true);
		CHECK_INT(ro->phase, ==, t[i].phase);
		CHECK_INT(ro->step, ==, t[i].step);
		CHECK_INT(ro->ended, ==, t[i].ended);
		CHECK_INT(rollout_weight(m, ro), ==, t[i].weight);
		check_layout(m, 0, S20, S10, t[i].weight);
		if (cur_failed)
			return;
		if (ro->phase == RO_COMPLETED) {
			CHECK_INT(rollout_next_due(ro), ==, -1);
			CHECK_STR(nth_event(m, 0)->type, "completed");
			CHECK_INT(nth_event(m, 0)->time, ==, t[i].ended);
			CHECK_INT(rollout_tick(m, T0 + 10000000), ==, false);
			CHECK_INT(model_stable(m, 0), ==, S20);
		}
	}
}

static void test_rollout_pause_resume(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 5000, 3600 }, { 10000, RO_WAIT } };
	static const struct ro_step wait[] = { { 1000, RO_WAIT }, { 10000, RO_WAIT } };
#define T1 (T0 + 100005)
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due, left, ended */
		{ RO_OP_PAUSE, 0, T0 + 600, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, 3000, 0 },
		BAD_PHASE(RO_OP_PAUSE, 0, T0 + 700),
		NOCHANGE(T0 + 3600),
		NOCHANGE(T0 + 100000),
		/* the 3000 s left of the hold count from the resume */
		{ RO_OP_RESUME, 0, T1, 0, NULL, RO_PROGRESSING, 0, 1000, T1 - 600, T1 + 3000, 0, 0 },
		BAD_PHASE(RO_OP_RESUME, 0, T1 + 1),
		NOCHANGE(T1 + 2999),
		{ ACT_TICK, 0, T1 + 3000, 1, NULL, RO_PROGRESSING, 1, 5000, T1 + 3000, T1 + 6600, 0, 0 },
		/* paused after the hold ended but before a tick noticed: 0 left */
		{ RO_OP_PAUSE, 0, T1 + 8000, 0, NULL, RO_PAUSED, 1, 5000, T1 + 3000, -1, 0, 0 },
		NOCHANGE(T1 + 8500),
		/* so resume moves on at once, to 100%, which completes */
		{ RO_OP_RESUME, 0, T1 + 9000, 0, NULL, RO_COMPLETED, 2, 10000, 0, -1, 0, T1 + 9000 },
		BAD_PHASE(RO_OP_PAUSE, 0, T1 + 9001),
		BAD_PHASE(RO_OP_RESUME, 0, T1 + 9002),
	};
	static const struct ro_act b[] = {
		/* a step that waits for promote: pausing it keeps nothing to count */
		{ RO_OP_PAUSE, 0, T0 + 50, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, RO_WAIT, 0 },
		{ RO_OP_RESUME, 0, T0 + 60, 0, NULL, RO_PROGRESSING, 0, 1000, T0, -1, 0, 0 },
		NOCHANGE(T0 + 10000000),
		{ RO_OP_PROMOTE, 0, T0 + 70, 0, NULL, RO_COMPLETED, 1, 10000, 0, -1, 0, T0 + 70 },
	};
#undef T1
	struct model *m = new_model();
	struct vs_err err = { 0 };

	setup_web(m);
	if (cur_failed)
		return;
	row("%s", "no rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_PAUSE, false, T0, &err), &err, -ENOENT, 409, "no_rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_RESUME, false, T0, &err), &err, -ENOENT, 409, "no_rollout");
	row("%s", "");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
	run_acts(m, 0, a, ARRAY_SIZE(a));
	if (cur_failed)
		return;
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, wait, ARRAY_SIZE(wait), T0), ==, 0);
	run_acts(m, 0, b, ARRAY_SIZE(b));
}

static void test_rollout_promote(void)
{
	static const struct ro_step st[] = {
		{ 1000, 3600 }, { 5000, 21600 }, { 7500, RO_WAIT }, { 9000, 600 },
	};
	static const struct ro_act a[] = {
		/* op, full, at, ret, code, phase, step, weight, since, due, left, ended */
		/* the next step now, its hold counted from now */
		{ RO_OP_PROMOTE, 0, T0 + 100, 0, NULL,
		  RO_PROGRESSING, 1, 5000, T0 + 100, T0 + 21700, 0, 0 },
		NOCHANGE(T0 + 21699),
		{ RO_OP_PROMOTE, 0, T0 + 200, 0, NULL, RO_PROGRESSING, 2, 7500, T0 + 200, -1, 0, 0 },
		{ RO_OP_PROMOTE, 0, T0 + 300, 0, NULL, RO_PROGRESSING, 3, 9000, T0 + 300, T0 + 900, 0, 0 },
		/* past the last step */
		{ RO_OP_PROMOTE, 0, T0 + 400, 0, NULL, RO_COMPLETED, 3, 10000, 0, -1, 0, T0 + 400 },
		BAD_PHASE(RO_OP_PROMOTE, 0, T0 + 500),
		BAD_PHASE(RO_OP_PROMOTE, 1, T0 + 500),
	};
	static const struct ro_act full[] = {
		{ RO_OP_PROMOTE, 1, T0 + 50, 0, NULL, RO_COMPLETED, 0, 10000, 0, -1, 0, T0 + 50 },
	};
	static const struct ro_act paused[] = {
		{ RO_OP_PAUSE, 0, T0 + 10, 0, NULL, RO_PAUSED, 0, 1000, T0, -1, 3590, 0 },
		/* promoted while paused: the next step, with all its hold left */
		{ RO_OP_PROMOTE, 0, T0 + 20, 0, NULL, RO_PAUSED, 1, 5000, T0 + 20, -1, 21600, 0 },
		NOCHANGE(T0 + 100000),
		{ RO_OP_RESUME, 0, T0 + 30, 0, NULL,
		  RO_PROGRESSING, 1, 5000, T0 + 30, T0 + 21630, 0, 0 },
		{ RO_OP_PAUSE, 0, T0 + 40, 0, NULL, RO_PAUSED, 1, 5000, T0 + 30, -1, 21590, 0 },
		{ RO_OP_PROMOTE, 1, T0 + 50, 0, NULL, RO_COMPLETED, 1, 10000, 0, -1, 0, T0 + 50 },
	};
	static const struct {
		const char *name;
		const struct ro_act *a;
		size_t n;
	} scripts[] = {
		{ "step by step", a, ARRAY_SIZE(a) },
		{ "full", full, ARRAY_SIZE(full) },
		{ "while paused", paused, ARRAY_SIZE(paused) },
	};
	struct model *m = new_model();

	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		row("%s", scripts[i].name);
		setup_web(m);
		if (cur_failed)
			return;
		CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, ARRAY_SIZE(st), T0), ==, 0);
		run_acts(m, 0, scripts[i].a, scripts[i].n);
		if (cur_failed)
			return;
		CHECK_STR(nth_event(m, 0)->type, "completed");
	}
}

/* The flags of slot's entry in the data plane's view of service svc. */
static int ver_flags(const struct model *m, uint32_t svc, uint32_t slot, uint32_t *session_ms)
{
	static const uint8_t nsock[VS_MAX_SLOTS];
	struct vs_svc v;

	model_svc_value(m, svc, nsock, &v);
	*session_ms = v.session_ms;
	for (uint32_t i = 0; i < v.nver; i++)
		if (v.ver[i].slot == slot)
			return v.ver[i].flags;
	return -1;
}

static void test_rollout_abort_rollback(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	static const enum ro_op after_end[] = { RO_OP_PROMOTE, RO_OP_PAUSE, RO_OP_RESUME,
						RO_OP_ABORT };
	struct model *m = new_model(), *before = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err;
	uint32_t ms;

	setup_web(m);
	if (cur_failed)
		return;
	row("%s", "no rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ABORT, false, T0, &err), &err, -ENOENT, 409, "no_rollout");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0, &err), &err, -ENOENT, 409, "no_rollout");

	row("%s", "abort");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 120, st, 2, T0), ==, 0);
	CHECK_INT(m->svc[0].session_timeout, ==, 120);
	CHECK_INT(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 10, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ABORTED);
	CHECK_INT(ro->ended, ==, T0 + 10);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	CHECK_INT(m->cl[S20].weight, ==, 0);
	CHECK_INT(m->cl[S10].weight, ==, 10000);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(!m->cl[S20].no_affinity, "abort set no_affinity");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, 0);
	CHECK_INT(ms, ==, 120000);
	CHECK_STR(nth_event(m, 0)->type, "aborted");
	CHECK_INT(rollout_tick(m, T0 + 10000000), ==, false);
	for (size_t i = 0; i < ARRAY_SIZE(after_end); i++) {
		row("aborted, op %d", after_end[i]);
		memcpy(before, m, sizeof(*m));
		CHECK_ERR(rollout_control(m, 0, after_end[i], false, T0 + 20, &err), &err,
			  -EINVAL, 409, "bad_phase");
		CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
	}
	row("%s", "aborted, rollback");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 20, &err), &err,
		  -EINVAL, 409, "bad_phase");

	row("%s", "rollback while paused");
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, st, 2, T0 + 100), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 110, &err), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 120, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 120);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "rollback left no_affinity unset");
	CHECK(!m->cl[S10].no_affinity && !m->cl[S30].no_affinity && !m->cl[S05].no_affinity,
	      "no_affinity on a version that was not rolled back");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, VS_VER_NO_AFFINITY);
	CHECK_INT(ver_flags(m, 0, S10, &ms), ==, 0);
	CHECK_INT(ver_flags(m, 0, S30, &ms), ==, 0);
	CHECK_INT(ms, ==, 120000);	/* the service's, kept */
	CHECK_STR(nth_event(m, 0)->type, "rolled_back");
	CHECK_ERR(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 130, &err), &err,
		  -EINVAL, 409, "bad_phase");

	/* A new rollout to the rolled-back version gives it affinity again. */
	row("%s", "start again, complete, roll back");
	CHECK_INT(start(m, "c2", RO_GRADUAL, 0, st, 2, T0 + 200), ==, 0);
	CHECK(!m->cl[S20].no_affinity, "no_affinity kept by a new rollout");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, true, T0 + 210, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	memcpy(before, m, sizeof(*m));
	CHECK_ERR(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 220, &err), &err,
		  -EINVAL, 409, "bad_phase");
	CHECK(!memcmp(m, before, sizeof(*m)), "the model changed");
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 230, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 230);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "rollback of a completed rollout left no_affinity unset");
	CHECK_INT(ver_flags(m, 0, S20, &ms), ==, VS_VER_NO_AFFINITY);

	row("%s", "abort after a new start");
	CHECK_INT(start(m, "2.0", RO_SESSION, 30, NULL, 0, T0 + 300), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);	/* session: at once */
	CHECK(!m->cl[S20].no_affinity, "no_affinity kept by a new rollout");
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 0, st, 2, T0 + 400), ==, 0);
	CHECK_INT(ro->from, ==, S20);
	CHECK_INT(rollout_control(m, 0, RO_OP_ABORT, false, T0 + 410, &err), ==, 0);
	check_layout(m, 0, S30, S20, 0);
	if (cur_failed)
		return;
	CHECK(!m->cl[S30].no_affinity, "abort set no_affinity");
	CHECK_INT(ver_flags(m, 0, S30, &ms), ==, 0);
	CHECK_INT(ms, ==, 30000);
}

/* Which session timeout the service gets from a start. */
static void test_rollout_session_timeout(void)
{
	static const struct ro_step st[] = { { 5000, RO_WAIT } };
	static const struct {
		const char *to;
		enum ro_strategy strategy;
		uint32_t timeout;
		uint32_t nsteps;
		uint32_t want;		/* the service's session_timeout */
		enum ro_phase phase;	/* right after the start */
	} t[] = {
		{ "2.0", RO_SESSION, 300, 0, 300, RO_COMPLETED },
		{ "3.0", RO_GRADUAL, 0, 1, 300, RO_PROGRESSING },	/* keeps it */
		{ "4.0", RO_GRADUAL, 45, 1, 45, RO_PROGRESSING },
		{ "5.0", RO_INSTANT, 0, 0, 0, RO_COMPLETED },		/* none at all */
		{ "6.0", RO_GRADUAL, 0, 1, 0, RO_PROGRESSING },
		{ "7.0", RO_SESSION, RO_MAX_SESSION_TIMEOUT, 0, RO_MAX_SESSION_TIMEOUT, RO_COMPLETED },
	};
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	char server[32];
	uint32_t ms;
	int slot;

	setup_web(m);
	if (cur_failed)
		return;
	m->svc[0].session_timeout = 0;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s rollout to %s", ro_strategy_name(t[i].strategy), t[i].to);
		slot = model_find_version(m, 0, t[i].to);
		if (slot < 0) {
			snprintf(server, sizeof(server), "127.0.0.1:%zu", 9200 + i);
			slot = add_cl(m, 0, t[i].to, CL_MANUAL, server, NULL, &err);
			CHECK(slot >= 0, "add %s: %s", t[i].to, err.msg);
		}
		CHECK_INT(start(m, t[i].to, t[i].strategy, t[i].timeout, st, t[i].nsteps,
				T0 + 100 * (int64_t)i), ==, 0);
		CHECK_INT(ro->phase, ==, t[i].phase);
		CHECK_INT(ro->strategy, ==, t[i].strategy);
		CHECK_INT(ro->session_timeout, ==, t[i].timeout);
		CHECK_INT(ro->to, ==, slot);
		CHECK_INT(m->svc[0].session_timeout, ==, t[i].want);
		CHECK_INT(ver_flags(m, 0, slot, &ms), ==, 0);
		CHECK_INT(ms, ==, t[i].want * 1000);
		if (!t[i].nsteps) {
			/* instant and session: one step of 100%, done at once */
			CHECK_INT(ro->nsteps, ==, 1);
			CHECK_INT(ro->steps[0].weight, ==, VS_BUCKETS);
			CHECK_INT(ro->steps[0].hold, ==, RO_WAIT);
			CHECK_INT(ro->ended, ==, T0 + 100 * (int64_t)i);
		}
		if (ro->phase == RO_PROGRESSING)
			CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, true, T0 + 100 * (int64_t)i + 50,
						  &err), ==, 0);
		CHECK_INT(ro->phase, ==, RO_COMPLETED);
		check_layout(m, 0, slot, ro->from, VS_BUCKETS);
		if (cur_failed)
			return;
		/* a completed rollout changes the timeout no more */
		CHECK_INT(m->svc[0].session_timeout, ==, t[i].want);
	}
}

static void test_rollout_record_instant(void)
{
	struct model *m = new_model();
	struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	uint32_t nev;
	int slot;

	setup_web(m);
	if (cur_failed)
		return;
	/* leftovers of an earlier rollout are not kept */
	ro->phase = RO_ROLLED_BACK;
	ro->strategy = RO_GRADUAL;
	ro->nsteps = 3;
	ro->step = 2;
	ro->steps[1] = (struct ro_step){ 5000, 3600 };
	ro->steps[2] = (struct ro_step){ 7000, 60 };
	ro->paused_left = 77;
	ro->session_timeout = 99;
	m->svc[0].session_timeout = 99;
	nev = m->nevents;
	/* as ctl does: the cluster takes over on registration, then this */
	slot = add_cl(m, 0, "4.0", CL_INSTANT, "127.0.0.1:9004", "c4", &err);
	CHECK_INT(slot, ==, SAPI + 1);
	CHECK_STR(weights_str(m, 0), "4.0=10000 3.0=0 2.0=0 1.0=0 0.5=0");
	rollout_record_instant(m, 0, S10, slot, T0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->strategy, ==, RO_INSTANT);
	CHECK_INT(ro->from, ==, S10);
	CHECK_INT(ro->to, ==, slot);
	CHECK_INT(ro->session_timeout, ==, 0);
	CHECK_INT(ro->nsteps, ==, 1);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->steps[0].weight, ==, VS_BUCKETS);
	CHECK_INT(ro->steps[0].hold, ==, RO_WAIT);
	for (uint32_t i = 1; i < RO_MAX_STEPS; i++) {
		row("steps[%u]", i);
		CHECK(!ro->steps[i].weight && !ro->steps[i].hold, "left over");
	}
	row("%s", "");
	CHECK_INT(ro->started, ==, T0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(ro->paused_left, ==, 0);
	CHECK_INT(ro->ended, ==, T0);
	CHECK_INT(m->svc[0].session_timeout, ==, 0);
	CHECK_INT(rollout_weight(m, ro), ==, VS_BUCKETS);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	check_layout(m, 0, slot, S10, VS_BUCKETS);
	if (cur_failed)
		return;
	CHECK_INT(m->nevents, ==, nev + 2);
	row("%s", "event started");
	CHECK_STR(nth_event(m, 1)->type, "started");
	CHECK_STR(nth_event(m, 1)->service, "web");
	CHECK_INT(nth_event(m, 1)->time, ==, T0);
	CHECK_HAS(nth_event(m, 1)->detail, "instant rollout from 1.0 to 4.0");
	row("%s", "event completed");
	CHECK_STR(nth_event(m, 0)->type, "completed");
	CHECK_STR(nth_event(m, 0)->service, "web");
	CHECK_INT(nth_event(m, 0)->time, ==, T0);
	CHECK_HAS(nth_event(m, 0)->detail, "4.0");
	row("%s", "a rollout from it");
	CHECK_INT(rollout_tick(m, T0 + 1000000), ==, false);
	CHECK_INT(model_stable(m, 0), ==, slot);
	CHECK_ERR(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 1, &err), &err,
		  -EINVAL, 409, "bad_phase");
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 2, &err), ==, 0);
	check_layout(m, 0, slot, S10, 0);
}

static void test_model_events_ring(void)
{
	struct model *m = new_model();
	const struct event *e;
	char big[301], want[32];

	for (uint32_t i = 0; i < 300; i++) {
		row("event %u", i);
		model_event(m, T0 + i, "web", "step", "event %u", i);
		CHECK_INT(m->nevents, ==, i + 1 < RO_MAX_EVENTS ? i + 1 : RO_MAX_EVENTS);
		CHECK_INT(m->event_head, ==, (i + 1) % RO_MAX_EVENTS);
		e = &m->events[(m->event_head + RO_MAX_EVENTS - 1) % RO_MAX_EVENTS];
		CHECK_INT(e->time, ==, T0 + i);
		CHECK_STR(e->service, "web");
		CHECK_STR(e->type, "step");
		snprintf(want, sizeof(want), "event %u", i);
		CHECK_STR(e->detail, want);
	}
	/* the newest RO_MAX_EVENTS are kept, oldest first from event_head */
	for (uint32_t k = 0; k < RO_MAX_EVENTS; k++) {
		row("newest %u", k);
		e = nth_event(m, k);
		CHECK_INT(e->time, ==, T0 + 299 - k);
		snprintf(want, sizeof(want), "event %u", 299 - k);
		CHECK_STR(e->detail, want);
	}
	row("%s", "");
	CHECK_INT(m->events[m->event_head].time, ==, T0 + 300 - RO_MAX_EVENTS);

	/* Every field is cut to fit, and only its own event is written. */
	memset(big, 'x', 300);
	big[300] = '\0';
	row("%s", "300 characters everywhere");
	model_event(m, T0 + 1000, big, big, "%s", big);
	e = nth_event(m, 0);
	CHECK_INT(e->time, ==, T0 + 1000);
	CHECK_INT(strlen(e->service), ==, sizeof(e->service) - 1);
	CHECK_INT(strlen(e->type), ==, sizeof(e->type) - 1);
	CHECK_INT(strlen(e->detail), ==, sizeof(e->detail) - 1);
	CHECK(!strncmp(e->detail, big, sizeof(e->detail) - 1), "detail");
	CHECK_INT(m->nevents, ==, RO_MAX_EVENTS);
	CHECK_INT(nth_event(m, 1)->time, ==, T0 + 299);
	CHECK_STR(nth_event(m, 1)->detail, "event 299");
	CHECK_INT(m->events[m->event_head].time, ==, T0 + 301 - RO_MAX_EVENTS);
	CHECK_STR(m->events[m->event_head].type, "step");
	row("%s", "a format that expands to 900 characters");
	model_event(m, T0 + 1001, "web", "step", "%s%s%s", big, big, big);
	e = nth_event(m, 0);
	CHECK_INT(e->time, ==, T0 + 1001);
	CHECK_STR(e->service, "web");
	CHECK_INT(strlen(e->detail), ==, sizeof(e->detail) - 1);
	CHECK_INT(nth_event(m, 1)->time, ==, T0 + 1000);
	CHECK_INT(m->events[m->event_head].time, ==, T0 + 302 - RO_MAX_EVENTS);
	CHECK_STR(m->events[m->event_head].service, "web");
}

static void check_rollouts_equal(const struct rollout *x, const struct rollout *y)
{
	CHECK_INT(x->phase, ==, y->phase);
	CHECK_INT(x->strategy, ==, y->strategy);
	CHECK_INT(x->from, ==, y->from);
	CHECK_INT(x->to, ==, y->to);
	CHECK_INT(x->session_timeout, ==, y->session_timeout);
	CHECK_INT(x->nsteps, ==, y->nsteps);
	CHECK_INT(x->step, ==, y->step);
	for (uint32_t i = 0; i < x->nsteps; i++) {
		CHECK_INT(x->steps[i].weight, ==, y->steps[i].weight);
		CHECK_INT(x->steps[i].hold, ==, y->steps[i].hold);
	}
	CHECK_INT(x->started, ==, y->started);
	CHECK_INT(x->step_started, ==, y->step_started);
	CHECK_INT(x->paused_left, ==, y->paused_left);
	CHECK_INT(x->ended, ==, y->ended);
}

static void test_state_rollout_roundtrip(void)
{
	static const struct ro_step st1[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	static const struct ro_step st2[] = { { 1000, 3600 }, { 5000, 7200 }, { 10000, RO_WAIT } };
	struct model *m = new_model(), *m2 = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err = { 0 };
	char *text, *text2;
	int slot;

	setup_web(m);
	if (cur_failed)
		return;
	/* web: 2.0 rolled back, then a paused gradual rollout to 3.0 */
	CHECK_INT(start(m, "2.0", RO_GRADUAL, 60, st1, 2, T0), ==, 0);
	CHECK_INT(rollout_control(m, 0, RO_OP_ROLLBACK, false, T0 + 100, &err), ==, 0);
	CHECK_INT(start(m, "3.0", RO_GRADUAL, 600, st2, 3, T0 + 200), ==, 0);
	CHECK_INT(rollout_tick(m, T0 + 3800), ==, true);
	CHECK_INT(rollout_control(m, 0, RO_OP_PAUSE, false, T0 + 4000, &err), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PAUSED);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->paused_left, ==, 7000);
	CHECK_INT(m->svc[0].session_timeout, ==, 600);
	CHECK(m->cl[S20].no_affinity, "2.0 not rolled back");
	CHECK_STR(weights_str(m, 0), "3.0=5000 2.0=0 1.0=5000 0.5=0");
	/* api: an instant cluster that took over */
	slot = add_cl(m, 1, "8.0", CL_INSTANT, "127.0.0.1:9108", "api8", &err);
	CHECK_INT(slot, ==, SAPI + 1);
	rollout_record_instant(m, 1, SAPI, slot, T0 + 50);
	model_event(m, T0 + 4100, "api", "note", "a \"quoted\" \\ detail\twith a tab");
	model_event(m, T0 + 4200, "", "empty", "%s", "");

	text = track(state_dump(m));
	CHECK(text, "state_dump failed");
	memset(m2, 0xa5, sizeof(*m2));
	CHECK_INT(state_parse(text, strlen(text), "t.json", m2, &err), ==, 0);
	check_models_equal(m, m2);
	if (cur_failed)
		return;
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!m->svc[s].used)
			continue;
		row("service %u rollout", s);
		CHECK_INT(m2->svc[s].session_timeout, ==, m->svc[s].session_timeout);
		check_rollouts_equal(&m->svc[s].ro, &m2->svc[s].ro);
		if (cur_failed)
			return;
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		row("slot %u", i);
		CHECK_INT(m2->cl[i].no_affinity, ==, m->cl[i].no_affinity);
	}
	row("%s", "events");
	CHECK_INT(m->nevents, >, 8);
	CHECK_INT(m2->nevents, ==, m->nevents);
	for (uint32_t k = 0; k < m->nevents; k++) {
		const struct event *x = nth_event(m, k), *y = nth_event(m2, k);

		row("event %u", k);
		CHECK_INT(y->time, ==, x->time);
		CHECK_STR(y->service, x->service);
		CHECK_STR(y->type, x->type);
		CHECK_STR(y->detail, x->detail);
	}
	row("%s", "dump again");
	text2 = track(state_dump(m2));
	CHECK(text2, "state_dump failed");
	CHECK_STR(text2, text);
	/* and the restored rollout goes on the same */
	row("%s", "resume both");
	CHECK_INT(rollout_control(m, 0, RO_OP_RESUME, false, T0 + 9000, &err), ==, 0);
	CHECK_INT(rollout_control(m2, 0, RO_OP_RESUME, false, T0 + 9000, &err), ==, 0);
	CHECK_INT(rollout_next_due(&m2->svc[0].ro), ==, T0 + 16000);
	CHECK_INT(rollout_next_due(&m2->svc[0].ro), ==, rollout_next_due(ro));
}

static void test_state_rollout_rejects(void)
{
	/* web's rollout: "to", and an extra field */
	static const char fmt[] =
		"{'vsteerState': 1,"
		" 'services': [{'name': 'web', 'id': 0, 'address': '127.0.0.1', 'port': 8080, 'salt': 7,"
		"   'sessionTimeout': 60, 'rollout': {'phase': 'paused', 'strategy': 'gradual',"
		"   'from': 0, 'to': %d, 'sessionTimeout': 60, 'step': 0,"
		"   'steps': [{'weight': 1000, 'hold': 3600}, {'weight': 10000, 'hold': -1}],"
		"   'started': 100, 'stepStarted': 100, 'pausedLeft': 3000, 'ended': 0%s}},"
		"  {'name': 'api', 'id': 1, 'address': '127.0.0.1', 'port': 8081, 'salt': 8,"
		"   'rollout': null}],"
		" 'clusters': ["
		"  {'id': 'a', 'version': '1.0', 'slot': 0, 'servers': ['127.0.0.1:9001'],"
		"   'weight': 9000, 'upgradeTransition': {'mode': 'instant'}, 'service': 'web'},"
		"  {'id': 'b', 'version': '2.0', 'slot': 1, 'servers': ['127.0.0.1:9002'],"
		"   'weight': 1000, 'upgradeTransition': {'mode': 'manual'}, 'service': 'web'},"
		"  {'id': 'c', 'version': '7.0', 'slot': 2, 'servers': ['127.0.0.1:9101'],"
		"   'weight': 10000, 'upgradeTransition': {'mode': 'instant'}, 'service': 'api'}]}";
	static const struct {
		const char *name;
		int to;
		const char *extra;
		bool ok;
		const char *has;
	} t[] = {
		{ "valid", 1, "", true, "" },
		{ "to another service's cluster", 2, "", false, "services[0].rollout" },
		{ "to an unused slot", 3, "", false, "services[0].rollout" },
		{ "to the last slot, unused", VS_MAX_SLOTS - 1, "", false, "services[0].rollout" },
		{ "to out of range", VS_MAX_SLOTS, "", false, "services[0].rollout" },
		{ "to negative", -1, "", false, "services[0].rollout" },
		{ "unknown field", 1, ", 'bogus': 1", false, "bogus" },
		{ "unknown field, named like a service's", 1, ", 'name': 'web'", false, "'name'" },
	};
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	struct vs_err err;
	char sq[2048];
	char *text;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		snprintf(sq, sizeof(sq), fmt, t[i].to, t[i].extra);
		text = jq(sq);
		memset(&err, 0, sizeof(err));
		int ret = state_parse(text, strlen(text), "t.json", m, &err);

		if (!t[i].ok) {
			CHECK(ret < 0, "accepted");
			CHECK_INT(err.status, ==, 400);
			CHECK_HAS(err.msg, "state t.json");
			CHECK_HAS(err.msg, "services[0].rollout");
			CHECK_HAS(err.msg, t[i].has);
			continue;
		}
		CHECK_INT(ret, ==, 0);
		CHECK_INT(ro->phase, ==, RO_PAUSED);
		CHECK_INT(ro->strategy, ==, RO_GRADUAL);
		CHECK_INT(ro->from, ==, 0);
		CHECK_INT(ro->to, ==, 1);
		CHECK_INT(ro->session_timeout, ==, 60);
		CHECK_INT(ro->nsteps, ==, 2);
		CHECK_INT(ro->step, ==, 0);
		CHECK_INT(ro->steps[0].weight, ==, 1000);
		CHECK_INT(ro->steps[0].hold, ==, 3600);
		CHECK_INT(ro->steps[1].weight, ==, 10000);
		CHECK_INT(ro->steps[1].hold, ==, RO_WAIT);
		CHECK_INT(ro->started, ==, 100);
		CHECK_INT(ro->step_started, ==, 100);
		CHECK_INT(ro->paused_left, ==, 3000);
		CHECK_INT(ro->ended, ==, 0);
		CHECK_INT(m->svc[0].session_timeout, ==, 60);
		CHECK_INT(m->svc[1].ro.phase, ==, RO_NONE);
	}
	row("%s", "unknown field, error code");
	snprintf(sq, sizeof(sq), fmt, 1, ", 'bogus': 1");
	text = jq(sq);
	CHECK_ERR(state_parse(text, strlen(text), "t.json", m, &err), &err, -EINVAL, 400,
		  "unknown_field");
}

static void test_ro_strategy_parse(void)
{
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

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		enum ro_op op = (enum ro_op)77;

		row("'%s'", t[i].s);
		CHECK_INT(ro_op_parse(t[i].s, &op), ==, t[i].ret);
		CHECK_INT(op, ==, t[i].ret ? 77 : (int)t[i].want);
	}
}

/* ---- the API router and listener matching ----------------------------- */

static void test_api_route_match(void)
{
	static char long63[80], path63[128];
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

static void test_listener_serves(void)
{
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
		CHECK_INT(listener_serves(&l, &bk), ==, t[i].want);
	}
}

/* ---- histograms and analysis ------------------------------------------ */

static uint64_t rng64(void)
{
	uint64_t hi = rng();

	return hi << 32 | rng();
}

static void test_hist_buckets(void)
{
	static const struct {
		uint64_t v;
		uint32_t log2;
	} lg[] = {
		{ 1, 0 }, { 2, 1 }, { 3, 1 }, { 8, 3 }, { 15, 3 }, { 16, 4 },
		{ 1000000, 19 }, { (1ULL << 32) - 1, 31 }, { 1ULL << 32, 32 },
		{ (1ULL << 36) + 5, 36 }, { UINT64_MAX, 63 },
	};
	static const uint64_t above[] = {
		(1ULL << 37) - 1, 1ULL << 37, (1ULL << 37) + 12345, 1ULL << 40, 1ULL << 63,
		UINT64_MAX,
	};
	uint64_t lo, hi, v, w;
	uint32_t b;

	for (size_t i = 0; i < ARRAY_SIZE(lg); i++) {
		row("log2 %llu", (unsigned long long)lg[i].v);
		CHECK_INT(vs_log2(lg[i].v), ==, lg[i].log2);
	}
	for (v = 0; v < VS_HSUB; v++) {
		row("small value %llu", (unsigned long long)v);
		CHECK_INT(vs_hbucket(v), ==, v);
		CHECK_INT(vs_hbucket_low(v), ==, v);
	}
	/* Every bucket: its lower bound and the value below the next one's
	 * fall in it, and from 8 on it is at most 1/8 of its lower bound wide. */
	for (b = 0; b + 1 < VS_HBUCKETS; b++) {
		row("bucket %u", b);
		lo = vs_hbucket_low(b);
		hi = vs_hbucket_low(b + 1);
		CHECK(lo < hi, "low %llu, next low %llu", (unsigned long long)lo,
		      (unsigned long long)hi);
		CHECK_INT(vs_hbucket(lo), ==, b);
		CHECK_INT(vs_hbucket(hi - 1), ==, b);
		if (b >= VS_HSUB)
			CHECK(8 * (hi - lo) <= lo, "[%llu, %llu) is wider than 12.5%%",
			      (unsigned long long)lo, (unsigned long long)hi);
	}
	row("%s", "2^36 is in range");
	CHECK_INT(vs_hbucket(1ULL << 36), <, VS_HBUCKETS - 1);
	CHECK_INT(vs_hbucket_low(vs_hbucket(1ULL << 36)), ==, 1ULL << 36);
	/* Random values of every magnitude up to 2^36, seeded. */
	rng_state = 0x51ed2701;
	for (uint32_t i = 0; i < 200000; i++) {
		v = rng64() >> (28 + rng() % 36);
		w = rng64() >> (28 + rng() % 36);
		b = vs_hbucket(v);
		row("value %llu (bucket %u)", (unsigned long long)v, b);
		CHECK_INT(v, <=, 1ULL << 36);
		CHECK_INT(b, <, VS_HBUCKETS);
		CHECK(vs_hbucket_low(b) <= v, "low %llu", (unsigned long long)vs_hbucket_low(b));
		CHECK(b + 1 < VS_HBUCKETS && v < vs_hbucket_low(b + 1), "next low %llu",
		      (unsigned long long)vs_hbucket_low(b + 1));
		/* monotonic */
		CHECK(v > w ? vs_hbucket(v) >= vs_hbucket(w) : vs_hbucket(v) <= vs_hbucket(w),
		      "%llu in %u, %llu in %u", (unsigned long long)v, vs_hbucket(v),
		      (unsigned long long)w, vs_hbucket(w));
		CHECK_INT(vs_hbucket(v + 1), >=, b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(above); i++) {
		row("above the range: %llu", (unsigned long long)above[i]);
		CHECK_INT(vs_hbucket(above[i]), ==, VS_HBUCKETS - 1);
		CHECK(vs_hbucket_low(VS_HBUCKETS - 1) <= above[i], "last bucket starts at %llu",
		      (unsigned long long)vs_hbucket_low(VS_HBUCKETS - 1));
	}
}

/* Within frac of want, relative. */
static bool near(double got, double want, double frac)
{
	return fabs(got - want) <= frac * fabs(want);
}

static void test_hist_quantile(void)
{
	static const double vals[] = { 1000, 50e6, 3e9 };
	static const double qs[] = { 0, 0.01, 0.5, 0.9, 0.99, 1 };
	static const struct {
		double q, want;
	} mix[] = {
		{ 0.01, 1e6 }, { 0.5, 1e6 }, { 0.9, 1e6 }, { 0.91, 100e6 }, { 0.99, 100e6 },
		{ 1, 100e6 },
	};
	struct hist *h = tcalloc(sizeof(*h)), *now = tcalloc(sizeof(*h));
	struct hist *before = tcalloc(sizeof(*h)), *out = tcalloc(sizeof(*h));
	double got;

	row("%s", "empty");
	CHECK_INT(hist_total(h), ==, 0);
	for (size_t k = 0; k < ARRAY_SIZE(qs); k++)
		CHECK(hist_quantile(h, qs[k]) == 0, "q %g: %g", qs[k], hist_quantile(h, qs[k]));
	CHECK(hist_mean(h) == 0, "mean %g", hist_mean(h));

	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		memset(h, 0, sizeof(*h));
		h->b[vs_hbucket((uint64_t)vals[i])] = 1000;
		CHECK_INT(hist_total(h), ==, 1000);
		for (size_t k = 0; k < ARRAY_SIZE(qs); k++) {
			row("all %g, q %g", vals[i], qs[k]);
			got = hist_quantile(h, qs[k]);
			CHECK(near(got, vals[i], 0.0625), "got %g", got);
		}
		row("all %g, mean", vals[i]);
		got = hist_mean(h);
		CHECK(near(got, vals[i], 0.0625), "got %g", got);
	}

	/* 90 samples at 1 ms, 10 at 100 ms */
	memset(h, 0, sizeof(*h));
	h->b[vs_hbucket(1000000)] += 90;
	h->b[vs_hbucket(100000000)] += 10;
	CHECK_INT(hist_total(h), ==, 100);
	for (size_t k = 0; k < ARRAY_SIZE(mix); k++) {
		row("mixture q %g", mix[k].q);
		got = hist_quantile(h, mix[k].q);
		CHECK(near(got, mix[k].want, 0.0625), "got %g, want about %g", got, mix[k].want);
	}
	row("%s", "mixture mean");
	got = hist_mean(h);
	CHECK(near(got, 0.9 * 1e6 + 0.1 * 100e6, 0.0625), "got %g", got);

	/* Bucket by bucket, never below 0 (a counter that went back). */
	now->b[0] = 5;
	now->b[7] = 3;
	now->b[100] = 1000;
	now->b[200] = 7;
	now->b[VS_HBUCKETS - 1] = 9;
	before->b[0] = 5;
	before->b[7] = 1;
	before->b[100] = 400;
	before->b[200] = 8;
	before->b[150] = 2;
	memset(out, 0xa5, sizeof(*out));
	hist_sub(out, now, before);
	for (uint32_t b = 0; b < VS_HBUCKETS; b++) {
		uint64_t want = now->b[b] >= before->b[b] ? now->b[b] - before->b[b] : 0;

		row("sub, bucket %u", b);
		CHECK_INT(out->b[b], ==, want);
	}
	row("%s", "sub, the totals");
	CHECK_INT(out->b[7], ==, 2);
	CHECK_INT(out->b[100], ==, 600);
	CHECK_INT(out->b[200], ==, 0);
	CHECK_INT(out->b[150], ==, 0);
	CHECK_INT(hist_total(out), ==, 2 + 600 + 9);
}

/* n requests: n - tail at ms, tail at tail_ms; every response size bytes. */
static void fill_window(struct window *w, uint64_t n, double ms, uint64_t tail, double tail_ms,
			uint64_t size, uint64_t errors)
{
	memset(w, 0, sizeof(*w));
	w->requests = n;
	w->errors = errors;
	w->lat.b[vs_hbucket((uint64_t)(ms * 1e6))] += n - tail;
	w->lat.b[vs_hbucket((uint64_t)(tail_ms * 1e6))] += tail;
	w->size.b[vs_hbucket(size)] += n;
}

static void test_judge(void)
{
	static const struct {
		const char *name;
		uint64_t tn, sn;	/* requests */
		double tms, sms;	/* latency */
		uint64_t ttail;		/* target requests at 50 ms instead */
		uint64_t tsize, ssize;
		uint64_t terr, serr;
		enum verdict want;
		const char *has;
	} t[] = {
		{ "target below minRequests", 49, 1000, 1, 1, 0, 1000, 1000, 0, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "stable below minRequests", 1000, 49, 1, 1, 0, 1000, 1000, 0, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "neither has any", 0, 0, 1, 1, 0, 1000, 1000, 0, 0, V_INCONCLUSIVE, "need 50" },
		{ "too few, even when much worse", 10, 1000, 900, 1, 0, 9000, 1000, 10, 0,
		  V_INCONCLUSIVE, "too few" },
		{ "exactly minRequests", 50, 50, 1, 1, 0, 1000, 1000, 0, 0, V_PASS, "p50" },
		{ "all equal", 1000, 1000, 1, 1, 0, 1000, 1000, 0, 0, V_PASS, "p50" },
		{ "p50 1.6x but only +0.6 ms", 1000, 1000, 1.6, 1, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p50 +40 ms but only 1.4x", 1000, 1000, 140, 100, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p50 50 ms vs 1 ms", 1000, 1000, 50, 1, 0, 1000, 1000, 0, 0, V_FAIL, "latency p50" },
		{ "p50 10 ms vs 1 ms", 1000, 1000, 10, 1, 0, 1000, 1000, 0, 0, V_FAIL, "latency p50" },
		{ "target faster", 1000, 1000, 1, 50, 0, 1000, 1000, 0, 0, V_PASS, "" },
		{ "p99 only", 1000, 1000, 1, 1, 50, 1000, 1000, 0, 0, V_FAIL, "latency p99" },
		{ "sizes 3x", 1000, 1000, 1, 1, 0, 3000, 1000, 0, 0, V_FAIL, "response size" },
		{ "sizes a third", 1000, 1000, 1, 1, 0, 333, 1000, 0, 0, V_FAIL, "response size" },
		{ "sizes 1.4x", 1000, 1000, 1, 1, 0, 1400, 1000, 0, 0, V_PASS, "" },
		{ "errors +2%", 1000, 1000, 1, 1, 0, 1000, 1000, 20, 0, V_FAIL, "error rate" },
		{ "errors +0.5%", 1000, 1000, 1, 1, 0, 1000, 1000, 5, 0, V_PASS, "" },
		{ "errors 10% vs 9.5%", 1000, 1000, 1, 1, 0, 1000, 1000, 100, 95, V_PASS, "" },
		{ "errors fewer than stable's", 1000, 1000, 1, 1, 0, 1000, 1000, 0, 300, V_PASS, "" },
	};
	struct window *tw = tcalloc(sizeof(*tw)), *sw = tcalloc(sizeof(*sw));
	struct analysis a;
	char why[160];
	enum verdict v;

	row("%s", "names");
	CHECK_STR(verdict_name(V_PASS), "pass");
	CHECK_STR(verdict_name(V_FAIL), "fail");
	CHECK_STR(verdict_name(V_INCONCLUSIVE), "inconclusive");
	analysis_defaults(&a);
	a.min_requests = 50;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		fill_window(tw, t[i].tn, t[i].tms, t[i].ttail, 50, t[i].tsize, t[i].terr);
		fill_window(sw, t[i].sn, t[i].sms, 0, 0, t[i].ssize, t[i].serr);
		memset(why, 'x', sizeof(why));
		v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
		CHECK(memchr(why, '\0', sizeof(why)), "why is not terminated");
		CHECK(v == t[i].want, "%s (%s)", verdict_name(v), why);
		CHECK_HAS(why, t[i].has);
		if (v != V_PASS) {
			CHECK_HAS(why, "v2.0");
			CHECK_HAS(why, "v1.0");
		}
	}
	/* The thresholds are the analysis's, not fixed ones. */
	row("%s", "minRequests 1000");
	a.min_requests = 1000;
	fill_window(tw, 999, 1, 0, 0, 1000, 0);
	fill_window(sw, 5000, 1, 0, 0, 1000, 0);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_INCONCLUSIVE, "%s (%s)", verdict_name(v), why);
	CHECK_HAS(why, "need 1000");
	row("%s", "floor 0 ms: 1.6x fails");
	analysis_defaults(&a);
	a.max_latency_increase_ms = 0;
	fill_window(tw, 1000, 1.6, 0, 0, 1000, 0);
	fill_window(sw, 1000, 1, 0, 0, 1000, 0);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_FAIL, "%s (%s)", verdict_name(v), why);
	CHECK_HAS(why, "latency p50");
	row("%s", "error limit 0.1: +2% passes");
	analysis_defaults(&a);
	a.max_error_rate_increase = 0.1;
	fill_window(tw, 1000, 1, 0, 0, 1000, 20);
	v = judge(&a, tw, sw, "v2.0", "v1.0", why, sizeof(why));
	CHECK(v == V_PASS, "%s (%s)", verdict_name(v), why);
}

/* The analysis a test rollout runs with: the defaults, but at most 3
 * inconclusive windows. */
static struct analysis test_analysis(void)
{
	struct analysis a;

	analysis_defaults(&a);
	a.max_inconclusive = 3;
	return a;
}

static int start_an(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
		    const struct ro_step *steps, uint32_t nsteps, const struct analysis *an,
		    int64_t now)
{
	struct ro_request r = ro_req(to, strategy, timeout, steps, nsteps);
	struct vs_err err = { 0 };

	r.an = *an;
	return rollout_start(m, 0, &r, now, &err);
}

static void test_rollout_verdict(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis();
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;
	const struct analysis *a = &ro->an;
	uint32_t nev;

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK(a->on, "analysis off");
	CHECK_INT(a->failure_limit, ==, 3);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->windows, ==, 0);

	for (uint32_t i = 1; i <= 2; i++) {
		char want[32];

		row("fail %u", i);
		CHECK_INT(rollout_verdict(m, 0, 1, "latency p50: slow", T0 + 5 * i), ==, false);
		CHECK_INT(ro->phase, ==, RO_PROGRESSING);
		CHECK_INT(a->failures, ==, i);
		CHECK_INT(a->windows, ==, i);
		CHECK_STR(a->last_verdict, "latency p50: slow");
		CHECK_STR(nth_event(m, 0)->type, "analysis_failed");
		CHECK_INT(nth_event(m, 0)->time, ==, T0 + 5 * i);
		snprintf(want, sizeof(want), "window %u/3", i);
		CHECK_HAS(nth_event(m, 0)->detail, want);
		CHECK_HAS(nth_event(m, 0)->detail, "latency p50: slow");
		check_layout(m, 0, S20, S10, 1000);
		if (cur_failed)
			return;
	}
	row("%s", "a pass");
	nev = m->nevents;
	CHECK_INT(rollout_verdict(m, 0, 0, "all good", T0 + 15), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->last_pass, ==, T0 + 15);
	CHECK_INT(a->windows, ==, 3);
	CHECK_STR(a->last_verdict, "all good");
	CHECK_INT(m->nevents, ==, nev);

	/* Inconclusive windows are no failures, and do not end a run of them. */
	row("%s", "fail, fail, inconclusive");
	CHECK_INT(rollout_verdict(m, 0, 1, "error rate: high", T0 + 20), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 1, "error rate: high", T0 + 25), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 2, "too few requests", T0 + 30), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(a->failures, ==, 2);
	CHECK_INT(a->inconclusive, ==, 1);
	CHECK_INT(a->last_pass, ==, T0 + 15);
	CHECK_STR(nth_event(m, 0)->type, "inconclusive");
	CHECK_INT(m->svc[0].rollbacks, ==, 0);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 0);

	row("%s", "third fail");
	CHECK_INT(rollout_verdict(m, 0, 1, "error rate: high", T0 + 35), ==, true);
	CHECK_INT(ro->phase, ==, RO_ROLLED_BACK);
	CHECK_INT(ro->ended, ==, T0 + 35);
	CHECK_INT(a->failures, ==, 3);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(m->cl[S20].weight, ==, 0);
	CHECK_INT(m->cl[S10].weight, ==, 10000);
	check_layout(m, 0, S20, S10, 0);
	if (cur_failed)
		return;
	CHECK(m->cl[S20].no_affinity, "the target keeps its affinity");
	CHECK(!m->cl[S10].no_affinity, "the stable version lost its affinity");
	CHECK_INT(m->svc[0].rollbacks, ==, 1);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 1);
	CHECK_STR(nth_event(m, 0)->type, "auto_rollback");
	CHECK_INT(nth_event(m, 0)->time, ==, T0 + 35);
	CHECK_HAS(nth_event(m, 0)->detail, "error rate: high");
	CHECK_HAS(nth_event(m, 0)->detail, "2.0");
	CHECK_HAS(nth_event(m, 0)->detail, "1.0");
	CHECK_STR(nth_event(m, 1)->type, "rolled_back");
	CHECK_STR(nth_event(m, 2)->type, "analysis_failed");
	CHECK_HAS(nth_event(m, 2)->detail, "window 3/3");
	CHECK_INT(rollout_tick(m, T0 + 100000), ==, false);
	CHECK_INT(m->svc[1].rollbacks + m->svc[1].auto_rollbacks, ==, 0);

	/* A new rollout starts with its status cleared, whatever the
	 * request's copy of it holds. */
	row("%s", "start again");
	an.failures = 2;
	an.inconclusive = 2;
	an.windows = 7;
	an.last_pass = T0 + 1000000;
	snprintf(an.last_verdict, sizeof(an.last_verdict), "%s", "stale");
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0 + 100), ==, 0);
	CHECK(a->on, "analysis off");
	CHECK_INT(a->failure_limit, ==, 3);
	CHECK_INT(a->max_inconclusive, ==, 3);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->windows, ==, 0);
	CHECK_INT(a->last_pass, ==, 0);
	CHECK_STR(a->last_verdict, "");
	CHECK_INT(rollout_tick(m, T0 + 3700), ==, false);	/* no pass yet */

	/* An event on the first inconclusive window and on reaching the
	 * limit only; a failure ends the run, a pass too. */
	for (uint32_t i = 1; i <= 5; i++) {
		row("inconclusive %u", i);
		nev = m->nevents;
		CHECK_INT(rollout_verdict(m, 0, 2, "too few requests", T0 + 100 + 5 * i), ==, false);
		CHECK_INT(ro->phase, ==, RO_PROGRESSING);
		CHECK_INT(a->inconclusive, ==, i);
		CHECK_INT(a->failures, ==, 0);
		CHECK_INT(a->windows, ==, i);
		CHECK_STR(a->last_verdict, "too few requests");
		if (i == 1 || i == 3) {
			CHECK_INT(m->nevents, ==, nev + 1);
			CHECK_STR(nth_event(m, 0)->type, "inconclusive");
			CHECK_INT(nth_event(m, 0)->time, ==, T0 + 100 + 5 * i);
			CHECK_HAS(nth_event(m, 0)->detail, "too few requests");
			if (i == 3)
				CHECK_HAS(nth_event(m, 0)->detail, "without a verdict");
			else
				CHECK(!strstr(nth_event(m, 0)->detail, "without"), "%s",
				      nth_event(m, 0)->detail);
		} else {
			CHECK_INT(m->nevents, ==, nev);
		}
	}
	row("%s", "a failure after inconclusive ones");
	CHECK_INT(rollout_verdict(m, 0, 1, "latency p99: slow", T0 + 200), ==, false);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->failures, ==, 1);
	row("%s", "inconclusive again, then a pass");
	CHECK_INT(rollout_verdict(m, 0, 2, "too few requests", T0 + 205), ==, false);
	CHECK_STR(nth_event(m, 0)->type, "inconclusive");
	CHECK_INT(a->inconclusive, ==, 1);
	CHECK_INT(a->failures, ==, 1);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 210), ==, false);
	CHECK_INT(a->inconclusive, ==, 0);
	CHECK_INT(a->failures, ==, 0);
	CHECK_INT(a->last_pass, ==, T0 + 210);
	CHECK_INT(a->windows, ==, 8);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(m->svc[0].auto_rollbacks, ==, 1);
}

/* With analysis on, a step ends only after a passing window once its hold
 * is over (or after maxInconclusive windows without a verdict), and the
 * next starts then, not on the schedule. */
static void test_rollout_analysis_gate(void)
{
	static const struct ro_step st[] = { { 1000, 60 }, { 5000, RO_WAIT } };
	static const struct ro_step three[] = { { 1000, 60 }, { 5000, 60 }, { 10000, RO_WAIT } };
	struct analysis an = test_analysis(), off = { 0 };
	struct model *m = new_model();
	const struct rollout *ro = &m->svc[0].ro;

	row("%s", "analysis off: on schedule");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &off, T0), ==, 0);
	CHECK_INT(rollout_tick(m, T0 + 61), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 60);

	row("%s", "a pass");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_tick(m, T0 + 30), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 30), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 60), ==, false);	/* that pass was before the hold ended */
	CHECK_INT(rollout_tick(m, T0 + 61), ==, false);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(ro->step_started, ==, T0);
	CHECK_INT(rollout_weight(m, ro), ==, 1000);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 62), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 62), ==, true);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 62);
	check_layout(m, 0, S20, S10, 5000);
	if (cur_failed)
		return;
	CHECK_STR(nth_event(m, 0)->type, "step");
	CHECK_INT(nth_event(m, 0)->time, ==, T0 + 62);
	CHECK_INT(rollout_tick(m, T0 + 100000), ==, false);	/* waits for promote */

	row("%s", "a pass, the next step on from it");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, three, 3, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 70), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 200), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 200);
	CHECK_INT(rollout_next_due(ro), ==, T0 + 260);
	CHECK_INT(rollout_tick(m, T0 + 260), ==, false);	/* the pass at +70 was for step 1 */
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 265), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266), ==, true);
	CHECK_INT(ro->step, ==, 2);
	CHECK_INT(ro->step_started, ==, T0 + 266);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);	/* 100% and waits: for a pass */
	/* A pass whose window began before the step did not judge it: the
	 * gate wants one ending a full interval after the step started. */
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 266 + an.interval - 1), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266 + an.interval - 1), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 266 + an.interval), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 266 + an.interval + 1), ==, true);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 266 + an.interval + 1);

	row("%s", "no verdict: maxInconclusive windows");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, 2, "too few", T0 + 55), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 2, "too few", T0 + 60), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 61), ==, false);
	CHECK_INT(ro->step, ==, 0);
	CHECK_INT(rollout_verdict(m, 0, 2, "too few", T0 + 65), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 66), ==, true);
	CHECK_INT(ro->step, ==, 1);
	CHECK_INT(ro->step_started, ==, T0 + 66);
	check_layout(m, 0, S20, S10, 5000);
	if (cur_failed)
		return;

	row("%s", "failures hold the step");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_GRADUAL, 0, st, 2, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, 1, "slow", T0 + 65), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 1, "slow", T0 + 70), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 71), ==, false);
	CHECK_INT(ro->step, ==, 0);

	/* A session rollout is at 100% at once, and completes on a pass. */
	row("%s", "session rollout");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_SESSION, 30, NULL, 0, &an, T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_weight(m, ro), ==, 10000);
	CHECK_INT(rollout_next_due(ro), ==, -1);
	CHECK_INT(rollout_tick(m, T0 + 1000), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 1, "slow", T0 + 1001), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 1002), ==, false);
	CHECK_INT(ro->phase, ==, RO_PROGRESSING);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 1005), ==, false);
	CHECK_INT(rollout_tick(m, T0 + 1006), ==, true);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0 + 1006);
	CHECK_INT(model_stable(m, 0), ==, S20);
	CHECK_STR(nth_event(m, 0)->type, "completed");
	row("%s", "session rollout, analysis off");
	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(start_an(m, "2.0", RO_SESSION, 30, NULL, 0, &off, T0), ==, 0);
	CHECK_INT(ro->phase, ==, RO_COMPLETED);
	CHECK_INT(ro->ended, ==, T0);
}

/* req_rollout on a JSON body given with single quotes. */
static int parse_ro(const char *sq, struct ro_request *req, struct vs_err *err)
{
	json_t *j = json_loads(jq(sq), 0, NULL);
	int ret;

	memset(err, 0, sizeof(*err));
	if (!j)
		return BAD_TEST_INPUT;
	ret = req_rollout(j, req, err);
	json_decref(j);
	return ret;
}

static void test_req_rollout_analysis(void)
{
	static const struct {
		const char *analysis;
		const char *code;	/* NULL: accepted */
		const char *has;
	} bad[] = {
		{ "{'interval': 0}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': 3601}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': '5'}", "bad_rollout", "body.analysis.interval" },
		{ "{'interval': null}", "bad_rollout", "body.analysis.interval" },
		{ "{'minRequests': 0}", "bad_rollout", "body.analysis.minRequests" },
		{ "{'minRequests': -5}", "bad_rollout", "body.analysis.minRequests" },
		{ "{'maxLatencyRatio': 0.5}", "bad_rollout", "body.analysis.maxLatencyRatio" },
		{ "{'maxLatencyIncreaseMs': -1}", "bad_rollout", "body.analysis.maxLatencyIncreaseMs" },
		{ "{'maxLatencyIncreaseMs': '5'}", "bad_rollout", "body.analysis.maxLatencyIncreaseMs" },
		{ "{'maxSizeDeviation': false}", "bad_rollout", "body.analysis.maxSizeDeviation" },
		{ "{'maxSizeDeviation': -0.1}", "bad_rollout", "body.analysis.maxSizeDeviation" },
		{ "{'maxErrorRateIncrease': 2}", "bad_rollout", "body.analysis.maxErrorRateIncrease" },
		{ "{'maxErrorRateIncrease': -0.01}", "bad_rollout",
		  "body.analysis.maxErrorRateIncrease" },
		{ "{'failureLimit': 0}", "bad_rollout", "body.analysis.failureLimit" },
		{ "{'maxInconclusive': 0}", "bad_rollout", "body.analysis.maxInconclusive" },
		{ "{'interval': 5, 'bogus': 1}", "unknown_field", "bogus" },
		{ "{'failurelimit': 3}", "unknown_field", "failurelimit" },
		{ "5", "bad_field", "body.analysis" },
		{ "[]", "bad_field", "body.analysis" },
		{ "true", "bad_field", "body.analysis" },
	};
	struct ro_request *req = tcalloc(sizeof(*req));
	struct analysis def;
	struct vs_err err;
	char body[256];

	row("%s", "no analysis");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}]}",
			   req, &err), ==, 0);
	CHECK(!req->an.on, "analysis on without asking");

	row("%s", "analysis {}");
	CHECK_INT(parse_ro("{'to': '2.0', 'steps': [{'weight': 10, 'hold': 60}, {'weight': 100}],"
			   " 'analysis': {}}", req, &err), ==, 0);
	CHECK(req->an.on, "analysis off");
	CHECK_INT(req->an.interval, ==, 5);
	CHECK_INT(req->an.min_requests, ==, 100);
	CHECK(req->an.max_latency_ratio == 1.5, "%g", req->an.max_latency_ratio);
	CHECK(req->an.max_latency_increase_ms == 5, "%g", req->an.max_latency_increase_ms);
	CHECK(req->an.max_size_deviation == 0.5, "%g", req->an.max_size_deviation);
	CHECK(req->an.max_error_rate_increase == 0.01, "%g", req->an.max_error_rate_increase);
	CHECK_INT(req->an.failure_limit, ==, 3);
	CHECK_INT(req->an.max_inconclusive, ==, 12);
	CHECK_INT(req->an.failures + req->an.inconclusive + req->an.windows, ==, 0);
	CHECK_INT(req->an.last_pass, ==, 0);
	CHECK_STR(req->an.last_verdict, "");
	/* and the rest of the request is still there */
	CHECK_STR(req->to, "2.0");
	CHECK_INT(req->strategy, ==, RO_GRADUAL);
	CHECK_INT(req->nsteps, ==, 2);
	CHECK_INT(req->steps[0].weight, ==, 1000);
	CHECK_INT(req->steps[0].hold, ==, 60);
	analysis_defaults(&def);
	CHECK(def.on, "analysis_defaults: off");
	CHECK_INT(def.interval, ==, req->an.interval);

	row("%s", "every field");
	CHECK_INT(parse_ro("{'to': '2.0', 'sessionTimeout': 30, 'analysis': {'interval': 10,"
			   " 'minRequests': 20, 'maxLatencyRatio': 2.5, 'maxLatencyIncreaseMs': 0,"
			   " 'maxSizeDeviation': 0.25, 'maxErrorRateIncrease': 0,"
			   " 'failureLimit': 1, 'maxInconclusive': 1}}", req, &err), ==, 0);
	CHECK_INT(req->strategy, ==, RO_SESSION);
	CHECK(req->an.on, "analysis off");
	CHECK_INT(req->an.interval, ==, 10);
	CHECK_INT(req->an.min_requests, ==, 20);
	CHECK(req->an.max_latency_ratio == 2.5, "%g", req->an.max_latency_ratio);
	CHECK(req->an.max_latency_increase_ms == 0, "%g", req->an.max_latency_increase_ms);
	CHECK(req->an.max_size_deviation == 0.25, "%g", req->an.max_size_deviation);
	CHECK(req->an.max_error_rate_increase == 0, "%g", req->an.max_error_rate_increase);
	CHECK_INT(req->an.failure_limit, ==, 1);
	CHECK_INT(req->an.max_inconclusive, ==, 1);

	row("%s", "the upper bounds");
	CHECK_INT(parse_ro("{'to': '2.0', 'analysis': {'interval': 3600, 'minRequests': 1000000000,"
			   " 'maxLatencyRatio': 1, 'maxErrorRateIncrease': 1, 'failureLimit': 1000,"
			   " 'maxInconclusive': 1000000}}", req, &err), ==, 0);
	CHECK_INT(req->an.interval, ==, 3600);
	CHECK_INT(req->an.min_requests, ==, 1000000000);
	CHECK_INT(req->an.failure_limit, ==, 1000);
	CHECK_INT(req->an.max_inconclusive, ==, 1000000);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("analysis %s", bad[i].analysis);
		snprintf(body, sizeof(body), "{'to': '2.0', 'analysis': %s}", bad[i].analysis);
		CHECK_INT(parse_ro(body, req, &err), ==, -EINVAL);
		CHECK_INT(err.status, ==, 400);
		CHECK_STR(err.code, bad[i].code);
		CHECK_HAS(err.msg, bad[i].has);
	}
}

static void test_state_analysis_roundtrip(void)
{
	static const struct ro_step st[] = { { 1000, 3600 }, { 5000, 7200 }, { 10000, RO_WAIT } };
	static const char verdict[] = "latency p99: 2.0 12.50 ms vs 1.0 3.25 ms (\"x\" \\ \t)";
	struct analysis an = test_analysis(), off = { 0 };
	struct model *m = new_model(), *m2 = new_model();
	const struct analysis *x = &m->svc[0].ro.an, *y = &m2->svc[0].ro.an;
	struct vs_err err = { 0 };
	char *text, *text2;

	setup_web(m);
	if (cur_failed)
		return;
	an.interval = 7;
	an.min_requests = 250;
	an.max_latency_ratio = 1.25;
	an.max_latency_increase_ms = 2.5;
	an.max_size_deviation = 0.3;
	an.max_error_rate_increase = 0.02;
	an.failure_limit = 4;
	an.max_inconclusive = 9;
	CHECK_INT(start_an(m, "3.0", RO_GRADUAL, 0, st, 3, &an, T0), ==, 0);
	CHECK_INT(rollout_verdict(m, 0, 0, "fine", T0 + 10), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 1, "slow", T0 + 17), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 1, "slow", T0 + 24), ==, false);
	CHECK_INT(rollout_verdict(m, 0, 2, verdict, T0 + 31), ==, false);
	CHECK_INT(x->failures, ==, 2);
	CHECK_INT(x->inconclusive, ==, 1);
	CHECK_INT(x->windows, ==, 4);
	CHECK_INT(x->last_pass, ==, T0 + 10);
	CHECK_STR(x->last_verdict, verdict);
	/* api: a rollout without analysis */
	CHECK_INT(add_cl(m, 1, "8.0", CL_MANUAL, "127.0.0.1:9108", "api8", &err), ==, SAPI + 1);
	{
		struct ro_request r = ro_req("8.0", RO_GRADUAL, 0, st, 3);

		r.an = off;
		CHECK_INT(rollout_start(m, 1, &r, T0 + 5, &err), ==, 0);
	}

	text = track(state_dump(m));
	CHECK(text, "state_dump failed");
	memset(m2, 0xa5, sizeof(*m2));
	CHECK_INT(state_parse(text, strlen(text), "t.json", m2, &err), ==, 0);
	check_models_equal(m, m2);
	if (cur_failed)
		return;
	row("%s", "web");
	check_rollouts_equal(&m->svc[0].ro, &m2->svc[0].ro);
	if (cur_failed)
		return;
	CHECK(y->on, "analysis lost");
	CHECK_INT(y->interval, ==, 7);
	CHECK_INT(y->min_requests, ==, 250);
	CHECK(y->max_latency_ratio == 1.25, "%.17g", y->max_latency_ratio);
	CHECK(y->max_latency_increase_ms == 2.5, "%.17g", y->max_latency_increase_ms);
	CHECK(y->max_size_deviation == 0.3, "%.17g", y->max_size_deviation);
	CHECK(y->max_error_rate_increase == 0.02, "%.17g", y->max_error_rate_increase);
	CHECK_INT(y->failure_limit, ==, 4);
	CHECK_INT(y->max_inconclusive, ==, 9);
	CHECK_INT(y->failures, ==, 2);
	CHECK_INT(y->inconclusive, ==, 1);
	CHECK_INT(y->windows, ==, 4);
	CHECK_INT(y->last_pass, ==, T0 + 10);
	CHECK_STR(y->last_verdict, verdict);
	row("%s", "api");
	check_rollouts_equal(&m->svc[1].ro, &m2->svc[1].ro);
	if (cur_failed)
		return;
	CHECK(!m2->svc[1].ro.an.on, "analysis on after a round trip");
	row("%s", "dump again");
	text2 = track(state_dump(m2));
	CHECK(text2, "state_dump failed");
	CHECK_STR(text2, text);
	/* the restored status goes on the same: two more failures roll back */
	row("%s", "the fourth failure after a restart");
	CHECK_INT(rollout_verdict(m2, 0, 1, "slow", T0 + 38), ==, false);
	CHECK_INT(m2->svc[0].ro.an.failures, ==, 3);
	CHECK_INT(rollout_verdict(m2, 0, 1, "slow", T0 + 45), ==, true);
	CHECK_INT(m2->svc[0].ro.phase, ==, RO_ROLLED_BACK);
	CHECK_INT(m2->svc[0].auto_rollbacks, ==, 1);
	row("%s", "the pass before the hold ended does not open the gate");
	CHECK_INT(rollout_tick(m, T0 + 3601), ==, false);
}

/* ---- the runner ------------------------------------------------------- */

#define TEST(fn) { &#fn[5], fn }	/* the name without "test_" */

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	TEST(test_hash_bucket_uniform),
	TEST(test_hash_salt_and_determinism),
	TEST(test_backend_hash_independent),
	TEST(test_pick_version_table),
	TEST(test_pick_version_monotone),
	TEST(test_failover_order),
	TEST(test_version_valid),
	TEST(test_version_cmp),
	TEST(test_ep_parse_good),
	TEST(test_ep_parse_bad),
	TEST(test_percent_to_bp),
	TEST(test_model_add_service),
	TEST(test_model_add_weights),
	TEST(test_model_add_cluster_rejects),
	TEST(test_model_order),
	TEST(test_model_del_cluster),
	TEST(test_model_del_last_needs_force),
	TEST(test_model_set_weights),
	TEST(test_model_svc_value),
	TEST(test_config_thesis_single),
	TEST(test_config_cluster_list),
	TEST(test_config_modes),
	TEST(test_config_errors),
	TEST(test_config_services_form),
	TEST(test_config_api_default),
	TEST(test_state_roundtrip),
	TEST(test_state_rejects),
	TEST(test_rollout_start_rejects),
	TEST(test_rollout_start_target_names),
	TEST(test_rollout_weights_layout),
	TEST(test_rollout_gradual_schedule),
	TEST(test_rollout_completes),
	TEST(test_rollout_pause_resume),
	TEST(test_rollout_promote),
	TEST(test_rollout_abort_rollback),
	TEST(test_rollout_session_timeout),
	TEST(test_rollout_record_instant),
	TEST(test_model_events_ring),
	TEST(test_state_rollout_roundtrip),
	TEST(test_state_rollout_rejects),
	TEST(test_ro_strategy_parse),
	TEST(test_ro_op_parse),
	TEST(test_api_route_match),
	TEST(test_api_route_errors),
	TEST(test_listener_serves),
	TEST(test_hist_buckets),
	TEST(test_hist_quantile),
	TEST(test_judge),
	TEST(test_rollout_verdict),
	TEST(test_rollout_analysis_gate),
	TEST(test_req_rollout_analysis),
	TEST(test_state_analysis_roundtrip),
};

int main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
		cur_failed = false;
		cur_detail[0] = '\0';
		cur_row[0] = '\0';
		tests[i].fn();
		tmp_free_all();
		if (cur_failed) {
			failed++;
			printf("not ok %zu - %s: %s\n", i + 1, tests[i].name, cur_detail);
		} else {
			passed++;
			printf("ok %zu - %s\n", i + 1, tests[i].name);
		}
		fflush(stdout);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
