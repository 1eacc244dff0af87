// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state file: round trips (clusters, rollouts, analysis) and
 * what it rejects.
 */
#include <errno.h>
#include <stdio.h>

#include "codec/config.h"
#include "core/model.h"
#include "core/rollout.h"
#include "codec/state.h"
#include "codec/state_parse.h"

#include "harness.h"
#include "helpers.h"

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
		CHECK_INT(x->nsrv, ==, y->nsrv);
		for (uint32_t j = 0; j < x->nsrv; j++)
			CHECK(ep_equal(&x->srv[j], &y->srv[j]), "server %u: %s", j,
			      ep_str(&y->srv[j]));
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
			    &cfg, m, &err),
		  ==, 0);
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
	memset(m2, 0xa5, sizeof(*m2)); /* state_parse must start from nothing */
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
	/* clang-format off */
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
	/* clang-format on */
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

/* Events in a state file: as written now, as written before ids and
 * kinds (numbered in order), and broken ones refused by index. */
static void test_state_events(void)
{
	/* clang-format off */
	static const struct {
		const char *events;
		int ret;
		const char *has;	/* in the error, or the newest's message */
		uint64_t last_id;
	} t[] = {
		{ "[]", 0, NULL, 0 },
		{ "[{'id': 7, 'time': 5, 'service': 'web', 'kind': 'step', 'message': 'a'},"
		  " {'id': 9, 'time': 6, 'service': '', 'kind': 'repinned', 'message': 'b'}]", 0, "b", 9 },
		{ "[{'time': 5, 'service': 'web', 'type': 'step', 'detail': 'old'},"
		  " {'time': 6, 'type': 'started', 'detail': 'older'}]", 0, "older", 2 },
		{ "[{'id': 4, 'time': 5, 'kind': 'step'}, {'time': 6, 'kind': 'step', 'message': 'x'}]",
		  0, "x", 5 },
		{ "[{'id': 9, 'time': 5, 'kind': 'step'}, {'id': 9, 'time': 6, 'kind': 'step'}]",
		  -EINVAL, "events[1]: id 9 is not above", 0 },
		{ "[{'id': 0, 'time': 5, 'kind': 'step'}]", -EINVAL, "events[0]: malformed", 0 },
		{ "[{'id': -3, 'time': 5, 'kind': 'step'}]", -EINVAL, "events[0]: malformed", 0 },
		{ "[{'id': '3', 'time': 5, 'kind': 'step'}]", -EINVAL, "events[0]: malformed", 0 },
		{ "[{'id': 3, 'time': '5', 'kind': 'step'}]", -EINVAL, "events[0]: malformed", 0 },
		{ "[{'id': 3, 'time': 5}]", -EINVAL, "events[0]: malformed", 0 },
		{ "[{'id': 3, 'time': 5, 'kind': 'step', 'message': 7}]", -EINVAL, "malformed", 0 },
		{ "[{'id': 3, 'time': 5, 'kind': 'step', 'service': []}]", -EINVAL, "malformed", 0 },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct vs_err err;
	char sq[1024];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char *text;

		row("%s", t[i].events);
		snprintf(sq, sizeof(sq),
			 "{'vsteerState': 1, 'services': [], 'clusters': [], 'events': %s}",
			 t[i].events);
		text = jq(sq);
		memset(m, 0, sizeof(*m));
		memset(&err, 0, sizeof(err));
		CHECK_INT(state_parse(text, strlen(text), "t.json", m, &err), ==, t[i].ret);
		if (t[i].ret) {
			CHECK_HAS(err.msg, t[i].has);
			continue;
		}
		CHECK_INT(m->events.last_id, ==, t[i].last_id);
		if (t[i].has)
			CHECK_STR(model_event_nth(m, 0)->message, t[i].has);
	}
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
	{
		struct ro_request r = ro_req("", RO_INSTANT, 0, NULL, 0);

		rollout_record_instant(m, 1, SAPI, slot, &r, T0 + 50);
	}
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
	CHECK_INT(m->events.n, >, 8);
	CHECK_INT(m2->events.n, ==, m->events.n);
	for (uint32_t k = 0; k < m->events.n; k++) {
		const struct event *x = model_event_nth(m, k), *y = model_event_nth(m2, k);

		row("event %u", k);
		CHECK_INT(y->time, ==, x->time);
		CHECK_STR(y->service, x->service);
		CHECK_INT(y->id, ==, x->id);
		CHECK_STR(y->kind, x->kind);
		CHECK_STR(y->message, x->message);
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
	/* clang-format off */
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
	/* clang-format on */
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
	an.max_error_rate = 0.05;
	an.max_latency_p99_ms = 250.5;
	an.on_inconclusive = JUDGE_PAUSE;
	/* the services' settings: web's its own, api's off */
	m->svc[0].an.interval = 2;
	m->svc[0].an.max_error_rate = 0.125;
	m->svc[1].an.on = false;
	{
		struct ro_request r = ro_req("3.0", RO_GRADUAL, 0, st, 3);

		r.an = (struct analysis_req){ .set = true, .given = ~0u, .an = an };
		r.base = (struct window_sum){ .seconds = 75,
					      .arrived = 301,
					      .requests = 300,
					      .errors = 3,
					      .p50_ms = 0.25,
					      .p99_ms = 1.75,
					      .mean_bytes = 612.5 };
		CHECK_INT(rollout_start(m, 0, &r, T0, &err), ==, 0);
	}
	snprintf(m->svc[0].ro.pause_why, sizeof(m->svc[0].ro.pause_why), "%s",
		 "9 windows in a row without a verdict (the last: \"x\")");
	CHECK_INT(rollout_verdict(m, 0, V_PASS, "fine", T0 + 10), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "slow", T0 + 17), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_FAIL, "slow", T0 + 24), ==, false);
	CHECK_INT(rollout_verdict(m, 0, V_INCONCLUSIVE, verdict, T0 + 31), ==, false);
	CHECK_INT(x->failures, ==, 2);
	CHECK_INT(x->inconclusive, ==, 1);
	CHECK_INT(x->windows, ==, 4);
	CHECK_INT(x->last_pass, ==, T0 + 10);
	CHECK_STR(x->last_verdict, verdict);
	/* api: a rollout without analysis */
	CHECK_INT(add_cl(m, 1, "8.0", CL_MANUAL, "127.0.0.1:9108", "api8", &err), ==, SAPI + 1);
	{
		struct ro_request r = ro_req("8.0", RO_GRADUAL, 0, st, 3);

		r.an = (struct analysis_req){ .set = true, .an = off };
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
	CHECK(y->max_error_rate == 0.05, "%.17g", y->max_error_rate);
	CHECK(y->max_latency_p99_ms == 250.5, "%.17g", y->max_latency_p99_ms);
	CHECK_INT(y->on_inconclusive, ==, JUDGE_PAUSE);
	CHECK_INT(y->base.seconds, ==, 75);
	CHECK_INT(y->base.arrived, ==, 301);
	CHECK_INT(y->base.requests, ==, 300);
	CHECK_INT(y->base.errors, ==, 3);
	CHECK(y->base.p50_ms == 0.25 && y->base.p99_ms == 1.75 && y->base.mean_bytes == 612.5,
	      "baseline %g %g %g", y->base.p50_ms, y->base.p99_ms, y->base.mean_bytes);
	CHECK_STR(m2->svc[0].ro.pause_why, m->svc[0].ro.pause_why);
	CHECK(m2->svc[0].an.on && m2->svc[0].an.interval == 2 &&
		      m2->svc[0].an.max_error_rate == 0.125 &&
		      m2->svc[0].an.max_latency_p99_ms == JUDGE_NO_LIMIT,
	      "web's settings: on %d, interval %u, maxErrorRate %g", m2->svc[0].an.on,
	      m2->svc[0].an.interval, m2->svc[0].an.max_error_rate);
	CHECK(!m2->svc[1].an.on, "api's settings on after a round trip");
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
	CHECK_INT(rollout_verdict(m2, 0, V_FAIL, "slow", T0 + 38), ==, false);
	CHECK_INT(m2->svc[0].ro.an.failures, ==, 3);
	CHECK_INT(rollout_verdict(m2, 0, V_FAIL, "slow", T0 + 45), ==, true);
	CHECK_INT(m2->svc[0].ro.phase, ==, RO_ROLLED_BACK);
	CHECK_INT(m2->svc[0].auto_rollbacks, ==, 1);
	row("%s", "the pass before the hold ended does not open the gate");
	CHECK_INT(rollout_tick(m, T0 + 3601), ==, false);
}

const struct unit_case state_cases[] = { TEST(test_state_roundtrip),
					 TEST(test_state_rejects),
					 TEST(test_state_rollout_roundtrip),
					 TEST(test_state_rollout_rejects),
					 TEST(test_state_analysis_roundtrip),
					 TEST(test_state_events),
					 { NULL, NULL } };
