// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TCP reassembly (core/reasm): segments in any order, retransmitted,
 * overlapping, wrapping past 2^32, copied in part, a FIN, the bounds.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/reasm.h"
#include "lib/compiler.h"

#include "harness.h"
#include "helpers.h"

static void free_reasm(void *r)
{
	reasm_free(r);
}

/* A reasm freed after the case, however it ends. */
static struct reasm *new_reasm(uint32_t isn)
{
	struct reasm *r = tcalloc(sizeof(*r));

	reasm_init(r, isn);
	defer(free_reasm, r);
	return r;
}

static const char msg[] = "GET /items/42 HTTP/1.1\r\nHost: a\r\n\r\n";

/* Add [from, to) of msg, as if its first byte were at isn. */
static int add(struct reasm *r, uint32_t isn, size_t from, size_t to)
{
	return reasm_add(r, isn + (uint32_t)from, (const uint8_t *)msg + from,
			 (uint32_t)(to - from), (uint32_t)(to - from), false);
}

#define CHECK_BUF(r, s)                                                   \
	do {                                                              \
		CHECK_INT((r)->len, ==, strlen(s));                       \
		CHECK(!memcmp((r)->buf, s, strlen(s)), "buffer differs"); \
	} while (0)

static void test_reasm_in_order_and_reversed(void)
{
	const size_t n = sizeof(msg) - 1;
	struct reasm *a = new_reasm(1000), *b = new_reasm(1000);

	for (size_t i = 0; i < n; i += 5)
		CHECK_INT(add(a, 1000, i, i + 5 < n ? i + 5 : n), ==, 0);
	CHECK_BUF(a, msg);
	CHECK_INT(a->delivered, ==, n);
	CHECK_INT(a->next, ==, 1000 + n);
	for (size_t i = n; i > 0; i -= i >= 3 ? 3 : i) {
		CHECK_INT(add(b, 1000, i >= 3 ? i - 3 : 0, i), ==, 0);
		if (i > 3)
			CHECK_INT(b->len, ==, 0); /* nothing before the first byte */
	}
	CHECK_BUF(b, msg);
	CHECK_INT(b->ahead_bytes, ==, 0);
	CHECK_INT(b->dups + a->dups + a->holes + b->holes, ==, 0);
}

/* All 24 orders of 4 segments give the same bytes. */
static void test_reasm_permutations(void)
{
	const size_t cut[5] = { 0, 7, 13, 30, sizeof(msg) - 1 };
	int count = 0;

	for (int p = 0; p < 24; p++) {
		struct reasm r;
		int idx[4], avail[4] = { 0, 1, 2, 3 }, k = p, m = 4;

		/* the p-th permutation, by the factorial number system */
		for (int i = 0; i < 4; i++) {
			int f = 1, j;

			for (j = 2; j < m; j++)
				f *= j;
			j = k / f;
			k %= f;
			idx[i] = avail[j];
			memmove(&avail[j], &avail[j + 1], sizeof(int) * (size_t)(m - j - 1));
			m--;
		}
		reasm_init(&r, 0xfffffff0);
		for (int i = 0; i < 4; i++)
			if (add(&r, 0xfffffff0, cut[idx[i]], cut[idx[i] + 1]))
				break;
		row("order %d %d %d %d", idx[0], idx[1], idx[2], idx[3]);
		if (r.len != sizeof(msg) - 1 || memcmp(r.buf, msg, r.len) || r.ahead_bytes) {
			reasm_free(&r);
			CHECK(0, "bytes differ");
		}
		reasm_free(&r);
		count++;
	}
	CHECK_INT(count, ==, 24);
}

static void test_reasm_retransmit_and_overlap(void)
{
	struct reasm *r = new_reasm(500);

	CHECK_INT(add(r, 500, 0, 10), ==, 0);
	CHECK_INT(add(r, 500, 0, 10), ==, 0); /* retransmitted */
	CHECK_INT(r->dups, ==, 10);
	CHECK_INT(r->len, ==, 10);
	CHECK_INT(add(r, 500, 5, 15), ==, 0); /* half old, half new */
	CHECK_INT(r->dups, ==, 15);
	CHECK_INT(r->len, ==, 15);
	/* Two held ranges, then one that bridges them and overlaps both. */
	CHECK_INT(add(r, 500, 20, 24), ==, 0);
	CHECK_INT(add(r, 500, 28, 32), ==, 0);
	CHECK_INT(r->ahead_bytes, ==, 8);
	CHECK_INT(r->len, ==, 15);
	CHECK_INT(add(r, 500, 18, 30), ==, 0);
	CHECK_INT(r->dups, ==, 15 + 4 + 2);
	CHECK_INT(r->ahead_bytes, ==, 14);
	CHECK_INT(add(r, 500, 10, 20), ==, 0); /* 5 old, the gap, 2 held */
	CHECK_INT(r->dups, ==, 15 + 4 + 2 + 5 + 2);
	CHECK_INT(r->ahead_bytes, ==, 0);
	CHECK_INT(r->len, ==, 32);
	CHECK(!memcmp(r->buf, msg, 32), "bytes differ");
	/* A held range is not replaced by a later copy of it: the first
	 * copy's bytes are delivered. */
	CHECK_INT(reasm_add(r, 500 + 33, (const uint8_t *)"XX", 2, 2, false), ==, 0);
	CHECK_INT(add(r, 500, 32, sizeof(msg) - 1), ==, 0);
	CHECK_INT(r->dups, ==, 15 + 4 + 2 + 5 + 2 + 2);
	CHECK_INT(r->delivered, ==, sizeof(msg) - 1);
	CHECK(!memcmp(r->buf, msg, 33) && !memcmp(r->buf + 33, "XX", 2), "bytes differ");
}

static void test_reasm_wrap(void)
{
	static const uint32_t isns[] = { 0xfffffff0, 0xffffffff, 0, 0x7fffffff, 0x80000000 };

	for (size_t i = 0; i < ARRAY_SIZE(isns); i++) {
		struct reasm *r = new_reasm(isns[i]);

		row("isn 0x%x", isns[i]);
		CHECK_INT(add(r, isns[i], 20, 35), ==, 0);
		CHECK_INT(add(r, isns[i], 10, 20), ==, 0);
		CHECK_INT(add(r, isns[i], 0, 10), ==, 0);
		/* a segment from before the stream's first byte, and an old one */
		CHECK_INT(reasm_add(r, isns[i] - 10, (const uint8_t *)"0123456789GE", 12, 12,
				    false),
			  ==, 0);
		CHECK_INT(add(r, isns[i], 35, sizeof(msg) - 1), ==, 0);
		CHECK_BUF(r, msg);
		CHECK_INT(r->dups, ==, 12);
		CHECK_INT(r->next, ==, isns[i] + (uint32_t)(sizeof(msg) - 1));
	}
}

static void test_reasm_partial_copies(void)
{
	struct reasm *r = new_reasm(0);
	uint8_t zeros[8] = { 0 };

	/* 10 bytes, 4 copied: 6 holes at [4, 10) */
	CHECK_INT(reasm_add(r, 0, (const uint8_t *)msg, 4, 10, false), ==, 0);
	CHECK_INT(r->len, ==, 10);
	CHECK_INT(r->holes, ==, 6);
	CHECK(!memcmp(r->buf, "GET ", 4) && !memcmp(r->buf + 4, zeros, 6), "bytes");
	CHECK(!reasm_has_hole(r, 4), "a hole in the first 4");
	CHECK(reasm_has_hole(r, 5), "no hole in the first 5");
	/* held out of order in part: [20, 30) with [24, 30) missing */
	CHECK_INT(reasm_add(r, 20, (const uint8_t *)msg + 20, 4, 10, false), ==, 0);
	CHECK_INT(add(r, 0, 10, 20), ==, 0);
	CHECK_INT(r->len, ==, 30);
	CHECK_INT(r->holes, ==, 12);
	reasm_consume(r, 10);
	CHECK(!reasm_has_hole(r, 14), "holes before 14 after consume");
	CHECK(reasm_has_hole(r, 15), "no hole at 14 after consume");
	CHECK(!memcmp(r->buf, msg + 10, 14), "bytes after consume");
	/* consumed into the middle of a hole */
	reasm_consume(r, 16);
	CHECK(reasm_has_hole(r, 1), "the rest of the hole");
	reasm_consume(r, 4);
	CHECK(!reasm_has_hole(r, 100), "holes after they were all consumed");
	CHECK_INT(r->len, ==, 0);
	/* a later copy of a hole's bytes has no effect: they are delivered */
	CHECK_INT(add(r, 0, 4, 10), ==, 0);
	CHECK_INT(r->dups, ==, 6);
	/* nothing copied at all */
	CHECK_INT(reasm_add(r, 30, NULL, 0, 5, false), ==, 0);
	CHECK_INT(r->holes, ==, 17);
	CHECK(reasm_has_hole(r, 5), "a segment copied not at all");

	/* More holes apart than there are records: the last record grows
	 * over the rest, so has_hole() may say so of captured bytes but
	 * never misses one; the count stays exact. */
	reasm_free(r);
	reasm_init(r, 0);
	for (uint32_t i = 0; i < REASM_MAX_RANGES + 10; i++)
		CHECK_INT(reasm_add(r, 2 * i, (const uint8_t *)"ab", 1, 2, false), ==, 0);
	CHECK_INT(r->holes, ==, REASM_MAX_RANGES + 10);
	CHECK(!reasm_has_hole(r, 1), "the first byte was captured");
	reasm_consume(r, 2 * (REASM_MAX_RANGES - 1));
	CHECK(!reasm_has_hole(r, 1), "the last record starts at a hole");
	CHECK(reasm_has_hole(r, 2), "the last record's first hole");
	reasm_consume(r, r->len - 1);
	CHECK(reasm_has_hole(r, 1), "the last hole");
}

static void test_reasm_fin(void)
{
	struct reasm *r = new_reasm(7), *o = new_reasm(7);

	CHECK_INT(reasm_add(r, 7, (const uint8_t *)"abc", 3, 3, true), ==, 0);
	CHECK(r->fin, "FIN in order");
	CHECK_INT(reasm_add(r, 10, (const uint8_t *)"def", 3, 3, false), ==, 0);
	CHECK_INT(r->len, ==, 3);
	CHECK_INT(r->delivered, ==, 3);
	/* out of order: the FIN is held, data beyond it ignored */
	CHECK_INT(reasm_add(o, 10, (const uint8_t *)"def", 3, 3, true), ==, 0);
	CHECK(!o->fin, "FIN reached out of order");
	CHECK_INT(reasm_add(o, 12, (const uint8_t *)"fgh", 3, 3, false), ==, 0);
	CHECK_INT(o->ahead_bytes, ==, 3);
	CHECK_INT(reasm_add(o, 7, (const uint8_t *)"abc", 3, 3, false), ==, 0);
	CHECK(o->fin, "FIN after the gap was filled");
	CHECK_INT(o->len, ==, 6);
	CHECK(!memcmp(o->buf, "abcdef", 6), "bytes");
	/* a FIN alone, at next */
	reasm_free(o);
	reasm_init(o, 1);
	CHECK_INT(reasm_add(o, 1, (const uint8_t *)"x", 1, 1, false), ==, 0);
	CHECK_INT(reasm_add(o, 2, NULL, 0, 0, true), ==, 0);
	CHECK(o->fin, "a bare FIN");
}

static void test_reasm_bounds(void)
{
	static uint8_t big[REASM_MAX_AHEAD + 1];
	struct reasm *r = new_reasm(0);

	/* too far ahead */
	CHECK_INT(reasm_add(r, REASM_MAX_AHEAD + 1, big, 1, 1, false), ==, -ENOBUFS);
	CHECK(r->broken, "broken");
	CHECK_INT(reasm_add(r, 0, big, 1, 1, false), ==, -EPIPE);
	CHECK_INT(r->len, ==, 0);

	/* held: exactly the bound, then one more byte */
	reasm_free(r);
	reasm_init(r, 0);
	CHECK_INT(reasm_add(r, 1, big, REASM_MAX_AHEAD, REASM_MAX_AHEAD, false), ==, 0);
	CHECK_INT(r->ahead_bytes, ==, REASM_MAX_AHEAD);
	CHECK_INT(reasm_add(r, REASM_MAX_AHEAD + 1, big, 1, 1, false), ==, -ENOBUFS);
	CHECK_INT(r->ahead_bytes, ==, 0);
	CHECK_INT(reasm_add(r, 0, big, 1, 1, false), ==, -EPIPE);

	/* pending: delivered and not consumed */
	reasm_free(r);
	reasm_init(r, 0);
	for (uint32_t at = 0; at < REASM_MAX_PENDING; at += 65536)
		CHECK_INT(reasm_add(r, at, big, 65536, 65536, false), ==, 0);
	CHECK_INT(reasm_add(r, REASM_MAX_PENDING, big, 1, 1, false), ==, -ENOBUFS);
	CHECK_INT(reasm_add(r, REASM_MAX_PENDING, big, 1, 1, false), ==, -EPIPE);

	/* consumed, the room is back */
	reasm_free(r);
	reasm_init(r, 0);
	for (uint32_t at = 0; at < 4 * REASM_MAX_PENDING; at += 65536) {
		CHECK_INT(reasm_add(r, at, big, 65536, 65536, false), ==, 0);
		reasm_consume(r, r->len);
	}

	/* ranges: 1-byte segments, each apart from the others */
	reasm_free(r);
	reasm_init(r, 0);
	for (uint32_t i = 0; i < REASM_MAX_RANGES; i++)
		CHECK_INT(reasm_add(r, 2 + 2 * i, big, 1, 1, false), ==, 0);
	CHECK_INT(reasm_add(r, 2 + 2 * REASM_MAX_RANGES, big, 1, 1, false), ==, -ENOBUFS);

	/* a zeroed struct after free is reusable */
	reasm_free(r);
	reasm_free(r);
	reasm_init(r, 3);
	CHECK_INT(reasm_add(r, 3, big, 2, 2, false), ==, 0);
	CHECK_INT(r->len, ==, 2);
}

/* A random stream cut into random segments, sent in a shuffled order,
 * each 1 in 4 sent twice, ends up whole. */
static void test_reasm_random(void)
{
	static uint8_t data[20000];
	uint32_t seg_at[400], seg_len[400];
	struct reasm *r = new_reasm(0);

	rng_seed(14);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng();
	for (int round = 0; round < 50; round++) {
		uint32_t isn = rng(), n = 0, at = 0;

		reasm_free(r);
		reasm_init(r, isn);
		while (at < sizeof(data)) {
			uint32_t len = 1 + rng() % 1500;

			if (at + len > sizeof(data))
				len = sizeof(data) - at;
			seg_at[n] = at;
			seg_len[n++] = len;
			if (rng() % 4 == 0) { /* a retransmission, of more or less */
				seg_at[n] = at;
				seg_len[n++] = 1 + rng() % len;
			}
			at += len;
		}
		for (uint32_t i = n - 1; i > 0; i--) {
			uint32_t j = rng() % (i + 1), t;

			t = seg_at[i], seg_at[i] = seg_at[j], seg_at[j] = t;
			t = seg_len[i], seg_len[i] = seg_len[j], seg_len[j] = t;
		}
		row("round %d isn 0x%x", round, isn);
		for (uint32_t i = 0; i < n; i++)
			CHECK_INT(reasm_add(r, isn + seg_at[i], data + seg_at[i], seg_len[i],
					    seg_len[i], false),
				  ==, 0);
		CHECK_INT(r->len, ==, sizeof(data));
		CHECK(!memcmp(r->buf, data, sizeof(data)), "bytes differ");
		CHECK_INT(r->ahead_bytes, ==, 0);
		CHECK_INT(r->holes, ==, 0);
	}
}

const struct unit_case reasm_cases[] = { TEST(test_reasm_in_order_and_reversed),
					 TEST(test_reasm_permutations),
					 TEST(test_reasm_retransmit_and_overlap),
					 TEST(test_reasm_wrap),
					 TEST(test_reasm_partial_copies),
					 TEST(test_reasm_fin),
					 TEST(test_reasm_bounds),
					 TEST(test_reasm_random),
					 { NULL, NULL } };
