// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/cli: vsteerctl's argument parsers (durations, weights, steps,
 * analysis, servers: each error names the argument), how a rollout's
 * outcome is read, and that a hostile API reply (missing fields, wrong
 * types, control characters) renders without a crash or a terminal escape.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "lib/compiler.h"
#include "cli/cli.h"
#include "cli/get.h"
#include "cli/json.h"
#include "cli/http.h"
#include "cli/status.h"
#include "cli/watch.h"

#include "harness.h"

static void json_free(void *arg)
{
	json_decref(arg);
}

static json_t *tjson(json_t *j)
{
	defer(json_free, j);
	return j;
}

static void test_cli_duration(void)
{
	static const struct {
		const char *in;
		int ret;
		int64_t secs;
	} cases[] = {
		{ "90", 0, 90 },
		{ "90s", 0, 90 },
		{ "10m", 0, 600 },
		{ "1h30m", 0, 5400 },
		{ "2d", 0, 172800 },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "m", -EINVAL, 0 },
		{ "10x", -EINVAL, 0 },
		{ "-5", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },
		{ "5 m", -EINVAL, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "4000d", -ERANGE, 0 },
	};
	char err[CLI_ERR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t s = -1;
		int ret = cli_parse_duration(cases[i].in, &s, err);

		CHECK(ret == cases[i].ret, "'%s': %d", cases[i].in, ret);
		if (!ret)
			CHECK_INT(s, ==, cases[i].secs);
		else
			CHECK_HAS(err, "duration '");
	}
	/* a decimal is not a unit's fault */
	CHECK_INT(cli_parse_duration("1.5m", &(int64_t){ 0 }, err), ==, -EINVAL);
	CHECK_HAS(err, "a whole number of s, m, h or d");
}

static void test_cli_weights(void)
{
	json_t *obj = tjson(json_object());
	char err[CLI_ERR_LEN];

	CHECK_INT(cli_parse_weight("2.0=25", obj, err), ==, 0);
	CHECK_INT(cli_parse_weight("1.0=74.75", obj, err), ==, 0);
	CHECK(json_real_value(json_object_get(obj, "1.0")) == 74.75, "74.75");
	CHECK_INT(cli_parse_weight("2.0=5", obj, err), ==, -EINVAL);
	CHECK_HAS(err, "named twice");
	CHECK_INT(cli_parse_weight("3.0=101", obj, err), ==, -EINVAL);
	CHECK_HAS(err, "weight '3.0=101'");
	CHECK_INT(cli_parse_weight("3.0=1.005", obj, err), ==, -EINVAL);
	CHECK_HAS(err, "two decimals");
	CHECK_INT(cli_parse_weight("=5", obj, err), ==, -EINVAL);
	CHECK_INT(cli_parse_weight("3.0", obj, err), ==, -EINVAL);
	CHECK_INT(cli_parse_weight("3.0=", obj, err), ==, -EINVAL);
	CHECK_INT(cli_parse_weight("3.0=nan", obj, err), ==, -EINVAL);
	CHECK_INT(cli_parse_weight("3.0=-1", obj, err), ==, -EINVAL);
	CHECK_INT(cli_parse_weight("a/b=5", obj, err), ==, -EINVAL);
	/* decimal numbers only, as the API: not what strtod also reads */
	static const char *const notdec[] = { "4.0=0x64", "4.0=1e2",   "4.0=inf", "4.0=nan",
					      "4.0=1.",	  "4.0= 5",    "4.0=5 ",  "4.0=+5",
					      "4.0=5%%",  "4.0=0x1p3", "4.0=%" };

	for (size_t i = 0; i < ARRAY_SIZE(notdec); i++) {
		CHECK(cli_parse_weight(notdec[i], obj, err) == -EINVAL, "%s accepted", notdec[i]);
		CHECK_HAS(err, "a decimal number");
	}
	CHECK_INT(cli_parse_weight("4.0=100%", obj, err), ==, 0);
	CHECK(json_real_value(json_object_get(obj, "4.0")) == 100, "100%%");
	json_object_del(obj, "4.0");
	/* what the terminal shows of a hostile argument is printable */
	CHECK_INT(cli_parse_weight("\033[2J=5", obj, err), ==, -EINVAL);
	CHECK(!strchr(err, '\033'), "escape in '%s'", err);
	CHECK_INT(json_object_size(obj), ==, 2);
}

static void test_cli_steps(void)
{
	char err[CLI_ERR_LEN], *s;
	json_t *steps;

	CHECK_INT(cli_parse_steps("10,50,100", 600, &steps, err), ==, 0);
	tjson(steps);
	s = track(json_dumps(steps, JSON_COMPACT));
	CHECK_STR(s, "[{\"weight\":10.0,\"hold\":600},{\"weight\":50.0,\"hold\":600},"
		     "{\"weight\":100.0}]");
	CHECK_INT(cli_parse_steps("25,100", -1, &steps, err), ==, 0);
	tjson(steps);
	s = track(json_dumps(steps, JSON_COMPACT));
	CHECK_STR(s, "[{\"weight\":25.0},{\"weight\":100.0}]");
	CHECK_INT(cli_parse_steps("50,10", -1, &steps, err), ==, -EINVAL);
	CHECK_HAS(err, "--steps '50,10'");
	CHECK_INT(cli_parse_steps("", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("10,,100", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("10,", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("10,x", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("0,100", -1, &steps, err), ==, -EINVAL);
	CHECK_HAS(err, "a step's weight is more than 0");
	CHECK_INT(cli_parse_steps("0x0a,1e2", -1, &steps, err), ==, -EINVAL);
	CHECK_HAS(err, "a decimal number");
	CHECK_INT(cli_parse_steps("10,1e2", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("10%,100%", -1, &steps, err), ==, 0);
	tjson(steps);
	/* a JSON list, as the API takes it (deploy.sh's -S) */
	CHECK_INT(cli_parse_steps("[{\"weight\": 5, \"hold\": 600}, {\"weight\": 100}]", -1, &steps,
				  err),
		  ==, 0);
	tjson(steps);
	CHECK_INT(json_array_size(steps), ==, 2);
	CHECK_INT(cli_parse_steps("[{\"weight\": 5}]", 60, &steps, err), ==, -EINVAL);
	CHECK_HAS(err, "no --hold");
	CHECK_INT(cli_parse_steps("[5, 100]", -1, &steps, err), ==, -EINVAL);
	CHECK_INT(cli_parse_steps("[{]", -1, &steps, err), ==, -EINVAL);
}

static void test_cli_analysis(void)
{
	char err[CLI_ERR_LEN], path[] = "/tmp/vsteer-cli-XXXXXX", *s;
	json_t *a;
	int fd;

	CHECK_INT(cli_parse_analysis("interval=5,failureLimit=3,maxErrorRate=0.05,"
				     "onInconclusive=advance,maxLatencyP99Ms=null",
				     &a, err),
		  ==, 0);
	tjson(a);
	s = track(json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS));
	CHECK_STR(s, "{\"failureLimit\":3,\"interval\":5,\"maxErrorRate\":0.050000000000000003,"
		     "\"maxLatencyP99Ms\":null,\"onInconclusive\":\"advance\"}");
	CHECK_INT(cli_parse_analysis("none", &a, err), ==, 0);
	CHECK(json_is_false(a), "none is false");
	CHECK_INT(cli_parse_analysis("interval", &a, err), ==, -EINVAL);
	CHECK_HAS(err, "--analysis 'interval'");
	CHECK_INT(cli_parse_analysis("a-b=1", &a, err), ==, -EINVAL);
	CHECK_INT(cli_parse_analysis("{\"interval\": 1}", &a, err), ==, 0);
	tjson(a);
	CHECK_INT(json_integer_value(json_object_get(a, "interval")), ==, 1);
	CHECK_INT(cli_parse_analysis("{\"interval\": ", &a, err), ==, -EINVAL);
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	CHECK_INT(write(fd, "{\"interval\": 2}", 15), ==, 15);
	close(fd);
	CHECK_INT(cli_parse_analysis(path, &a, err), ==, 0);
	tjson(a);
	CHECK_INT(json_integer_value(json_object_get(a, "interval")), ==, 2);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK_INT(write(fd, "[1]", 3), ==, 3);
	close(fd);
	CHECK_INT(cli_parse_analysis(path, &a, err), ==, -EINVAL);
	CHECK_HAS(err, "not a JSON object");
	unlink(path);
}

static void test_cli_servers(void)
{
	static const char *const good[] = { "127.0.0.1:9002", "[::1]:80", "10.0.0.1:65535" };
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:0",	"127.0.0.1:65536",
					   "host:80",	"::1:80",	"[::1]",
					   "[]:80",	"127.0.0.1:8x", ":80",
					   "1.2.3.4:-1" };
	char err[CLI_ERR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(cli_parse_server(good[i], err) == 0, "%s: %s", good[i], err);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(cli_parse_server(bad[i], err) == -EINVAL, "%s accepted", bad[i]);
		CHECK_HAS(err, "server '");
	}
}

static void test_cli_outcome(void)
{
	json_t *ro = tjson(json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "phase", "rolled_back",
				     "history", "kind", "auto_rollback", "message",
				     "2.0 rolled back to 1.0: error rate 100%", "kind", "started",
				     "message", "x"));
	char why[256];

	CHECK_INT(cli_status_outcome(ro, why, sizeof(why)), ==, CLI_EXIT_FAILED);
	CHECK_STR(why, "auto_rollback: 2.0 rolled back to 1.0: error rate 100%");
	json_object_set_new(ro, "phase", json_string("completed"));
	CHECK_INT(cli_status_outcome(ro, why, sizeof(why)), ==, CLI_EXIT_OK);
	json_object_set_new(ro, "phase", json_string("paused"));
	CHECK_INT(cli_status_outcome(ro, why, sizeof(why)), ==, -1);
	/* an aborted rollout whose history is not a list still has a reason */
	json_object_set_new(ro, "phase", json_string("aborted"));
	json_object_set_new(ro, "history", json_string("oops"));
	CHECK_INT(cli_status_outcome(ro, why, sizeof(why)), ==, CLI_EXIT_FAILED);
	CHECK_STR(why, "aborted");
	CHECK_INT(cli_status_outcome(NULL, why, sizeof(why)), ==, -1);
}

/* A reply with every field of the wrong type, and escapes in names: a
 * frame still comes out, printable, each line within the width. */
static void test_cli_hostile_frame(void)
{
	static const char *const replies[] = {
		"{}",
		"{\"name\": 5, \"rollout\": [], \"versions\": {}}",
		"{\"name\": \"\\u001b[2Jx\", \"rollout\": {\"weight\": 1e308, \"to\": {}, "
		"\"step\": \"a\", \"nextStepAt\": -1e300}, \"versions\": [1, null, "
		"{\"version\": \"\\u001b]0;pwned\\u0007\", \"weight\": \"x\", \"lastWindow\": "
		"{\"seconds\": 0, \"requests\": -5}}, {\"lastWindow\": {\"seconds\": 5, "
		"\"requests\": 1e300, \"errorRate\": \"x\"}}]}",

		/* fuzz_cli: a step past INT_MAX was cast to an int */
		"{\"name\": \"d\", \"rollout\": {\"phase\": \"progressing\", \"step\": 3593225678, "
		"\"stepsTotal\": -1e300}, \"versions\": [{\"openConnections\": 1e300}], "
		"\"port\": 1e19}",
	};
	json_t *recent = tjson(json_pack("[{s:s, s:i}, i]", "kind", "\033[31m", "id", 3, 7));
	char *frame = tcalloc(16384), line[512];

	for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
		json_t *svc = tjson(json_loads(replies[i], 0, NULL));

		CHECK(svc, "reply %zu parses", i);
		cli_watch_frame(svc, recent, 60, 0, frame, 16384);
		CHECK(!strchr(frame, '\033') && !strchr(frame, '\a'), "escape in frame %zu", i);
		for (char *p = frame, *nl; (nl = strchr(p, '\n')); p = nl + 1)
			CHECK(nl - p <= 60, "line over 60: %.*s", (int)(nl - p), p);
		CHECK_HAS(frame, "last events:");
		cli_rollout_line(json_object_get(svc, "rollout"), line, sizeof(line));
		CHECK(!strchr(line, 0x1b), "escape in %s", line);
	}
}

/* Whole numbers from a reply: any number, a fraction cut off, held
 * within 2^53 either way (a cast of more is undefined), dflt for what is
 * not a number. */
static void test_cli_jint(void)
{
	json_t *j = tjson(json_loads("{\"a\": 3593225678, \"b\": 1e300, \"c\": -1e300, "
				     "\"d\": 2.9, \"e\": \"7\", \"f\": null}",
				     0, NULL));

	CHECK_INT(cli_jint(j, "a", 0), ==, 3593225678LL);
	CHECK_INT(cli_jint(j, "b", 0), ==, CLI_JINT_MAX);
	CHECK_INT(cli_jint(j, "c", 0), ==, -CLI_JINT_MAX);
	CHECK_INT(cli_jint(j, "d", 0), ==, 2);
	CHECK_INT(cli_jint(j, "e", -1), ==, -1);
	CHECK_INT(cli_jint(j, "f", -1), ==, -1);
	CHECK_INT(cli_jint(j, "nope", 5), ==, 5);
}

/* A frame on a small terminal never scrolls: at most rows lines, none
 * wider than cols, a cut one ending "...", the events given up first,
 * then the versions but the target's; the header (phase and step) and
 * the target's bar always there. */
static void test_cli_small_frame(void)
{
	static const struct {
		int cols, rows;
	} sizes[] = { { 99, 10 }, { 39, 15 }, { 29, 8 }, { 39, 4 }, { 99, 30 } };
	json_t *svc = tjson(json_loads(
		"{\"name\": \"default\", \"rollout\": {\"from\": \"1.0\", \"to\": \"2.0\", "
		"\"strategy\": \"gradual\", \"phase\": \"progressing\", \"step\": 2, "
		"\"stepsTotal\": 4, \"weight\": 40}, \"versions\": ["
		"{\"version\": \"2.0\", \"weight\": 40, \"lastWindow\": {\"seconds\": 5, "
		"\"requests\": 500, \"latencyP50Ms\": 0.12, \"latencyP99Ms\": 1.5, \"errorRate\": 0}},"
		"{\"version\": \"1.0\", \"weight\": 60}, {\"version\": \"0.9\", \"weight\": 0}]}",
		0, NULL));
	json_t *recent = tjson(json_array());
	char *frame = tcalloc(16384);

	for (int i = 0; i < 5; i++)
		json_array_append_new(
			recent,
			json_pack("{s:s, s:s, s:s}", "time", "2026-12-07T03:07:18Z", "kind", "step",
				  "message",
				  i == 4 ? "the newest, a long message "
					   "that goes on past a hundred columns to be cut at "
					   "the width of the terminal" :
					   "older"));
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		int cols = sizes[k].cols, rows = sizes[k].rows, n = 0;

		cli_watch_frame(svc, recent, cols, rows, frame, 16384);
		for (char *p = frame, *nl; (nl = strchr(p, '\n')); p = nl + 1, n++) {
			CHECK(nl - p <= cols, "%dx%d: line over %d: %.*s", cols, rows, cols,
			      (int)(nl - p), p);
			if (!strncmp(p, "  03:07:18 step: the newest", 27))
				CHECK(!strncmp(nl - 3, "...", 3), "%dx%d: cut without ...: %.*s",
				      cols, rows, (int)(nl - p), p);
		}
		CHECK(n <= rows, "%dx%d: %d lines:\n%s", cols, rows, n, frame);
		CHECK(!strncmp(frame, "default: ", 9) &&
			      (strstr(frame, "progressing, step 2 of 4") ||
			       strstr(frame, "progressing 2/4")),
		      "%dx%d: header:\n%s", cols, rows, frame);
		CHECK(strstr(frame, "\n2.0      [#"), "%dx%d: no bar:\n%s", cols, rows, frame);
		if (rows >= 8 && cols >= 39)
			CHECK(strstr(frame, "P99") && strstr(frame, "ERR"), "%dx%d: columns:\n%s",
			      cols, rows, frame);
		if (rows >= 30)
			CHECK(strstr(frame, "0.9") && strstr(frame, "the newest") &&
				      strstr(frame, "..."),
			      "%dx%d: all:\n%s", cols, rows, frame);
		if (getenv("SHOW_FRAME"))
			printf("--- %dx%d\n%s", cols, rows, frame);
	}
}

/* The API's words name its body's fields: the flag typed for each. */
static void test_cli_api_hint(void)
{
	static const struct {
		const char *msg, *hint;
	} cases[] = {
		{ "bad_rollout: the session strategy needs sessionTimeout (seconds)",
		  "(--session-timeout)" },
		{ "bad_field: body.sessionTimeout: must be seconds from 0 (no affinity) to 86400",
		  "(--session-timeout)" },
		{ "bad_field: body.upgradeTransition.sessionTimeout: the session mode needs it",
		  "(--session-timeout)" },
		{ "bad_field: body.upgradeTransition.mode: must be one of", "(--mode)" },
		{ "bad_field: body.analysis.interval: must be a whole number from 1 to 3600",
		  "(--analysis interval=...)" },
		{ "unknown_field: body.analysis: no field 'x'", "(--analysis)" },
		{ "bad_rollout: steps[0].weight: must be above 0", "(--steps)" },
		{ "bad_field: query parameter 'since': 99999 is after the newest event, 53; "
		  "follow from since=53",
		  "(--since 53)" },
		{ "bad_field: body.toX: x", NULL },
		{ "already_stable: 2.0 is the stable version", NULL },
		{ "bad_field: body.upgradeTransition.drainDeadline: must be", NULL },
	};
	char hint[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = cli_api_hint(cases[i].msg, hint, sizeof(hint));

		if (!cases[i].hint) {
			CHECK(ret == -ENOENT, "%s: %s", cases[i].msg, hint);
			continue;
		}
		CHECK(ret == 0, "%s: none", cases[i].msg);
		CHECK_STR(hint, cases[i].hint);
	}
}

static void test_cli_escape(void)
{
	char out[32];

	CHECK_INT(cli_api_escape("ab-1.0_~", out, sizeof(out)), ==, 0);
	CHECK_STR(out, "ab-1.0_~");
	CHECK_INT(cli_api_escape("a/b?c d%", out, sizeof(out)), ==, 0);
	CHECK_STR(out, "a%2Fb%3Fc%20d%25");
	CHECK_INT(cli_api_escape("//////////////////", out, 16), ==, -ENAMETOOLONG);
}

const struct unit_case cli_cases[] = {
	TEST(test_cli_duration),      TEST(test_cli_weights), TEST(test_cli_steps),
	TEST(test_cli_analysis),      TEST(test_cli_servers), TEST(test_cli_outcome),
	TEST(test_cli_hostile_frame), TEST(test_cli_escape),  TEST(test_cli_small_frame),
	TEST(test_cli_api_hint),      TEST(test_cli_jint),    { NULL, NULL },
};
