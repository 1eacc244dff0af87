// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cli/json.h"
#include "lib/str.h"

#define EVENTS_WAIT 60 /* the API's longest wait */

const char *cli_event_line(const json_t *e, bool long_form, char *buf, size_t size)
{
	const char *t = cli_jstr(e, "time", "");
	char line[1024];

	/* "2026-12-07T03:07:18Z": the time of day is enough to follow one */
	if (!long_form && strlen(t) >= 19)
		snprintf(line, sizeof(line), "%.8s %s: %s", t + 11, cli_jstr(e, "kind", "?"),
			 cli_jstr(e, "message", ""));
	else
		snprintf(line, sizeof(line), "%lld %s %s %s: %s", cli_jint(e, "id", 0), t,
			 cli_jstr(e, "service", "")[0] ? cli_jstr(e, "service", "") : "-",
			 cli_jstr(e, "kind", "?"), cli_jstr(e, "message", ""));
	return str_printable(buf, size, line);
}

int cli_events_poll(struct cli_opts *o, const char *service, int64_t since, int wait,
		    json_t **events, int64_t *last)
{
	char path[256], q[160] = "";
	json_t *reply, *arr;
	double l;
	int ret;

	if (service)
		snprintf(q, sizeof(q), "service=%s&", service);
	if (since >= 0 && wait > 0)
		snprintf(path, sizeof(path), "/v1/events?%ssince=%lld&wait=%d", q, (long long)since,
			 wait);
	else if (since >= 0)
		snprintf(path, sizeof(path), "/v1/events?%ssince=%lld", q, (long long)since);
	else
		snprintf(path, sizeof(path), "/v1/events%s%.*s", *q ? "?" : "",
			 (int)(*q ? strlen(q) - 1 : 0), q);
	ret = cli_api_call(&o->api, "GET", path, NULL, wait > 0 ? wait : 0, &reply);
	if (ret < 0)
		return ret;
	arr = cli_jarr(reply, "events");
	if (!arr || !cli_jhas_num(reply, "last", &l) || l < 0) {
		snprintf(o->api.err, sizeof(o->api.err),
			 "GET %s: the reply has no \"events\" list or no \"last\"", path);
		json_decref(reply);
		return -EBADMSG;
	}
	*last = cli_jint(reply, "last", 0);
	*events = json_array();
	/* without since the newest come first: turn them round */
	for (size_t i = 0; i < json_array_size(arr); i++) {
		size_t k = since >= 0 ? i : json_array_size(arr) - 1 - i;
		json_t *e = json_array_get(arr, k);

		if (json_is_object(e))
			json_array_append(*events, e);
	}
	if (cli_jnum(reply, "missed", 0) > 0)
		fprintf(stderr, "vsteerctl: %lld events after %lld are no longer kept\n",
			cli_jint(reply, "missed", 0), (long long)since);
	json_decref(reply);
	return 0;
}

static void print_events(struct cli_opts *o, json_t *events)
{
	char line[1100];
	json_t *e;
	size_t i;

	json_array_foreach (events, i, e) {
		if (o->json) {
			json_dumpf(e, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
		} else {
			puts(cli_event_line(e, true, line, sizeof(line)));
		}
	}
	fflush(stdout);
}

int cli_events_cmd(struct cli_opts *o)
{
	const char *service = o->argc ? o->argv[0] : NULL;
	char err[CLI_ERR_LEN];
	int64_t since = -1, last;
	json_t *events;

	if (o->argc > 1)
		return cli_error("events [SERVICE]: one service at most");
	if (service && cli_check_name("service", service, err) < 0)
		return cli_error("%s", err);
	if (o->since) {
		char *end;

		errno = 0;
		since = strtoll(o->since, &end, 10);
		if (!*o->since || *end || errno || since < 0)
			return cli_error("--since '%s': an event id (0 or more)", o->since);
	}
	if (o->follow)
		o->api.retry_ms = CLI_FOLLOW_RETRY_MS;
	/* --since alone must not wait: what came after ID, at once */
	if (cli_events_poll(o, service, since, 0, &events, &last) < 0)
		return cli_api_error(o);
	print_events(o, events);
	json_decref(events);
	while (o->follow) {
		if (cli_events_poll(o, service, last, EVENTS_WAIT, &events, &last) < 0) {
			int64_t was = last;

			/* a vsteerd started again over an older state file has
			 * fewer events: go on from its newest */
			if (strcmp(o->api.code, "bad_field") ||
			    cli_events_poll(o, service, -1, 0, &events, &last) < 0)
				return cli_api_error(o);
			json_decref(events);
			fprintf(stderr,
				"vsteerctl: vsteerd's newest event is %lld, before %lld: "
				"it started again with older events; following from %lld\n",
				(long long)last, (long long)was, (long long)last);
			continue;
		}
		print_events(o, events);
		json_decref(events);
	}
	return 0;
}
