// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/get.h"
#include "cli/json.h"
#include "cli/rollout.h"

static const char *const STRATEGIES[] = { "instant", "session", "gradual", "mirror" };

int cli_rollout_body(const struct cli_opts *o, json_t **out)
{
	char err[CLI_ERR_LEN];
	int64_t hold = -1, st;
	json_t *body, *v;
	bool known = false;

	if (!o->to || !o->strategy)
		return cli_error("rollout SERVICE --to VERSION --strategy "
				 "instant|session|gradual|mirror: both are needed");
	if (cli_check_name("--to: version", o->to, err) < 0)
		return cli_error("%s", err);
	for (size_t i = 0; i < sizeof(STRATEGIES) / sizeof(STRATEGIES[0]); i++)
		known |= !strcmp(o->strategy, STRATEGIES[i]);
	if (!known)
		return cli_error("--strategy '%s': instant, session, gradual or mirror",
				 o->strategy);
	if (o->hold && !o->steps)
		return cli_error("--hold goes with --steps: how long each step is held");
	if (o->steps && strcmp(o->strategy, "gradual"))
		return cli_error("--steps is for --strategy gradual");
	if (!o->steps && !strcmp(o->strategy, "gradual"))
		return cli_error("--strategy gradual needs --steps (10,50,100)");
	if (o->hold && cli_parse_duration(o->hold, &hold, err) < 0)
		return cli_error("--hold: %s", err);
	body = json_pack("{s:s, s:s}", "to", o->to, "strategy", o->strategy);
	if (o->steps) {
		if (cli_parse_steps(o->steps, hold, &v, err) < 0)
			goto fail;
		json_object_set_new(body, "steps", v);
	}
	if (o->session_timeout) {
		if (cli_parse_duration(o->session_timeout, &st, err) < 0) {
			char why[CLI_ERR_LEN + 32];

			snprintf(why, sizeof(why), "--session-timeout: %s", err);
			snprintf(err, sizeof(err), "%s", why);
			goto fail;
		}
		json_object_set_new(body, "sessionTimeout", json_integer(st));
	}
	if (o->analysis) {
		if (cli_parse_analysis(o->analysis, &v, err) < 0)
			goto fail;
		json_object_set_new(body, "analysis", v);
	}
	*out = body;
	return 0;
fail:
	json_decref(body);
	return cli_error("%s", err);
}

int cli_rollout_start(struct cli_opts *o)
{
	json_t *body, *reply;
	char path[256], line[512];
	int ret;

	ret = cli_service_args(o, 1, "rollout SERVICE --to VERSION --strategy STRATEGY ...",
			       "/rollout", path, sizeof(path));
	if (ret)
		return ret;
	ret = cli_rollout_body(o, &body);
	if (ret)
		return ret;
	ret = cli_send(o, "POST", path, body, &reply);
	json_decref(body);
	if (ret)
		return ret;
	/* the hint is for a person: a pipeline's log has no use for it */
	return cli_done(o, reply, "%s: rollout %s\n%s%s%s", o->argv[0],
			cli_rollout_line(cli_jobj(reply, "rollout"), line, sizeof(line)),
			isatty(STDOUT_FILENO) ? "follow it: vsteerctl status " : "",
			isatty(STDOUT_FILENO) ? o->argv[0] : "",
			isatty(STDOUT_FILENO) ? " --watch\n" : "");
}

int cli_rollout_control(struct cli_opts *o, const char *action)
{
	char path[256], tail[64], usage[64], line[512];
	json_t *reply;
	int ret;

	snprintf(tail, sizeof(tail), "/rollout/%s%s", action, o->full ? "?full=true" : "");
	snprintf(usage, sizeof(usage), "%s SERVICE", action);
	ret = cli_service_args(o, 1, usage, tail, path, sizeof(path));
	if (ret)
		return ret;
	ret = cli_send(o, "POST", path, NULL, &reply);
	if (ret)
		return ret;
	return cli_done(o, reply, "%s: rollout %s\n", o->argv[0],
			cli_rollout_line(cli_jobj(reply, "rollout"), line, sizeof(line)));
}
