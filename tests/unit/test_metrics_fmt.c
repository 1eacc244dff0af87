// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Prometheus text format's pieces (api/metrics_fmt): label escaping
 * and its cut, HELP and TYPE, samples with and without labels, the
 * shortest number that reads back, histograms from the fine buckets with
 * the sum given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics_fmt.h"
#include "lib/compiler.h"

#include "harness.h"

/* What fn wrote, as a string the harness frees. */
#define CAPTURE(out, call)                               \
	do {                                             \
		size_t len_ = 0;                         \
		FILE *f = open_memstream(&(out), &len_); \
		CHECK(f != NULL, "open_memstream");      \
		call;                                    \
		fclose(f);                               \
		track(out);                              \
	} while (0)

static void test_metrics_fmt_escape(void)
{
	char out[64], small[6];

	metrics_fmt_escape(out, sizeof(out), "a\\b\"c\nd");
	CHECK_STR(out, "a\\\\b\\\"c\\nd");
	/* 5 bytes of room: "ab" and an escape of 2 fit, the next one not. */
	metrics_fmt_escape(small, sizeof(small), "ab\"\"x");
	CHECK_STR(small, "ab\\\"");
	metrics_fmt_escape(small, sizeof(small), "abcdefgh");
	CHECK_STR(small, "abcde");
	metrics_fmt_escape(small, 0, "x"); /* nothing written, no crash */
}

static void test_metrics_fmt_samples(void)
{
	char *out = NULL;

	CAPTURE(out, metrics_fmt_family(f, "vsteer_x_total", "counter", "Things."));
	CHECK_STR(out, "# HELP vsteer_x_total Things.\n# TYPE vsteer_x_total counter\n");
	CAPTURE(out, metrics_fmt_sample(f, "m", NULL, NULL, NULL, 7));
	CHECK_STR(out, "m 7\n");
	CAPTURE(out, metrics_fmt_sample(f, "m", NULL, NULL, "a=\"1\"", 7));
	CHECK_STR(out, "m{a=\"1\"} 7\n");
	CAPTURE(out, metrics_fmt_sample(f, "m", "we\"b", "2.0", NULL, 18446744073709551615ULL));
	CHECK_STR(out, "m{service=\"we\\\"b\",version=\"2.0\"} 18446744073709551615\n");
	CAPTURE(out, metrics_fmt_sample(f, "m", "web", NULL, "code=\"5xx\"", 0));
	CHECK_STR(out, "m{service=\"web\",code=\"5xx\"} 0\n");
	CAPTURE(out, metrics_fmt_sample_f(f, "w", "web", "2.0", NULL, 2500 / 10000.0));
	CHECK_STR(out, "w{service=\"web\",version=\"2.0\"} 0.25\n");
	/* 5463364 ns in seconds: 0.005463364, not 0.0054633640000000001. */
	CAPTURE(out, metrics_fmt_sample_f(f, "s", NULL, NULL, NULL, 5463364 * 1e-9));
	CHECK_STR(out, "s 0.005463364\n");
	CAPTURE(out, metrics_fmt_sample_f(f, "s", NULL, NULL, NULL, 0.1 + 0.2));
	CHECK(strtod(out + 2, NULL) == 0.1 + 0.2, "%s reads back", out);
}

static void test_metrics_fmt_hist(void)
{
	static const double les[] = { 0.001, 0.01, 0.05, 1e7 };
	static const struct metrics_fmt_hist spec = { "d", les, ARRAY_SIZE(les), 1e-9 };
	struct hist *h = tcalloc(sizeof(*h));
	char *out = NULL;

	/* 0.9 ms: its bucket [851968, 917504) ns lies below 1 ms. 20 ms: its
	 * bucket [18874368, 20971520) ns lies above 10 ms, below 50 ms. */
	h->b[vs_hbucket(900000)] = 2;
	h->b[vs_hbucket(20000000)] = 3;
	CAPTURE(out, metrics_fmt_hist(f, &spec, "web", "2.0", h, 2 * 900000 + 3 * 20000000));
	CHECK_STR(out, "d_bucket{service=\"web\",version=\"2.0\",le=\"0.001\"} 2\n"
		       "d_bucket{service=\"web\",version=\"2.0\",le=\"0.01\"} 2\n"
		       "d_bucket{service=\"web\",version=\"2.0\",le=\"0.05\"} 5\n"
		       "d_bucket{service=\"web\",version=\"2.0\",le=\"10000000\"} 5\n"
		       "d_bucket{service=\"web\",version=\"2.0\",le=\"+Inf\"} 5\n"
		       "d_sum{service=\"web\",version=\"2.0\"} 0.0618\n"
		       "d_count{service=\"web\",version=\"2.0\"} 5\n");
	/* Bytes: the sum as the whole number it is. */
	CAPTURE(out, metrics_fmt_hist(f, &(struct metrics_fmt_hist){ "s", les, 0, 1 }, "web", NULL,
				      h, 123456789012ULL));
	CHECK_STR(out, "s_bucket{service=\"web\",le=\"+Inf\"} 5\n"
		       "s_sum{service=\"web\"} 123456789012\n"
		       "s_count{service=\"web\"} 5\n");
}

const struct unit_case metrics_fmt_cases[] = { TEST(test_metrics_fmt_escape),
					       TEST(test_metrics_fmt_samples),
					       TEST(test_metrics_fmt_hist),
					       { NULL, NULL } };
