// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Drain deadlines: the verdict the drain iterators apply to each
 * connection (include/vsteer_idle.h, the same code the kernel runs), when
 * a rollout starts the clock, and the drainer (user/ctl/drainer.c) over
 * the fake data plane: nothing before the deadline, the idle connections
 * closed at it and the busy ones once idle, counted, said in events,
 * reported drained, written to the state file; called off when the
 * version takes sessions again; refused where nothing could close them.
 */
#include <errno.h>
#include <string.h>

#include "vsteer_idle.h"
#include "core/drain.h"
#include "core/model.h"
#include "core/rollout.h"
#include "ctl/ctl.h"
#include "ctl/ops.h"
#include "ctl/tick.h"

#include "ctl_fixture.h"
#include "fake_dp.h"
#include "harness.h"
#include "helpers.h"

/* An established connection, answered and quiet for 5 s. */
static struct vs_conn_state quiet_conn(void)
{
	return (struct vs_conn_state){ .last_us = 10000000,
				       .now_us = 15000000,
				       .rcv_nxt = 500,
				       .copied_seq = 500,
				       .write_seq = 9000,
				       .snd_una = 9000,
				       .state = VS_TCP_ESTABLISHED };
}

/* Each sign of a request on its way in, being served or being answered
 * keeps a connection open; only one with none is idle. */
static void test_idle_verdicts(void)
{
	struct vs_conn_state c = quiet_conn();

	CHECK_INT(vs_conn_idle(&c), ==, VS_IDLE);
	c.req_ns = 1; /* read, not yet answered */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_REQUEST);
	c = quiet_conn();
	c.rcv_nxt = 501; /* a byte the backend has not read */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_UNREAD);
	c = quiet_conn();
	c.queued = 1; /* a segment behind the socket lock */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_UNREAD);
	c = quiet_conn();
	c.write_seq = 9001; /* response bytes not acknowledged */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_UNSENT);
	c = quiet_conn();
	c.last_us = c.now_us - VS_DRAIN_QUIET_MS * 1000 + 1;
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_RECENT);
	c.last_us = c.now_us - VS_DRAIN_QUIET_MS * 1000;
	CHECK_INT(vs_conn_idle(&c), ==, VS_IDLE);
	c.last_us = c.now_us + 5; /* another CPU's newer stamp */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_RECENT);
	c = quiet_conn();
	c.state = 8; /* CLOSE_WAIT: the client closed its side already */
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_STATE);
	c.req_ns = 1;
	CHECK_INT(vs_conn_idle(&c), ==, VS_BUSY_STATE);
}

/* The clock starts when the rollout completes (the old version's last
 * new session), not when it starts; a rollout without a deadline, or one
 * still under way, schedules nothing. */
static void test_drain_clock_starts_at_completion(void)
{
	const struct ro_step steps[] = { { 5000, 60 }, { VS_BUCKETS, RO_WAIT } };
	struct model *m = new_model();
	struct ro_request req = ro_req("2.0", RO_GRADUAL, 0, steps, 2);
	struct vs_err err = {};
	struct drain *d;

	setup_web(m);
	d = &m->cl[S10].drain;
	req.drain = (struct drain_spec){ .on = true, .secs = 30 };
	CHECK_INT(rollout_start(m, 0, &req, T0, &err), ==, 0);
	CHECK(!d->on, "scheduled while 1.0 still takes new sessions");
	CHECK(rollout_tick(m, T0 + 60), "the hold did not end");
	CHECK(d->on, "not scheduled at completion");
	CHECK_INT(d->started, ==, T0 + 60);
	CHECK_INT(drain_at(d), ==, T0 + 90);
	CHECK(!drain_comes_due(d, T0 + 89), "due early");
	CHECK(drain_comes_due(d, T0 + 90), "not due at the deadline");
	CHECK(!m->cl[S20].drain.on, "the target scheduled");

	m = new_model();
	setup_web(m);
	CHECK_INT(start(m, "2.0", RO_INSTANT, 0, NULL, 0, T0), ==, 0);
	CHECK(!m->cl[S10].drain.on, "scheduled without drainDeadline");
}

/* A controller with 1.0's connections c[0] idle and c[1] with a request
 * in flight, and an instant rollout to 2.0 with drainDeadline 5. */
static struct fixture *drain_fixture(int c[2])
{
	struct fixture *f = new_fixture();
	struct ro_request req = ro_req("2.0", RO_INSTANT, 0, NULL, 0);
	struct vs_err err = {};

	if (!f)
		return NULL;
	listen_web(f, true);
	set_clock(f, T0);
	if (open_ctl(f, web_model(true), &err))
		return NULL;
	c[0] = fake_dp_conn(f->dp, 0, VS_IDLE);
	c[1] = fake_dp_conn(f->dp, 0, VS_BUSY_REQUEST);
	req.drain = (struct drain_spec){ .on = true, .secs = 5 };
	return ctl_rollout_start(f->c, "web", &req, &err) ? NULL : f;
}

static void test_drain_closes_idle_then_busy(void)
{
	struct vs_err err = {};
	struct model *disk;
	struct fixture *f;
	struct vs_svc v;
	int c[2];

	f = drain_fixture(c);
	CHECK(f, "fixture");
	set_clock(f, T0 + 4);
	ctl_tick(f->c);
	CHECK_INT(fake_dp_drain_passes(f->dp), ==, 0);
	CHECK(!f->c->m->cl[0].drain.due, "due before the deadline");

	set_clock(f, T0 + 5);
	ctl_tick(f->c);
	CHECK(!fake_dp_conn_open(f->dp, c[0]), "the idle connection is open");
	CHECK(fake_dp_conn_open(f->dp, c[1]), "the busy connection was closed");
	CHECK_INT(f->c->m->cl[0].drain.closed, ==, 1);
	CHECK(f->c->m->cl[0].drain.due, "not due");
	CHECK_INT(count_events(f->c->m, "drain_closed"), ==, 1);
	/* Its sessions follow the weights: a client whose connection was
	 * closed comes back to 2.0. */
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[1].slot, ==, 0);
	CHECK(v.ver[1].flags & VS_VER_NO_AFFINITY, "1.0 keeps its sessions");

	ctl_tick(f->c); /* still busy: nothing more */
	CHECK(fake_dp_conn_open(f->dp, c[1]), "the busy connection was closed");
	CHECK_INT(f->c->m->cl[0].drain.closed, ==, 1);
	fake_dp_conn_verdict(f->dp, c[1], VS_IDLE); /* answered, quiet */
	ctl_tick(f->c);
	CHECK(!fake_dp_conn_open(f->dp, c[1]), "the answered connection is open");
	CHECK_INT(f->c->m->cl[0].drain.closed, ==, 2);
	CHECK_INT(count_events(f->c->m, "drained"), ==, 0);
	ctl_tick(f->c);
	CHECK_INT(count_events(f->c->m, "drained"), ==, 1);
	CHECK(f->c->m->cl[0].drain.drained, "not drained");
	ctl_tick(f->c); /* said once */
	CHECK_INT(count_events(f->c->m, "drained"), ==, 1);
	CHECK_INT(count_events(f->c->m, "drain_closed"), ==, 1); /* 1 more within 10 s */

	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK_INT(disk->cl[0].drain.closed, ==, 2);
	CHECK(disk->cl[0].drain.on && disk->cl[0].drain.due && disk->cl[0].drain.drained,
	      "the state file lost the drain");
	CHECK_INT(disk->cl[0].drain.started, ==, T0);
	CHECK_INT(count_events(disk, "drained"), ==, 1);
}

/* 1.0 takes new sessions again before its deadline: the drain is called
 * off, and nothing of it is closed at the deadline. */
static void test_drain_cancelled(void)
{
	const char *const names[] = { "1.0", "2.0" };
	const uint16_t bp[] = { VS_BUCKETS, 0 };
	struct vs_err err = {};
	struct fixture *f;
	int c[2];

	f = drain_fixture(c);
	CHECK(f, "fixture");
	CHECK_INT(ctl_set_weights(f->c, "web", names, bp, 2, NULL, &err), ==, 0);
	set_clock(f, T0 + 1);
	ctl_tick(f->c);
	CHECK(!f->c->m->cl[0].drain.on, "the drain goes on");
	CHECK_INT(count_events(f->c->m, "drain_cancelled"), ==, 1);
	set_clock(f, T0 + 10);
	ctl_tick(f->c);
	CHECK_INT(fake_dp_drain_passes(f->dp), ==, 0);
	CHECK(fake_dp_conn_open(f->dp, c[0]), "closed after the drain was called off");
}

/* Without the request meters, or with no way to close a socket, a
 * drainDeadline is refused and nothing starts. */
static void test_drain_refused(void)
{
	struct ro_request req = ro_req("2.0", RO_INSTANT, 0, NULL, 0);
	struct fixture *f = new_fixture();
	struct vs_err err = {};

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	req.drain = (struct drain_spec){ .on = true, .secs = 5 };
	fake_dp_set_drain(f->dp, DP_DRAIN_NONE);
	CHECK_ERR(ctl_rollout_start(f->c, "web", &req, &err), &err, -EOPNOTSUPP, 409,
		  "drain_unsupported");
	CHECK_HAS(err.msg, "body.drainDeadline");
	CHECK_INT(f->c->m->svc[0].ro.phase, ==, RO_NONE);
	fake_dp_set_drain(f->dp, DP_DRAIN_NETLINK);
	CHECK_INT(ctl_rollout_start(f->c, "web", &req, &err), ==, 0);

	f = new_fixture();
	CHECK(f, "fixture");
	fake_dp_free(f->dp);
	f->dp = fake_dp_new(false); /* --no-watch */
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_ERR(ctl_rollout_start(f->c, "web", &req, &err), &err, -EOPNOTSUPP, 409,
		  "not_watching");
}

const struct unit_case drain_cases[] = {
	TEST(test_idle_verdicts),
	TEST(test_drain_clock_starts_at_completion),
	TEST(test_drain_closes_idle_then_busy),
	TEST(test_drain_cancelled),
	TEST(test_drain_refused),
	{ NULL, NULL },
};
