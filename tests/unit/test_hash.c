// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Session hashing, version picking and failover order: the very
 * header the data plane runs (vsteer_hash.h).
 */
#include <arpa/inet.h>

#include "vsteer_hash.h"

#include "harness.h"
#include "helpers.h"

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
	/* clang-format off */
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
	/* clang-format on */
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

	rng_seed(0x2545f491); /* the draws it always had, whatever ran before */
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

const struct unit_case hash_cases[] = { TEST(test_hash_bucket_uniform),
					TEST(test_hash_salt_and_determinism),
					TEST(test_backend_hash_independent),
					TEST(test_pick_version_table),
					TEST(test_pick_version_monotone),
					TEST(test_failover_order),
					{ NULL, NULL } };
