// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "cli/ops.h"
#include "lib/str.h"

int cli_add_cluster(struct cli_opts *o)
{
	char err[CLI_ERR_LEN];
	json_t *body, *servers, *ut = NULL, *reply;
	int ret = CLI_EXIT_USAGE;

	if (o->argc < 3)
		return cli_error("add-cluster SERVICE VERSION SERVER...: a server at least");
	if (cli_check_name("service", o->argv[0], err) < 0 ||
	    cli_check_name("version", o->argv[1], err) < 0)
		return cli_error("%s", err);
	servers = json_array();
	for (int i = 2; i < o->argc; i++) {
		if (cli_parse_server(o->argv[i], err) < 0) {
			json_decref(servers);
			return cli_error("%s", err);
		}
		json_array_append_new(servers, json_string(o->argv[i]));
	}
	body = json_pack("{s:s, s:s, s:o}", "service", o->argv[0], "version", o->argv[1], "servers",
			 servers);
	if (o->mode) {
		if (strcmp(o->mode, "instant") && strcmp(o->mode, "session") &&
		    strcmp(o->mode, "manual")) {
			cli_error("--mode '%s': instant, session or manual", o->mode);
			goto free_body;
		}
		ut = json_pack("{s:s}", "mode", o->mode);
		json_object_set_new(body, "upgradeTransition", ut);
	}
	if (o->session_timeout) {
		int64_t s;

		if (cli_parse_duration(o->session_timeout, &s, err) < 0) {
			cli_error("--session-timeout: %s", err);
			goto free_body;
		}
		if (!ut || strcmp(o->mode, "session")) {
			cli_error("--session-timeout goes with --mode session");
			goto free_body;
		}
		json_object_set_new(ut, "sessionTimeout", json_integer(s));
	}
	if (o->health) {
		if (o->health[0] != '/') {
			cli_error("--health '%s': a path, starting with /", o->health);
			goto free_body;
		}
		json_object_set_new(body, "health", json_pack("{s:s}", "path", o->health));
	}
	ret = cli_send(o, "PUT", "/v1/clusters", body, &reply);
	if (ret)
		goto free_body;
	cli_done(o, reply, "%s %s added: cluster %s (%s)\n", o->argv[0], o->argv[1],
		 cli_jstr(reply, "id", "?"), o->mode ? o->mode : "instant");
free_body:
	json_decref(body);
	return ret;
}

const char *cli_cluster_id(const json_t *svc, const char *version)
{
	json_t *v;
	size_t i;

	json_array_foreach (cli_jarr(svc, "versions"), i, v)
		if (!strcmp(cli_jstr(v, "version", ""), version))
			return cli_jstr(v, "id", NULL);
	return NULL;
}

int cli_delete_cluster(struct cli_opts *o)
{
	char path[256], esc[160];
	json_t *svc, *reply;
	const char *id;
	int ret;

	ret = cli_service_args(o, 2, "delete-cluster SERVICE VERSION", "", path, sizeof(path));
	if (ret)
		return ret;
	ret = cli_get(o, path, &svc);
	if (ret)
		return ret;
	id = cli_cluster_id(svc, o->argv[1]);
	if (!id || cli_api_escape(id, esc, sizeof(esc)) < 0) {
		json_decref(svc);
		return cli_error("unknown_version: service %s has no version %s", o->argv[0],
				 o->argv[1]);
	}
	snprintf(path, sizeof(path), "/v1/clusters/%s%s", esc, o->force ? "?force=true" : "");
	json_decref(svc);
	ret = cli_send(o, "DELETE", path, NULL, &reply);
	if (ret)
		return ret;
	return cli_done(o, reply, "%s %s deleted: its sessions go to the next version\n",
			o->argv[0], o->argv[1]);
}

/* " 2.0=25% 1.0=75%": what the service's view says now, not what was
 * typed ("1=100" is version 1.0, "100%" has its sign already). */
static void weights_said(const json_t *svc, char *out, size_t size)
{
	json_t *v;
	size_t i, n = 0;

	json_array_foreach (cli_jarr(svc, "versions"), i, v) {
		char w[32], one[96];
		int len;

		len = snprintf(one, sizeof(one), " %.40s=%s%%", cli_jstr(v, "version", "?"),
			       cli_jfmt_num(cli_jnum(v, "weight", 0), w, sizeof(w)));
		if (n + len >= size)
			break;
		str_printable(out + n, size - n, one);
		n += len;
	}
}

int cli_weights(struct cli_opts *o)
{
	char path[256], err[CLI_ERR_LEN], said[512] = "";
	json_t *body, *reply;
	int ret;

	ret = cli_service_args(o, -2, "weights SERVICE VERSION=PERCENT...", "/weights", path,
			       sizeof(path));
	if (ret)
		return ret;
	body = json_object();
	for (int i = 1; i < o->argc; i++) {
		if (cli_parse_weight(o->argv[i], body, err) < 0) {
			json_decref(body);
			return cli_error("%s", err);
		}
	}
	ret = cli_send(o, "PUT", path, body, &reply);
	json_decref(body);
	if (ret)
		return ret;
	weights_said(reply, said, sizeof(said));
	return cli_done(o, reply, "%s: weights set:%s\n", o->argv[0], said);
}
