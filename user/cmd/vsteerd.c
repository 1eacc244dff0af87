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
#include "lib/file.h"
#include "lib/log.h"
#include "codec/config.h"
#include "codec/state.h"
#include "codec/state_parse.h"
#include "kernel/dp.h"
#include "kernel/dp_pins.h"
#include "kernel/features.h"
#include "ctl/ctl.h"
#include "ctl/tick.h"
#include "api/auth.h"
#include "api/http.h"
#include "api/origin.h"
#include "api/router.h"

/* The Makefile passes the version from `git describe`. */
#ifndef VSTEER_VERSION
#define VSTEER_VERSION "unknown"
#endif
#define TLS_MAX_SIZE (64 * 1024) /* a PEM certificate chain or key */

struct opts {
	const char *config;
	const char *pin_dir;
	const char *state;
	unsigned long session_table;
	bool cleanup;
	bool no_watch;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vsteerd [OPTIONS]\n"
		"Steer new connections to a service between versions with sk_lookup.\n\n"
		"  -c, --config FILE    JSON config: proxy, configService, cluster (or services)\n"
		"  -p, --pin-dir DIR    bpffs directory for maps and link (default %s)\n"
		"  -s, --state FILE     state file (default %s)\n"
		"      --session-table N  session affinity entries (LRU, default %d); fixed\n"
		"                       when the pin directory is created\n"
		"      --no-watch       do not measure requests (latency, size, status):\n"
		"                       no per-request hooks; analysis sees no traffic\n"
		"      --cleanup        remove everything pinned under the pin directory, then exit\n"
		"  -v, --verbose        debug logging, libbpf's included (--log-level debug)\n"
		"      --log-level L    error, warning, notice, info (default) or debug\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n\n"
		"Runs in the foreground and logs to stderr: each line with its time and level, or,\n"
		"under systemd, with its journal priority. SIGTERM/SIGINT stop the controller;\n"
		"steering stays pinned and keeps running.\n",
		VS_DEFAULT_PIN_DIR, VS_DEFAULT_STATE, VS_SESS_DEFAULT);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "session-table", required_argument, NULL, 'S' },
		{ "no-watch", no_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	/* clang-format on */
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
			break;
		case 'C':
			o->cleanup = true;
			break;
		case 'W':
			o->no_watch = true;
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
	return 0;
}

/* The state file's directory, created 0700 if missing (the default
 * /var/lib/vsteer does not exist on a fresh host). Whoever else can write
 * in it can put a state file there before vsteerd writes one, which the
 * next start would steer by: so it is refused unless root or vsteerd's
 * user owns it and nobody else may write in it. A sticky bit (/tmp) is
 * not enough: it stops others removing our files, not making new ones. */
static int ensure_state_dir(const char *state, struct vs_err *err)
{
	char buf[PATH_MAX];
	const char *dir;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", state);
	dir = dirname(buf);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return vs_errf(err, -errno, 500, "state_dir", "cannot create %s: %s", dir,
			       strerror(errno));
	if (stat(dir, &st) < 0)
		return vs_errf(err, -errno, 500, "state_dir", "state directory %s: %s", dir,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return vs_errf(err, -ENOTDIR, 500, "state_dir",
			       "state directory %s: not a directory", dir);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return vs_errf(
			err, -EPERM, 500, "state_dir",
			"state directory %s is owned by uid %u, not by root or vsteerd's user (uid %u), and its owner could replace the state file: chown it, or give --state a directory of its own",
			dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return vs_errf(
			err, -EPERM, 500, "state_dir",
			"state directory %s is writable by %s (mode %04o), who could replace the state file: chmod go-w it, or give --state a directory of its own",
			dir, st.st_mode & S_IWOTH ? "others" : "its group",
			(unsigned int)(st.st_mode & 07777));
	return 0;
}

/* The state file wins over the config's clusters: it is what the pinned
 * maps were last made to say. The config still sets the API address and
 * the notifications of the services it names. */
static int initial_model(const struct opts *o, struct config *cfg, struct model *m,
			 struct vs_err *err)
{
	struct model *from_state;
	int ret;

	ep_from_parts("127.0.0.1", VS_DEFAULT_API_PORT, &cfg->api);
	if (o->config && (ret = config_load(o->config, cfg, m, err)))
		return ret;
	from_state = calloc(1, sizeof(*from_state));
	if (!from_state)
		return -ENOMEM;
	ret = state_load(o->state, from_state, err);
	if (ret == -ENOENT) {
		pr_info("no state file %s: starting from %s\n", o->state,
			o->config ? o->config : "nothing");
		ret = 0;
	} else if (!ret) {
		pr_info("state file %s: adopting %u services\n", o->state,
			model_nservices(from_state));
		config_settings(cfg, m, from_state);
		memcpy(m, from_state, sizeof(*m));
	} else {
		/* Never start empty over pinned steering: that would drop it. */
		char prefix[sizeof(err->msg)];

		snprintf(prefix, sizeof(prefix), "%s", err->msg);
		vs_errf(err, ret, 500, err->code,
			"%s. Not starting; the file is left as it is, and steering keeps running. Fix it, or move it away to start from the config",
			prefix);
	}
	free(from_state);
	return ret;
}

static int read_pem(const char *path, const char **out, struct vs_err *err)
{
	size_t len;
	int ret;

	ret = file_read(path, 0, TLS_MAX_SIZE, (char **)out, &len);
	if (ret == -EFBIG)
		return vs_errf(err, ret, 500, "api_tls", "%s: over %d KiB", path,
			       TLS_MAX_SIZE >> 10);
	if (ret)
		return vs_errf(err, ret, 500, "api_tls", "%s: %s", path, file_strerror(ret));
	return 0;
}

/* The API's access rules: a token if configured (required off loopback),
 * TLS if configured. */
static int api_security(const struct config *cfg, char token[AUTH_TOKEN_MAX + 1],
			struct http_opts *ho, struct vs_err *err)
{
	char a[EP_STRLEN];
	int ret;

	ho->ep = cfg->api;
	if (cfg->token_file[0] && (ret = auth_token_load(cfg->token_file, token, err)))
		return ret;
	if (!cfg->token_file[0] && !ep_is_loopback(&cfg->api)) {
		ep_format(&cfg->api, a, sizeof(a));
		return vs_errf(
			err, -EPERM, 400, "api_token",
			"the API would listen on %s, beyond loopback, without a token: set configService.tokenFile",
			a);
	}
	if (cfg->tls_cert[0]) {
		ret = read_pem(cfg->tls_cert, &ho->tls_cert, err);
		if (!ret)
			ret = read_pem(cfg->tls_key, &ho->tls_key, err);
		if (ret)
			return ret;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char token[AUTH_TOKEN_MAX + 1] = "";
	struct http_opts ho = {};
	struct origin_policy origin = {};
	struct api api = {};
	struct MHD_Daemon *http = NULL;
	struct vs_err err = {};
	struct dataplane *dp = NULL;
	struct ctl *ctl = NULL;
	struct config cfg = {};
	struct vs_features feat;
	struct dp_pins_report pins;
	const struct vs_feature *miss;
	enum dp_meter meter;
	struct model *m;
	struct opts o;
	sigset_t sigs;
	int ret, sig;

	log_init();
	if (parse_args(argc, argv, &o))
		return 2;
	dp_route_libbpf_log();
	if (o.cleanup) {
		if (dp_cleanup(o.pin_dir, &err)) {
			pr_err("%s\n", err.msg);
			return 1;
		}
		return 0;
	}

	m = calloc(1, sizeof(*m));
	if (!m)
		return 1;
	ret = ensure_state_dir(o.state, &err);
	if (!ret)
		ret = initial_model(&o, &cfg, m, &err);
	if (!ret)
		ret = api_security(&cfg, token, &ho, &err);
	if (ret) {
		pr_err("%s\n", err.msg[0] ? err.msg : strerror(-ret));
		free(m);
		return 1;
	}

	/* Signals are taken synchronously in the tick loop below; block
	 * them before any thread starts so none of them gets one. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	/* A sentence naming what the kernel lacks, not a verifier dump. */
	features_probe(&feat);
	if (feat.bpf_err) {
		vs_errf(&err, feat.bpf_err, 500, "kernel",
			"cannot load BPF programs: %s. vsteerd needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; in a container the default seccomp profile also refuses bpf() without CAP_SYS_ADMIN (podman/docker run --security-opt seccomp=unconfined)",
			strerror(-feat.bpf_err));
		ret = feat.bpf_err;
		goto free_model;
	}
	miss = features_core_missing(&feat);
	if (miss) {
		vs_errf(&err, -EOPNOTSUPP, 500, "kernel",
			"this kernel (%s) lacks %s, which vsteer needs for %s (Linux %s or newer)",
			feat.kernel, miss->name, miss->what, miss->since);
		ret = -EOPNOTSUPP;
		goto free_model;
	}
	miss = features_meter_missing(&feat);
	if (miss && !o.no_watch) {
		pr_warn("this kernel (%s) lacks %s, for %s (Linux %s or newer): requests are not measured, as with --no-watch\n",
			feat.kernel, miss->name, miss->what, miss->since);
		o.no_watch = true;
	}
	meter = o.no_watch				  ? DP_METER_OFF :
		features_ok(&feat, "tp_sock_send_length") ? DP_METER_SEND :
							    DP_METER_TC;
	if (meter == DP_METER_TC)
		pr_info("this kernel (%s) lacks tp_btf/sock_send_length (Linux 6.3): responses are measured as they leave by an interface (TC egress) instead\n",
			feat.kernel);
	ret = dp_open(&dp, o.pin_dir, o.session_table, meter, &err);
	if (ret)
		goto free_model;
	/* Nothing is attached yet: a refusal here leaves steering as it was. */
	ret = ctl_check_addresses(dp, m, &cfg, &err);
	if (!ret)
		ret = dp_attach(dp, &err);
	if (ret)
		goto close_dp;
	pr_info("%s data plane in %s\n", dp_adopted(dp) ? "adopted" : "created", o.pin_dir);
	ret = ctl_open(&ctl, dp, m, o.state, &err);
	if (ret)
		goto close_dp;
	ctl->features = &feat;
	ret = health_start(ctl);
	if (ret) {
		vs_errf(&err, ret, 500, "internal", "cannot start the health checker: %s",
			strerror(-ret));
		goto close_ctl;
	}
	ret = notifier_start(ctl, &cfg.notify, VSTEER_VERSION);
	if (ret) {
		vs_errf(&err, ret, 500, "internal", "cannot start the notifier: %s",
			strerror(-ret));
		health_stop(ctl);
		goto close_ctl;
	}
	api.c = ctl;
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
	if (ret) {
		notifier_stop(ctl);
		health_stop(ctl);
		goto close_ctl;
	}
	{
		char a[EP_STRLEN];

		ep_format(&cfg.api, a, sizeof(a));
		pr_info("API on %s://%s%s\n", ho.tls_cert ? "https" : "http", a,
			api.token ? ", token required for changes" : "");
	}

	for (;;) {
		struct timespec ts = { 0, TICK_MS * 1000000L };

		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		ctl_tick(ctl);
	}
	http_stop(http);
	health_stop(ctl);
	notifier_stop(ctl);
	/* Said only once it is true. */
	if (!ctl_check_pins(ctl, &pins))
		pr_info("stopping; steering stays pinned in %s\n", o.pin_dir);
	else
		pr_warn("stopping; %s not pinned in %s (%s): %s\n", pins.missing, o.pin_dir,
			pins.why,
			strstr(pins.missing, "link") ?
				"steering stops as vsteerd exits" :
				"steering stays, but these go as vsteerd exits and the next vsteerd starts them afresh");
close_ctl:
	ctl_close(ctl);
close_dp:
	dp_close(dp);
free_model:
	free(m);
	free((char *)ho.tls_cert);
	free((char *)ho.tls_key);
	explicit_bzero(token, sizeof(token));
	if (ret) {
		pr_err("%s\n", err.msg[0] ? err.msg : strerror(-ret));
		return 1;
	}
	return 0;
}
