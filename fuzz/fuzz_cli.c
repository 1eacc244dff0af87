// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: vsteerctl's argument parsers and its watch screen, what a
 * person's typing and a hostile API reply reach. Input: a first byte that
 * picks the parser (duration, percentage, weight, steps, key=value
 * analysis, server, or a service view rendered as a frame), then the
 * argument or the reply. Invariants: an error leaves a printable message
 * that names the argument; a duration is 0 to 10 years, a percentage 0 to
 * 100; what parses is JSON the API could be sent; a frame is printable
 * ASCII lines no wider than the terminal, whatever the reply holds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli/args.h"
#include "cli/fleet.h"
#include "cli/watch.h"

#define COLS 72
#define ROWS 12

static void printable(const char *s)
{
	for (; *s; s++)
		if ((*s < 0x20 && *s != '\n') || *s == 0x7f)
			abort();
}

static void check_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s)
		abort();
	free(s);
	json_decref(j);
}

static void frame(const char *text)
{
	static char buf[16384];
	json_t *svc = json_loads(text, 0, NULL), *recent;
	int lines = 1;

	if (!svc)
		return;
	recent = json_array();
	json_array_append(recent, svc);
	cli_watch_frame(svc, recent, COLS, ROWS, buf, sizeof(buf));
	printable(buf);
	for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++)
		if (nl - p > COLS)
			abort();
	/* a frame taller than the terminal scrolls: never (its last line's
	 * newline is not printed) */
	if (lines - (*buf && buf[strlen(buf) - 1] == '\n') > ROWS)
		abort();
	json_decref(recent);
	json_decref(svc);
}

static void fleet_table(const char *text)
{
	static bool quiet;
	json_t *reply = json_loads(text, 0, NULL);

	if (!quiet)
		quiet = freopen("/dev/null", "w", stdout) != NULL;
	if (reply)
		cli_print_fleet(reply);
	json_decref(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CLI_ERR_LEN] = "", *s;
	json_t *j = NULL;
	int64_t secs;
	double pct;
	int ret = 0;

	if (size < 1 || size > 4096)
		return 0;
	s = strndup((const char *)data + 1, size - 1);
	if (!s)
		return 0;
	switch (data[0] % 8) {
	case 0:
		ret = cli_parse_duration(s, &secs, err);
		if (!ret && (secs < 0 || secs > 10LL * 365 * 86400))
			abort();
		break;
	case 1:
		ret = cli_parse_percent(s, &pct, err);
		if (!ret && !(pct >= 0 && pct <= 100))
			abort();
		break;
	case 2:
		j = json_object();
		ret = cli_parse_weight(s, j, err);
		check_json(j);
		j = NULL;
		break;
	case 3:
		ret = cli_parse_steps(s, data[0] & 0x80 ? 600 : -1, &j, err);
		break;
	case 4:
		ret = cli_parse_kv(s, &j, err);
		break;
	case 5:
		ret = cli_parse_server(s, err);
		break;
	case 6:
		frame(s);
		break;
	case 7: /* GET /v1/fleet's reply, another host's statuses in it */
		fleet_table(s);
		break;
	}
	if (ret && (!err[0] || ret > 0))
		abort();
	printable(err);
	if (!ret && j)
		check_json(j);
	free(s);
	return 0;
}
