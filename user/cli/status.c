// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cli/get.h"
#include "cli/json.h"
#include "cli/status.h"
#include "cli/watch.h"
#include "lib/clock.h"
#include "lib/str.h"

/* A frame on a terminal is redrawn at least this often (its req/s and
 * "next step in" move without events); a pipeline waits longer. */
#define WATCH_WAIT 1
#define PLAIN_WAIT 60

int cli_status_outcome(const json_t *ro, char *why, size_t size)
{
	const char *phase = cli_jstr(ro, "phase", "");
	json_t *h;
	size_t i;

	if (!strcmp(phase, "completed"))
		return CLI_EXIT_OK;
	if (strcmp(phase, "rolled_back") && strcmp(phase, "aborted"))
		return -1;
	snprintf(why, size, "%s", phase);
	/* the history is newest first: the entry that ended it */
	json_array_foreach (cli_jarr(ro, "history"), i, h) {
		const char *k = cli_jstr(h, "kind", "");
		char line[1024];

		if (strcmp(k, "auto_rollback") && strcmp(k, "rolled_back") && strcmp(k, "aborted"))
			continue;
		snprintf(line, sizeof(line), "%s: %s", k, cli_jstr(h, "message", ""));
		str_printable(why, size, line);
		break;
	}
	return CLI_EXIT_FAILED;
}

/* A call that failed: a timeout once the deadline passed while vsteerd
 * did not answer, an error otherwise. */
static int api_failed(struct cli_opts *o, int64_t deadline)
{
	if (deadline && clock_mono_ms() >= deadline)
		return CLI_EXIT_TIMEOUT;
	return cli_api_error(o);
}

static int fetch_service(struct cli_opts *o, const char *path, int64_t deadline, json_t **svc)
{
	json_t *s;
	int ret;

	if (cli_api_call(&o->api, "GET", path, NULL, 0, &s) < 0)
		return api_failed(o, deadline);
	ret = cli_check_service_view(s, path);
	if (ret) {
		json_decref(s);
		return ret;
	}
	if (!cli_jobj(s, "rollout")) {
		json_decref(s);
		return cli_error("no_rollout: service %s has no rollout to follow "
				 "(vsteerctl rollout starts one)",
				 o->argv[0]);
	}
	json_decref(*svc);
	*svc = s;
	return 0;
}

static int follow(struct cli_opts *o, struct cli_watch *w, const char *path, int64_t deadline,
		  int64_t timeout_s)
{
	json_t *svc = NULL, *events, *e;
	int64_t last;
	char why[1024];
	size_t i;
	int ret;

	if (cli_events_poll(o, o->argv[0], -1, 0, &events, &last) < 0) {
		ret = api_failed(o, deadline);
		goto end_watch;
	}
	/* the frame starts with the service's last few events */
	if (w->tty)
		json_array_foreach (events, i, e)
			cli_watch_event(w, e);
	json_decref(events);
	ret = fetch_service(o, path, deadline, &svc);
	while (!ret) {
		int64_t left = deadline - clock_mono_ms();
		int wait;

		cli_watch_show(w, svc);
		ret = cli_status_outcome(cli_jobj(svc, "rollout"), why, sizeof(why));
		if (ret >= 0)
			break;
		if (deadline && left <= 0) {
			ret = CLI_EXIT_TIMEOUT;
			break;
		}
		wait = w->tty ? WATCH_WAIT : PLAIN_WAIT;
		if (deadline && left < wait * 1000LL)
			wait = left / 1000 > 0 ? left / 1000 : 1;
		/* wakes at the rollout's next event, not on a timer */
		if (cli_events_poll(o, o->argv[0], last, wait, &events, &last) < 0) {
			/* a restarted vsteerd with an older state file: start over from
			 * its newest event */
			if (!strcmp(o->api.code, "bad_field") &&
			    cli_events_poll(o, o->argv[0], -1, 0, &events, &last) == 0) {
				json_decref(events);
				ret = 0;
				continue;
			}
			ret = api_failed(o, deadline);
			break;
		}
		json_array_foreach (events, i, e)
			cli_watch_event(w, e);
		json_decref(events);
		ret = fetch_service(o, path, deadline, &svc);
	}
end_watch:
	cli_watch_end(w);
	if (ret == CLI_EXIT_OK) {
		printf("%s: rollout to %s completed\n", o->argv[0],
		       cli_jstr(cli_jobj(svc, "rollout"), "to", "?"));
	} else if (ret == CLI_EXIT_FAILED) {
		fflush(stdout);
		fprintf(stderr, "vsteerctl: %s: rollout to %s was %s (%s)\n", o->argv[0],
			cli_jstr(cli_jobj(svc, "rollout"), "to", "?"),
			strcmp(cli_jstr(cli_jobj(svc, "rollout"), "phase", ""), "aborted") ?
				"rolled back" :
				"aborted",
			why);
	} else if (ret == CLI_EXIT_TIMEOUT) {
		char line[512];

		fflush(stdout);
		fprintf(stderr, "vsteerctl: %s: timed out after %llds; the rollout is %s\n",
			o->argv[0], (long long)timeout_s,
			cli_rollout_line(cli_jobj(svc, "rollout"), line, sizeof(line)));
	}
	json_decref(svc);
	return ret;
}

int cli_status(struct cli_opts *o)
{
	char path[256], err[CLI_ERR_LEN];
	int64_t timeout = 0, deadline = 0;
	struct cli_watch w;
	int ret;

	ret = cli_service_args(o, 1, "status SERVICE [--watch] [--timeout DURATION]", "", path,
			       sizeof(path));
	if (ret)
		return ret;
	if (o->timeout) {
		if (cli_parse_duration(o->timeout, &timeout, err) < 0)
			return cli_error("--timeout: %s", err);
		deadline = clock_mono_ms() + timeout * 1000;
		/* 0 is a deadline already passed, not none */
		if (!deadline)
			deadline = 1;
	}
	if (o->json)
		return cli_error("status has no -o json: get service %s -o json shows the rollout",
				 o->argv[0]);
	o->api.retry_ms = CLI_FOLLOW_RETRY_MS;
	o->api.give_up_at = deadline;
	cli_watch_init(&w, o->watch && isatty(STDOUT_FILENO));
	return follow(o, &w, path, deadline, timeout);
}
