/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include "lib/hostport.h"
#include "core/model.h"
#include "codec/fleet.h"

#define VS_DEFAULT_API_PORT 9900
#define VS_DEFAULT_SERVICE  "default"
#define CONFIG_MAX_SIZE	    (1 << 20)
#define CONFIG_MAX_ALLOWED  16 /* entries of allowedHosts, of allowedOrigins */

#include <limits.h>

/* A service as the config file has it, for checks at start. */
struct config_svc {
	char name[NAME_MAX_LEN];
	char where[24]; /* its entry: "proxy", "services[3]" */
	struct vs_endpoint addr;
	bool takeover; /* "takeover": true: may take an address another process listens on */
};

struct config {
	struct vs_endpoint api;	   /* configService: where the REST API listens */
	char token_file[PATH_MAX]; /* configService.tokenFile: bearer token */
	char tls_cert[PATH_MAX];   /* configService.tlsCert, tlsKey: PEM files */
	char tls_key[PATH_MAX];
	/* configService.allowedHosts, allowedOrigins: the Host and Origin
	 * values the API takes besides its own address */
	struct hostport allowed_hosts[CONFIG_MAX_ALLOWED];
	int nallowed_hosts;
	struct hostport allowed_origins[CONFIG_MAX_ALLOWED];
	int nallowed_origins;
	struct config_svc svc[VS_MAX_SERVICES];
	uint32_t nsvc;
	struct notify_list notify; /* "notifications": the daemon's webhooks, for every event */
	struct fleet_cfg fleet;	   /* "fleet": etcd and this host's id in it (codec/fleet.h) */
	bool fleet_flags;	   /* vsteerd's options set some of it: a reload does not compare */
};

/*
 * The thesis's format, and a multi-service form:
 *   {"proxy": {"address": "127.0.0.1", "port": 8080},
 *    "configService": {"address": "127.0.0.1", "port": 9900,
 *                      "tokenFile": "/etc/vsteer/token",
 *                      "tlsCert": "cert.pem", "tlsKey": "key.pem",
 *                      "allowedHosts": ["vsteer.example.com:9900"],
 *                      "allowedOrigins": ["https://dash.example.com"]},
 *    "cluster": [{"version": "1.0", "servers": ["127.0.0.1:9001"]}]}
 *   {"services": [{"name": "web", "address": "0.0.0.0", "port": 80,
 *                  "clusters": [...]}], "configService": ...}
 * In proxy and in each of services, "takeover": true lets vsteerd take an
 * address that another process listens on, "analysis" sets what the
 * service's rollouts are judged by (false: not judged), and
 * "notifications" lists the service's webhooks (codec/parse.h); at the
 * top level, the daemon's. "fleet" puts the host in a fleet (codec/fleet.h).
 * Fills cfg and m (services with fresh salts, clusters with fresh ids).
 * Errors name the file (`name`) and the field.
 */
int config_parse(const char *text, size_t len, const char *name, struct config *cfg,
		 struct model *m, struct vs_err *err);
int config_load(const char *path, struct config *cfg, struct model *m, struct vs_err *err);

#endif
