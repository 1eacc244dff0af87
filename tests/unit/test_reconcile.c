// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The precedence rule between the config and what runs (core/reconcile):
 * what runs wins for what exists in both, the config adds what is new,
 * every difference is a note with both values, and nothing moves a
 * client. Each row's "running" side is a config parsed into a model, as
 * a state file would have it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/reconcile.h"

#include "harness.h"
#include "helpers.h"

#define SVC8080 "'address': '127.0.0.1', 'port': 8080"
#define V1	"{'version': '1.0', 'servers': ['127.0.0.1:9001']}"
#define V2	"{'version': '2.0', 'servers': ['127.0.0.1:9002']}"
#define V2_MANUAL                                            \
	"{'version': '2.0', 'servers': ['127.0.0.1:9002'], " \
	"'upgradeTransition': {'mode': 'manual'}}"
#define API8181                                                  \
	"{'name': 'api', 'address': '127.0.0.1', 'port': 8181, " \
	"'protocol': 'http', 'clusters': [{'version': '1.0', 'servers': ['127.0.0.1:9101']}]}"

static void test_reconcile_table(void)
{
	/* clang-format off */
	static const struct {
		const char *what, *run, *cfg;
		uint32_t nsvc, ncl, nnotes;
		const char *weights;  /* of "default" after the merge */
		const char *notes[3]; /* each in one of the notes, in order */
	} t[] = {
		{ "the same: nothing changes",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "]}",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "]}",
		  0, 0, 0, "2.0=10000 1.0=0", {} },
		/* The issue: a rollout made 2.0 stable; a config that still
		 * names 1.0 as the one serving moves nobody back. */
		{ "weights are what runs",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "]}",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2_MANUAL "]}",
		  0, 0, 0, "2.0=10000 1.0=0", {} },
		{ "a new service is added, as the config makes it",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 ", 'services': [" API8181 "]}",
		  1, 1, 0, "1.0=10000", {} },
		{ "a new version of a running service gets 0%, even instant",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "]}",
		  0, 1, 0, "2.0=0 1.0=10000", {} },
		{ "a version of a service without one takes its sessions",
		  "{'proxy': {" SVC8080 "}}",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  0, 1, 0, "1.0=10000", {} },
		{ "a running service the config lacks is kept and named",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 ", 'services': [" API8181 "]}",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  0, 0, 1, "1.0=10000",
		  { "service api runs but is not in the config: kept (DELETE /v1/services/api removes it)" } },
		{ "a running version the config lacks is kept and named",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "]}",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  0, 0, 1, "2.0=10000 1.0=0",
		  { "runs but is not in the config: kept (DELETE /v1/clusters/" } },
		{ "service settings: both values, the running one kept",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  "{'proxy': {'address': '127.0.0.1', 'port': 8081, 'protocol': 'http',"
		  " 'sessions': {'quota': 16}}, 'cluster': " V1 "}",
		  0, 0, 3, "1.0=10000",
		  { "address differs: the config says 127.0.0.1:8081, vsteerd runs 127.0.0.1:8080; kept as it runs (to change it: DELETE /v1/services/default, then POST /v1/services)",
		    "protocol differs: the config says http, vsteerd runs tcp",
		    "sessions.quota differs: the config says 16, vsteerd runs 256" } },
		{ "a session timeout is what the last rollout set: not compared",
		  "{'proxy': {" SVC8080 ", 'sessionTimeout': 30}, 'cluster': " V1 "}",
		  "{'proxy': {" SVC8080 ", 'sessionTimeout': 60}, 'cluster': " V1 "}",
		  0, 0, 0, "1.0=10000", {} },
		{ "cluster settings: servers (in any order), health, owner",
		  "{'proxy': {" SVC8080 "}, 'cluster': {'version': '1.0',"
		  " 'servers': ['127.0.0.1:9001', '127.0.0.1:9003']}}",
		  "{'proxy': {" SVC8080 "}, 'cluster': {'version': '1.0',"
		  " 'servers': ['127.0.0.1:9003', '127.0.0.1:9004'], 'owner': {'uid': 1000},"
		  " 'health': {'path': '/healthz', 'intervalMs': 500, 'timeoutMs': 200}}}",
		  0, 0, 3, "1.0=10000",
		  { "version 1.0: servers differs: the config says 127.0.0.1:9003, 127.0.0.1:9004, vsteerd runs 127.0.0.1:9001, 127.0.0.1:9003; kept as it runs (to change it: DELETE /v1/clusters/",
		    "version 1.0: health differs: the config says GET /healthz every 500 ms (timeout 200 ms, down after 3, up after 2), vsteerd runs none",
		    "version 1.0: owner differs: the config says uid 1000, vsteerd runs none (recorded from its sockets)" } },
		{ "servers in another order are the same",
		  "{'proxy': {" SVC8080 "}, 'cluster': {'version': '1.0',"
		  " 'servers': ['127.0.0.1:9001', '127.0.0.1:9003']}}",
		  "{'proxy': {" SVC8080 "}, 'cluster': {'version': '1.0',"
		  " 'servers': ['127.0.0.1:9003', '127.0.0.1:9001']}}",
		  0, 0, 0, "1.0=10000", {} },
		{ "how a version takes over is not a setting of one that runs",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2_MANUAL "]}",
		  "{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", {'version': '2.0',"
		  " 'servers': ['127.0.0.1:9002'], 'upgradeTransition': {'mode': 'session', 'sessionTimeout': 5}}]}",
		  0, 0, 0, "2.0=0 1.0=10000", {} },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct model *run = new_model(), *cfg = new_model();
		struct reconcile_result *r = tcalloc(sizeof(*r));
		struct config c;
		struct vs_err err = {};
		uint64_t before;
		uint32_t nev;

		row("%s", t[i].what);
		CHECK_INT(cfg_parse(t[i].run, &c, run, &err), ==, 0);
		CHECK_INT(cfg_parse(t[i].cfg, &c, cfg, &err), ==, 0);
		before = run->events.last_id;
		CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
		CHECK_INT(r->nsvc, ==, t[i].nsvc);
		CHECK_INT(r->ncl, ==, t[i].ncl);
		CHECK_INT(r->nnotes, ==, t[i].nnotes);
		CHECK_STR(weights_str(run, model_find_service(run, "default")), t[i].weights);
		/* One event per service and version added and per note. */
		nev = run->events.last_id - before;
		CHECK_INT(nev, ==, t[i].nsvc + t[i].ncl + t[i].nnotes);
		for (size_t n = 0; n < ARRAY_SIZE(t[i].notes) && t[i].notes[n]; n++) {
			CHECK_INT(n, <, r->nnotes);
			CHECK_HAS(r->notes[n].text, t[i].notes[n]);
			CHECK_STR(model_event_nth(run, nev - 1 - t[i].nsvc - t[i].ncl - n)->kind,
				  "config_differs");
		}
	}
}

/* What a new service and a new version look like in the model and its
 * events; a rollout the config started on a new service is mapped to
 * the slots its versions got. */
static void test_reconcile_added(void)
{
	struct model *run = new_model(), *cfg = new_model();
	struct reconcile_result *r = tcalloc(sizeof(*r));
	uint64_t avoid[VS_MAX_SLOTS / 64] = { 1 }; /* slot 0: still has connections */
	struct vs_err err = {};
	struct config c;
	const struct cluster *cl;
	char sum[192];
	int api, s1, s2;

	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 "}, 'cluster': " V1 "}", &c, run, &err), ==, 0);
	/* Free slot 0, as a deleted cluster would. */
	CHECK_INT(model_del_cluster(run, 0, true, &err), ==, 0);
	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "],"
			    " 'services': [{'name': 'api', 'address': '127.0.0.1', 'port': 8181,"
			    "  'sessions': {'quota': 5}, 'sessionTimeout': 9, 'clusters': ["
			    "  {'version': '1.0', 'servers': ['127.0.0.1:9101']},"
			    "  {'version': '2.0', 'servers': ['127.0.0.1:9102'],"
			    "   'upgradeTransition': {'mode': 'Session', 'sessionTimeout': 30}}]}]}",
			    &c, cfg, &err),
		  ==, 0);
	CHECK_INT(reconcile_merge(run, cfg, avoid, T0, r, &err), ==, 0);
	CHECK_INT(r->nsvc, ==, 1);
	CHECK_STR(r->svc[0], "api");
	CHECK_INT(r->ncl, ==, 4);
	api = model_find_service(run, "api");
	CHECK_INT(api, ==, 1);
	CHECK_INT(run->svc[api].sess.quota, ==, 5);
	CHECK_INT(run->svc[api].salt, ==, cfg->svc[1].salt);
	/* The config's session rollout: 2.0 takes new sessions, 1.0 keeps
	 * the active ones; no slot taken where connections are open. */
	s1 = model_find_version(run, api, "1.0");
	s2 = model_find_version(run, api, "2.0");
	CHECK(s1 > 0 && s2 > 0, "slots %d %d", s1, s2);
	CHECK_INT(run->svc[api].ro.phase, ==, cfg->svc[1].ro.phase);
	CHECK_INT(run->svc[api].ro.strategy, ==, RO_SESSION);
	CHECK_INT(run->svc[api].ro.from, ==, s1);
	CHECK_INT(run->svc[api].ro.to, ==, s2);
	CHECK_INT(run->svc[api].session_timeout, ==, 30);
	CHECK_STR(weights_str(run, api), "2.0=10000 1.0=0");
	/* default had no version left: 1.0 takes it whole, 2.0 comes at 0. */
	CHECK_STR(weights_str(run, 0), "2.0=0 1.0=10000");
	cl = &run->cl[model_find_version(run, 0, "2.0")];
	CHECK_INT(cl->mode, ==, CL_MANUAL);
	CHECK_INT(model_find_version(run, 0, "1.0"), !=, 0);
	/* Newest first: default's versions were added first (the config's
	 * order), then api and its versions. */
	CHECK_STR(model_event_nth(run, 0)->kind, "cluster_added");
	CHECK_HAS(model_event_nth(run, 0)->message, "(session, 1 server), with its new service");
	CHECK_STR(model_event_nth(run, 2)->kind, "service_added");
	CHECK_STR(model_event_nth(run, 2)->service, "api");
	CHECK_STR(model_event_nth(run, 2)->message,
		  "service added from the config: 127.0.0.1:8181 (tcp), 2.0 100.00%, 1.0 0.00%");
	CHECK_STR(model_event_nth(run, 3)->service, "default");
	CHECK_HAS(
		model_event_nth(run, 3)->message,
		"(manual, 1 server), at 0%: a reload moves no client (roll it out: POST /v1/services/default/rollout)");
	CHECK_HAS(model_event_nth(run, 4)->message, "taking every new session");
	reconcile_summary(r, sum, sizeof(sum));
	CHECK_STR(sum, "1 service added (api), 4 versions added, 0 differences kept as running");
}

/* A config that cannot be merged is an error naming why; the caller
 * drops the copy it merged into. */
static void test_reconcile_errors(void)
{
	/* clang-format off */
	static const struct {
		const char *what, *run, *cfg;
		int ret, status;
		const char *code, *says;
	} t[] = {
		{ "a new service at a running one's address",
		  "{'services': [{'name': 'web', " SVC8080 "}]}",
		  "{'services': [{'name': 'api', " SVC8080 "}]}",
		  -EEXIST, 409, "duplicate_service", "address 127.0.0.1:8080 is already service 'web'" },
		{ "a new service at a running server's address",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V2 ","
		  " 'services': [{'name': 'api', 'address': '127.0.0.1', 'port': 9001}]}",
		  -EEXIST, 409, "duplicate_server", "address 127.0.0.1:9001 is a server of version 1.0 of service 'default'" },
		{ "a new version whose server a running version has",
		  "{'proxy': {" SVC8080 "}, 'cluster': " V1 "}",
		  "{'proxy': {" SVC8080 "}, 'cluster': {'version': '2.0', 'servers': ['127.0.0.1:9001']}}",
		  -EEXIST, 409, "duplicate_server", "server 127.0.0.1:9001 already belongs to cluster" },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct model *run = new_model(), *cfg = new_model();
		struct reconcile_result *r = tcalloc(sizeof(*r));
		struct vs_err err = {};
		struct config c;

		row("%s", t[i].what);
		CHECK_INT(cfg_parse(t[i].run, &c, run, &err), ==, 0);
		CHECK_INT(cfg_parse(t[i].cfg, &c, cfg, &err), ==, 0);
		CHECK_ERR(reconcile_merge(run, cfg, NULL, T0, r, &err), &err, t[i].ret, t[i].status,
			  t[i].code);
		CHECK_HAS(err.msg, t[i].says);
	}
}

/* More differences than there is room for are counted, and one event
 * says how many more there are. */
static void test_reconcile_many_notes(void)
{
	struct model *run = new_model(), *cfg = new_model();
	struct reconcile_result *r = tcalloc(sizeof(*r));
	struct vs_err err = {};
	char sum[192];
	uint64_t before;

	/* 100 running services the config lacks. */
	for (int i = 0; i < 100; i++) {
		char name[16], addr[32];

		snprintf(name, sizeof(name), "s%d", i);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 10000 + i);
		CHECK_INT(add_svc(run, name, addr, 1, &err), ==, i);
	}
	before = run->events.last_id;
	CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
	CHECK_INT(r->nnotes, ==, 100);
	CHECK_INT(run->events.last_id - before, ==, RECONCILE_MAX_NOTES + 1);
	CHECK_STR(model_event_nth(run, 0)->message,
		  "36 more differences between the config and what runs, not listed");
	CHECK_STR(r->notes[RECONCILE_MAX_NOTES - 1].service, "s63");
	reconcile_summary(r, sum, sizeof(sum));
	CHECK_STR(sum, "0 versions added, 100 differences kept as running (config_differs events)");
}

/* A service's analysis is the config's: a changed one is taken (an
 * analysis_set event naming each setting), an unchanged one says
 * nothing, and a service the config lacks keeps its own. */
static void test_reconcile_analysis(void)
{
	struct model *run = new_model(), *cfg = new_model();
	struct reconcile_result *r = tcalloc(sizeof(*r));
	struct vs_err err = {};
	struct config c;
	char sum[192];

	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 "}, 'services': [{'name': 'other',"
			    " 'address': '127.0.0.1', 'port': 83, 'analysis': {'interval': 9}}]}",
			    &c, run, &err),
		  ==, 0);
	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 ", 'analysis': {'interval': 1,"
			    " 'maxErrorRate': 0.05, 'onInconclusive': 'advance'}}}",
			    &c, cfg, &err),
		  ==, 0);
	CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
	CHECK_INT(r->nan, ==, 1);
	CHECK(!memcmp(&run->svc[0].an, &cfg->svc[0].an, sizeof(struct analysis)), "not taken");
	CHECK_INT(run->svc[1].an.interval, ==, 9);
	CHECK_STR(model_event_nth(run, 1)->kind, "analysis_set");
	CHECK_STR(
		model_event_nth(run, 1)->message,
		"analysis settings from the config, which owns them: interval 5 -> 1, maxErrorRate none -> 0.05, onInconclusive pause -> advance");
	reconcile_summary(r, sum, sizeof(sum));
	CHECK_STR(
		sum,
		"0 versions added, analysis set for 1 service, 1 difference kept as running (config_differs events)");
	row("%s", "again: nothing to take");
	CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
	CHECK_INT(r->nan, ==, 0);
	row("%s", "notifications: the config's, counted");
	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 ", 'analysis': {'interval': 1,"
			    " 'maxErrorRate': 0.05, 'onInconclusive': 'advance'},"
			    " 'notifications': [{'url': 'http://127.0.0.1:9/a?token=secret'}]}}",
			    &c, cfg = new_model(), &err),
		  ==, 0);
	CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
	CHECK_INT(r->nnotify, ==, 1);
	CHECK_INT(r->nan, ==, 0);
	CHECK_INT(run->svc[0].notify.n, ==, 1);
	CHECK_STR(model_event_nth(run, 1)->message,
		  "notifications from the config, which owns them: now 1 webhook (0 before)");
	reconcile_summary(r, sum, sizeof(sum));
	CHECK_HAS(sum, "notifications set for 1 service");
	row("%s", "false: not judged");
	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 ", 'analysis': false}}", &c, cfg = new_model(),
			    &err),
		  ==, 0);
	CHECK_INT(reconcile_merge(run, cfg, NULL, T0, r, &err), ==, 0);
	CHECK(!run->svc[0].an.on, "still judged");
	CHECK_HAS(model_event_nth(run, 2)->message, "judged yes -> no");
}

/* Deleting a service: one with clusters only with force, and then they
 * go with it. */
static void test_model_del_service(void)
{
	struct model *m = new_model();
	struct vs_err err = {};
	struct config c;

	CHECK_INT(cfg_parse("{'proxy': {" SVC8080 "}, 'cluster': [" V1 ", " V2 "],"
			    " 'services': [{'name': 'api', 'address': '127.0.0.1', 'port': 8181}]}",
			    &c, m, &err),
		  ==, 0);
	CHECK_ERR(model_del_service(m, 0, false, &err), &err, -EBUSY, 409, "has_clusters");
	CHECK_HAS(err.msg, "service 'default' has 2 clusters");
	CHECK_INT(nclusters(m), ==, 2);
	CHECK_INT(model_del_service(m, 1, false, &err), ==, 0);
	CHECK_INT(model_nservices(m), ==, 1);
	CHECK_INT(model_del_service(m, 0, true, &err), ==, 0);
	CHECK_INT(model_nservices(m), ==, 0);
	CHECK_INT(nclusters(m), ==, 0);
	CHECK_ERR(model_del_service(m, 0, true, &err), &err, -ENOENT, 404, "unknown_service");
}

const struct unit_case reconcile_cases[] = { TEST(test_reconcile_table),
					     TEST(test_reconcile_added),
					     TEST(test_reconcile_errors),
					     TEST(test_reconcile_many_notes),
					     TEST(test_reconcile_analysis),
					     TEST(test_model_del_service),
					     { NULL, NULL } };
