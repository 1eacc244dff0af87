// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vsteerctl: the command-line client of vsteerd's REST API. Reads
 * services, clusters and events, registers versions, sets weights, starts
 * and steers rollouts, and follows one to its end (status), with exit
 * codes a pipeline can act on. docs/man/vsteerctl.1.scd is its manual.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cli/get.h"
#include "cli/ops.h"
#include "cli/rollout.h"
#include "cli/status.h"

#ifndef VSTEER_VERSION
#define VSTEER_VERSION "unknown"
#endif

enum {
	OPT_API = 256,
	OPT_TOKEN,
	OPT_CACERT,
	OPT_MODE,
	OPT_SESSION_TIMEOUT,
	OPT_HEALTH,
	OPT_TO,
	OPT_STRATEGY,
	OPT_STEPS,
	OPT_HOLD,
	OPT_ANALYSIS,
	OPT_FULL,
	OPT_SINCE,
	OPT_TIMEOUT,
	OPT_FORCE,
	OPT_WATCH,
	OPT_FOLLOW = 'f',
};

static const struct option OPTIONS[] = {
	{ "api", required_argument, NULL, OPT_API },
	{ "token-file", required_argument, NULL, OPT_TOKEN },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
	{ "health", required_argument, NULL, OPT_HEALTH },
	{ "to", required_argument, NULL, OPT_TO },
	{ "strategy", required_argument, NULL, OPT_STRATEGY },
	{ "steps", required_argument, NULL, OPT_STEPS },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "analysis", required_argument, NULL, OPT_ANALYSIS },
	{ "full", no_argument, NULL, OPT_FULL },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "watch", no_argument, NULL, OPT_WATCH },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 },
};

struct command {
	const char *name;
	int (*run)(struct cli_opts *o);
	const int *opts; /* the command's own options, ended by 0 */
	const char *usage;
	const char *help;
};

static int run_promote(struct cli_opts *o)
{
	return cli_rollout_control(o, "promote");
}

static int run_pause(struct cli_opts *o)
{
	return cli_rollout_control(o, "pause");
}

static int run_resume(struct cli_opts *o)
{
	return cli_rollout_control(o, "resume");
}

static int run_abort(struct cli_opts *o)
{
	return cli_rollout_control(o, "abort");
}

static int run_rollback(struct cli_opts *o)
{
	return cli_rollout_control(o, "rollback");
}

/* What every command that steers a rollout says of -o json. */
#define STEER_JSON "  -o json      the API's reply instead of a sentence\n"

static const int NONE[] = { 0 };
static const int ADD_OPTS[] = { OPT_MODE, OPT_SESSION_TIMEOUT, OPT_HEALTH, 0 };
static const int DELETE_OPTS[] = { OPT_FORCE, 0 };
static const int ROLLOUT_OPTS[] = { OPT_TO,	  OPT_STRATEGY,	       OPT_STEPS, OPT_HOLD,
				    OPT_ANALYSIS, OPT_SESSION_TIMEOUT, 0 };
static const int PROMOTE_OPTS[] = { OPT_FULL, 0 };
static const int EVENTS_OPTS[] = { OPT_FOLLOW, OPT_SINCE, 0 };
static const int STATUS_OPTS[] = { OPT_WATCH, OPT_TIMEOUT, 0 };

static const struct command COMMANDS[] = {
	{ "get", cli_get_cmd, NONE, "get services | service NAME | clusters | fleet [-o json]",
	  "Every service (address, versions and weights, rollout); one service's\n"
	  "versions, newest first: weight, live and dead backends, open connections,\n"
	  "drained, and the last 5 s window's req/s, p50 and p99 latency (ms) and\n"
	  "error rate; or every cluster; or, on a host in a fleet, its link to etcd\n"
	  "and every host: state, revision applied, versions, first problem.\n"
	  "-o json: the API's view as it is.\n" },
	{ "events", cli_events_cmd, EVENTS_OPTS,
	  "events [SERVICE] [-f|--follow] [--since ID] [-o json]",
	  "What happened, oldest first: id, time, service, kind and message.\n"
	  "  --since ID   only the events after ID\n"
	  "  -f, --follow keep printing them as they happen (a long poll)\n"
	  "  -o json      one JSON object a line\n" },
	{ "add-cluster", cli_add_cluster, ADD_OPTS,
	  "add-cluster SERVICE VERSION SERVER... [--mode instant|session|manual]\n"
	  "    [--session-timeout DURATION] [--health PATH] [-o json]",
	  "Register a version of SERVICE served by SERVER... (ADDRESS:PORT, [IPV6]:PORT).\n"
	  "  --mode MODE  how it takes over: instant (the API's default: a version newer\n"
	  "               than every other takes all new sessions), session (new sessions\n"
	  "               only), manual (weight 0, for a rollout or weights later)\n"
	  "  --session-timeout DURATION   with --mode session, and needed: how long an idle\n"
	  "                               client keeps its version (90s, 10m; 1 s at least)\n"
	  "  --health PATH                check each server with GET PATH\n"
	  "  -o json                      the API's reply instead of a sentence\n" },
	{ "delete-cluster", cli_delete_cluster, DELETE_OPTS,
	  "delete-cluster SERVICE VERSION [--force] [-o json]",
	  "Delete a version: its sessions go to the next older version at once (for the\n"
	  "oldest, the next newer).\n"
	  "  --force      also the service's last version\n"
	  "  -o json      the API's reply instead of a sentence\n" },
	{ "weights", cli_weights, NONE, "weights SERVICE VERSION=PERCENT... [-o json]",
	  "Share new sessions: e.g. weights default 2.0=25 1.0=75 (must sum to 100;\n"
	  "versions not named get 0). A PERCENT is 0 to 100, at most two decimals.\n"
	  "  -o json      the API's reply instead of a sentence\n" },
	{ "rollout", cli_rollout_start, ROLLOUT_OPTS,
	  "rollout SERVICE --to VERSION --strategy instant|session|gradual|mirror\n"
	  "    [--steps 10,50,100] [--hold DURATION] [--analysis FILE|k=v,...|none]\n"
	  "    [--session-timeout DURATION] [-o json]",
	  "Start a rollout of SERVICE to VERSION (registered already: add-cluster).\n"
	  "  --steps LIST       gradual: the target's weight at each step, in percent\n"
	  "                     (or the API's JSON list of steps)\n"
	  "  --hold DURATION    how long each step but the last is held (10m, 1h);\n"
	  "                     without it each step waits for promote\n"
	  "  --analysis A       how the rollout is judged, over the service's settings:\n"
	  "                     a JSON object or a file holding one,\n"
	  "                     key=value,... (interval=5,failureLimit=3),\n"
	  "                     or none (not judged)\n"
	  "  --session-timeout DURATION   session, and needed: how long an idle client\n"
	  "                     keeps its version (90s, 10m; 1 s at least)\n"
	  "  -o json            the API's reply instead of a sentence\n"
	  "Then follow it: vsteerctl status SERVICE --watch\n" },
	{ "promote", run_promote, PROMOTE_OPTS, "promote SERVICE [--full] [-o json]",
	  "The rollout's next step now; --full: straight to 100%.\n" STEER_JSON },
	{ "pause", run_pause, NONE, "pause SERVICE [-o json]",
	  "Hold the rollout's current step (the rest of its hold is kept).\n" STEER_JSON },
	{ "resume", run_resume, NONE, "resume SERVICE [-o json]",
	  "Go on with a paused rollout.\n" STEER_JSON },
	{ "abort", run_abort, NONE, "abort SERVICE [-o json]",
	  "The target to 0%; its active sessions stay with it.\n" STEER_JSON },
	{ "rollback", run_rollback, NONE, "rollback SERVICE [-o json]",
	  "Like abort, and the target's active sessions move back (also after a\n"
	  "rollout completed).\n" STEER_JSON },
	{ "status", cli_status, STATUS_OPTS, "status SERVICE [--watch] [--timeout DURATION]",
	  "Follow SERVICE's rollout until it ends, a line per change (--watch on a\n"
	  "terminal: a screen redrawn in place: the step, a bar of the target's\n"
	  "weight, each version's traffic share, latency and errors, the last events;\n"
	  "on a small terminal the events, then versions, are left out).\n"
	  "Exit 0: completed; 1: rolled back or aborted (why, on stderr); 2: bad input,\n"
	  "an API error or no API; 3: --timeout passed first; 130, 143: stopped by\n"
	  "SIGINT (Ctrl-C), SIGTERM.\n" },
};

static const char GLOBAL_HELP[] =
	"Options of every command:\n"
	"  --api URL          vsteerd's API (default $VSTEER_API, else " CLI_API_DEFAULT ")\n"
	"  --token-file FILE  the bearer token (default $VSTEER_TOKEN_FILE)\n"
	"  --cacert FILE      CA certificates to check an https API with\n"
	"  -h, --help         help (vsteerctl COMMAND --help: the command's)\n"
	"  -V, --version      vsteerctl's version\n";

static void usage(FILE *f)
{
	fprintf(f, "Usage: vsteerctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		fprintf(f, "  %s\n", COMMANDS[i].usage);
	fprintf(f,
		"\n%s\nExit: 0 done, 1 a rollout rolled back or aborted (status), 2 bad input,\n"
		"an API error or no API, 3 status --timeout passed. man vsteerctl.\n",
		GLOBAL_HELP);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		if (!strcmp(COMMANDS[i].name, name))
			return &COMMANDS[i];
	return NULL;
}

static const char *opt_name(int c)
{
	for (const struct option *o = OPTIONS; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

static bool allowed(const struct command *cmd, int c)
{
	for (const int *p = cmd->opts; *p; p++)
		if (*p == c)
			return true;
	return false;
}

/* Edits from a to b (a swap of two letters is one): how far a typo is. */
static int distance(const char *a, const char *b)
{
	int d[33][33], la = strlen(a), lb = strlen(b);

	if (la > 32 || lb > 32)
		return 99;
	for (int i = 0; i <= la; i++)
		for (int j = 0; j <= lb; j++) {
			int v = i > j ? i : j;

			if (i && j) {
				int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

				v = d[i - 1][j] + 1 < d[i][j - 1] + 1 ? d[i - 1][j] + 1 :
									d[i][j - 1] + 1;
				v = sub < v ? sub : v;
				if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
				    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
					v = d[i - 2][j - 2] + 1;
			}
			d[i][j] = v;
		}
	return d[la][lb];
}

/* getopt's own messages name argv[0], a full path; these say vsteerctl:
 * as every other, and a long option mistyped gets the one meant. */
static int bad_option(char **argv, int c)
{
	const char *word = argv[optind - 1], *best = NULL;
	char name[64], several[256] = "";
	int bestd = 3;

	if (c == ':')
		return cli_error("option '%s' needs a value (vsteerctl --help)", word);
	if (optopt && optopt < 256 && strncmp(word, "--", 2))
		return cli_error("no option '-%c' (vsteerctl --help)", optopt);
	if (optopt)
		return cli_error("option '--%s' takes no value", opt_name(optopt));
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(word + 2, "="), word + 2);
	for (const struct option *o = OPTIONS; o->name; o++) {
		int d = distance(name, o->name);

		/* a prefix of several: getopt takes a unique prefix only */
		if (*name && !strncmp(o->name, name, strlen(name)) &&
		    strlen(several) + strlen(o->name) + 4 < sizeof(several))
			strcat(strcat(strcat(several, *several ? ", " : ""), "--"), o->name);
		if (d < bestd && d * 3 <= (int)strlen(o->name)) {
			bestd = d;
			best = o->name;
		}
	}
	if (*several)
		return cli_error("option '%s' is ambiguous: %s", word, several);
	if (best)
		return cli_error("no option '%s': did you mean --%s?", word, best);
	return cli_error("no option '%s' (vsteerctl --help)", word);
}

/* What the API refuses, checked before it is asked: the flag named, not
 * the body's field. */
static int check_session(const struct command *cmd, const struct cli_opts *o)
{
	const char *flag = cmd->run == cli_rollout_start ? "--strategy" : "--mode";
	const char *v = cmd->run == cli_rollout_start ? o->strategy : o->mode;
	char err[CLI_ERR_LEN];
	int64_t secs;

	if (!v || strcmp(v, "session"))
		return 0;
	if (!o->session_timeout)
		return cli_error("%s session needs --session-timeout DURATION (90s, 10m): how "
				 "long an idle client stays with its version",
				 flag);
	/* a duration that does not parse is the command's to report */
	if (cli_parse_duration(o->session_timeout, &secs, err) == 0 && secs < 1)
		return cli_error("--session-timeout '%s': %s session needs 1 s at least",
				 o->session_timeout, flag);
	return 0;
}

int main(int argc, char **argv)
{
	const char *api = NULL, *token = NULL, *cacert = NULL;
	struct cli_opts o = { 0 };
	const struct command *cmd;
	int given[32], ngiven = 0, c, ret;
	bool help = false;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:hfV", OPTIONS, NULL)) != -1) {
		switch (c) {
		case OPT_API:
			/* empty is a mistake (an unset variable), not the default */
			if (!*optarg)
				return cli_error("--api '': empty (a URL: " CLI_API_DEFAULT ")");
			api = optarg;
			break;
		case OPT_TOKEN:
			token = optarg;
			break;
		case OPT_CACERT:
			/* said now, even for http: a typo would only show with https */
			if (access(optarg, R_OK) < 0)
				return cli_error("--cacert '%s': %s", optarg, strerror(errno));
			cacert = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				return cli_error("-o '%s': json or table", optarg);
			o.json = !strcmp(optarg, "json");
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			printf("vsteerctl %s\n", VSTEER_VERSION);
			return 0;
		case '?':
		case ':':
			return bad_option(argv, c);
		default:
			if ((size_t)ngiven < sizeof(given) / sizeof(given[0]))
				given[ngiven++] = c;
			switch (c) {
			case OPT_MODE:
				o.mode = optarg;
				break;
			case OPT_SESSION_TIMEOUT:
				o.session_timeout = optarg;
				break;
			case OPT_HEALTH:
				o.health = optarg;
				break;
			case OPT_TO:
				o.to = optarg;
				break;
			case OPT_STRATEGY:
				o.strategy = optarg;
				break;
			case OPT_STEPS:
				o.steps = optarg;
				break;
			case OPT_HOLD:
				o.hold = optarg;
				break;
			case OPT_ANALYSIS:
				o.analysis = optarg;
				break;
			case OPT_FULL:
				o.full = true;
				break;
			case OPT_FOLLOW:
				o.follow = true;
				break;
			case OPT_SINCE:
				o.since = optarg;
				break;
			case OPT_WATCH:
				o.watch = true;
				break;
			case OPT_TIMEOUT:
				o.timeout = optarg;
				break;
			case OPT_FORCE:
				o.force = true;
				break;
			}
		}
	}
	if (optind == argc || !strcmp(argv[optind], "help")) {
		cmd = optind + 1 < argc ? find(argv[optind + 1]) : NULL;
		if (cmd) {
			printf("Usage: vsteerctl %s\n\n%s\n%s", cmd->usage, cmd->help, GLOBAL_HELP);
			return 0;
		}
		usage(help || optind < argc ? stdout : stderr);
		return help || optind < argc ? 0 : 2;
	}
	cmd = find(argv[optind]);
	if (!cmd) {
		cli_error("no command '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (help) {
		printf("Usage: vsteerctl %s\n\n%s\n%s", cmd->usage, cmd->help, GLOBAL_HELP);
		return 0;
	}
	for (int i = 0; i < ngiven; i++)
		if (!allowed(cmd, given[i]))
			return cli_error("%s takes no --%s (vsteerctl %s --help)", cmd->name,
					 opt_name(given[i]), cmd->name);
	o.argc = argc - optind - 1;
	o.argv = argv + optind + 1;
	if (cmd->run == cli_get_cmd && o.argc == 0)
		return cli_error("get services | service NAME | clusters");
	if ((cmd->run == cli_rollout_start || cmd->run == cli_add_cluster) &&
	    check_session(cmd, &o))
		return CLI_EXIT_USAGE;
	if (cli_api_init(&o.api, api, token, cacert) < 0)
		return cli_error("%s", o.api.err);
	ret = cmd->run(&o);
	/* the API's error, as it came, was the last line: the flag its field
	 * is typed as after it */
	cli_api_free(&o.api);
	/* a pipeline reads the exit code: never one the man page does not list */
	return ret >= CLI_EXIT_OK && ret <= CLI_EXIT_TIMEOUT ? ret : CLI_EXIT_USAGE;
}
