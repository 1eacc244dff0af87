/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every vsteerctl command shares: its options, the exit codes, the
 * way an error reaches the person at the terminal. */
#ifndef VS_CLI_CLI_H
#define VS_CLI_CLI_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/http.h"

/* The exit codes, as issue 17 and the man page say. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,  /* the rollout was rolled back or aborted */
	CLI_EXIT_USAGE = 2,   /* bad input, an API error, no API */
	CLI_EXIT_TIMEOUT = 3, /* status --timeout passed */
};

/* How long a follower (status, events -f) waits for a vsteerd that does
 * not answer: longer than a restart by its unit's watchdog (WatchdogSec=10,
 * RestartSec=1, then its start), which keeps steering all along. */
#define CLI_FOLLOW_RETRY_MS 30000

struct cli_opts {
	struct cli_api api;
	bool json; /* -o json */
	/* a command's own options, NULL or false when not given */
	const char *mode, *health, *to, *strategy, *steps, *hold, *analysis;
	const char *session_timeout, *since, *timeout;
	bool full, follow, watch, force;
	/* the positional arguments after the command's name */
	int argc;
	char **argv;
};

/* "vsteerctl: ..." on stderr; returns CLI_EXIT_USAGE. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last API call's error on stderr, with the flag it is about when
 * the API names a field of the request; returns CLI_EXIT_USAGE. */
int cli_api_error(const struct cli_opts *o);
/* GET path: 0 and *reply, or CLI_EXIT_USAGE once the error is printed. */
int cli_get(struct cli_opts *o, const char *path, json_t **reply);
/* METHOD path with body (not stolen): as cli_get(). */
int cli_send(struct cli_opts *o, const char *method, const char *path, json_t *body,
	     json_t **reply);
/* A reply as it came, indented, on stdout. */
void cli_print_json(const json_t *j);
/* "/v1/services/NAME" + tail, the name checked and escaped: 0 or
 * CLI_EXIT_USAGE once the error is printed. */
int cli_service_path(const char *name, const char *tail, char *out, size_t size);
/* A command's arguments, SERVICE first: nargs of them (-n: n or more, as
 * usage says), and the service's path + tail in out; 0 or CLI_EXIT_USAGE
 * once the error is printed. */
int cli_service_args(const struct cli_opts *o, int nargs, const char *usage, const char *tail,
		     char *out, size_t size);
/* What a change answered: the reply as JSON with -o json, else the
 * sentence fmt says. Releases reply; returns 0. */
int cli_done(const struct cli_opts *o, json_t *reply, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
