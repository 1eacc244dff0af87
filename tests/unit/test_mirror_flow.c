// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The capture thread's flows (user/ctl/mirror_flow.c), fed capture
 * records as the kernel writes them: a request and its response paired
 * and queued, whatever order the CPUs' buffers are read in (a segment
 * before its connection's OPEN, a CLOSE before the last segment), and
 * what is not mirrored counted by reason.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/mirror.h"
#include "ctl/mirror_flow.h"
#include "ctl/mirror_replay.h"

#include "harness.h"
#include "helpers.h"

#define COOKIE 77
#define ISN_C  1000 /* the client's first byte */
#define ISN_S  5000 /* the backend's */

struct world {
	struct mirror_state ms;
	struct mirror_flows *f;
};

static void world_free(void *arg)
{
	struct world *w = arg;

	mirror_flows_free(w->f);
	mirror_replay_free(w->ms.replay);
	mirror_fini(&w->ms); /* frees the report */
	free(w);
}

/* Service 0 mirroring with the defaults, but every request sampled at
 * any rate; methods as given (NULL: the defaults). */
static struct world *world(const char *method)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	defer(world_free, w);
	mirror_init(&w->ms);
	w->ms.replay = mirror_replay_new();
	w->f = mirror_flows_new();
	w->ms.run[0].on = true;
	w->ms.run[0].started = 42;
	mirror_spec_defaults(&w->ms.run[0].spec);
	w->ms.run[0].spec.max_per_second = 1000;
	if (method) {
		w->ms.run[0].spec.nmethods = 1;
		strcpy(w->ms.run[0].spec.methods[0], method);
	}
	w->ms.rep[0] = calloc(1, sizeof(*w->ms.rep[0]));
	if (!w->ms.replay || !w->f || !w->ms.rep[0])
		abort();
	w->ms.rep[0]->started = 42;
	return w;
}

/* A record: kind, then for segments the payload at offset off of the
 * stream (seq = isn + off). */
static void rec(struct world *w, int kind, uint32_t off, const char *payload, bool fin, uint64_t ns)
{
	struct vs_cap c = { .cookie = COOKIE, .ns = ns, .kind = kind, .fin = fin };
	size_t n = payload ? strlen(payload) : 0;

	if (kind == VS_CAP_OPEN) {
		c.seq = ISN_C;
		c.len = ISN_S;
	} else if (kind == VS_CAP_REQ || kind == VS_CAP_RESP) {
		c.seq = (kind == VS_CAP_REQ ? ISN_C : ISN_S) + off;
		c.len = n;
		c.copied = n;
	}
	mirror_flows_record(&w->ms, w->f, &c, (const uint8_t *)payload);
}

#define GET	       "GET /items/7 HTTP/1.1\r\nHost: a\r\n\r\n"
#define GET_AUTH       "GET /items/7 HTTP/1.1\r\nAuthorization: x\r\n\r\n"
#define GET_PROXY_AUTH "GET /items/7 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n"
#define POST	       "POST /items HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
#define OK	       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

static void test_flow_orders(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		const char *order; /* O open, Q request, X one not HTTP, R response, r its 2nd
				    * half, C close, L lost */
		uint64_t requests, queued, dropped;
	} t[] = {
		{ "in order", "OQRC", 1, 1, 0 },
		{ "request before OPEN (another CPU's buffer)", "QORC", 1, 1, 0 },
		{ "response before the request", "ORQC", 1, 1, 0 },
		{ "everything before OPEN", "QRCO", 1, 1, 0 },
		{ "CLOSE before the response's last half", "OQRCr", 1, 1, 0 },
		{ "lost before the response", "OQL", 1, 0, 1 },
		{ "no OPEN at all", "QRC", 0, 0, 0 },
		{ "not HTTP: counted, not lost from sight", "OXRC", 1, 0, 1 },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct world *w = world(NULL);
		const char *resp = t[i].order[strlen(t[i].order) - 1] == 'r' ?
					   "HTTP/1.1 200 OK\r\nContent-" :
					   OK;
		const struct mirror_counts *n;

		for (const char *o = t[i].order; *o; o++) {
			switch (*o) {
			case 'O':
				rec(w, VS_CAP_OPEN, 0, NULL, false, 10);
				break;
			case 'Q':
				rec(w, VS_CAP_REQ, 0, GET, false, 20);
				break;
			case 'X':
				rec(w, VS_CAP_REQ, 0, "HELLO THERE\r\n\r\n", false, 20);
				break;
			case 'R':
				rec(w, VS_CAP_RESP, 0, resp, false, 30);
				break;
			case 'r':
				rec(w, VS_CAP_RESP, strlen(resp), &OK[strlen(resp)], false, 31);
				break;
			case 'C':
				rec(w, VS_CAP_CLOSE, 0, NULL, false, 40);
				break;
			case 'L':
				rec(w, VS_CAP_LOST, 0, NULL, false, 40);
				break;
			}
		}
		n = &w->ms.rep[0]->n;
		CHECK((n->requests) == (t[i].requests), "%s", t[i].name);
		CHECK(mirror_replay_queued(w->ms.replay) == t[i].queued, "%s", t[i].name);
		CHECK((n->dropped_stream) == (t[i].dropped), "%s", t[i].name);
	}
}

static void test_flow_skips(void)
{
	/* clang-format off */
	static const struct {
		const char *name, *method, *req;
		long field; /* offsetof the counter that counts it; -1: queued */
	} t[] = {
		{ "POST, not listed", NULL, POST, offsetof(struct mirror_counts, skipped_method) },
		{ "POST, listed", "POST", POST, -1 },
		{ "Authorization", NULL, GET_AUTH,
		  offsetof(struct mirror_counts, skipped_authorization) },
		{ "Proxy-Authorization", NULL, GET_PROXY_AUTH,
		  offsetof(struct mirror_counts, skipped_authorization) },
	};
	/* clang-format on */

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct world *w = world(t[i].method);
		const struct mirror_counts *n;

		rec(w, VS_CAP_OPEN, 0, NULL, false, 10);
		rec(w, VS_CAP_REQ, 0, t[i].req, false, 20);
		rec(w, VS_CAP_RESP, 0, OK, false, 30);
		n = &w->ms.rep[0]->n;
		CHECK(n->requests == 1, "%s", t[i].name);
		CHECK(mirror_replay_queued(w->ms.replay) == (t[i].field < 0), "%s", t[i].name);
		CHECK(t[i].field < 0 || *(const uint64_t *)((const char *)n + t[i].field) == 1,
		      "%s", t[i].name);
	}
}

/* Pipelined requests are paired in order; the rate limit drops what is
 * over maxPerSecond within one second. */
static void test_flow_pipelined_and_rate(void)
{
	struct world *w = world(NULL);
	const struct mirror_counts *n = &w->ms.rep[0]->n;

	w->ms.run[0].spec.max_per_second = 2;
	rec(w, VS_CAP_OPEN, 0, NULL, false, 10);
	rec(w, VS_CAP_REQ, 0, GET GET GET, false, 20);
	rec(w, VS_CAP_RESP, 0, OK OK OK, false, 30);
	CHECK_INT(n->requests, ==, 3);
	CHECK_INT(mirror_replay_queued(w->ms.replay), ==, 2);
	CHECK_INT(n->dropped_rate, ==, 1);
}

/* Many clients each holding an unfinished request out of order: what the
 * flows hold stays under MIRROR_HELD_MAX, whatever arrives. */
static void test_flow_held_bounded(void)
{
	struct world *w = world(NULL);
	size_t n = 200 * 1024;
	char *junk = malloc(n + 1);

	if (!junk)
		abort();
	defer(free, junk);
	memset(junk, 'x', n);
	junk[n] = '\0';
	for (uint64_t c = 1; c <= 400; c++) {
		struct vs_cap o = { .cookie = c, .kind = VS_CAP_OPEN, .seq = ISN_C, .len = ISN_S };
		struct vs_cap q = {
			.cookie = c, .kind = VS_CAP_REQ, .seq = ISN_C + 1, .len = n, .copied = n
		};

		mirror_flows_record(&w->ms, w->f, &o, NULL);
		mirror_flows_record(&w->ms, w->f, &q, (const uint8_t *)junk);
		CHECK(mirror_flows_held(w->f) <= MIRROR_HELD_MAX, "flow %llu: %zu held",
		      (unsigned long long)c, mirror_flows_held(w->f));
	}
	CHECK(mirror_flows_held(w->f) > MIRROR_HELD_MAX - 2 * n, "held %zu: not filled",
	      mirror_flows_held(w->f));
}

const struct unit_case mirror_flow_cases[] = {
	TEST(test_flow_held_bounded),	    TEST(test_flow_orders), TEST(test_flow_skips),
	TEST(test_flow_pipelined_and_rate), { NULL, NULL },
};
