// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Notifications: the "notifications" parser (what it takes and every
 * hostile value it refuses), their round trip through the state file, and
 * the notifier's queue (bounded, drops counted, events matched to
 * targets) with no network: nothing here starts the sending thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/parse.h"
#include "codec/parse_notify.h"
#include "codec/state.h"
#include "codec/state_parse.h"
#include "core/model.h"
#include "ctl/ctl.h"
#include "ctl/notifier.h"

#include "harness.h"
#include "helpers.h"

static int parse(const char *sq_json, struct notify_list *l, struct vs_err *err)
{
	json_t *j = json_loads(jq(sq_json), 0, NULL);
	int ret;

	if (!j)
		return BAD_TEST_INPUT;
	ret = parse_notifications(j, "n", l, err);
	json_decref(j);
	return ret;
}

static void test_notify_parse_good(void)
{
	struct notify_list *l = tcalloc(sizeof(*l));
	struct vs_err err;

	CHECK_INT(
		parse("[{'url': 'http://127.0.0.1:9500/hook', 'events': ['auto_rollback', 'step'],"
		      "  'headers': {'Authorization': 'Bearer x y', 'X-Tab': 'a\\tb'},"
		      "  'timeoutMs': 300},"
		      " {'url': 'HTTPS://[::1]:8443/x?a=b'}, {'url': 'http://h', 'events': ['*']}]",
		      l, &err),
		==, 0);
	CHECK_INT(l->n, ==, 3);
	CHECK_STR(l->t[0].url, "http://127.0.0.1:9500/hook");
	CHECK_INT(l->t[0].all, ==, false);
	CHECK_INT(notify_wants(&l->t[0], "auto_rollback"), ==, true);
	CHECK_INT(notify_wants(&l->t[0], "step"), ==, true);
	CHECK_INT(notify_wants(&l->t[0], "started"), ==, false);
	CHECK_INT(notify_wants(&l->t[0], "no_such_kind"), ==, false);
	CHECK_INT(l->t[0].timeout_ms, ==, 300);
	CHECK_INT(l->t[0].nheaders, ==, 2);
	CHECK_STR(notify_header(&l->t[0], 0), "Authorization: Bearer x y");
	CHECK_STR(notify_header(&l->t[0], 1), "X-Tab: a\tb");
	/* events left out, or "*": every kind, those added later too */
	CHECK_INT(l->t[1].all, ==, true);
	CHECK_INT(l->t[1].timeout_ms, ==, NOTIFY_TIMEOUT_DFLT);
	CHECK_INT(notify_wants(&l->t[1], "approval_needed"), ==, true);
	CHECK_INT(l->t[2].all, ==, true);
	CHECK_INT(parse("[]", l, &err), ==, 0);
	CHECK_INT(l->n, ==, 0);
}

static void test_notify_parse_refused(void)
{
	/* clang-format off */
	static const struct {
		const char *json, *code, *msg;
	} rows[] = {
		{ "{'url': 'http://x'}", "bad_notifications", "n: must be a list" },
		{ "['http://x']", "bad_field", "n[0]: must be an object" },
		{ "[{}]", "bad_notifications", "n[0].url: must be a string" },
		{ "[{'url': 7}]", "bad_notifications", "n[0].url: must be a string" },
		{ "[{'url': 'ftp://x/'}]", "bad_notifications", "n[0].url: must start with http:// or https://" },
		{ "[{'url': 'file:///etc/passwd'}]", "bad_notifications", "must start with http://" },
		{ "[{'url': 'http://'}]", "bad_notifications", "n[0].url: needs a host" },
		{ "[{'url': 'http:///x'}]", "bad_notifications", "needs a host" },
		{ "[{'url': 'http://:80/x'}]", "bad_notifications", "needs a host" },
		{ "[{'url': 'http://[]/x'}]", "bad_notifications", "needs a host" },
		{ "[{'url': 'http://x:0/'}]", "bad_notifications", "port that is not 1 to 65535" },
		{ "[{'url': 'http://x:65536/'}]", "bad_notifications", "port that is not 1 to 65535" },
		{ "[{'url': 'http://x:99999999999999999999/'}]", "bad_notifications", "port that is not" },
		{ "[{'url': 'http://x:8a/'}]", "bad_notifications", "port that is not" },
		{ "[{'url': 'http://x:-7777777777777777778/'}]", "bad_notifications", "port that is not" },
		{ "[{'url': 'http://x:8a99999999999999999999/'}]", "bad_notifications", "port that is not" },
		{ "[{'url': 'http://u:p@x/'}]", "bad_notifications", "must not carry credentials" },
		{ "[{'url': 'http://x/#frag'}]", "bad_notifications", "must not have a fragment" },
		{ "[{'url': 'http://x/a b'}]", "bad_notifications", "printable ASCII without spaces" },
		{ "[{'url': 'http://x/\\r\\nHost: y'}]", "bad_notifications", "printable ASCII" },
		{ "[{'url': 'http://x/\\u00e9'}]", "bad_notifications", "printable ASCII" },
		{ "[{'url': 'http://x/', 'events': []}]", "bad_notifications", "n[0].events: must be a non-empty list" },
		{ "[{'url': 'http://x/', 'events': 'step'}]", "bad_notifications", "n[0].events: must be a non-empty list" },
		{ "[{'url': 'http://x/', 'events': ['step', 'nope']}]", "bad_notifications", "n[0].events[1]: 'nope' is not an event kind" },
		{ "[{'url': 'http://x/', 'events': ['*', 'step']}]", "bad_notifications", "n[0].events[0]: '*' is not an event kind" },
		{ "[{'url': 'http://x/', 'events': [1]}]", "bad_notifications", "'(not a string)' is not an event kind" },
		{ "[{'url': 'http://x/', 'headers': []}]", "bad_notifications", "n[0].headers: must be an object" },
		{ "[{'url': 'http://x/', 'headers': {'A': 1}}]", "bad_notifications", "n[0].headers.A: must be a string" },
		{ "[{'url': 'http://x/', 'headers': {'A': 'x\\r\\nB: y'}}]", "bad_notifications", "no CR, LF" },
		{ "[{'url': 'http://x/', 'headers': {'A': 'x\\ny'}}]", "bad_notifications", "no CR, LF" },
		{ "[{'url': 'http://x/', 'headers': {'A': 'x\\u0000y'}}]", "bad_notifications", "no CR, LF" },
		{ "[{'url': 'http://x/', 'headers': {'A B': 'x'}}]", "bad_notifications", "'A B' is not a header name" },
		{ "[{'url': 'http://x/', 'headers': {'': 'x'}}]", "bad_notifications", "'' is not a header name" },
		{ "[{'url': 'http://x/', 'headers': {'A:': 'x'}}]", "bad_notifications", "is not a header name" },
		{ "[{'url': 'http://x/', 'headers': {'Host': 'x'}}]", "bad_notifications", "n[0].headers.Host: set by vsteerd" },
		{ "[{'url': 'http://x/', 'headers': {'user-agent': 'x'}}]", "bad_notifications", "set by vsteerd" },
		{ "[{'url': 'http://x/', 'headers': {'Content-Length': '9'}}]", "bad_notifications", "set by vsteerd" },
		{ "[{'url': 'http://x/', 'headers': {'A': '1', 'a': '2'}}]", "bad_notifications", "n[0].headers.a: given twice" },
		{ "[{'url': 'http://x/', 'timeoutMs': 99}]", "bad_notifications", "n[0].timeoutMs: must be a whole number from 100 to 30000" },
		{ "[{'url': 'http://x/', 'timeoutMs': 30001}]", "bad_notifications", "timeoutMs" },
		{ "[{'url': 'http://x/', 'timeoutMs': '5'}]", "bad_notifications", "timeoutMs" },
		{ "[{'url': 'http://x/', 'timeoutMs': -5}]", "bad_notifications", "timeoutMs" },
		{ "[{'url': 'http://x/', 'timeoutMs': 4294967396}]", "bad_notifications", "timeoutMs" },
		{ "[{'url': 'http://x/', 'timeoutMs': 150.5}]", "bad_notifications", "timeoutMs" },
		{ "[{'url': 'http://x/', 'method': 'GET'}]", "unknown_field", "n[0]: unknown field 'method'" },
		{ "[{'url': 'http://x/'}, {'url': 'http://x/'}, {'url': 'http://x/'}, {'url': 'http://x/'},"
		  " {'url': 'http://x/'}]", "limit", "n: at most 4 targets" },
		{ "[{'url': 'http://x/', 'headers': {'A': '', 'B': '', 'C': '', 'D': '', 'E': '', 'F': '',"
		  " 'G': '', 'H': '', 'I': ''}}]", "limit", "n[0].headers: at most 8 headers" },
	};
	/* clang-format on */
	struct notify_list *l = tcalloc(sizeof(*l));
	struct vs_err err;
	char big[1400], url[300];

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		row("%s", rows[i].json);
		l->n = 77; /* untouched by a refusal */
		CHECK_INT(parse(rows[i].json, l, &err), <, 0);
		CHECK_STR(err.code, rows[i].code);
		CHECK_INT(err.status, ==, 400);
		CHECK_HAS(err.msg, rows[i].msg);
		CHECK_INT(l->n, ==, 77);
	}
	row("%s", "a 256-byte url");
	snprintf(url, sizeof(url), "[{'url': 'http://x/%0247d'}]", 0);
	CHECK_INT(parse(url, l, &err), ==, -EINVAL);
	CHECK_HAS(err.msg, "n[0].url: must be under 256 bytes");
	snprintf(url, sizeof(url), "[{'url': 'http://x/%0246d'}]", 0);
	CHECK_INT(parse(url, l, &err), ==, 0);
	row("%s", "headers over 1024 bytes in all");
	snprintf(big, sizeof(big),
		 "[{'url': 'http://x/', 'headers': {'A': '%0500d', 'B': '%0500d'}}]", 0, 0);
	CHECK_INT(parse(big, l, &err), ==, 0);
	snprintf(big, sizeof(big),
		 "[{'url': 'http://x/', 'headers': {'A': '%0500d', 'B': '%0500d', 'C': '%020d'}}]",
		 0, 0, 0);
	CHECK_INT(parse(big, l, &err), ==, -E2BIG);
	CHECK_STR(err.code, "limit");
	CHECK_HAS(err.msg, "n[0].headers: over 1024 bytes in all");
}

/* A service's notifications are in the state file, header values and
 * all; the API's view hides the values; a state file from before them
 * loads with none. */
static void test_notify_state_roundtrip(void)
{
	struct model *m = new_model(), *m2 = new_model();
	struct vs_err err;
	json_t *view;
	char *text, *shown;

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(parse("[{'url': 'https://h/x', 'events': ['step', 'approval_needed'],"
			"  'headers': {'Authorization': 'Bearer t'}, 'timeoutMs': 700}]",
			&m->svc[1].notify, &err),
		  ==, 0);
	text = track(state_dump(m));
	CHECK_HAS(text, "\"Bearer t\"");
	CHECK_INT(state_parse(text, strlen(text), "s", m2, &err), ==, 0);
	CHECK(!memcmp(&m->svc[1].notify, &m2->svc[1].notify, sizeof(m->svc[1].notify)), "%s",
	      "notifications differ after the round trip");
	CHECK_INT(m2->svc[0].notify.n, ==, 0);
	view = state_notify_json(&m2->svc[1].notify, false);
	shown = track(json_dumps(view, JSON_COMPACT));
	json_decref(view);
	CHECK_STR(shown, "[{\"url\":\"https://h/x\",\"events\":[\"step\",\"approval_needed\"],"
			 "\"headers\":{\"Authorization\":\"(hidden)\"},\"timeoutMs\":700}]");
	row("%s", "a bad one in the state file");
	text = jq("{'vsteerState': 1, 'clusters': [], 'services': [{'name': 'a', 'id': 0,"
		  " 'address': '127.0.0.1', 'port': 80, 'salt': 1,"
		  " 'notifications': [{'url': 'gopher://x'}]}]}");
	CHECK_INT(state_parse(text, strlen(text), "s", m2, &err), ==, -EINVAL);
	CHECK_HAS(err.msg, "services[0].notifications[0].url: must start with http://");
}

/* A struct ctl with just what the notifier's subscriber reads: the model
 * and the queue. */
static struct ctl *bare_ctl(struct model *m)
{
	struct ctl *c = tcalloc(sizeof(*c));

	c->m = m;
	notifier_init(&c->notify);
	defer((void (*)(void *))notifier_release, &c->notify);
	return c;
}

static void test_notify_queue_bounded(void)
{
	struct model *m = new_model();
	struct ctl *c = bare_ctl(m);
	struct notifier_state *n = &c->notify;
	struct notify_target t = { .url = "http://x/", .all = true };
	struct event e = { .id = 1, .kind = "step" };

	for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++)
		CHECK_INT(notifier_queue(n, &t, &e), ==, 0);
	CHECK_INT(atomic_load(&n->queued), ==, NOTIFIER_QUEUE);
	CHECK_INT(atomic_load(&n->failed), ==, 0);
	/* full: the new one is dropped and counted, 3 times */
	for (uint32_t i = 0; i < 3; i++)
		CHECK_INT(notifier_queue(n, &t, &e), ==, -ENOBUFS);
	CHECK_INT(atomic_load(&n->queued), ==, NOTIFIER_QUEUE);
	CHECK_INT(atomic_load(&n->failed), ==, 3);
	CHECK_INT(n->dropping, ==, 3);
	CHECK_HAS(n->q[0].body, "\"kind\":\"step\"");
	CHECK_INT(n->q[NOTIFIER_QUEUE - 1].seq, ==, NOTIFIER_QUEUE);
	/* what is left when it stops counts as failed, and is freed */
	notifier_release(n);
	CHECK_INT(atomic_load(&n->queued), ==, 0);
	CHECK_INT(atomic_load(&n->failed), ==, 3 + NOTIFIER_QUEUE);
	CHECK_INT(n->dropping, ==, 0);
	CHECK_INT(notifier_queue(n, &t, &e), ==, 0);
}

/* Each event goes to the daemon's targets that want its kind, and to its
 * own service's; the first call only says where to start. */
static void test_notify_events_matched(void)
{
	struct model *m = new_model();
	struct ctl *c = bare_ctl(m);
	struct notifier_state *n = &c->notify;
	struct vs_err err;
	uint32_t per_url[3] = { 0 };

	setup_web(m);
	if (cur_failed)
		return;
	CHECK_INT(parse("[{'url': 'http://d/', 'events': ['auto_rollback', 'repinned']}]",
			&n->daemon, &err),
		  ==, 0);
	CHECK_INT(parse("[{'url': 'http://web/'}]", &m->svc[0].notify, &err), ==, 0);
	model_event(m, 1, "web", "step", "before the notifier started");
	notifier_on_events(c, m->events.last_id);
	CHECK_INT(atomic_load(&n->queued), ==, 0);
	model_event(m, 2, "web", "step", "s");
	model_event(m, 3, "web", "auto_rollback", "a");
	model_event(m, 4, "api", "auto_rollback", "other service");
	model_event(m, 5, "api", "step", "nobody wants it");
	model_event(m, 6, "", "repinned", "the daemon's own");
	notifier_on_events(c, m->events.last_id);
	for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++) {
		const struct notifier_item *it = &n->q[i];

		if (!it->used)
			continue;
		per_url[!strcmp(it->t.url, "http://d/")	  ? 0 :
			!strcmp(it->t.url, "http://web/") ? 1 :
							    2]++;
		row("event %llu to %s", (unsigned long long)it->event, it->t.url);
		CHECK(!strcmp(it->t.url, "http://d/") ? it->event >= 3 && it->event != 5 :
							it->event == 2 || it->event == 3,
		      "%s", it->kind);
	}
	row("%s", "");
	CHECK_INT(per_url[0], ==, 3); /* 3, 4, 6 */
	CHECK_INT(per_url[1], ==, 2); /* 2, 3 */
	CHECK_INT(per_url[2], ==, 0);
	CHECK_INT(n->last, ==, 6);
	notifier_on_events(c, m->events.last_id); /* nothing new: nothing twice */
	CHECK_INT(atomic_load(&n->queued), ==, 5);
}

const struct unit_case notify_cases[] = {
	TEST(test_notify_parse_good),	   TEST(test_notify_parse_refused),
	TEST(test_notify_state_roundtrip), TEST(test_notify_queue_bounded),
	TEST(test_notify_events_matched),  { NULL, NULL },
};
