/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A fleet's settings (the config's "fleet", vsteerd's --etcd, --host-id,
 * --etcd-prefix), the keys a fleet keeps in etcd, and the status a host
 * publishes there, read back as another host wrote it: checked, never
 * trusted (docs/fleet.md).
 */
#ifndef VS_FLEET_CODEC_H
#define VS_FLEET_CODEC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "core/limits.h"
#include "core/model.h"
#include "core/version.h"
#include "codec/request.h"

#define FLEET_PREFIX_DEFAULT "/vsteer"
#define FLEET_PREFIX_MAX     128
#define FLEET_ENDPOINTS_MAX  1024
#define FLEET_USER_MAX	     128
#define FLEET_PASSWORD_MAX   255
/* A host's lease: it drops out of the fleet this long after its last
 * keepalive. etcd takes no TTL under 1.5 election timeouts (1.5 s with
 * its defaults); a minute is as long as a dead host should look alive. */
#define FLEET_LEASE_DEFAULT 10
#define FLEET_LEASE_MIN	    2
#define FLEET_LEASE_MAX	    60
/* A host's status document: a few hundred bytes a version, and a host
 * may have VS_MAX_SLOTS of them; under etcd's 1.5 MiB a request. */
#define FLEET_DOC_MAX	   (1024 * 1024)
#define FLEET_PROBLEMS_MAX 32
#define FLEET_HOSTS_MAX	   1024 /* hosts /v1/fleet shows */

struct fleet_cfg {
	char endpoints[FLEET_ENDPOINTS_MAX]; /* "": not in a fleet */
	char host_id[NAME_MAX_LEN];
	char prefix[FLEET_PREFIX_MAX];
	char user[FLEET_USER_MAX]; /* "": etcd without authentication */
	char password_file[PATH_MAX];
	char cacert[PATH_MAX]; /* TLS to etcd: its CA, and this host's own */
	char cert[PATH_MAX];
	char key[PATH_MAX];
	uint32_t lease_s;
	uint32_t min_hosts;	/* a fleet rollout's step waits for this many; 0: every member */
	uint32_t min_hosts_pct; /* or this percentage of the members, rounded up; 0: none */
};

/* The defaults: no fleet, prefix /vsteer, a 10 s lease. */
void fleet_cfg_init(struct fleet_cfg *f);
/* The config's "fleet" object: {"etcd": "URL,..." or ["URL", ...],
 * "hostId", "prefix", "user", "passwordFile", "caCert", "cert", "key",
 * "leaseSeconds", "minHosts" (a number, or "N%")}, over f's defaults. */
int fleet_cfg_parse(json_t *obj, struct fleet_cfg *f, struct vs_err *err);
/* Once the command line had its say: etcd and a host id go together, a
 * user with a password file, a cert with a key; the prefix is a path. */
int fleet_cfg_check(const struct fleet_cfg *f, struct vs_err *err);

/* PREFIX/kind/ID ("hosts": a host's status, under its lease; "members":
 * the hosts that joined, until one is removed; "services": a service's
 * desired state, ID its name), or PREFIX/kind/ with id
 * NULL; -ENAMETOOLONG if it does not fit. */
int fleet_key(const struct fleet_cfg *f, const char *kind, const char *id, char *out, size_t size);
/* The host id at the end of key, a key of PREFIX/kind/; NULL if key is
 * not one or its id is not a valid host id. */
const char *fleet_key_id(const struct fleet_cfg *f, const char *kind, const char *key);

/* A host's status document as etcd holds it under hosts/ID: a JSON object
 * of at most FLEET_DOC_MAX bytes with "host": ID, "at" (RFC 3339),
 * "appliedRevision" (>= 0, if there), "services" (a list of objects with "name"
 * and "versions") and "problems" (at most FLEET_PROBLEMS_MAX strings:
 * what the host finds wrong with itself). *out is the parsed document;
 * anything else is -EPROTO with err naming the host and the field. */
int fleet_host_parse(const char *id, const char *text, size_t len, json_t **out,
		     struct vs_err *err);

/* A member's document ({"joined": TIME}): as it is if it is an object
 * with at most a "joined" string, else an empty object. Never NULL but
 * out of memory. */
json_t *fleet_member_parse(const char *text, size_t len);
/* Whether a host's status (as fleet_host_parse() took it) says it has
 * applied the fleet's desired state only up to a revision before rev. */
bool fleet_host_behind(json_t *doc, int64_t rev);
/* A service's desired state as etcd holds it under services/NAME:
 * {"weights": {"VERSION": PERCENT, ...}, "salt": N, "by": HOST, "at":
 * TIME, "rollout": {...}, "sessionTimeout": N}, written by a host's API
 * or the fleet's driver; the last two with a rollout of the fleet. */
struct fleet_desired_doc {
	json_t *doc; /* parsed: w's names and rollout point into it */
	struct weights_req w;
	char by[NAME_MAX_LEN]; /* "" if absent or not a host id */
	bool has_salt;	       /* the session hash salt every host takes */
	uint32_t salt;
	json_t *rollout; /* NULL: none (fleet_rollout_load() checks it) */
	bool has_session_timeout;
	uint32_t session_timeout;
};
int fleet_desired_parse(const char *text, size_t len, struct fleet_desired_doc *out,
			struct vs_err *err);
void fleet_desired_free(struct fleet_desired_doc *d);
/* Service svc's rollout as the fleet keeps it: the state file's, with
 * its versions by name ("from" null once deleted), "fleet": true. */
json_t *fleet_rollout_json(const struct model *m, uint32_t svc);
/* The fleet's rollout j into service svc of m, its versions mapped to
 * this host's slots: 409 unknown_version if this host lacks one (1, and
 * nothing taken, for an ended rollout's target: the rollout is history),
 * 502 bad_desired_state if j is not a rollout. */
int fleet_rollout_load(json_t *j, struct model *m, uint32_t svc, struct vs_err *err);

/* PREFIX/services/SVC/versions/VERSION: a version the fleet has, with
 * the servers of the host that registered it first; -ENAMETOOLONG if it
 * does not fit. */
int fleet_version_key(const struct fleet_cfg *f, const char *svc, const char *version, char *out,
		      size_t size);
/* The service and version of such a key; false if key is not one. */
bool fleet_version_key_parse(const struct fleet_cfg *f, const char *key, char svc[NAME_MAX_LEN],
			     char version[VERSION_MAX_LEN]);
/* Its document: {"servers": [...], "by": HOST, "at": TIME}, the servers
 * as PUT /v1/clusters takes them (checked when a host registers them). */
struct fleet_version_doc {
	json_t *doc;
	json_t *servers; /* borrowed from doc */
	char by[NAME_MAX_LEN];
};
int fleet_version_parse(const char *text, size_t len, struct fleet_version_doc *out,
			struct vs_err *err);
void fleet_version_free(struct fleet_version_doc *d);

/* A fleet rollout, as the driver knows it: service, start, step (from 1)
 * and phase, as hosts' statuses say them; the time a window must have
 * passed since to end the step (rollout_gate_since()), and the windows
 * without a verdict that count as one. */
struct fleet_ro_ref {
	const char *service;
	int64_t started;
	uint32_t step;
	const char *phase;
	int64_t since;
	uint32_t max_inconclusive;
};
/* What every member's status says of it. */
struct fleet_judged {
	char failed[NAME_MAX_LEN]; /* the first host whose windows failed failureLimit times */
	char why[200];		   /* its reason */
	uint32_t members;
	uint32_t applied;  /* hosts that run the same step in the same phase */
	uint32_t required; /* minHosts, its percentage of the members, or every member */
	char lagging[160]; /* "h1 (missing), h2 (behind)": the members that do not run it */
	bool ready;	   /* applied >= required */
	/* For the driver's engine: since when a window passed on the
	 * required hosts (0: not on enough of them), and maxInconclusive when
	 * the others among them had that many windows without a verdict. */
	int64_t last_pass;
	uint32_t inconclusive;
};
/* hosts and members as GET /v1/fleet reads them ({"ID": status}, {"ID":
 * {...}}); a member without a status, or another rollout or step, has
 * not applied it. */
void fleet_rollout_judge(json_t *hosts, json_t *members, uint32_t min_hosts, uint32_t min_pct,
			 const struct fleet_ro_ref *r, struct fleet_judged *out);

#endif
