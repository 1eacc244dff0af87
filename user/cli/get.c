// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/fleet.h"
#include "cli/get.h"
#include "cli/json.h"
#include "cli/table.h"
#include "lib/str.h"

const char *cli_rollout_line(const json_t *ro, char *buf, size_t size)
{
	char w[32], p[256];

	if (!json_is_object(ro)) {
		snprintf(buf, size, "none");
		return buf;
	}
	snprintf(p, sizeof(p), "%s -> %s (%s): %s, step %lld of %lld", cli_jstr(ro, "from", "?"),
		 cli_jstr(ro, "to", "?"), cli_jstr(ro, "strategy", "?"), cli_jstr(ro, "phase", "?"),
		 cli_jint(ro, "step", 0), cli_jint(ro, "stepsTotal", 0));
	str_printable(buf, size, p);
	snprintf(p, sizeof(p), ", %s at %s%%%s", cli_jstr(ro, "to", "?"),
		 cli_jfmt_num(cli_jnum(ro, "weight", 0), w, sizeof(w)),
		 json_is_true(json_object_get(ro, "fleet")) ? " (the fleet's: every host)" : "");
	if (strlen(buf) + strlen(p) < size)
		str_printable(buf + strlen(buf), size - strlen(buf), p);
	return buf;
}

bool cli_version_window(const json_t *v, double *rps, double *p50, double *p99, double *err)
{
	json_t *w = cli_jobj(v, "lastWindow");
	double secs;

	if (!w || !cli_jhas_num(w, "seconds", &secs) || secs <= 0)
		return false;
	*rps = cli_jnum(w, "requests", 0) / secs;
	*p50 = cli_jnum(w, "latencyP50Ms", 0);
	*p99 = cli_jnum(w, "latencyP99Ms", 0);
	*err = cli_jnum(w, "errorRate", 0);
	return true;
}

void cli_window_cells(const json_t *v, char cells[4][16])
{
	double rps, p50, p99, err;

	for (int k = 0; k < 4; k++)
		strcpy(cells[k], "-");
	if (!cli_version_window(v, &rps, &p50, &p99, &err))
		return;
	snprintf(cells[0], 16, "%.1f", rps);
	if (cli_jnum(cli_jobj(v, "lastWindow"), "requests", 0) <= 0)
		return;
	snprintf(cells[1], 16, "%.2f", p50);
	snprintf(cells[2], 16, "%.2f", p99);
	snprintf(cells[3], 16, "%.1f%%", err * 100);
}

int cli_check_service_view(const json_t *svc, const char *path)
{
	if (json_is_string(json_object_get(svc, "name")) && cli_jarr(svc, "versions"))
		return 0;
	return cli_error("GET %s: the reply is not a service of vsteerd's (no \"name\" or "
			 "\"versions\"): is --api vsteerd's address?",
			 path);
}

static void backends_count(const json_t *v, int *live, int *dead)
{
	json_t *arr = cli_jarr(v, "backends"), *b;
	size_t i;

	*live = *dead = 0;
	json_array_foreach (arr, i, b)
		json_is_true(json_object_get(b, "live")) ? (*live)++ : (*dead)++;
}

static int print_service(const json_t *svc)
{
	static const char *const hdr[] = { "VERSION", "WEIGHT", "LIVE",	 "DEAD",  "OPEN",
					   "DRAINED", "REQ/S",	"P50MS", "P99MS", "ERRORS" };
	json_t *versions = cli_jarr(svc, "versions"), *v;
	char line[512], n[6][32], win[4][16];
	struct cli_table t;
	size_t i;

	printf("service %s at %s:%lld (%s)\n", str_printable(line, 64, cli_jstr(svc, "name", "?")),
	       cli_jstr(svc, "address", "?"), cli_jint(svc, "port", 0),
	       cli_jstr(svc, "protocol", "tcp"));
	printf("rollout: %s\n", cli_rollout_line(cli_jobj(svc, "rollout"), line, sizeof(line)));
	if (!versions || !json_array_size(versions)) {
		printf("no versions: connections to it are refused\n");
		return 0;
	}
	if (cli_table_init(&t, 10, "lrrrrlrrrr", hdr) < 0)
		return cli_error("out of memory");
	json_array_foreach (versions, i, v) {
		const char *cells[10];
		int live, dead;

		backends_count(v, &live, &dead);
		snprintf(n[2], 32, "%d", live);
		snprintf(n[3], 32, "%d", dead);
		snprintf(n[4], 32, "%lld", cli_jint(v, "openConnections", 0));
		cells[0] = cli_jstr(v, "version", "?");
		cells[1] = cli_jfmt_num(cli_jnum(v, "weight", 0), n[1], 32);
		cells[2] = n[2];
		cells[3] = n[3];
		cells[4] = n[4];
		cells[5] = json_is_true(json_object_get(v, "drained")) ? "yes" : "no";
		cli_window_cells(v, win);
		for (int k = 6; k < 10; k++)
			cells[k] = win[k - 6];
		if (cli_table_row(&t, cells) < 0)
			break;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	return 0;
}

static int print_services(const json_t *reply)
{
	static const char *const hdr[] = { "NAME", "ADDRESS", "PROTOCOL", "VERSIONS", "ROLLOUT" };
	json_t *svcs = cli_jarr(reply, "services"), *s;
	struct cli_table t;
	size_t i;

	if (!svcs)
		return cli_error("GET /v1/services: the reply has no \"services\" list");
	if (cli_table_init(&t, 5, "lllll", hdr) < 0)
		return cli_error("out of memory");
	json_array_foreach (svcs, i, s) {
		char addr[80], vers[96] = "", ro[96], *p = vers;
		json_t *v, *versions = cli_jarr(s, "versions");
		const json_t *r = cli_jobj(s, "rollout");
		const char *cells[5];
		size_t j;

		snprintf(addr, sizeof(addr), "%s:%lld", cli_jstr(s, "address", "?"),
			 cli_jint(s, "port", 0));
		json_array_foreach (versions, j, v) {
			char w[32];
			int left = sizeof(vers) - (p - vers);
			int n = snprintf(p, left, "%s%s=%s", j ? " " : "",
					 cli_jstr(v, "version", "?"),
					 cli_jfmt_num(cli_jnum(v, "weight", 0), w, sizeof(w)));

			if (n >= left)
				break;
			p += n;
		}
		if (r)
			snprintf(ro, sizeof(ro), "%s %s (%s)", cli_jstr(r, "to", "?"),
				 cli_jstr(r, "phase", "?"), cli_jstr(r, "strategy", "?"));
		else
			strcpy(ro, "-");
		cells[0] = cli_jstr(s, "name", "?");
		cells[1] = addr;
		cells[2] = cli_jstr(s, "protocol", "tcp");
		cells[3] = vers;
		cells[4] = ro;
		if (cli_table_row(&t, cells) < 0)
			break;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	return 0;
}

static int print_clusters(const json_t *reply)
{
	static const char *const hdr[] = { "ID",     "SERVICE", "VERSION", "MODE",
					   "WEIGHT", "LIVE",	"SERVERS" };
	json_t *cl = cli_jarr(reply, "clusters"), *c;
	struct cli_table t;
	size_t i;

	if (!cl)
		return cli_error("GET /v1/clusters: the reply has no \"clusters\" list");
	if (cli_table_init(&t, 7, "llllrll", hdr) < 0)
		return cli_error("out of memory");
	json_array_foreach (cl, i, c) {
		char w[32], servers[96] = "", *p = servers;
		json_t *sv = cli_jarr(c, "servers"), *s;
		const char *cells[7];
		size_t j;

		json_array_foreach (sv, j, s) {
			int left = sizeof(servers) - (p - servers);
			/* a server in another namespace is an object: its address */
			const char *a = json_is_string(s) ? json_string_value(s) :
							    cli_jstr(s, "address", "?");
			int n = snprintf(p, left, "%s%s", j ? "," : "", a);

			if (n >= left)
				break;
			p += n;
		}
		cells[0] = cli_jstr(c, "id", "?");
		cells[1] = cli_jstr(c, "service", "?");
		cells[2] = cli_jstr(c, "version", "?");
		cells[3] = cli_jstr(c, "mode", "?");
		cells[4] = cli_jfmt_num(cli_jnum(c, "weight", 0), w, sizeof(w));
		cells[5] = json_is_true(json_object_get(c, "live")) ? "yes" : "no";
		cells[6] = servers;
		if (cli_table_row(&t, cells) < 0)
			break;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	return 0;
}

int cli_get_cmd(struct cli_opts *o)
{
	const char *what = o->argv[0];
	char path[256];
	json_t *reply;
	int ret;

	if (!strcmp(what, "services") || !strcmp(what, "clusters") || !strcmp(what, "fleet")) {
		if (o->argc != 1)
			return cli_error("get %s takes no other argument", what);
		snprintf(path, sizeof(path), "/v1/%s", what);
	} else if (!strcmp(what, "service")) {
		if (o->argc != 2)
			return cli_error("get service NAME: one name");
		ret = cli_service_path(o->argv[1], "", path, sizeof(path));
		if (ret)
			return ret;
	} else {
		return cli_error("get '%s': services, service NAME, clusters or fleet", what);
	}
	ret = cli_get(o, path, &reply);
	if (ret)
		return ret;
	if (o->json)
		cli_print_json(reply);
	else if (!strcmp(what, "services"))
		ret = print_services(reply);
	else if (!strcmp(what, "service"))
		ret = cli_check_service_view(reply, path) ?: print_service(reply);
	else if (!strcmp(what, "fleet"))
		ret = cli_print_fleet(reply);
	else
		ret = print_clusters(reply);
	json_decref(reply);
	return ret;
}
