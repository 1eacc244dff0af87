// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller (user/ctl/) against a fake of the kernel adapter
 * (fake_dp.c): a start that adopts pins, a commit, a failed map write and
 * a failed state write with nothing changed, a tick that places sockets
 * and steps a rollout, health results committed as they happen, and a
 * view that reads without writing. No root, no BPF, no traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "codec/state.h"
#include "codec/config.h"
#include "codec/state_parse.h"
#include "kernel/dp_pins.h"
#include "ctl/services.h"
#include "ctl/ctl.h"
#include "ctl/health.h"
#include "ctl/ops.h"
#include "ctl/recent.h"
#include "ctl/snap.h"
#include "ctl/tick.h"
#include "api/metrics.h"
#include "api/views.h"

#include "ctl_fixture.h"
#include "fake_dp.h"
#include "harness.h"
#include "helpers.h"

static char *file_text(const char *path)
{
	size_t len;
	char *s;

	return file_read(path, 0, 1 << 22, &s, &len) ? NULL : track(s);
}

static void test_ctl_open_writes_maps_and_state(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct model *disk;
	struct vs_svc v;

	CHECK(f, "fixture");
	CHECK_INT(fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1), ==, 0);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.nver, ==, 1);
	CHECK_INT(v.salt, ==, 1);
	CHECK_INT(v.ver[0].slot, ==, 0);
	CHECK_INT(v.ver[0].upto, ==, VS_BUCKETS);
	CHECK_INT(v.ver[0].nsock, ==, 1);
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1);
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK_STR(weights_str(disk, 0), "1.0=10000");
	CHECK_STR(disk->cl[0].id, "c1");
	CHECK_INT(disk->svc[0].salt, ==, 1);
}

static void test_ctl_change_commits(void)
{
	const char *names[] = { "2.0", "1.0" };
	const uint16_t bp[] = { 2500, 7500 };
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct model *disk;
	struct vs_svc v;

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_INT(ctl_set_weights(f->c, "web", names, bp, 2, NULL, &err), ==, 0);
	CHECK_STR(weights_str(f->c->m, 0), "2.0=2500 1.0=7500");
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.nver, ==, 2);
	CHECK_INT(v.ver[0].slot, ==, 1); /* newest first */
	CHECK_INT(v.ver[0].upto, ==, 2500);
	CHECK_INT(v.ver[1].upto, ==, VS_BUCKETS);
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK_STR(weights_str(disk, 0), "2.0=2500 1.0=7500");
	CHECK_INT(ctl_set_weights(f->c, "nope", names, bp, 2, NULL, &err), ==, -ENOENT);
	CHECK_ERR(-ENOENT, &err, -ENOENT, 404, "unknown_service");
}

/* The TC meter runs on every packet the host sends: wanted while an http
 * service exists, and said so before the call that makes one returns. */
static void test_ctl_tc_meter_wanted(void)
{
	struct fixture *f = new_fixture();
	struct service spec = { .http = true };
	struct vs_err err = {};

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK(!fake_dp_tc_want(f->dp), "tcp only: no meter");
	snprintf(spec.name, sizeof(spec.name), "api");
	spec.addr = ep_of("127.0.0.1:8181");
	CHECK_INT(ctl_add_service(f->c, &spec, false, &err), ==, 0);
	CHECK(fake_dp_tc_want(f->dp), "an http service: the meter");
	CHECK_INT(ctl_del_service(f->c, "api", false, &err), ==, 0);
	CHECK(!fake_dp_tc_want(f->dp), "gone again");
}

/* The kernel refuses the svcs write: the change answers 500, and the
 * model, the maps and the state file are as they were. */
static void test_ctl_map_write_fails(void)
{
	const char *names[] = { "2.0", "1.0" };
	const uint16_t bp[] = { 5000, 5000 };
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct vs_svc before, after;
	char *state_before, *state_after;

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_INT(map_value(f, &before), ==, 0);
	state_before = file_text(f->state);
	CHECK(state_before, "state file");
	fake_dp_fail_svc_writes(f->dp, -EPERM);
	CHECK_INT(ctl_set_weights(f->c, "web", names, bp, 2, NULL, &err), ==, -EPERM);
	CHECK_ERR(-EPERM, &err, -EPERM, 500, "bpf");
	CHECK_HAS(err.msg, "nothing was changed");
	CHECK(fake_dp_svc_writes(f->dp) > 0, "the write was tried");
	CHECK_STR(weights_str(f->c->m, 0), "2.0=0 1.0=10000");
	CHECK_INT(map_value(f, &after), ==, 0);
	CHECK(!memcmp(&before, &after, sizeof(before)), "the map changed");
	state_after = file_text(f->state);
	CHECK(state_after && !strcmp(state_before, state_after), "the state file changed");
	CHECK_INT(state_tmp_files(f->dir), ==, 0);
	/* The kernel takes writes again: the same change goes in. */
	fake_dp_fail_svc_writes(f->dp, 0);
	CHECK_INT(ctl_set_weights(f->c, "web", names, bp, 2, NULL, &err), ==, 0);
	CHECK_INT(map_value(f, &after), ==, 0);
	CHECK_INT(after.ver[0].upto, ==, 5000);
}

/* The state file cannot be written: nothing reaches the kernel. */
static void test_ctl_state_write_fails(void)
{
	const char *names[] = { "2.0", "1.0" };
	const uint16_t bp[] = { 5000, 5000 };
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	unsigned long writes;

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	/* Root writes through any mode: take the directory away instead. */
	unlink(f->state);
	CHECK_INT(rmdir(f->dir), ==, 0);
	writes = fake_dp_svc_writes(f->dp);
	CHECK_INT(ctl_set_weights(f->c, "web", names, bp, 2, NULL, &err), ==, -ENOENT);
	CHECK_ERR(-ENOENT, &err, -ENOENT, 500, "state_write");
	CHECK_INT(fake_dp_svc_writes(f->dp), ==, writes);
	CHECK_STR(weights_str(f->c->m, 0), "2.0=0 1.0=10000");
}

/* A restart over pins: the salt and socket count the data plane hashes
 * with are kept, a socket that serves none of the cluster's servers and
 * a service nobody knows are removed. */
static void test_ctl_adopts_pins(void)
{
	struct fixture *f = new_fixture();
	struct vs_svc pinned = { .id = 0, .salt = 0xabcdef, .nver = 1 }, v;
	struct vs_svc_key k, unknown;
	struct model *m = web_model(false);
	struct vs_err err = {};

	CHECK(f && m, "fixture");
	pinned.ver[0] = (struct vs_ver){ .slot = 0, .upto = VS_BUCKETS, .nsock = 3 };
	model_svc_key(m, 0, &k);
	fake_dp_svc_put(f->dp, &k, &pinned);
	unknown = k;
	unknown.port = 9999;
	fake_dp_svc_put(f->dp, &unknown, &pinned);
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	fake_dp_sock_put(f->dp, 0, C_V1);
	fake_dp_sock_put(f->dp, 1, 555); /* serves nothing the model knows */
	CHECK_INT(m->svc[0].salt, ==, 1);
	CHECK_INT(open_ctl(f, m, &err), ==, 0);
	CHECK_INT(f->c->m->svc[0].salt, ==, 0xabcdef);
	CHECK_INT(f->c->sock.nsock[0], ==, 3);
	CHECK_INT(fake_dp_svc(f->dp, &k, &v), ==, 0);
	CHECK(!memcmp(&v, &pinned, sizeof(v)), "the pinned value changed: salt %x nsock %u", v.salt,
	      v.ver[0].nsock);
	CHECK_INT(fake_dp_svc(f->dp, &unknown, &v), ==, -ENOENT);
	CHECK_INT(fake_dp_nsvcs(f->dp), ==, 1);
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1);
	CHECK_INT(f->c->sock.cookie[0][1], ==, 0);
	CHECK_INT(fake_dp_svc(f->dp, &k, &v), ==, 0);
}

static const struct event *find_event(const struct model *m, const char *kind);

/* A backend that restarts: its socket goes from the sockmap with the
 * process, and the tick puts the new one in. Its first socket "listens",
 * the next one "listens again". */
static void test_ctl_tick_places_sockets(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct vs_svc v;

	CHECK(f, "fixture");
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, 0); /* nothing listens yet */
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	ctl_tick(f->c);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, 1);
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[0].nsock, ==, 1);
	CHECK(find_event(f->c->m, "backend_up"), "no backend_up");
	CHECK_HAS(find_event(f->c->m, "backend_up")->message,
		  "127.0.0.1:9001 of 1.0 listens: steered to");
	fake_dp_close(f->dp, C_V1);
	ctl_tick(f->c);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, 0);
	fake_dp_listen(f->dp, "127.0.0.1:9001", 201);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 201);
	CHECK_HAS(find_event(f->c->m, "backend_up")->message, "listens again: steered to");
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[0].nsock, ==, 1);
	CHECK_INT(f->c->ticks, ==, 3);
}

/* A gradual rollout's hold ends: the tick commits the next step. */
static void test_ctl_tick_steps_rollout(void)
{
	const struct ro_step steps[] = { { 1000, 60 }, { VS_BUCKETS, RO_WAIT } };
	struct fixture *f = new_fixture();
	struct ro_request req;
	struct vs_err err = {};
	struct model *disk;
	struct vs_svc v;

	CHECK(f, "fixture");
	listen_web(f, true);
	set_clock(f, T0);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	req = ro_req("2.0", RO_GRADUAL, 0, steps, 2);
	CHECK_INT(ctl_rollout_start(f->c, "web", &req, &err), ==, 0);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[0].upto, ==, 1000);
	set_clock(f, T0 + 59);
	ctl_tick(f->c);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[0].upto, ==, 1000);
	set_clock(f, T0 + 60);
	ctl_tick(f->c);
	CHECK_INT(map_value(f, &v), ==, 0);
	CHECK_INT(v.ver[0].upto, ==, VS_BUCKETS);
	CHECK_INT(f->c->m->svc[0].ro.step, ==, 1);
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK_INT(disk->svc[0].ro.step, ==, 1);
	CHECK_STR(weights_str(disk, 0), "2.0=10000 1.0=0");
}

/* A view reads the sockmap as it is now and leaves the controller's
 * picture of it to the tick. */
static void test_ctl_views_read_only(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct snap *s;
	uint64_t ticks;

	CHECK(f, "fixture");
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	fake_dp_close(f->dp, C_V1);
	ticks = f->c->ticks;
	CHECK_INT(snap_take(f->c, SNAP_VERSIONS, "web", NULL, &s, &err), ==, 0);
	defer((void (*)(void *))snap_free, s);
	CHECK(s->ver[0], "version 1.0 in the snapshot");
	CHECK_INT(s->ver[0]->srv[0].live, ==, 0);
	CHECK_INT(s->ver[0]->live, ==, 0);
	CHECK(s->ver[0]->srv[0].healthy, "healthy");
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1); /* not written by the read */
	CHECK_INT(f->c->ticks, ==, ticks);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 0);
	CHECK_INT(snap_take(f->c, SNAP_VERSIONS, "nope", NULL, &s, &err), ==, -ENOENT);
	CHECK_ERR(-ENOENT, &err, -ENOENT, 404, "unknown_service");
}

/* The newest event of a kind, or NULL. */
static const struct event *find_event(const struct model *m, const char *kind)
{
	for (uint32_t k = 0; k < m->events.n; k++)
		if (!strcmp(model_event_nth(m, k)->kind, kind))
			return model_event_nth(m, k);
	return NULL;
}

static bool has_event(const struct model *m, const char *kind)
{
	return find_event(m, kind) != NULL;
}

/* Health results change the sockmap and reach the state file as they
 * happen, not with the next unrelated change. */
static void test_ctl_health_commits_events(void)
{
	struct fixture *f = new_fixture();
	struct model *m = web_model(false), *disk;
	struct vs_err err = {};

	CHECK(f && m, "fixture");
	m->cl[0].health = (struct health_check){ .on = true,
						 .path = "/h",
						 .interval_ms = 1000,
						 .timeout_ms = 500,
						 .unhealthy_after = 2,
						 .healthy_after = 1 };
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	CHECK_INT(open_ctl(f, m, &err), ==, 0);
	health_record(f->c, 0, "c1", 0, false);
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1);	   /* one failure is not enough */
	health_record(f->c, 0, "other-cluster", 0, false); /* a stale result */
	CHECK_INT(f->c->sock.out[0], ==, 0);
	health_record(f->c, 0, "c1", 0, false);
	CHECK_INT(f->c->sock.out[0], ==, 1);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 0);
	ctl_tick(f->c); /* a scan does not put a server kept out back */
	CHECK_INT(f->c->sock.cookie[0][0], ==, 0);
	CHECK(has_event(f->c->m, "backend_down"), "event");
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK(has_event(disk, "backend_down"), "backend_down not in the state file");
	health_record(f->c, 0, "c1", 0, true);
	CHECK_INT(f->c->sock.out[0], ==, 0);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, C_V1);
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK(has_event(disk, "backend_up"), "backend_up not in the state file");
}

/* A server's owner is recorded from its first socket and kept in the
 * state file; a socket of another uid on its address, once the backend
 * is gone, is refused, counted and an event; the backend restarted by
 * the same owner is picked up. */
static void test_ctl_owner_recorded_and_enforced(void)
{
	struct fixture *f = new_fixture();
	const struct event *refused;
	struct vs_err err = {};
	struct model *disk;

	CHECK(f, "fixture");
	fake_dp_listen_as(f->dp, "127.0.0.1:9001", C_V1, 1000, 7);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	CHECK(f->c->m->cl[0].owner[0].set, "owner recorded");
	CHECK_INT(f->c->m->cl[0].owner[0].uid, ==, 1000);
	CHECK_STR(f->c->m->cl[0].owner[0].cgroup, "/fake/7");
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK(owner_equal(&disk->cl[0].owner[0], &f->c->m->cl[0].owner[0]),
	      "not in the state file");
	/* The backend dies; another uid binds its address. */
	fake_dp_close(f->dp, C_V1);
	fake_dp_listen_as(f->dp, "127.0.0.1:9001", 666, 65534, 7);
	ctl_tick(f->c);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 0);
	CHECK_INT(sock_live(&f->c->sock, 0, 0), ==, 0);
	CHECK_INT(f->c->sock.refused[0][0], ==, 1); /* one socket, however many scans */
	refused = find_event(f->c->m, "socket_refused");
	CHECK(refused, "no event");
	if (refused)
		CHECK_HAS(refused->message, "uid 65534");
	CHECK(has_event(f->c->m, "backend_down"), "the backend's death is an event too");
	/* The same uid, another cgroup: refused too. */
	fake_dp_close(f->dp, 666);
	fake_dp_listen_as(f->dp, "127.0.0.1:9001", 667, 1000, 8);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 0);
	CHECK_INT(f->c->sock.refused[0][0], ==, 2);
	/* The backend again, as its owner. */
	fake_dp_close(f->dp, 667);
	fake_dp_listen_as(f->dp, "127.0.0.1:9001", 201, 1000, 7);
	ctl_tick(f->c);
	CHECK_INT(f->c->sock.cookie[0][0], ==, 201);
}

/* Registering over the API: the owner given decides; without one, sockets
 * of two owners on a server's address are refused as ambiguous. */
static void test_ctl_owner_at_registration(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct cluster spec = {};
	char id[ID_LEN];

	CHECK(f, "fixture");
	listen_web(f, false);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	fake_dp_listen_as(f->dp, "127.0.0.1:9002", 301, 1000, 1);
	fake_dp_listen_as(f->dp, "[::]:9002", 302, 2000, 1);
	spec.nsrv = 1;
	spec.srv[0] = ep_of("127.0.0.1:9002");
	spec.mode = CL_MANUAL;
	snprintf(spec.version, sizeof(spec.version), "2.0");
	memset(&err, 0, sizeof(err));
	CHECK_INT(ctl_add_cluster(f->c, "web", &spec, &(struct analysis_req){ 0 }, id, &err), ==,
		  -EEXIST);
	CHECK_ERR(-EEXIST, &err, -EEXIST, 409, "several_owners");
	CHECK_INT(model_find_version(f->c->m, 0, "2.0"), ==, -ENOENT);
	/* The owner given picks one. */
	spec.rule = (struct owner){ .set = true, .uid = 2000 };
	CHECK_INT(ctl_add_cluster(f->c, "web", &spec, &(struct analysis_req){ 0 }, id, &err), ==,
		  0);
	CHECK_INT(f->c->sock.cookie[1][0], ==, 302);
	CHECK_INT(f->c->m->cl[1].owner[0].uid, ==, 2000);
	/* A given owner no socket belongs to. */
	fake_dp_listen_as(f->dp, "127.0.0.1:9003", 303, 0, 1);
	spec.srv[0] = ep_of("127.0.0.1:9003");
	snprintf(spec.version, sizeof(spec.version), "3.0");
	memset(&err, 0, sizeof(err));
	CHECK_INT(ctl_add_cluster(f->c, "web", &spec, &(struct analysis_req){ 0 }, id, &err), ==,
		  -EPERM);
	CHECK_ERR(-EPERM, &err, -EPERM, 422, "socket_owner");
	CHECK_HAS(err.msg, "uid 0");
}

#define WALL0 1765000000 /* the wall clock at monotonic 0 */

/* Every version's lastWindow covers the same seconds, one that appears
 * mid-window included; its first, partial window is not shown. */
static void test_ctl_recent_windows_shared(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	struct cluster spec = {};
	char id[ID_LEN];

	CHECK(f, "fixture");
	listen_web(f, true);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	recent_tick(&f->c->recent, f->dp, f->c->m, 100, WALL0 + 100);
	CHECK(!recent_last(&f->c->recent, 0), "a partial first window is shown");
	/* 2.0 appears at 102, mid-window. */
	spec.nsrv = 1;
	spec.srv[0] = ep_of("127.0.0.1:9002");
	spec.mode = CL_MANUAL;
	snprintf(spec.version, sizeof(spec.version), "2.0");
	CHECK_INT(ctl_add_cluster(f->c, "web", &spec, &(struct analysis_req){ 0 }, id, &err), ==,
		  0);
	recent_tick(&f->c->recent, f->dp, f->c->m, 102, WALL0 + 102);
	fake_dp_answered(f->dp, 0, 10);
	fake_dp_answered(f->dp, 1, 20);
	recent_tick(&f->c->recent, f->dp, f->c->m, 104, WALL0 + 104); /* not due */
	CHECK(!recent_last(&f->c->recent, 0), "a window of 4 s");
	recent_tick(&f->c->recent, f->dp, f->c->m, 105, WALL0 + 105);
	CHECK(recent_last(&f->c->recent, 0), "1.0's window [100, 105]");
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 10);
	CHECK(!recent_last(&f->c->recent, 1), "2.0's partial window [102, 105] is shown");
	fake_dp_answered(f->dp, 0, 13);
	fake_dp_answered(f->dp, 1, 27);
	recent_tick(&f->c->recent, f->dp, f->c->m, 110, WALL0 + 110);
	CHECK_INT(f->c->recent.v[0].start, ==, f->c->recent.v[1].start);
	CHECK_INT(recent_last(&f->c->recent, 0)->requests, ==, 3);
	CHECK(recent_last(&f->c->recent, 1), "2.0's window [105, 110]");
	CHECK_INT(recent_last(&f->c->recent, 1)->requests, ==, 7);
}

/* What the API renders from a snapshot of every version: the service
 * view and /metrics agree with the controller. */
static void test_ctl_views_and_metrics(void)
{
	struct fixture *f = new_fixture();
	struct vs_err err = {};
	char *text, *view;
	json_t *j;
	struct snap *s;

	CHECK(f, "fixture");
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	CHECK_INT(open_ctl(f, web_model(true), &err), ==, 0);
	CHECK_INT(snap_take(f->c, SNAP_VERSIONS, NULL, NULL, &s, &err), ==, 0);
	defer((void (*)(void *))snap_free, s);
	text = track(metrics_text(s));
	CHECK(text, "no metrics");
	CHECK_HAS(text, "vsteer_version_weight{service=\"web\",version=\"1.0\"} 1\n");
	CHECK_HAS(text, "vsteer_version_weight{service=\"web\",version=\"2.0\"} 0\n");
	CHECK_HAS(
		text,
		"vsteer_backend_up{service=\"web\",version=\"1.0\",backend=\"127.0.0.1:9001\"} 1\n");
	CHECK_HAS(
		text,
		"vsteer_backend_up{service=\"web\",version=\"2.0\",backend=\"127.0.0.1:9002\"} 0\n");
	CHECK_HAS(text, "vsteer_rollout_phase{service=\"web\",phase=\"progressing\"} 0\n");
	j = views_services(s);
	view = track(json_dumps(j, JSON_COMPACT));
	json_decref(j);
	CHECK(view, "no view");
	CHECK_HAS(view, "\"versions\":[{\"id\":\"c2\"");
	CHECK_HAS(view, "\"backends\":[{\"address\":\"127.0.0.1:9001\",\"live\":true");
}

/* A service new to the pinned maps is refused when another socket
 * listens on its address (exactly, or a wildcard that would take its
 * connections), unless the config says takeover; one the maps steer
 * already, and a socket of its own servers, are not another's. */
static void test_ctl_addresses_taken(void)
{
	struct fixture *f = new_fixture();
	struct model *m = web_model(false), *wild = new_model();
	struct config *cfg = tcalloc(sizeof(*cfg));
	struct vs_err err = {};
	struct vs_svc_key k;
	struct vs_svc v = {};

	CHECK(f && m && cfg, "fixture");
	listen_web(f, false);
	CHECK_INT(fake_dp_listen(f->dp, "127.0.0.2:8080", 201), ==, 0); /* another address */
	CHECK_INT(fake_dp_listen(f->dp, "127.0.0.1:8081", 202), ==, 0); /* another port */
	CHECK_INT(ctl_check_addresses(f->dp, m, NULL, &err), ==, 0);
	CHECK_INT(fake_dp_listen(f->dp, "0.0.0.0:8080", 203), ==, 0);
	CHECK_ERR(ctl_check_addresses(f->dp, m, NULL, &err), &err, -EADDRINUSE, 409,
		  "address_in_use");
	CHECK_HAS(err.msg, "service web: another process listens on 0.0.0.0:8080");
	CHECK_HAS(err.msg, "steering 127.0.0.1:8080 would take its new connections");
	CHECK_HAS(err.msg, "\"takeover\": true");

	row("%s", "takeover in the config");
	cfg->nsvc = 1;
	snprintf(cfg->svc[0].name, sizeof(cfg->svc[0].name), "web");
	snprintf(cfg->svc[0].where, sizeof(cfg->svc[0].where), "services[0]");
	ep_parse("127.0.0.1:8080", &cfg->svc[0].addr);
	CHECK_ERR(ctl_check_addresses(f->dp, m, cfg, &err), &err, -EADDRINUSE, 409,
		  "address_in_use");
	CHECK_HAS(err.msg, "(services[0].takeover)");
	cfg->svc[0].takeover = true;
	CHECK_INT(ctl_check_addresses(f->dp, m, cfg, &err), ==, 0);
	row("%s", "takeover given for another address");
	ep_parse("127.0.0.1:9090", &cfg->svc[0].addr);
	CHECK_INT(ctl_check_addresses(f->dp, m, cfg, &err), ==, -EADDRINUSE);

	row("%s", "a dual-stack [::] socket");
	fake_dp_close(f->dp, 203);
	CHECK_INT(fake_dp_listen(f->dp, "[::]:8080", 204), ==, 0);
	CHECK_INT(ctl_check_addresses(f->dp, m, NULL, &err), ==, -EADDRINUSE);
	CHECK_HAS(err.msg, "another process listens on [::]:8080");

	row("%s", "steered already");
	model_svc_key(m, 0, &k);
	fake_dp_svc_put(f->dp, &k, &v);
	CHECK_INT(ctl_check_addresses(f->dp, m, NULL, &err), ==, 0);
	fake_dp_close(f->dp, 204);
	fake_dp_close(f->dp, 201);

	row("%s", "a wildcard service");
	CHECK_INT(add_svc(wild, "any", "0.0.0.0:8080", 1, &err), ==, 0);
	CHECK_INT(add_cl(wild, 0, "1.0", CL_INSTANT, "127.0.0.1:8080", "c1", &err), ==, 0);
	CHECK_INT(add_cl(wild, 0, "2.0", CL_INSTANT, "127.0.0.1:9001", "c2", &err), ==, 1);
	CHECK_INT(fake_dp_listen(f->dp, "127.0.0.1:8080", 205), ==, 0); /* 1.0's own */
	CHECK_INT(ctl_check_addresses(f->dp, wild, NULL, &err), ==, 0);
	CHECK_INT(fake_dp_listen(f->dp, "127.0.0.3:8080", 206), ==, 0);
	CHECK_INT(ctl_check_addresses(f->dp, wild, NULL, &err), ==, -EADDRINUSE);
	CHECK_HAS(err.msg, "another process listens on 127.0.0.3:8080");
	CHECK_HAS(err.msg, "give the service \"takeover\": true");
}

/* What the kernel adapter re-pinned is said once, as a warning and an
 * event; a pin that cannot be put back is said once, not every tick, and
 * ctl_check_pins() says so until it is back. */
static void test_ctl_tick_pins(void)
{
	struct fixture *f = new_fixture();
	struct dp_pins_report r = {}, got;
	struct vs_err err = {};
	struct model *disk;

	CHECK(f, "fixture");
	listen_web(f, false);
	CHECK_INT(open_ctl(f, web_model(false), &err), ==, 0);
	ctl_tick(f->c);
	CHECK_INT(count_events(f->c->m, "repinned"), ==, 0);
	snprintf(r.repinned, sizeof(r.repinned), "link, track");
	fake_dp_pins_next(f->dp, &r);
	ctl_tick(f->c);
	CHECK_INT(count_events(f->c->m, "repinned"), ==, 1);
	CHECK_HAS(model_event_nth(f->c->m, 0)->message, "link, track");
	CHECK_STR(model_event_nth(f->c->m, 0)->service, "");
	disk = state_on_disk(f, &err);
	CHECK(disk, "%s", err.msg);
	CHECK_INT(count_events(disk, "repinned"), ==, 1);
	ctl_tick(f->c);
	CHECK_INT(count_events(f->c->m, "repinned"), ==, 1);

	row("%s", "cannot pin");
	memset(&r, 0, sizeof(r));
	snprintf(r.missing, sizeof(r.missing), "link");
	snprintf(r.why, sizeof(r.why), "cannot pin /x/link: Permission denied");
	r.err = -EPERM;
	for (int i = 0; i < 3; i++) {
		fake_dp_pins_next(f->dp, &r);
		ctl_tick(f->c);
	}
	CHECK_INT(count_events(f->c->m, "pins_lost"), ==, 1);
	CHECK_HAS(model_event_nth(f->c->m, 0)->message, "Permission denied");
	fake_dp_pins_next(f->dp, &r);
	CHECK_INT(ctl_check_pins(f->c, &got), ==, -EPERM);
	CHECK_STR(got.missing, "link");
	CHECK_INT(ctl_check_pins(f->c, &got), ==, 0);
	CHECK_STR(f->c->pins_missing, "");
	fake_dp_pins_next(f->dp, &r);
	ctl_tick(f->c);
	CHECK_INT(count_events(f->c->m, "pins_lost"), ==, 2); /* lost again */
}

const struct unit_case ctl_cases[] = {
	TEST(test_ctl_open_writes_maps_and_state),
	TEST(test_ctl_change_commits),
	TEST(test_ctl_tc_meter_wanted),
	TEST(test_ctl_map_write_fails),
	TEST(test_ctl_state_write_fails),
	TEST(test_ctl_adopts_pins),
	TEST(test_ctl_tick_places_sockets),
	TEST(test_ctl_tick_steps_rollout),
	TEST(test_ctl_views_read_only),
	TEST(test_ctl_health_commits_events),
	TEST(test_ctl_owner_recorded_and_enforced),
	TEST(test_ctl_owner_at_registration),
	TEST(test_ctl_recent_windows_shared),
	TEST(test_ctl_views_and_metrics),
	TEST(test_ctl_addresses_taken),
	TEST(test_ctl_tick_pins),
	{ NULL, NULL },
};
