// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What an idle tick reads from the kernel: the sockmap after the tracker
 * counted a listener closing (that tick and the next), every
 * TXN_VERIFY_EVERY seconds, and every tick when the count cannot be read
 * (ctl/sock.h); a service's maps when what it wants moved, after a failed
 * write, and every TXN_VERIFY_EVERY seconds (ctl/txn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "core/rollout.h"

#include "ctl/ctl.h"
#include "ctl/recent.h"
#include "ctl/sock.h"
#include "ctl/tick.h"
#include "ctl/txn.h"

#include "ctl_fixture.h"
#include "fake_dp.h"
#include "harness.h"

#define PER_VERSION 3

/* How far one tick moves a counter of the fake. */
static unsigned long tick_counting(struct fixture *f,
				   unsigned long (*counter)(const struct dataplane *dp))
{
	unsigned long before = counter(f->dp);

	ctl_tick(f->c);
	return counter(f->dp) - before;
}

/* Sockmap lookups one tick makes. */
static unsigned long tick_reads(struct fixture *f)
{
	return tick_counting(f, fake_dp_sock_reads);
}

static void test_tick_reads_sockmap_on_close(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};

	CHECK(f, "fixture");
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	for (uint32_t i = 0; i < PER_VERSION; i++) {
		fake_dp_listen(f->dp, "127.0.0.1:9001", 1000 + i);
		fake_dp_listen(f->dp, "127.0.0.1:9002", 2000 + i);
	}
	ctl_tick(f->c); /* the scan places them */
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, PER_VERSION);
	ctl_tick(f->c);
	CHECK_INT(tick_reads(f), ==, 0); /* nothing closed */

	fake_dp_close(f->dp, 1000);
	CHECK_INT(tick_reads(f), ==, 2 * PER_VERSION);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, PER_VERSION - 1);
	CHECK_INT(tick_reads(f), ==, 2 * PER_VERSION); /* the tick after too */
	CHECK_INT(tick_reads(f), ==, 0);

	/* Gone without the tracker seeing it: seen once TXN_VERIFY_EVERY
	 * passed, not at every periodic scan. */
	fake_dp_close_unseen(f->dp, 2000);
	CHECK_INT(tick_reads(f), ==, 0);
	f->c->sock.last_scan -= TICK_SCAN_EVERY; /* as if that long passed */
	CHECK_INT(tick_reads(f), ==, 0);
	CHECK_INT(sock_live(&f->c->sock, 1, 0), ==, PER_VERSION);
	f->c->sock.last_read -= TXN_VERIFY_EVERY;
	CHECK_INT(tick_reads(f), >, 0);
	CHECK_INT(sock_live(&f->c->sock, 1, 0), ==, PER_VERSION - 1);

	/* A count that cannot be read: every tick reads the sockmap. */
	fake_dp_lstate_fail(f->dp, true);
	CHECK_INT(tick_reads(f), ==, 2 * PER_VERSION); /* nsock: holes too */
	CHECK_INT(tick_reads(f), ==, 2 * PER_VERSION); /* nsock: holes too */
}

/* dp_get_svc() calls one tick makes. */
static unsigned long tick_svc_reads(struct fixture *f)
{
	return tick_counting(f, fake_dp_svc_reads);
}

static void test_tick_syncs_what_moved(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	unsigned long w0;
	struct vs_svc v;

	CHECK(f, "fixture");
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	listen_web(f, true);
	ctl_tick(f->c);
	CHECK_INT(tick_svc_reads(f), ==, 0); /* nothing moved */
	CHECK_INT(tick_svc_reads(f), ==, 0);

	/* A second socket of 1.0: the scan places it, nsock moves, the
	 * value is written in the same tick. */
	fake_dp_listen(f->dp, "127.0.0.1:9001", 1001);
	f->c->sock.rescan = true;
	w0 = fake_dp_svc_writes(f->dp);
	CHECK_INT(tick_svc_reads(f), ==, 1);
	CHECK_INT(fake_dp_svc_writes(f->dp) - w0, ==, 1);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[v.nver - 1].nsock, ==, 2);
	CHECK_INT(tick_svc_reads(f), ==, 0);

	/* A write that fails is retried every tick until it lands. */
	fake_dp_listen(f->dp, "127.0.0.1:9001", 1002);
	f->c->sock.rescan = true;
	fake_dp_fail_svc_writes(f->dp, -EPERM);
	CHECK_INT(tick_svc_reads(f), ==, 1);
	CHECK_INT(tick_svc_reads(f), ==, 1);
	fake_dp_fail_svc_writes(f->dp, 0);
	CHECK_INT(tick_svc_reads(f), ==, 1);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[v.nver - 1].nsock, ==, 3);
	CHECK_INT(tick_svc_reads(f), ==, 0);

	/* Every TXN_VERIFY_EVERY seconds the maps are read back. */
	f->c->sync.verified -= TXN_VERIFY_EVERY;
	CHECK_INT(tick_svc_reads(f), ==, 1);
	CHECK_INT(tick_svc_reads(f), ==, 0);
}

/* dp_read_window() calls one roll of the windows makes. */
static unsigned long roll_reads(struct fixture *f, int64_t t)
{
	unsigned long before = fake_dp_window_reads(f->dp);

	recent_tick(&f->c->recent, f->dp, f->c->m, t, t);
	return fake_dp_window_reads(f->dp) - before;
}

/* A version whose counters and open connections stood still since the
 * last roll is not read again; its window is empty all the same, and the
 * next one with traffic counts it all. */
static void test_tick_idle_versions_not_read(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_INT(roll_reads(f, 100), ==, 2); /* the first: both read */
	CHECK_INT(roll_reads(f, 105), ==, 0);
	CHECK(recent_last(&f->c->recent, 0), "an idle window is a window");
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 0);
	fake_dp_answered(f->dp, 0, 10);
	CHECK_INT(roll_reads(f, 110), ==, 1); /* 1.0 only */
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 10);
	CHECK_INT(recent_last(&f->c->recent, 1)->requests, ==, 0);
	CHECK_INT(roll_reads(f, 115), ==, 0);
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 0);
	CHECK_INT(fake_dp_conn(f->dp, 1, 0), >=, 0); /* a connection, no request yet */
	CHECK_INT(roll_reads(f, 120), ==, 1);
	fake_dp_answered(f->dp, 0, 13);
	CHECK_INT(roll_reads(f, 125), ==, 1);
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 3);
	/* A slot given to another version is read afresh. */
	recent_forget(&f->c->recent, 0);
	CHECK_INT(roll_reads(f, 130), ==, 1);
}

/* A listener that opens is scanned for at the next tick, at most one scan
 * a second; without one, not before TICK_SCAN_EVERY. */
static void test_tick_scans_on_listen(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	int64_t t;

	CHECK(f, "fixture");
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	listen_web(f, false);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.nsock[0], ==, 1);
	/* A second worker, within the second of the last scan: not yet.
	 * (The scan's time is set ahead so that the clock cannot pass it
	 * between the ticks.) */
	fake_dp_listen(f->dp, "127.0.0.1:9001", 1001);
	f->c->sock.last_scan = clock_mono_s() + 1;
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.nsock[0], ==, 1);
	f->c->sock.last_scan = clock_mono_s() - 1; /* a second later */
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.nsock[0], ==, 2);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, 2);
	/* Nothing opened: no scan until TICK_SCAN_EVERY. */
	t = clock_mono_s() - 1;
	f->c->sock.last_scan = t;
	ctl_tick(f->c);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.last_scan, ==, t);
}

/* A fleet's rollout in the state of a vsteerd started without --etcd:
 * nobody else would drive it, so this host's tick does, and says so. */
static void test_tick_drives_fleet_rollout_alone(void)
{
	static const struct ro_step steps[] = { { 5000, 10 }, { 10000, 10 } };
	struct ro_request req = { .to = "2.0", .strategy = RO_GRADUAL, .nsteps = 2 };
	struct fixture *f = new_fixture();
	struct model *m = web_model(true);
	struct vs_err err = {};
	bool said = false;

	CHECK(f, "fixture");
	memcpy(req.steps, steps, sizeof(steps));
	req.an.set = true; /* not judged */
	set_clock(f, 1000);
	CHECK_INT(rollout_start(m, 0, &req, 1000, &err), ==, 0);
	m->svc[0].ro.fleet = true;
	CHECK_INT(open_ctl(f, m, &err), ==, 0);
	CHECK(!f->c->m->svc[0].ro.fleet, "%s", "taken over by this host");
	for (uint32_t k = 0; k < f->c->m->events.n; k++)
		said |= !strcmp(model_event_nth(f->c->m, k)->kind, "fleet_rollout_local");
	CHECK(said, "%s", "a fleet_rollout_local event");
	set_clock(f, 1011);
	ctl_tick(f->c);
	CHECK_INT(f->c->m->svc[0].ro.step, ==, 1);
}

const struct unit_case tick_cases[] = {
	TEST(test_tick_drives_fleet_rollout_alone), TEST(test_tick_scans_on_listen),
	TEST(test_tick_idle_versions_not_read),	    TEST(test_tick_syncs_what_moved),
	TEST(test_tick_reads_sockmap_on_close),	    { NULL, NULL },
};
