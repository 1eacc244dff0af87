// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The model: services, clusters, weights, the data plane's view of
 * a service, and the event ring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "vsteer_hash.h"
#include "core/model.h"

#include "harness.h"
#include "helpers.h"

static int weight_of(const struct model *m, uint32_t svc, const char *ver)
{
	int slot = model_find_version(m, svc, ver);

	return slot < 0 ? -1 : m->cl[slot].weight;
}

static void test_model_add_service(void)
{
	struct model *m = new_model();
	struct vs_err err = { 0 };
	char name[80];

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "[::1]:8080", 2, &err), ==, 1);
	CHECK_INT(model_find_service(m, "api"), ==, 1);
	CHECK_INT(model_find_service(m, "nope"), ==, -ENOENT);
	CHECK_INT(m->svc[1].salt, ==, 2);
	CHECK_STR(ep_str(&m->svc[1].addr), "[::1]:8080");

	/* clang-format off */
	static const struct {
		const char *name, *addr;
		int ret, status;
		const char *code;
	} t[] = {
		{ "web", "127.0.0.1:8081", -EEXIST, 409, "duplicate_service" },
		{ "web2", "127.0.0.1:8080", -EEXIST, 409, "duplicate_service" },
		{ "", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "a b", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "a/b", "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
		{ "1234567890123456789012345678901234567890123456789012345678901234",
		  "127.0.0.1:8082", -EINVAL, 400, "bad_name" },
	};
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("'%s' at %s", t[i].name, t[i].addr);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(add_svc(m, t[i].name, t[i].addr, 3, &err), &err, t[i].ret, t[i].status,
			  t[i].code);
		CHECK_INT(model_nservices(m), ==, 2);
	}
	row("%s", "fill up");
	CHECK_INT(add_svc(m, "A-z_0.9-123456789012345678901234567890123456789012345678901234",
			  "127.0.0.1:8082", 3, &err),
		  ==, 2); /* 63 characters */
	for (int i = 3; i < VS_MAX_SERVICES; i++) {
		char addr[32];

		snprintf(name, sizeof(name), "s%d", i);
		snprintf(addr, sizeof(addr), "127.0.1.%d:80", i);
		CHECK_INT(add_svc(m, name, addr, i, &err), ==, i);
	}
	CHECK_INT(model_nservices(m), ==, VS_MAX_SERVICES);
	memset(&err, 0, sizeof(err));
	CHECK_ERR(add_svc(m, "one-too-many", "127.0.2.1:80", 0, &err), &err, -ENOSPC, 409, "limit");
}

static void test_model_add_weights(void)
{
	/* clang-format off */
	static const struct {
		const char *ver;
		enum cl_mode mode;
		const char *server, *want;
	} steps[] = {
		{ "1.0", CL_INSTANT, "127.0.0.1:9001", "1.0=10000" },
		/* an instant newer cluster takes everything */
		{ "2.0", CL_INSTANT, "127.0.0.1:9002", "2.0=10000 1.0=0" },
		/* a manual one takes nothing */
		{ "3.0", CL_MANUAL, "127.0.0.1:9003", "3.0=0 2.0=10000 1.0=0" },
		/* an instant one that is not the newest takes nothing */
		{ "1.5", CL_INSTANT, "127.0.0.1:9004", "3.0=0 2.0=10000 1.5=0 1.0=0" },
		{ "2.0.1", CL_INSTANT, "127.0.0.1:9005", "3.0=0 2.0.1=0 2.0=10000 1.5=0 1.0=0" },
		{ "4.0", CL_INSTANT, "127.0.0.1:9006", "4.0=10000 3.0=0 2.0.1=0 2.0=0 1.5=0 1.0=0" },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct vs_err err = { 0 };
	int slot;

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		row("add %s", steps[i].ver);
		slot = add_cl(m, 0, steps[i].ver, steps[i].mode, steps[i].server, NULL, &err);
		CHECK_INT(slot, ==, (int)i);
		CHECK(m->cl[slot].used, "slot not in use");
		CHECK_INT(strlen(m->cl[slot].id), ==, 36); /* a generated UUID */
		CHECK_INT(m->cl[slot].mode, ==, steps[i].mode);
		CHECK_INT(m->cl[slot].svc, ==, 0);
		CHECK_INT(m->cl[slot].nsrv, ==, 1);
		CHECK_STR(ep_str(&m->cl[slot].srv[0]), steps[i].server);
		CHECK_STR(weights_str(m, 0), steps[i].want);
	}
	row("%s", "ids");
	CHECK(strcmp(m->cl[0].id, m->cl[1].id), "two clusters got id %s", m->cl[0].id);
	CHECK_INT(model_find_cluster(m, m->cl[3].id), ==, 3);
	CHECK_INT(model_find_cluster(m, "no-such-id"), ==, -ENOENT);

	/* The first cluster of a service takes every session, even manual. */
	row("%s", "first cluster manual");
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	slot = add_cl(m, 1, "7", CL_MANUAL, "127.0.0.1:9101", "given-id", &err);
	CHECK_INT(slot, ==, ARRAY_SIZE(steps));
	CHECK_STR(m->cl[slot].id, "given-id");
	CHECK_STR(weights_str(m, 1), "7=10000");
	/* ... and the other service is untouched. */
	CHECK_STR(weights_str(m, 0), steps[ARRAY_SIZE(steps) - 1].want);
}

static void test_model_add_cluster_rejects(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		uint32_t svc;
		const char *ver, *servers, *id;
		int ret, status;
		const char *code;
	} t[] = {
		{ "version 1 is 1.0", 0, "1", "127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_version" },
		{ "version 1.0.0 is 1.0", 0, "1.0.0", "127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_version" },
		{ "server of another cluster", 0, "2.0", "127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server of another service's cluster", 1, "1.0", "127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server listed twice", 0, "2.0", "127.0.0.1:9002,127.0.0.1:9002", NULL, -EEXIST, 409, "duplicate_server" },
		{ "second server taken", 0, "2.0", "127.0.0.1:9002,127.0.0.1:9001", NULL, -EEXIST, 409, "duplicate_server" },
		{ "server is the service", 0, "2.0", "127.0.0.1:8080", NULL, -EINVAL, 400, "bad_server" },
		{ "server is another service", 0, "2.0", "127.0.0.1:8081", NULL, -EINVAL, 400, "bad_server" },
		{ "wildcard server", 0, "2.0", "0.0.0.0:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "IPv6 wildcard server", 2, "1.0", "[::]:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "IPv6 server, IPv4 service", 0, "2.0", "[::1]:9002", NULL, -EINVAL, 400, "bad_server" },
		{ "bad version", 0, "2.x", "127.0.0.1:9002", NULL, -EINVAL, 400, "bad_version" },
		{ "empty version", 0, "", "127.0.0.1:9002", NULL, -EINVAL, 400, "bad_version" },
		{ "no servers", 0, "2.0", "", NULL, -EINVAL, 400, "bad_servers" },
		{ "unknown service", 7, "2.0", "127.0.0.1:9002", NULL, -ENOENT, 404, "unknown_service" },
		{ "service out of range", VS_MAX_SERVICES, "2.0", "127.0.0.1:9002", NULL, -ENOENT, 404, "unknown_service" },
		{ "id taken", 0, "2.0", "127.0.0.1:9002", "c1", -EEXIST, 409, "duplicate_cluster" },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct vs_err err = { 0 };

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	CHECK_INT(add_svc(m, "v6", "[::1]:8080", 3, &err), ==, 2);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", "c1", &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		memset(&err, 0, sizeof(err));
		CHECK_ERR(add_cl(m, t[i].svc, t[i].ver, CL_INSTANT, t[i].servers, t[i].id, &err),
			  &err, t[i].ret, t[i].status, t[i].code);
		CHECK(err.msg[0], "no message");
		/* nothing half-applied */
		CHECK_INT(nclusters(m), ==, 1);
		CHECK_STR(weights_str(m, 0), "1.0=10000");
	}
}

static void test_model_order(void)
{
	static const char *const add[] = { "1.9",   "1.10", "0.0",	"2",
					   "1.9.1", "10",   "1.10.0.1", "0.1" };
	struct model *m = new_model();
	struct vs_err err = { 0 };
	uint32_t order[VS_MAX_VERSIONS];
	char server[32];
	char got[256] = "";

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "other", "127.0.0.1:8081", 1, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "5", CL_MANUAL, "127.0.0.1:9100", NULL, &err), ==, 0);
	for (size_t i = 0; i < ARRAY_SIZE(add); i++) {
		row("add %s", add[i]);
		snprintf(server, sizeof(server), "127.0.0.1:%zu", 9001 + i);
		CHECK_INT(add_cl(m, 0, add[i], CL_MANUAL, server, NULL, &err), ==, (int)i + 1);
	}
	row("%s", "order");
	uint32_t n = model_order(m, 0, order);

	CHECK_INT(n, ==, VS_MAX_VERSIONS);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_INT(m->cl[order[i]].svc, ==, 0);
		strcat(got, i ? " " : "");
		strcat(got, m->cl[order[i]].version);
	}
	CHECK_STR(got, "10 2 1.10.0.1 1.10 1.9.1 1.9 0.1 0.0");
	CHECK_INT(model_order(m, 1, order), ==, 1);
	CHECK_INT(order[0], ==, 0);
	CHECK_INT(model_order(m, 5, order), ==, 0);

	row("%s", "ninth version");
	memset(&err, 0, sizeof(err));
	CHECK_ERR(add_cl(m, 0, "11", CL_INSTANT, "127.0.0.1:9999", NULL, &err), &err, -ENOSPC, 409,
		  "limit");
	CHECK_INT(nclusters(m), ==, 9);
}

static void test_model_del_cluster(void)
{
	/* clang-format off */
	static const struct {
		const char *del, *want;
	} t[] = {
		/* its weight goes to the next older version ... */
		{ "3.0", "2.0=8000 1.0=2000" },
		{ "2.0", "3.0=5000 1.0=5000" },
		/* ... or, for the oldest, to the next newer one */
		{ "1.0", "3.0=5000 2.0=5000" },
	};
	/* clang-format on */
	static const char *const names[] = { "3.0", "2.0", "1.0" };
	static const uint16_t bp[] = { 5000, 3000, 2000 };
	struct vs_err err = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct model *m = new_model();
		int slot;

		row("delete %s", t[i].del);
		CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
		CHECK_INT(add_cl(m, 0, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 0);
		CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 1);
		CHECK_INT(add_cl(m, 0, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
		CHECK_INT(model_set_weights(m, 0, names, bp, 3, &err), ==, 0);
		CHECK_STR(weights_str(m, 0), "3.0=5000 2.0=3000 1.0=2000");
		slot = model_find_version(m, 0, t[i].del);
		CHECK(slot >= 0, "version not found");
		CHECK_INT(model_del_cluster(m, slot, false, &err), ==, 0);
		CHECK(!m->cl[slot].used, "slot still in use");
		CHECK_STR(weights_str(m, 0), t[i].want);
		/* the freed slot is the next one handed out */
		CHECK_INT(add_cl(m, 0, "9", CL_MANUAL, "127.0.0.1:9009", NULL, &err), ==, slot);
	}

	row("%s", "unknown slots");
	struct model *m = new_model();

	memset(&err, 0, sizeof(err));
	CHECK_ERR(model_del_cluster(m, 5, false, &err), &err, -ENOENT, 404, "unknown_cluster");
	CHECK_ERR(model_del_cluster(m, VS_MAX_SLOTS, true, &err), &err, -ENOENT, 404,
		  "unknown_cluster");
}

static void test_model_del_last_needs_force(void)
{
	struct model *m = new_model();
	struct vs_err err = { 0 };

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_ERR(model_del_cluster(m, 0, false, &err), &err, -EBUSY, 409, "last_cluster");
	CHECK(m->cl[0].used, "refused delete removed the cluster");
	CHECK_INT(weight_of(m, 0, "1"), ==, VS_BUCKETS);
	CHECK_INT(model_del_cluster(m, 0, true, &err), ==, 0);
	CHECK_INT(nclusters(m), ==, 0);
	CHECK(m->svc[0].used, "the service goes with its last cluster");
	/* a new first cluster starts with every session again */
	CHECK_INT(add_cl(m, 0, "0.5", CL_MANUAL, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_STR(weights_str(m, 0), "0.5=10000");
}

static void test_model_set_weights(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		const char *names[4];
		uint16_t bp[4];
		uint32_t n;
		int ret, status;
		const char *code, *want;
	} t[] = {
		{ "odd split, 2.0 unnamed", { "1.0", "3.0" }, { 3333, 6667 }, 2, 0, 0, "",
		  "3.0=6667 2.0=0 1.0=3333" },
		{ "all to one, by an equal version", { "2" }, { 10000 }, 1, 0, 0, "",
		  "3.0=0 2.0=10000 1.0=0" },
		{ "explicit zeros", { "1.0", "2.0", "3.0" }, { 0, 0, 10000 }, 3, 0, 0, "",
		  "3.0=10000 2.0=0 1.0=0" },
		{ "sum 9999", { "1.0", "3.0" }, { 3333, 6666 }, 2, -EINVAL, 400, "bad_weights", NULL },
		{ "sum 10001", { "1.0", "3.0" }, { 3334, 6667 }, 2, -EINVAL, 400, "bad_weights", NULL },
		{ "nothing named", { NULL }, { 0 }, 0, -EINVAL, 400, "bad_weights", NULL },
		{ "unknown version", { "1.0", "4.0" }, { 5000, 5000 }, 2, -ENOENT, 404,
		  "unknown_version", NULL },
		{ "named twice", { "1.0", "1.0" }, { 5000, 5000 }, 2, -EEXIST, 400, "bad_weights", NULL },
		{ "named twice, spelt differently", { "1.0", "1" }, { 5000, 5000 }, 2, -EEXIST, 400,
		  "bad_weights", NULL },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct vs_err err = { 0 };
	const char *before;
	char saved[512];

	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "empty", "127.0.0.1:8081", 1, &err), ==, 1);
	CHECK_INT(add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 0);
	CHECK_INT(add_cl(m, 0, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 1);
	CHECK_INT(add_cl(m, 0, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].name);
		before = weights_str(m, 0);
		snprintf(saved, sizeof(saved), "%s", before);
		memset(&err, 0, sizeof(err));
		int ret = model_set_weights(m, 0, t[i].names, t[i].bp, t[i].n, &err);

		if (t[i].ret) {
			CHECK_ERR(ret, &err, t[i].ret, t[i].status, t[i].code);
			CHECK_STR(weights_str(m, 0), saved); /* unchanged */
		} else {
			CHECK_INT(ret, ==, 0);
			CHECK_STR(weights_str(m, 0), t[i].want);
		}
	}
	row("%s", "service without clusters");
	memset(&err, 0, sizeof(err));
	static const char *const one[] = { "1.0" };
	static const uint16_t all[] = { 10000 };

	CHECK_INT(model_set_weights(m, 1, one, all, 1, &err), ==, -ENOENT);
}

static void test_model_svc_value(void)
{
	static const char *const names[] = { "3.0", "1.0" };
	static const uint16_t bp[] = { 1000, 9000 };
	struct model *m = new_model();
	struct vs_err err = { 0 };
	uint8_t nsock[VS_MAX_SLOTS];
	struct vs_svc_key k;
	struct vs_svc v;

	memset(nsock, 9, sizeof(nsock));
	nsock[0] = 3;
	nsock[1] = 5;
	nsock[2] = 7;
	CHECK_INT(add_svc(m, "pad", "127.0.0.1:1", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 0xabcd1234, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "2.0", CL_INSTANT, "127.0.0.1:9002", NULL, &err), ==, 0);
	CHECK_INT(add_cl(m, 1, "1.0", CL_INSTANT, "127.0.0.1:9001", NULL, &err), ==, 1);
	CHECK_INT(add_cl(m, 1, "3.0", CL_MANUAL, "127.0.0.1:9003", NULL, &err), ==, 2);
	CHECK_INT(model_set_weights(m, 1, names, bp, 2, &err), ==, 0);

	memset(&v, 0xa5, sizeof(v));
	model_svc_value(m, 1, nsock, &v);
	CHECK_INT(v.id, ==, 1);
	CHECK_INT(v.salt, ==, 0xabcd1234);
	CHECK_INT(v.nver, ==, 3);
	CHECK_INT(v.session_ms, ==, 0);
	/* clang-format off */
	static const struct vs_ver want[3] = {
		{ .slot = 2, .upto = 1000, .nsock = 7 },	/* 3.0 */
		{ .slot = 0, .upto = 1000, .nsock = 3 },	/* 2.0, weight 0 */
		{ .slot = 1, .upto = 10000, .nsock = 5 },	/* 1.0 */
	};
	/* clang-format on */
	for (uint32_t i = 0; i < VS_MAX_VERSIONS; i++) {
		row("ver[%u]", i);
		CHECK_INT(v.ver[i].slot, ==, i < 3 ? want[i].slot : 0);
		CHECK_INT(v.ver[i].upto, ==, i < 3 ? want[i].upto : 0);
		CHECK_INT(v.ver[i].nsock, ==, i < 3 ? want[i].nsock : 0);
	}
	row("%s", "picks");
	/* what the data plane makes of it: 2.0 (weight 0) gets no bucket */
	CHECK_INT(vs_pick_version(&v, 0), ==, 0);
	CHECK_INT(vs_pick_version(&v, 999), ==, 0);
	CHECK_INT(vs_pick_version(&v, 1000), ==, 2);
	CHECK_INT(vs_pick_version(&v, 9999), ==, 2);

	row("%s", "key");
	memset(&k, 0xa5, sizeof(k));
	model_svc_key(m, 1, &k);
	CHECK_INT(k.family, ==, AF_INET);
	CHECK_INT(k.proto, ==, VS_PROTO_TCP);
	CHECK_INT(k.port, ==, 8080);
	CHECK_INT(k.addr[0], ==, htonl(0x7f000001));
	CHECK(!k.addr[1] && !k.addr[2] && !k.addr[3], "addr[1..3]");

	row("%s", "service without clusters");
	model_svc_value(m, 0, nsock, &v);
	CHECK_INT(v.id, ==, 0);
	CHECK_INT(v.nver, ==, 0);
	CHECK_INT(v.ver[0].upto, ==, 0);
}

/* The event ring: ids one apart, the newest EVENT_RING kept, what a
 * follower after an id gets and misses, fields cut to fit. */
static void test_model_events_ring(void)
{
	struct model *m = new_model();
	const struct event_ring *r = &m->events;
	const struct event *e;
	char big[301], want[32];

	CHECK_INT(event_count_after(r, 0), ==, 0);
	CHECK_INT(event_missed(r, 0), ==, 0);
	for (uint32_t i = 0; i < 300; i++) {
		row("event %u", i);
		model_event(m, T0 + i, "web", "step", "event %u", i);
		CHECK_INT(r->n, ==, i + 1 < EVENT_RING ? i + 1 : EVENT_RING);
		CHECK_INT(r->last_id, ==, i + 1);
		e = model_event_nth(m, 0);
		CHECK_INT(e->id, ==, i + 1);
		CHECK_INT(e->time, ==, T0 + i);
		CHECK_STR(e->service, "web");
		CHECK_STR(e->kind, "step");
		snprintf(want, sizeof(want), "event %u", i);
		CHECK_STR(e->message, want);
	}
	/* the newest EVENT_RING are kept */
	for (uint32_t k = 0; k < EVENT_RING; k++) {
		row("newest %u", k);
		e = model_event_nth(m, k);
		CHECK_INT(e->id, ==, 300 - k);
		CHECK_INT(e->time, ==, T0 + 299 - k);
		snprintf(want, sizeof(want), "event %u", 299 - k);
		CHECK_STR(e->message, want);
	}
	/* A follower: ids 45-300 are kept (300 - EVENT_RING + 1 = 45). */
	/* clang-format off */
	static const struct { uint64_t since; uint32_t after; uint64_t missed; } follow[] = {
		{ 300, 0, 0 }, { 299, 1, 0 }, { 100, 200, 0 }, { 44, 256, 0 },
		{ 43, 256, 1 }, { 0, 256, 44 },
	};
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_SIZE(follow); i++) {
		row("since %llu", (unsigned long long)follow[i].since);
		CHECK_INT(event_count_after(r, follow[i].since), ==, follow[i].after);
		CHECK_INT(event_missed(r, follow[i].since), ==, follow[i].missed);
	}

	/* Every field is cut to fit, and only its own event is written. */
	memset(big, 'x', 300);
	big[300] = '\0';
	row("%s", "300 characters everywhere");
	model_event(m, T0 + 1000, big, big, "%s", big);
	e = model_event_nth(m, 0);
	CHECK_INT(e->id, ==, 301);
	CHECK_INT(e->time, ==, T0 + 1000);
	CHECK_INT(strlen(e->service), ==, sizeof(e->service) - 1);
	CHECK_INT(strlen(e->kind), ==, sizeof(e->kind) - 1);
	CHECK_INT(strlen(e->message), ==, sizeof(e->message) - 1);
	CHECK(!strncmp(e->message, big, sizeof(e->message) - 1), "message");
	CHECK_INT(r->n, ==, EVENT_RING);
	CHECK_INT(model_event_nth(m, 1)->time, ==, T0 + 299);
	CHECK_STR(model_event_nth(m, 1)->message, "event 299");
	CHECK_INT(model_event_nth(m, EVENT_RING - 1)->id, ==, 301 - EVENT_RING + 1);
	row("%s", "a format that expands to 900 characters");
	model_event(m, T0 + 1001, "web", "step", "%s%s%s", big, big, big);
	e = model_event_nth(m, 0);
	CHECK_INT(e->time, ==, T0 + 1001);
	CHECK_STR(e->service, "web");
	CHECK_INT(strlen(e->message), ==, sizeof(e->message) - 1);
	CHECK_INT(model_event_nth(m, 1)->time, ==, T0 + 1000);

	/* Restored ids must increase. */
	struct event old = { .id = 302, .time = T0, .kind = "step" };

	row("%s", "restore");
	CHECK_INT(event_restore(&m->events, &old), ==, -EINVAL);
	old.id = 400;
	CHECK_INT(event_restore(&m->events, &old), ==, 0);
	CHECK_INT(r->last_id, ==, 400);
	model_event(m, T0, "web", "step", "after");
	CHECK_INT(model_event_nth(m, 0)->id, ==, 401);
}

/* Every kind has a level; rollbacks and refusals are warnings. */
static void test_model_event_levels(void)
{
	/* clang-format off */
	static const struct { const char *kind; enum vs_log_level level; } want[] = {
		{ "auto_rollback", VS_LOG_WARN }, { "rolled_back", VS_LOG_WARN },
		{ "socket_refused", VS_LOG_WARN }, { "backend_down", VS_LOG_WARN },
		{ "pins_lost", VS_LOG_ERR }, { "started", VS_LOG_NOTICE },
		{ "weights_set", VS_LOG_NOTICE }, { "no_such_kind", VS_LOG_INFO },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		row("%s", want[i].kind);
		CHECK_INT(event_level(want[i].kind), ==, want[i].level);
	}
	for (const struct event_kind *k = event_kinds; k->kind; k++) {
		row("%s", k->kind);
		CHECK(strlen(k->kind) < EVENT_KIND_LEN, "fits");
		CHECK(log_level_name(k->level), "a level");
		for (const struct event_kind *o = event_kinds; o != k; o++)
			CHECK(strcmp(o->kind, k->kind), "listed twice");
	}
}

const struct unit_case model_cases[] = { TEST(test_model_add_service),
					 TEST(test_model_add_weights),
					 TEST(test_model_add_cluster_rejects),
					 TEST(test_model_order),
					 TEST(test_model_del_cluster),
					 TEST(test_model_del_last_needs_force),
					 TEST(test_model_set_weights),
					 TEST(test_model_svc_value),
					 TEST(test_model_events_ring),
					 TEST(test_model_event_levels),
					 { NULL, NULL } };
