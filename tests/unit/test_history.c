// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A service's history for charts: the ring (core/history.h), how the
 * API renders it (api/views_history.h), and the controller taking a
 * sample at each roll of the versions' last windows (ctl/recent.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/history.h"
#include "ctl/ctl.h"
#include "ctl/recent.h"
#include "ctl/services.h"
#include "ctl/snap.h"
#include "api/views_history.h"

#include "ctl_fixture.h"
#include "fake_dp.h"
#include "harness.h"
#include "helpers.h"

#define W0 1765000000

static struct history *new_history(void)
{
	struct history *h = tcalloc(sizeof(*h));

	if (h)
		history_init(h, "web");
	return h;
}

/* A version at weight (percent) that answered requests in 5 s. */
static struct history_in at(const char *version, int weight, uint32_t requests)
{
	return (struct history_in){ version,
				    { .weight = weight * 100,
				      .seconds = 5,
				      .open = 1,
				      .requests = requests,
				      .p50_ms = 1.5,
				      .p99_ms = 9 } };
}

static int col_of(const struct history *h, const char *version)
{
	for (int c = 0; c < HISTORY_COLS; c++)
		if (!strcmp(h->col[c].version, version))
			return c;
	return -1;
}

static uint32_t ncols(const struct history *h)
{
	uint32_t n = 0;

	for (int c = 0; c < HISTORY_COLS; c++)
		n += h->col[c].version[0] != '\0';
	return n;
}

/* Past HISTORY_KEEP samples the oldest go, one for one, and index 0 is
 * always the oldest held. */
static void test_history_wraps(void)
{
	struct history *h = new_history();
	struct history_in in;

	CHECK(h, "alloc");
	CHECK_INT(history_len(h), ==, 0);
	CHECK_INT(history_after(h, 0), ==, 0);
	for (uint32_t i = 0; i < HISTORY_KEEP + 40; i++) {
		in = at("1.0", 100, i);
		CHECK_INT(history_append(h, W0 + 5 * i, &in, 1), ==, 0);
		CHECK_INT(history_len(h), ==, i < HISTORY_KEEP ? i + 1 : HISTORY_KEEP);
	}
	CHECK_INT(history_time(h, 0), ==, W0 + 5 * 40);
	CHECK_INT(history_time(h, HISTORY_KEEP - 1), ==, W0 + 5 * (HISTORY_KEEP + 39));
	for (uint32_t i = 0; i < HISTORY_KEEP; i++) {
		row("index %u", i);
		CHECK_INT(history_at(h, 0, i)->requests, ==, 40 + i);
		CHECK_INT(history_time(h, i), ==, W0 + 5 * (40 + i));
	}
	CHECK(!history_at(h, 1, 0), "a free column has points");
}

/* A version that comes has nothing before it; one that goes keeps its
 * column, absent from then on, until its last sample ages out. */
static void test_history_version_comes_and_goes(void)
{
	struct history *h = new_history();
	struct history_in two[2] = { at("2.0", 10, 7), at("1.0", 90, 70) };
	struct history_in one = at("1.0", 100, 80);
	int c1, c2;

	CHECK(h, "alloc");
	for (uint32_t i = 0; i < 3; i++)
		CHECK_INT(history_append(h, W0 + 5 * i, &one, 1), ==, 0);
	CHECK_INT(history_append(h, W0 + 15, two, 2), ==, 0);
	CHECK_INT(history_append(h, W0 + 20, two, 2), ==, 0);
	c1 = col_of(h, "1.0");
	c2 = col_of(h, "2.0");
	CHECK(c1 >= 0 && c2 >= 0 && c1 != c2, "columns %d %d", c1, c2);
	for (uint32_t i = 0; i < 3; i++) {
		row("before 2.0, index %u", i);
		CHECK_INT(history_at(h, c2, i)->weight, ==, HISTORY_ABSENT);
		CHECK(!history_measured(history_at(h, c2, i)), "measured");
		CHECK_INT(history_at(h, c1, i)->weight, ==, 10000);
	}
	CHECK_INT(history_at(h, c2, 3)->weight, ==, 1000);
	CHECK_INT(history_at(h, c2, 4)->requests, ==, 7);
	/* 2.0 goes: its column stays while a sample holds it. */
	for (uint32_t i = 5; i < 4 + HISTORY_KEEP; i++) {
		row("sample %u", i);
		CHECK_INT(history_append(h, W0 + 5 * i, &one, 1), ==, 0);
		CHECK_INT(col_of(h, "2.0"), ==, c2);
		CHECK_INT(history_at(h, c2, history_len(h) - 1)->weight, ==, HISTORY_ABSENT);
	}
	CHECK_INT(history_at(h, c2, 0)->weight, ==, 1000); /* its last sample, the oldest */
	CHECK_INT(history_append(h, W0 + 5 * (4 + HISTORY_KEEP), &one, 1), ==, 0);
	CHECK_INT(col_of(h, "2.0"), ==, -1);
	CHECK_INT(ncols(h), ==, 1);
	CHECK(!history_at(h, c2, 0), "2.0's column still read");
	/* It comes back: a column of its own again, nothing before. */
	CHECK_INT(history_append(h, W0 + 5 * (5 + HISTORY_KEEP), two, 2), ==, 0);
	c2 = col_of(h, "2.0");
	CHECK(c2 >= 0, "no column");
	for (uint32_t i = 0; i < HISTORY_KEEP - 1; i++)
		CHECK_INT(history_at(h, c2, i)->weight, ==, HISTORY_ABSENT);
	CHECK_INT(history_at(h, c2, HISTORY_KEEP - 1)->requests, ==, 7);
}

/* At most HISTORY_COLS versions at once; a new one when all columns are
 * held takes the column of the version gone longest, never one of the
 * sample's own. */
static void test_history_columns_full(void)
{
	static const char *const v[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9" };
	struct history *h = new_history();
	struct history_in in[HISTORY_COLS + 1];

	CHECK(h, "alloc");
	for (uint32_t i = 0; i <= HISTORY_COLS; i++)
		in[i] = at(v[i], 10, i);
	CHECK_INT(history_append(h, W0, in, HISTORY_COLS + 1), ==, -E2BIG);
	CHECK_INT(history_len(h), ==, 0);
	CHECK_INT(history_append(h, W0, in, HISTORY_COLS), ==, 0);
	/* "1" goes, then "2": each leaves its column behind. */
	CHECK_INT(history_append(h, W0 + 5, in + 1, HISTORY_COLS - 1), ==, 0);
	CHECK_INT(history_append(h, W0 + 10, in + 2, HISTORY_COLS - 2), ==, 0);
	CHECK_INT(ncols(h), ==, HISTORY_COLS);
	/* "1" comes back and "9" comes: "1" keeps its own column, though
	 * it went first, and "9" takes "2"'s, the only version gone. */
	in[1] = in[0];
	CHECK_INT(history_append(h, W0 + 15, in + 1, HISTORY_COLS), ==, 0);
	CHECK_INT(ncols(h), ==, HISTORY_COLS);
	CHECK(col_of(h, "1") >= 0 && col_of(h, "9") >= 0, "1 or 9 has no column");
	CHECK_INT(col_of(h, "2"), ==, -1);
	CHECK_INT(history_at(h, col_of(h, "1"), 0)->requests, ==, 0);
	CHECK_INT(history_at(h, col_of(h, "1"), 1)->weight, ==, HISTORY_ABSENT);
	CHECK_INT(history_at(h, col_of(h, "9"), 0)->weight, ==, HISTORY_ABSENT);
	CHECK_INT(history_at(h, col_of(h, "9"), 3)->requests, ==, 8);
	/* A version given twice takes one column. */
	in[0] = at("x", 50, 1);
	in[1] = at("x", 50, 2);
	CHECK_INT(history_append(h, W0 + 20, in, 2), ==, 0);
	CHECK_INT(history_at(h, col_of(h, "x"), 4)->requests, ==, 2);
	for (int c = 0, n = 0; c < HISTORY_COLS; c++)
		CHECK_INT(n += !strcmp(h->col[c].version, "x"), <=, 1);
}

/* since: the samples after it, by binary search over increasing times;
 * a wall clock set back does not make a time repeat. */
static void test_history_since(void)
{
	struct history *h = new_history();
	struct history_in in = at("1.0", 100, 1);
	static const struct {
		int64_t since;
		uint32_t want;
	} t[] = {
		{ -1, 0 },	   { 0, 0 },	      { W0 - 1, 0 },	     { W0, 1 },
		{ W0 + 4, 1 },	   { W0 + 5, 2 },     { W0 + 5 * 9 - 1, 9 }, { W0 + 5 * 9, 10 },
		{ W0 + 1000, 10 }, { INT64_MAX, 10 },
	};

	CHECK(h, "alloc");
	for (uint32_t i = 0; i < 10; i++)
		CHECK_INT(history_append(h, W0 + 5 * i, &in, 1), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("since %lld", (long long)t[i].since);
		CHECK_INT(history_after(h, t[i].since), ==, t[i].want);
	}
	/* Set back an hour, then the same second twice. */
	CHECK_INT(history_append(h, W0 - 3600, &in, 1), ==, 0);
	CHECK_INT(history_append(h, W0 - 3600, &in, 1), ==, 0);
	CHECK_INT(history_time(h, 10), ==, W0 + 5 * 9 + 1);
	CHECK_INT(history_time(h, 11), ==, W0 + 5 * 9 + 2);
	CHECK_INT(history_after(h, W0 + 5 * 9 + 1), ==, 11);
}

/* The memory is fixed: what HISTORY_KEEP samples of HISTORY_COLS
 * versions take, however long it runs (docs/watching.md says how much). */
static void test_history_bounded(void)
{
	struct history *h = new_history();
	struct history_in in[2] = { at("1.0", 50, 1), at("2.0", 50, 2) };

	CHECK(h, "alloc");
	CHECK_INT(sizeof(struct history_point), ==, 32);
	CHECK_INT(sizeof(struct history), <=, 96 * 1024);
	for (uint32_t i = 0; i < 10 * HISTORY_KEEP; i++)
		CHECK_INT(history_append(h, W0 + 5 * i, in, 2), ==, 0);
	CHECK_INT(history_len(h), ==, HISTORY_KEEP);
	CHECK_INT(ncols(h), ==, 2);
}

static json_t *ver(json_t *j, const char *v, const char *field)
{
	return json_object_get(json_object_get(json_object_get(j, "versions"), v), field);
}

/* Random samples of random subsets of 12 versions, checked after each
 * append against what was appended: a version's column holds exactly its
 * points since the column was taken, absent before; every column has a
 * point in a sample held; times increase; the size stays bounded. */
static void test_history_random(void)
{
	enum { NV = 12, NS = 3 * HISTORY_KEEP };
	static const char *const names[NV] = { "1", "2", "3", "4",  "5",  "6",
					       "7", "8", "9", "10", "11", "12" };
	static uint16_t present[NS]; /* bit v: version v in sample s */
	struct history *h = new_history();
	struct history_in in[HISTORY_COLS];
	uint64_t taken[NV] = { 0 };
	unsigned int seed = 17;

	CHECK(h, "alloc");
	for (uint32_t s = 0; s < NS; s++) {
		uint32_t n = 0;
		int had[NV];

		/* Mostly the same few versions, now and then others; in
		 * the middle third only the first 4, so that the others'
		 * columns age out (the other thirds have columns taken
		 * from versions gone). */
		present[s] = s ? present[s - 1] : 3;
		present[s] ^= 1U << (rand_r(&seed) % (rand_r(&seed) % 4 ? 4 : NV));
		if (s >= NS / 3 && s < 2 * NS / 3)
			present[s] &= 0xf;
		for (uint32_t v = 0; v < NV; v++)
			if ((present[s] & (1U << v)) && n < HISTORY_COLS)
				in[n++] = at(names[v], 10, s * 16 + v);
			else
				present[s] &= ~(1U << v);
		for (uint32_t v = 0; v < NV; v++)
			had[v] = col_of(h, names[v]);
		CHECK_INT(history_append(h, W0 + 5 * s - (s % 7 == 3 ? 60 : 0), in, n), ==, 0);
		for (uint32_t v = 0; v < NV; v++)
			if ((present[s] & (1U << v)) && had[v] < 0)
				taken[v] = s;
		for (uint32_t v = 0; v < NV; v++) {
			int c = col_of(h, names[v]);
			uint64_t oldest = h->count - history_len(h);
			bool any = false;

			row("sample %u, version %s", s, names[v]);
			CHECK(c >= 0 || !(present[s] & (1U << v)), "no column");
			if (c < 0)
				continue;
			for (uint32_t i = 0; i < history_len(h); i++) {
				const struct history_point *p = history_at(h, c, i);
				uint64_t seq = oldest + i;

				if (seq >= taken[v] && (present[seq] & (1U << v))) {
					CHECK_INT(p->requests, ==, seq * 16 + v);
					any = true;
				} else {
					CHECK_INT(p->weight, ==, HISTORY_ABSENT);
				}
			}
			CHECK(any, "a column with no point held");
		}
		for (uint32_t i = 1; i < history_len(h); i++)
			CHECK_INT(history_time(h, i), >, history_time(h, i - 1));
		CHECK_INT(ncols(h), <=, HISTORY_COLS);
	}
}

/* The API's columns: as long as "time", null where the version was not
 * there or measured nothing; rates from the counts; newest version first. */
static void test_history_view(void)
{
	struct history *h = new_history();
	struct history_in in[2] = { at("1.0", 100, 50), at("10.0", 0, 0) };
	json_t *j;

	CHECK(h, "alloc");
	in[0].p.seconds = 0; /* no whole window yet */
	CHECK_INT(history_append(h, W0, in, 1), ==, 0);
	in[0] = at("1.0", 75, 50);
	in[0].p.errors = 5;
	in[1] = at("10.0", 25, 0);
	in[1].p.open = HISTORY_UNKNOWN;
	CHECK_INT(history_append(h, W0 + 5, in, 2), ==, 0);
	in[0].p.seconds = 4;
	CHECK_INT(history_append(h, W0 + 9, in, 1), ==, 0);
	j = views_history_json(h, -1);
	CHECK(j, "no view");
	defer((void (*)(void *))json_decref, j);
	CHECK_STR(json_string_value(json_object_get(j, "service")), "web");
	CHECK_INT(json_integer_value(json_object_get(j, "interval")), ==, RECENT_SECONDS);
	CHECK_INT(json_integer_value(json_object_get(j, "keep")), ==, HISTORY_KEEP);
	CHECK_INT(json_array_size(json_object_get(j, "time")), ==, 3);
	CHECK_INT(json_integer_value(json_array_get(json_object_get(j, "time"), 2)), ==, W0 + 9);
	/* Newest first: "10.0" before "1.0" (not as strings). */
	CHECK_STR(json_object_iter_key(json_object_iter(json_object_get(j, "versions"))), "10.0");
	static const char *const fields[] = {
		"weight",	"requestsPerSecond", "latencyP50Ms",
		"latencyP99Ms", "errorRate",	     "openConnections"
	};
	for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
		row("%s", fields[f]);
		CHECK_INT(json_array_size(ver(j, "1.0", fields[f])), ==, 3);
		CHECK_INT(json_array_size(ver(j, "10.0", fields[f])), ==, 3);
		/* 10.0 was not there at W0 nor at W0 + 9. */
		CHECK(json_is_null(json_array_get(ver(j, "10.0", fields[f]), 0)), "10.0 at W0");
		CHECK(json_is_null(json_array_get(ver(j, "10.0", fields[f]), 2)), "10.0 at W0+9");
	}
	/* 1.0's first sample: its weight and connections, nothing measured. */
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "weight"), 0)) == 100, "weight");
	CHECK_INT(json_integer_value(json_array_get(ver(j, "1.0", "openConnections"), 0)), ==, 1);
	CHECK(json_is_null(json_array_get(ver(j, "1.0", "requestsPerSecond"), 0)), "rps");
	CHECK(json_is_null(json_array_get(ver(j, "1.0", "errorRate"), 0)), "error rate");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "weight"), 1)) == 75, "weight 75");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "requestsPerSecond"), 1)) == 10, "10/s");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "requestsPerSecond"), 2)) == 12.5,
	      "50 in 4 s");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "errorRate"), 1)) == 0.1, "5 of 50");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "latencyP50Ms"), 1)) == 1.5, "p50");
	CHECK(json_real_value(json_array_get(ver(j, "1.0", "latencyP99Ms"), 1)) == 9, "p99");
	/* 10.0 measured a window with no request: 0/s, and no latency nor
	 * error rate; its connections were not counted. */
	CHECK(json_real_value(json_array_get(ver(j, "10.0", "requestsPerSecond"), 1)) == 0, "0/s");
	CHECK(json_is_null(json_array_get(ver(j, "10.0", "latencyP50Ms"), 1)), "p50 of none");
	CHECK(json_is_null(json_array_get(ver(j, "10.0", "errorRate"), 1)), "rate of none");
	CHECK(json_is_null(json_array_get(ver(j, "10.0", "openConnections"), 1)), "open");
	/* since: the newer samples, every version's arrays as long. */
	j = views_history_json(h, W0 + 5);
	defer((void (*)(void *))json_decref, j);
	CHECK_INT(json_array_size(json_object_get(j, "time")), ==, 1);
	CHECK_INT(json_array_size(ver(j, "10.0", "weight")), ==, 1);
	j = views_history_json(h, W0 + 9);
	defer((void (*)(void *))json_decref, j);
	CHECK_INT(json_array_size(json_object_get(j, "time")), ==, 0);
	CHECK_INT(json_array_size(ver(j, "1.0", "weight")), ==, 0);
}

/* The controller: a sample at each roll of the last windows (not at
 * other ticks), at the wall clock's time; snap_history() copies it under
 * the lock; a service deleted takes its history with it. */
static void test_history_ctl_samples(void)
{
	struct fixture *f = new_fixture();
	struct history *h = new_history();
	struct vs_err err = {};

	CHECK(f && h, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_INT(snap_history(f->c, "web", h, &err), ==, 0);
	CHECK_INT(history_len(h), ==, 0);
	CHECK_STR(h->service, "web");
	recent_tick(&f->c->recent, f->dp, f->c->m, 100, W0);
	fake_dp_answered(f->dp, 0, 40);
	recent_tick(&f->c->recent, f->dp, f->c->m, 103, W0 + 3); /* not due */
	recent_tick(&f->c->recent, f->dp, f->c->m, 105, W0 + 5);
	CHECK_INT(snap_history(f->c, "web", h, &err), ==, 0);
	CHECK_INT(history_len(h), ==, 2);
	CHECK_INT(history_time(h, 1), ==, W0 + 5);
	CHECK_INT(history_at(h, col_of(h, "1.0"), 0)->seconds, ==, 0);
	CHECK_INT(history_at(h, col_of(h, "1.0"), 1)->seconds, ==, 5);
	CHECK_INT(history_at(h, col_of(h, "1.0"), 1)->requests, ==, 40);
	CHECK_INT(history_at(h, col_of(h, "1.0"), 1)->weight, ==, 10000);
	CHECK_INT(history_at(h, col_of(h, "2.0"), 1)->weight, ==, 0);
	/* The fake measures no latency: none rather than 0 ms. */
	CHECK(history_at(h, col_of(h, "1.0"), 1)->p50_ms < 0, "p50 of an empty histogram");
	CHECK_INT(snap_history(f->c, "nope", h, &err), ==, -ENOENT);
	CHECK_ERR(-ENOENT, &err, -ENOENT, 404, "unknown_service");
	/* A path's name is any bytes: the message must stay UTF-8. */
	CHECK_INT(snap_history(f->c, "w\xff\xc3", h, &err), ==, -ENOENT);
	CHECK_HAS(err.msg, "'w?"
			   "?'");
	CHECK_INT(ctl_del_service(f->c, "web", true, &err), ==, 0);
	CHECK(!recent_history(&f->c->recent, 0), "a deleted service's history kept");
}

/* --no-watch: nothing measured, but the samples come all the same, at
 * the same times: weights and open connections are worth a chart. */
static void test_history_ctl_no_watch(void)
{
	struct fixture *f = new_fixture();
	struct history *h = new_history();
	struct vs_err err = {};
	int c1;

	CHECK(f && h, "fixture");
	fake_dp_free(f->dp);
	f->dp = fake_dp_new(false);
	listen_web(f, false);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	fake_dp_answered(f->dp, 0, 40);
	recent_tick(&f->c->recent, f->dp, f->c->m, 100, W0);
	recent_tick(&f->c->recent, f->dp, f->c->m, 104, W0 + 4);
	recent_tick(&f->c->recent, f->dp, f->c->m, 105, W0 + 5);
	fake_dp_answered(f->dp, 0, 80);
	recent_tick(&f->c->recent, f->dp, f->c->m, 110, W0 + 10);
	CHECK_INT(snap_history(f->c, "web", h, &err), ==, 0);
	CHECK_INT(history_len(h), ==, 3);
	CHECK_INT(history_time(h, 2), ==, W0 + 10);
	c1 = col_of(h, "1.0");
	CHECK(c1 >= 0, "no column for 1.0");
	for (uint32_t i = 0; i < 3; i++) {
		row("sample %u", i);
		CHECK_INT(history_at(h, c1, i)->weight, ==, 10000);
		CHECK_INT(history_at(h, c1, i)->open, ==, 0);
		CHECK(!history_measured(history_at(h, c1, i)), "measured without metering");
	}
}

const struct unit_case history_cases[] = {
	TEST(test_history_wraps),	 TEST(test_history_version_comes_and_goes),
	TEST(test_history_columns_full), TEST(test_history_since),
	TEST(test_history_bounded),	 TEST(test_history_random),
	TEST(test_history_view),	 TEST(test_history_ctl_samples),
	TEST(test_history_ctl_no_watch), { NULL, NULL },
};
