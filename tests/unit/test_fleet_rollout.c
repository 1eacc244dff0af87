// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A rollout of the fleet (docs/fleet.md) without etcd: the rollout as the
 * fleet keeps it and as a host with other slots takes it back
 * (codec/fleet), what the driver reads from the hosts' statuses, and a
 * host adopting the driver's steps (core/rollout). tests/e2e/fleet_rollout.py
 * runs three hosts against a real etcd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/fleet.h"
#include "core/rollout.h"
#include "core/rollout_fleet.h"

#include "harness.h"
#include "helpers.h"

static const struct ro_step three[] = { { 2500, 60 }, { 5000, 60 }, { 10000, 60 } };

/* Host h's model: setup_web's, with its versions in other slots when h
 * is 1 (3.0 and 2.0 swapped: a host's slots are its own). */
static struct model *host_model(int h)
{
	struct model *m = new_model();

	setup_web(m);
	if (h == 1) {
		struct cluster t = m->cl[S20];

		m->cl[S20] = m->cl[S30];
		m->cl[S30] = t;
	}
	return m;
}

static void test_fleet_rollout_round_trip(void)
{
	struct model *a = host_model(0), *b = host_model(1);
	struct analysis an = test_analysis();
	struct rollout before;
	struct vs_err err;
	json_t *j;

	CHECK_INT(start_an(a, "2.0", RO_GRADUAL, 0, three, 3, &an, T0), ==, 0);
	j = fleet_rollout_json(a, 0);
	CHECK_STR(json_string_value(json_object_get(j, "to")), "2.0");
	CHECK_STR(json_string_value(json_object_get(j, "from")), "1.0");
	CHECK(json_is_true(json_object_get(j, "fleet")), "%s", "marked the fleet's");
	row("%s", "another host's slots");
	before = b->svc[0].ro;
	CHECK_INT(fleet_rollout_load(j, b, 0, &err), ==, 0);
	CHECK_INT(b->svc[0].ro.to, ==, S30); /* 2.0 is in slot 2 there */
	CHECK_INT(b->svc[0].ro.from, ==, S10);
	CHECK(b->svc[0].ro.fleet && b->svc[0].ro.step == 0 && b->svc[0].ro.started == T0,
	      "fleet %d step %u", b->svc[0].ro.fleet, b->svc[0].ro.step);
	rollout_fleet_adopt(b, 0, &before, NULL, T0 + 1);
	CHECK_INT(b->svc[0].ro.nhist, ==, a->svc[0].ro.nhist);
	row("%s", "a host without the target");
	json_object_set_new(j, "to", json_string("9.9"));
	CHECK_ERR(fleet_rollout_load(j, b, 0, &err), &err, -ENOENT, 409, "unknown_version");
	CHECK_HAS(err.msg, "version 9.9, which this host does not have");
	row("%s", "not a version");
	json_object_set_new(j, "to", json_integer(1));
	CHECK_ERR(fleet_rollout_load(j, b, 0, &err), &err, -EPROTO, 502, "bad_desired_state");
	row("%s", "a broken rollout");
	json_object_set_new(j, "to", json_string("2.0"));
	json_object_set_new(j, "steps", json_string("many"));
	CHECK_ERR(fleet_rollout_load(j, b, 0, &err), &err, -EPROTO, 400, "bad_state");
	CHECK_INT(fleet_rollout_load(json_null(), b, 0, &err), ==, -EPROTO);
	json_decref(j);
}

/* A host adopts the driver's steps: its own windows stay, each new mark
 * is one event, a rollback moves the target's sessions. */
static void test_fleet_rollout_adopt(void)
{
	struct model *drv = host_model(0), *h = host_model(1);
	struct analysis an = test_analysis();
	struct rollout *before = malloc(sizeof(*before));
	struct vs_err err;
	uint64_t events;
	json_t *j;

	CHECK_INT(start_an(drv, "2.0", RO_GRADUAL, 0, three, 3, &an, T0), ==, 0);
	drv->svc[0].ro.fleet = true;
	j = fleet_rollout_json(drv, 0);
	*before = h->svc[0].ro;
	CHECK_INT(fleet_rollout_load(j, h, 0, &err), ==, 0);
	rollout_fleet_adopt(h, 0, before, "h1", T0);
	json_decref(j);
	/* The host judges its windows; the fleet's rollout is not rolled
	 * back here however many fail, nor stepped by the host's tick. */
	for (int i = 0; i < 5; i++)
		CHECK(!rollout_verdict(h, 0, V_FAIL, "slow", T0 + 1 + i), "%s",
		      "no local rollback");
	CHECK_INT(h->svc[0].ro.an.failures, ==, 5);
	CHECK(!rollout_tick(h, T0 + 1000), "%s", "the tick leaves the fleet's rollout");
	CHECK_INT(h->svc[0].ro.step, ==, 0);
	row("%s", "the driver's next step");
	drv->svc[0].ro.an.last_pass = T0 + 61;
	CHECK(rollout_advance(drv, 0, T0 + 62), "%s", "the driver advances");
	CHECK_INT(drv->svc[0].ro.step, ==, 1);
	j = fleet_rollout_json(drv, 0);
	*before = h->svc[0].ro;
	events = h->events.last_id;
	CHECK_INT(fleet_rollout_load(j, h, 0, &err), ==, 0);
	rollout_fleet_adopt(h, 0, before, "h1", T0 + 63);
	json_decref(j);
	CHECK_INT(h->svc[0].ro.step, ==, 1);
	CHECK_INT(h->svc[0].ro.an.failures, ==, 5);   /* its own, not the driver's */
	CHECK_INT(h->events.last_id - events, ==, 1); /* "step": the one new mark */
	CHECK_STR(model_event_nth(h, 0)->kind, "step");
	row("%s", "rolled back by the driver for another host");
	CHECK_INT(rollout_fail(drv, 0, "on host h3: p99 150 ms", T0 + 70, &err), ==, 0);
	j = fleet_rollout_json(drv, 0);
	*before = h->svc[0].ro;
	events = h->events.last_id;
	CHECK_INT(fleet_rollout_load(j, h, 0, &err), ==, 0);
	rollout_fleet_adopt(h, 0, before, "h2", T0 + 71);
	json_decref(j);
	CHECK_INT(h->svc[0].ro.phase, ==, RO_ROLLED_BACK);
	CHECK(h->cl[S30].no_affinity, "%s", "the target's sessions move back");
	CHECK_INT(h->svc[0].rollbacks, ==, 1);
	CHECK_INT(h->svc[0].auto_rollbacks, ==, 1);
	CHECK_INT(h->events.last_id - events, ==, 2); /* rolled_back, auto_rollback */
	CHECK_HAS(model_event_nth(h, 0)->message, "on host h3: p99 150 ms");
	CHECK_HAS(model_event_nth(h, 0)->message, "(in the fleet, by host h2)");
	row("%s", "the same again: nothing new");
	j = fleet_rollout_json(drv, 0);
	*before = h->svc[0].ro;
	events = h->events.last_id;
	CHECK_INT(fleet_rollout_load(j, h, 0, &err), ==, 0);
	rollout_fleet_adopt(h, 0, before, "h2", T0 + 72);
	json_decref(j);
	CHECK_INT(h->events.last_id, ==, events);
	CHECK_INT(h->svc[0].rollbacks, ==, 1);
	CHECK_ERR(rollout_fail(drv, 0, "again", T0 + 73, &err), &err, -EINVAL, 409, "bad_phase");
	free(before);
}

/* A promote moves a fleet's rollout one step: the rest is the driver's,
 * judged by every host, where a host's own would run on as far as its
 * holds and windows allow. */
static void test_fleet_rollout_promote_one_step(void)
{
	static const struct ro_step steps[] = { { 2500, RO_WAIT }, { 5000, 0 }, { 10000, 0 } };
	struct vs_err err;

	for (int fleet = 0; fleet < 2; fleet++) {
		struct model *m = host_model(0);

		row("%s", fleet ? "the fleet's" : "a host's own");
		CHECK_INT(start(m, "2.0", RO_GRADUAL, 0, steps, 3, T0), ==, 0);
		m->svc[0].ro.fleet = fleet;
		CHECK_INT(rollout_control(m, 0, RO_OP_PROMOTE, false, T0 + 1, &err), ==, 0);
		CHECK_INT(m->svc[0].ro.phase, ==, fleet ? RO_PROGRESSING : RO_COMPLETED);
		if (fleet)
			CHECK_INT(m->svc[0].ro.step, ==, 1);
	}
}

/* A host's status as views_fleet_host() writes it, for service web. */
static json_t *status(const char *phase, int step, int64_t started, const char *failed,
		      int64_t pass, int inconclusive)
{
	return json_pack("{s[{sss{sssisIs{sIsi}ss?}}]}", "services", "name", "web", "rollout",
			 "phase", phase, "step", step, "started", (json_int_t)started, "analysis",
			 "lastPass", (json_int_t)pass, "inconclusive", inconclusive, "failed",
			 failed);
}

static void test_fleet_rollout_judge(void)
{
	/* step 2 progressing; a window passed at T0 + 10 or later ends it;
	 * 3 windows without a verdict count as one */
	static const struct fleet_ro_ref ref = { "web", T0, 2, "progressing", T0 + 10, 3 };
	/* clang-format off */
	static const struct {
		const char *name;
		uint32_t min_hosts, min_pct;
		/* per host (h1-h3): 0 missing, 1 at the step and passed, 2 a
		 * step behind, 3 another rollout, 4 at the step and failed, 5 at
		 * the step, not passed yet, 6 at the step, 3 windows without a
		 * verdict */
		int h[3];
		bool ready;
		uint32_t applied, required;
		int64_t last_pass;
		uint32_t inconclusive;
		const char *failed;
	} cases[] = {
		{ "all passed", 0, 0, { 1, 1, 1 }, true, 3, 3, T0 + 10, 0, "" },
		{ "one missing", 0, 0, { 1, 0, 1 }, false, 2, 3, 0, 0, "" },
		{ "one missing, minHosts 2", 2, 0, { 1, 0, 1 }, true, 2, 2, T0 + 10, 0, "" },
		{ "one behind", 0, 0, { 1, 2, 1 }, false, 2, 3, 0, 0, "" },
		{ "another rollout", 0, 0, { 3, 1, 1 }, false, 2, 3, 0, 0, "" },
		{ "minHosts over the members", 5, 0, { 1, 1, 1 }, true, 3, 3, T0 + 10, 0, "" },
		{ "a host failed", 0, 0, { 1, 1, 4 }, true, 3, 3, T0 + 10, 0, "h3" },
		{ "a failed host a step behind", 0, 0, { 4, 2, 1 }, false, 2, 3, 0, 0, "h1" },
		{ "a failed host missing", 0, 0, { 1, 1, 0 }, false, 2, 3, 0, 0, "" },
		{ "one not passed yet", 0, 0, { 1, 5, 1 }, true, 3, 3, 0, 0, "" },
		{ "one not passed, minHosts 2", 2, 0, { 1, 5, 1 }, true, 3, 2, T0 + 10, 0, "" },
		{ "one without verdicts, the rest passed", 0, 0, { 1, 6, 1 }, true, 3, 3, 0, 3, "" },
		{ "one without verdicts, one not passed", 0, 0, { 5, 6, 1 }, true, 3, 3, 0, 0, "" },
		{ "one missing, 66%: 2 of 3", 0, 66, { 1, 0, 1 }, true, 2, 2, T0 + 10, 0, "" },
		{ "one missing, 67%: 3 of 3", 0, 67, { 1, 0, 1 }, false, 2, 3, 0, 0, "" },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *hosts = json_object(), *members = json_object();
		struct fleet_judged out;
		char id[8];

		row("%s", cases[i].name);
		for (int k = 0; k < 3; k++) {
			int h = cases[i].h[k];

			snprintf(id, sizeof(id), "h%d", k + 1);
			json_object_set_new(members, id, json_object());
			if (h)
				json_object_set_new(hosts, id,
						    status("progressing", h == 2 ? 1 : 2,
							   h == 3 ? T0 + 5 : T0,
							   h == 4 ? "p99 150 ms" : NULL,
							   h == 5 || h == 6 ? T0 + 9 : T0 + 10 + k,
							   h == 6 ? 3 :
							   h == 5 ? 2 :
								    0));
		}
		fleet_rollout_judge(hosts, members, cases[i].min_hosts, cases[i].min_pct, &ref,
				    &out);
		CHECK_INT(out.ready, ==, cases[i].ready);
		CHECK_INT(out.applied, ==, cases[i].applied);
		CHECK_INT(out.required, ==, cases[i].required);
		CHECK_INT(out.members, ==, 3);
		CHECK_INT(out.last_pass, ==, cases[i].last_pass);
		CHECK_INT(out.inconclusive, ==, cases[i].inconclusive);
		CHECK_STR(out.failed, cases[i].failed);
		if (out.failed[0])
			CHECK_STR(out.why, "p99 150 ms");
		json_decref(hosts);
		json_decref(members);
	}
	row("%s", "broken statuses judge nothing");
	{
		json_t *hosts = json_pack("{s[]s{s[i]}s{ss}}", "h1", "h2", "services", 7, "h3",
					  "services", "x"),
		       *members = json_pack("{s{}s{}s{}}", "h1", "h2", "h3");
		struct fleet_judged out;

		fleet_rollout_judge(hosts, members, 0, 0, &ref, &out);
		CHECK(!out.ready && !out.applied && !out.failed[0], "ready %d applied %u",
		      out.ready, out.applied);
		json_decref(hosts);
		json_decref(members);
	}
}

const struct unit_case fleet_rollout_cases[] = {
	TEST(test_fleet_rollout_round_trip),
	TEST(test_fleet_rollout_adopt),
	TEST(test_fleet_rollout_judge),
	TEST(test_fleet_rollout_promote_one_step),
	{ NULL, NULL },
};
