// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/fleet.h"
#include "cli/json.h"
#include "cli/table.h"
#include "lib/str.h"

/* "default 1.0=100/1 2.0=0/1": each service's versions with their weight
 * and live sockets on that host, as much as fits. */
static void versions_cell(const json_t *status, char *out, size_t size)
{
	json_t *svcs = cli_jarr(status, "services"), *s, *v;
	size_t i, j, at = 0;

	out[0] = '\0';
	json_array_foreach (svcs, i, s) {
		char w[32], part[160];
		size_t n = (size_t)snprintf(part, sizeof(part), "%s%s", i ? "; " : "",
					    cli_jstr(s, "name", "?"));

		/* Another host wrote these: names of any length, cut to fit. */
		json_array_foreach (cli_jarr(s, "versions"), j, v) {
			if (n >= sizeof(part))
				break;
			n += (size_t)snprintf(part + n, sizeof(part) - n, " %s=%s/%lld",
					      cli_jstr(v, "version", "?"),
					      cli_jfmt_num(cli_jnum(v, "weight", 0), w, sizeof(w)),
					      cli_jint(v, "liveSockets", 0));
		}
		if (at + strnlen(part, sizeof(part)) >= size)
			break;
		str_printable(out + at, size - at, part);
		at = strlen(out);
	}
}

int cli_print_fleet(const json_t *reply)
{
	static const char *const hdr[] = { "HOST", "STATE", "APPLIED", "VERSIONS (WEIGHT/LIVE)",
					   "PROBLEM" };
	json_t *hosts = cli_jarr(reply, "hosts"), *h, *link = cli_jobj(reply, "link");
	struct cli_table t;
	char id[80], why[400];
	const char *key;
	json_t *w;
	size_t i;

	if (!hosts || !link)
		return cli_error("GET /v1/fleet: the reply is not a fleet's view (no \"hosts\" or "
				 "\"link\"): is --api vsteerd's address?");
	printf("host %s in the fleet %s (etcd %s): ",
	       str_printable(id, sizeof(id), cli_jstr(reply, "host", "?")),
	       cli_jstr(reply, "prefix", "?"), cli_jstr(reply, "etcd", "?"));
	if (json_is_true(json_object_get(link, "stale")))
		printf("STALE since %s, steering as last applied (%s)\n",
		       cli_jstr(link, "staleSince", "?"), cli_jstr(link, "error", "no answer"));
	else if (!json_is_true(json_object_get(link, "joined")))
		printf("not joined yet (%s)\n", cli_jstr(link, "error", "no answer yet"));
	else
		printf("linked, read at %s; rollouts driven by %s\n",
		       cli_jstr(reply, "readAt", "?"),
		       str_printable(id, sizeof(id), cli_jstr(reply, "driver", "no host yet")));
	/* What holds the fleet's rollouts up: the driver says. */
	json_object_foreach (cli_jobj(reply, "waiting"), key, w)
		if (json_is_string(w))
			printf("service %s: %s\n", str_printable(id, sizeof(id), key),
			       str_printable(why, sizeof(why), json_string_value(w)));
	if (cli_table_init(&t, 5, "llrll", hdr) < 0)
		return cli_error("out of memory");
	json_array_foreach (hosts, i, h) {
		json_t *status = cli_jobj(h, "status");
		char applied[32] = "-", vers[256], problem[160], name[80];
		const char *cells[5];

		if (status)
			snprintf(applied, sizeof(applied), "%lld",
				 cli_jint(status, "appliedRevision", 0));
		versions_cell(status, vers, sizeof(vers));
		str_printable(problem, sizeof(problem),
			      json_string_value(json_array_get(cli_jarr(status, "problems"), 0)) ?:
				      "-");
		snprintf(name, sizeof(name), "%s%s", cli_jstr(h, "host", "?"),
			 json_is_true(json_object_get(h, "self")) ? " (this)" : "");
		cells[0] = str_printable(id, sizeof(id), name);
		cells[1] = cli_jstr(h, "state", "?");
		cells[2] = applied;
		cells[3] = vers[0] ? vers : "-";
		cells[4] = problem;
		if (cli_table_row(&t, cells) < 0)
			break;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	return 0;
}
