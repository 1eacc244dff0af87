// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("vsteerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

int cli_api_error(const struct cli_opts *o)
{
	char hint[128];

	/* the API's words as they came, and the flag they are about */
	if (o->api.code[0] && cli_api_hint(o->api.err, hint, sizeof(hint)) == 0)
		return cli_error("%s %s", o->api.err, hint);
	return cli_error("%s", o->api.err);
}

int cli_send(struct cli_opts *o, const char *method, const char *path, json_t *body, json_t **reply)
{
	if (cli_api_call(&o->api, method, path, body, 0, reply) < 0)
		return cli_api_error(o);
	return 0;
}

int cli_get(struct cli_opts *o, const char *path, json_t **reply)
{
	return cli_send(o, "GET", path, NULL, reply);
}

void cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

int cli_service_args(const struct cli_opts *o, int nargs, const char *usage, const char *tail,
		     char *out, size_t size)
{
	if (nargs >= 0 ? o->argc != nargs : o->argc < -nargs)
		return cli_error("usage: vsteerctl %s", usage);
	return cli_service_path(o->argv[0], tail, out, size);
}

int cli_done(const struct cli_opts *o, json_t *reply, const char *fmt, ...)
{
	va_list ap;

	if (o->json) {
		cli_print_json(reply);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	json_decref(reply);
	return 0;
}

int cli_service_path(const char *name, const char *tail, char *out, size_t size)
{
	char err[CLI_ERR_LEN];

	if (cli_check_name("service", name, err) < 0)
		return cli_error("%s", err);
	/* a checked name needs no escaping: [A-Za-z0-9._-] only */
	if ((size_t)snprintf(out, size, "/v1/services/%s%s", name, tail) >= size)
		return cli_error("service '%s': name too long", name);
	return 0;
}
