// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* vsteerd: owns the steering maps and serves the REST API. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/sdnotify.h"
#include "lib/str.h"
#include "codec/config.h"
#include "codec/state.h"
#include "kernel/dp.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_pins.h"
#include "kernel/features.h"
#include "ctl/ctl.h"
#include "ctl/fleet.h"
#include "ctl/reload.h"
#include "ctl/tick.h"
#include "api/auth.h"
#include "api/http.h"
#include "api/origin.h"
#include "api/ui.h" /* and api/router.h, for struct api */
#include "api/views_fleet.h"

/* The Makefile passes the version from `git describe`. */
#ifndef VSTEER_VERSION
#define VSTEER_VERSION "unknown"
#endif

struct opts {
	const char *config;
	const char *pin_dir;
	const char *state;
	unsigned long session_table;
	bool cleanup;
	bool no_watch;
	bool check;	  /* --check-config: o->config is the file */
	bool state_given; /* --state: --check-config checks it too */
	const char *etcd; /* --etcd, --host-id, --etcd-prefix: over the config's "fleet" */
	const char *host_id;
	const char *etcd_prefix;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vsteerd [OPTIONS]\n"
		"Steer new connections to a service between versions with sk_lookup.\n\n"
		"  -c, --config FILE    JSON config: proxy, configService, cluster (or services)\n"
		"  -p, --pin-dir DIR    bpffs directory for maps and link (default %s)\n"
		"  -s, --state FILE     state file (default %s)\n"
		"      --session-table N  clients the session table holds (default %d, 32 bytes\n"
		"                       each); fixed when the pin directory is created\n"
		"      --no-watch       do not measure requests (latency, size, status):\n"
		"                       no per-request hooks; analysis sees no traffic\n"
		"      --etcd URL[,URL...]  join a fleet of hosts through these etcd members\n"
		"                       (http:// or https://HOST:PORT; config: fleet.etcd)\n"
		"      --host-id NAME   this host's id in the fleet, unique in it (fleet.hostId)\n"
		"      --etcd-prefix P  the fleet's keys in etcd (default %s, fleet.prefix)\n"
		"      --cleanup        remove everything pinned under the pin directory, then exit\n"
		"      --check-config FILE  check a config as a start would (and the state file,\n"
		"                       with --state), change nothing; exit 0 if valid, 2 if not\n"
		"  -v, --verbose        debug logging, libbpf's included (--log-level debug)\n"
		"      --log-level L    error, warning, notice, info (default) or debug\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n\n"
		"Runs in the foreground and logs to stderr: each line with its time and level, or,\n"
		"under systemd, with its journal priority. SIGTERM/SIGINT stop the controller;\n"
		"steering stays pinned and keeps running. A start that fails (exit 1) leaves\n"
		"pins, steering and the state file as it found them. SIGHUP re-reads the\n"
		"config: what it adds is added, what runs is kept, each difference a warning.\n",
		VS_DEFAULT_PIN_DIR, VS_DEFAULT_STATE, VS_SESS_DEFAULT, FLEET_PREFIX_DEFAULT);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "check-config", required_argument, NULL, 'K' },
		{ "session-table", required_argument, NULL, 'S' },
		{ "no-watch", no_argument, NULL, 'W' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "host-id", required_argument, NULL, 'H' },
		{ "etcd-prefix", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	/* clang-format on */
	const char *check = NULL;
	int opt;

	*o = (struct opts){ .pin_dir = VS_DEFAULT_PIN_DIR, .state = VS_DEFAULT_STATE };
	while ((opt = getopt_long(argc, argv, "c:p:s:vhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'p':
			o->pin_dir = optarg;
			break;
		case 's':
			o->state = optarg;
			o->state_given = true;
			break;
		case 'C':
			o->cleanup = true;
			break;
		case 'K':
			check = optarg;
			break;
		case 'W':
			o->no_watch = true;
			break;
		case 'E':
			o->etcd = optarg;
			break;
		case 'H':
			o->host_id = optarg;
			break;
		case 'P':
			o->etcd_prefix = optarg;
			break;
		case 'S': {
			char *end;

			errno = 0;
			o->session_table = strtoul(optarg, &end, 10);
			if (errno || *end || o->session_table < 1024 ||
			    o->session_table > 16777216) {
				fprintf(stderr,
					"vsteerd: --session-table: '%s' is not a number from 1024 to 16777216\n",
					optarg);
				return -EINVAL;
			}
			break;
		}
		case 'v':
			log_set_level(VS_LOG_DEBUG);
			break;
		case 'L': {
			int level = log_level_parse(optarg);

			if (level < 0) {
				fprintf(stderr,
					"vsteerd: --log-level: '%s' is not error, warning, notice, info or debug\n",
					optarg);
				return -EINVAL;
			}
			log_set_level(level);
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vsteerd %s\n", VSTEER_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsteerd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (check && (o->config || o->cleanup)) {
		fprintf(stderr,
			"vsteerd: --check-config FILE names the config: without -c or --cleanup\n");
		return -EINVAL;
	}
	if (check) {
		o->check = true;
		o->config = check;
	}
	return 0;
}

/* How drain deadlines close idle connections here: in the iterator
 * where the kernel has bpf_sock_destroy, else by netlink SOCK_DESTROY,
 * else not at all (the API refuses a drainDeadline). Said once at start. */
static void load_drain(struct dataplane *dp, const struct vs_features *feat)
{
	enum dp_drain how = features_ok(feat, "sock_destroy")	   ? DP_DRAIN_ITER :
			    features_ok(feat, "sock_diag_destroy") ? DP_DRAIN_NETLINK :
								     DP_DRAIN_NONE;
	struct vs_err err = {};

	if (how == DP_DRAIN_ITER && dp_drain_load(dp, how, &err)) {
		pr_warn("%s\n", err.msg);
		how = features_ok(feat, "sock_diag_destroy") ? DP_DRAIN_NETLINK : DP_DRAIN_NONE;
	}
	if (how == DP_DRAIN_NETLINK && dp_drain_load(dp, how, &err)) {
		pr_warn("%s\n", err.msg);
		how = DP_DRAIN_NONE;
	}
	if (how == DP_DRAIN_NETLINK)
		pr_info("this kernel (%s) lacks bpf_sock_destroy (Linux 6.5): drain deadlines close idle connections with netlink SOCK_DESTROY, just after the check instead of under the socket lock\n",
			feat->kernel);
	else if (how == DP_DRAIN_NONE)
		pr_warn("this kernel (%s) can close no socket for vsteerd (no bpf_sock_destroy, Linux 6.5, nor netlink SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY): drain deadlines are refused\n",
			feat->kernel);
}

/* The command line's fleet options over the config's, then checked and
 * opened as a start would (files read, endpoints parsed; no I/O to etcd). */
static int fleet_settings(const struct opts *o, struct config *cfg, struct fleet_state *f,
			  struct vs_err *err)
{
	struct {
		const char *opt, *val;
		char *dst;
		size_t size;
	} flags[] = {
		{ "--etcd", o->etcd, cfg->fleet.endpoints, sizeof(cfg->fleet.endpoints) },
		{ "--host-id", o->host_id, cfg->fleet.host_id, sizeof(cfg->fleet.host_id) },
		{ "--etcd-prefix", o->etcd_prefix, cfg->fleet.prefix, sizeof(cfg->fleet.prefix) },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!flags[i].val)
			continue;
		cfg->fleet_flags = true;
		if (!*flags[i].val || str_copy(flags[i].dst, flags[i].size, flags[i].val))
			return vs_errf(err, -EINVAL, 400, "bad_fleet",
				       "%s: must be 1 to %zu characters", flags[i].opt,
				       flags[i].size - 1);
	}
	return fleet_open(f, &cfg->fleet, err);
}

/* One line: each service with its address and versions (newest first),
 * and the API. */
static void print_summary(const struct opts *o, const struct model *m, bool from_state,
			  const struct config *cfg, const struct http_opts *ho, bool token)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_nservices(m), nv;
	char a[EP_STRLEN];
	const char *sep = "";

	printf("config %s: valid; would run %u service%s%s%s%s", o->config, n, n == 1 ? "" : "s",
	       from_state ? " (the state file's, " : "", from_state ? o->state : "",
	       from_state ? ")" : "");
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!m->svc[s].used)
			continue;
		ep_format(&m->svc[s].addr, a, sizeof(a));
		printf("%s %s on %s (", *sep ? sep : ":", m->svc[s].name, a);
		nv = model_order(m, s, order);
		for (uint32_t i = 0; i < nv; i++)
			printf("%s%s", i ? ", " : "", m->cl[order[i]].version);
		printf("%s)", nv ? "" : "no versions");
		sep = ",";
	}
	ep_format(&cfg->api, a, sizeof(a));
	printf("; API on %s://%s%s", ho->tls_cert ? "https" : "http", a,
	       token ? ", token required for changes" : "");
	if (cfg->fleet.endpoints[0])
		printf("; host %s of the fleet %s in etcd %s", cfg->fleet.host_id,
		       cfg->fleet.prefix, cfg->fleet.endpoints);
	printf("\n");
}

/* --check-config: every check a start makes before it changes anything
 * (the config, the state file with --state, the token and TLS files),
 * and nothing else: no bpffs, no state written, no socket bound, no
 * root needed. */
static int check_config(struct opts *o)
{
	char token[AUTH_TOKEN_MAX + 1] = "";
	struct http_opts ho = {};
	struct config cfg = {};
	struct vs_err err = {};
	struct fleet_state fleet = {};
	bool from_state = false;
	struct reconcile_result *r = calloc(1, sizeof(*r));
	struct model *m = calloc(1, sizeof(*m)), *cm = calloc(1, sizeof(*cm));
	int ret = 0;

	if (log_get_level() < VS_LOG_DEBUG)
		log_set_level(VS_LOG_WARN);
	if (!m || !cm || !r)
		ret = vs_errf(&err, -ENOMEM, 500, "internal", "out of memory");
	if (!ret && o->state_given)
		ret = state_check_dir(o->state, false, NULL, &err);
	if (!ret)
		ret = ctl_load_models(o->config, o->state_given ? o->state : NULL, &cfg, m, cm,
				      &from_state, &err);
	/* What a start would run: the state file's, and what the config adds. */
	if (!ret && from_state)
		ret = reconcile_merge(m, cm, NULL, clock_wall(), r, &err);
	if (!ret)
		ret = fleet_settings(o, &cfg, &fleet, &err);
	if (!ret)
		ret = http_security(&cfg, token, &ho, &err);
	if (!ret)
		ret = http_check_tls(&ho, &err);
	if (ret)
		fprintf(stderr, "vsteerd: %s\n", err.msg[0] ? err.msg : strerror(-ret));
	else
		print_summary(o, m, from_state, &cfg, &ho, token[0]);
	for (uint32_t i = 0; !ret && from_state && i < r->nnotes && i < RECONCILE_MAX_NOTES; i++)
		printf("kept as it runs: %s%s%s%s\n", r->notes[i].service[0] ? "service " : "",
		       r->notes[i].service, r->notes[i].service[0] ? ": " : "", r->notes[i].text);
	fleet_close(&fleet);
	free(r);
	free(cm);
	free(m);
	free((char *)ho.tls_cert);
	free((char *)ho.tls_key);
	explicit_bzero(token, sizeof(token));
	return ret ? 2 : 0;
}

/* A sentence naming what the kernel lacks, not a verifier dump; and how
 * responses can be measured on it. */
static int probe_kernel(struct opts *o, struct vs_features *feat, enum dp_meter *meter,
			struct vs_err *err)
{
	const struct vs_feature *miss;

	features_probe(feat);
	if (feat->bpf_err)
		return vs_errf(
			err, feat->bpf_err, 500, "kernel",
			"cannot load BPF programs: %s. vsteerd needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; in a container the default seccomp profile also refuses bpf() without CAP_SYS_ADMIN (run it with the profile shipped in docker/seccomp.json: --security-opt seccomp=docker/seccomp.json)",
			strerror(-feat->bpf_err));
	miss = features_core_missing(feat);
	if (miss)
		return vs_errf(
			err, -EOPNOTSUPP, 500, "kernel",
			"this kernel (%s) lacks %s, which vsteer needs for %s (Linux %s or newer)",
			feat->kernel, miss->name, miss->what, miss->since);
	miss = features_meter_missing(feat);
	if (miss && !o->no_watch) {
		pr_warn("this kernel (%s) lacks %s, for %s (Linux %s or newer): requests are not measured, as with --no-watch\n",
			feat->kernel, miss->name, miss->what, miss->since);
		o->no_watch = true;
	}
	*meter = o->no_watch				  ? DP_METER_OFF :
		 features_ok(feat, "tp_sock_send_length") ? DP_METER_SEND :
							    DP_METER_TC;
	if (*meter == DP_METER_TC)
		pr_info("this kernel (%s) lacks tp_btf/sock_send_length (Linux 6.3): responses are measured as they leave by an interface (TC egress) instead\n",
			feat->kernel);
	return 0;
}

int main(int argc, char **argv)
{
	char token[AUTH_TOKEN_MAX + 1] = "", a[EP_STRLEN], serving[EP_STRLEN + PATH_MAX + 64];
	struct sdnotify sd = { .fd = -1 };
	struct http_opts ho = {};
	struct origin_policy origin = {};
	struct api api = { .ui = ui_web_assets }; /* with the dashboard, GET /ui/ */
	struct MHD_Daemon *http = NULL;
	struct vs_err err = {};
	struct dataplane *dp = NULL;
	struct ctl *ctl = NULL;
	struct config cfg = {};
	struct vs_features feat;
	struct dp_pins_report pins;
	struct fleet_state fleet = {};
	bool state_dir_made = false, from_state = false;
	enum dp_meter meter = DP_METER_OFF;
	struct model *m, *cm;
	struct opts o;
	sigset_t sigs;
	int ret, sig;

	log_init();
	if (parse_args(argc, argv, &o))
		return 2;
	dp_route_libbpf_log();
	if (o.check)
		return check_config(&o);
	if (o.cleanup) {
		if (dp_cleanup(o.pin_dir, &err)) {
			pr_err("%s\n", err.msg);
			return 1;
		}
		return 0;
	}

	/* Before any thread starts, as it changes the environment. */
	sdnotify_open_env(&sd);
	m = calloc(1, sizeof(*m));
	cm = calloc(1, sizeof(*cm));
	if (!m || !cm) {
		ret = -ENOMEM;
		goto free_model;
	}
	/* A start changes the host only once everything that can be checked
	 * or acquired beforehand is: files read, the API bound, the kernel
	 * probed, the pins opened and locked, the state file staged. */
	ret = state_check_dir(o.state, false, NULL, &err);
	if (!ret)
		ret = ctl_load_models(o.config, o.state, &cfg, m, cm, &from_state, &err);
	if (!ret)
		ret = fleet_settings(&o, &cfg, &fleet, &err);
	if (!ret)
		ret = http_security(&cfg, token, &ho, &err);
	if (ret)
		goto free_model;

	/* Signals are taken synchronously in the tick loop below; block
	 * them before any thread starts so none of them gets one. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	ret = probe_kernel(&o, &feat, &meter, &err);
	if (ret)
		goto free_model;
	api.token = token[0] ? token : NULL;
	origin = (struct origin_policy){
		.ep = cfg.api,
		.tls = ho.tls_cert != NULL,
		.hosts = cfg.allowed_hosts,
		.nhosts = (size_t)cfg.nallowed_hosts,
		.origins = cfg.allowed_origins,
		.norigins = (size_t)cfg.nallowed_origins,
	};
	api.origin = &origin;
	ret = http_start(&api, &ho, &http, &err);
	if (ret)
		goto free_model;
	ret = dp_open(&dp, o.pin_dir, o.session_table, meter, &err);
	if (ret)
		goto stop_http;
	load_drain(dp, &feat);
	ret = ctl_check_addresses(dp, m, &cfg, &err);
	if (!ret && from_state && o.config)
		ret = ctl_reload_check(dp, m, cm, &cfg, &err);
	if (ret)
		goto close_dp;
	ret = state_check_dir(o.state, true, &state_dir_made, &err);
	if (!ret)
		ret = ctl_open(&ctl, dp, m, o.state, &err);
	if (ret)
		goto remove_state_dir;
	ctl->features = &feat;
	fleet_adopt(&ctl->fleet, &fleet);
	/* Idle until ctl_start() gives the controller its model; the
	 * notifier sends the events the start makes too. */
	ret = ctl_threads_start(ctl, &cfg.notify, VSTEER_VERSION, &err);
	if (ret)
		goto close_ctl;
	ret = fleet_start(ctl, views_fleet_host);
	if (ret) {
		vs_errf(&err, ret, 500, "internal", "cannot start the fleet's thread: %s",
			strerror(-ret));
		goto stop_health;
	}
	/* The kernel changes from here; until the state file is committed,
	 * a failure is undone by ctl_start() (the maps) and dp_close() (the
	 * link, pins and directory). */
	ret = dp_attach(dp, &err);
	if (!ret)
		ret = ctl_start(ctl, &err);
	if (ret)
		goto stop_health;
	ctl_commit(ctl);
	ctl_reload_start(ctl, o.config, &cfg, from_state ? cm : NULL);
	if (http_serve(&api, ctl, &err))
		pr_err("%s\n", err.msg);
	ep_format(&cfg.api, a, sizeof(a));
	pr_info("%s data plane in %s; API on %s://%s%s\n", dp_adopted(dp) ? "adopted" : "created",
		o.pin_dir, ho.tls_cert ? "https" : "http", a,
		api.token ? ", token required for changes" : "");
	/* Ready: the API answers (bound in http_start(), serving since
	 * http_serve()) and steering runs from the maps adopted or created. */
	snprintf(serving, sizeof(serving), "steering from %s (%s); API on %s://%s", o.pin_dir,
		 dp_adopted(dp) ? "adopted" : "created", ho.tls_cert ? "https" : "http", a);
	sdnotify_send(&sd, "READY=1\nSTATUS=%s", serving);

	for (;;) {
		struct timespec ts = { 0, TICK_MS * 1000000L };

		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* A failed reload changes nothing; an event and the log say why. */
		if (sig == SIGHUP) {
			sdnotify_reloading(&sd);
			sdnotify_send(
				&sd, "READY=1\nSTATUS=%s; %s", serving,
				ctl_reload(ctl, "on SIGHUP", NULL, &err) ?
					"the last reload failed (see the log): running as before" :
					"config reloaded");
		}
		ctl_tick(ctl);
		/* Only here: if the loop hangs, systemd restarts vsteerd
		 * (WatchdogSec=); steering goes on from the pins meanwhile. */
		sdnotify_watchdog(&sd, clock_mono_ms());
	}
	sdnotify_send(&sd, "STOPPING=1\nSTATUS=stopping; steering stays pinned in %s", o.pin_dir);
	http_stop(http);
	http = NULL;
	ctl_threads_stop(ctl);
	/* Said only once it is true. */
	if (!ctl_check_pins(ctl, &pins))
		pr_info("stopping; steering stays pinned in %s\n", o.pin_dir);
	else
		pr_warn("stopping; %s not pinned in %s (%s): %s\n", pins.missing, o.pin_dir,
			pins.why,
			strstr(pins.missing, "link") ?
				"steering stops as vsteerd exits" :
				"steering stays, but these go as vsteerd exits and the next vsteerd starts them afresh");
stop_health:
	ctl_threads_stop(ctl);
close_ctl:
	ctl_close(ctl);
remove_state_dir:
	/* Empty once ctl_close() took the staged state file away. */
	if (ret && state_dir_made) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", o.state);
		rmdir(dirname(dir));
	}
close_dp:
	dp_close(dp);
stop_http:
	if (http)
		http_stop(http);
free_model:
	fleet_close(&fleet);
	free(cm);
	free(m);
	free((char *)ho.tls_cert);
	free((char *)ho.tls_key);
	explicit_bzero(token, sizeof(token));
	if (ret) {
		pr_err("%s\n", err.msg[0] ? err.msg : strerror(-ret));
		sdnotify_send(&sd, "STATUS=failed to start: %s",
			      err.msg[0] ? err.msg : strerror(-ret));
	}
	return ret ? 1 : 0;
}
