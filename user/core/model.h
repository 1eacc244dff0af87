/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What vsteerd steers, as plain data, and pure functions over it: no I/O,
 * so that every change can be computed on a copy, checked, and only then
 * applied.
 *
 * Glossary: one word per concept, here and in every file.
 *   service   an address clients connect to (struct service; index: its
 *             id, which the data plane knows it by)
 *   cluster   one version of a service with the servers that run it (the
 *             thesis's and the API's word; struct cluster)
 *   version   a cluster's dotted version string ("2.0"); versions of a
 *             service are ordered newest first (core/version.h)
 *   slot      a cluster's index: where the data plane keeps its sockets
 *             (sockmap slot * VS_MAX_SOCKS ...) and its counters. The
 *             contract (include/vsteer.h) calls a cluster as the data
 *             plane sees it a struct vs_ver.
 *   server    an ADDRESS:PORT a cluster names (the API's "servers"; the
 *             service view's "backends" shows each server's live state,
 *             a name the API keeps)
 *   socket    a listening socket that serves a server; a cluster's live
 *             sockets are in the sockmap
 *   netns     where a server's sockets live (core/netns.h): vsteerd's own
 *             network namespace (socket steering: a connection is handed
 *             to one of its sockets) or another, a container's (address
 *             steering: a connection is made to the server's address)
 *   flow      a connection steered by address: client address and port,
 *             service port, and its server (the data plane's LRU "flows")
 *   owner     who may listen for a server: a uid and a cgroup (core/owner.h)
 *   session   a client address of a service and the slot it is on (the
 *             data plane's session table "sessions")
 *   bucket    0..VS_BUCKETS-1 from the session hash; weight is the share
 *             of buckets in basis points (the API speaks percent)
 *   rollout   moving a service from its stable version to a target, in
 *             steps, each held for a time (core/rollout.h)
 *   window    a version's measurements between two readings; a verdict
 *             judges a target's window against the stable version's
 *   meter     what measures requests in the kernel (latency, size, HTTP
 *             status); the user-facing word is "watch" (--no-watch,
 *             "watching" in GET /v1/features)
 *   event     something that happened: numbered, of a kind with a level,
 *             for GET /v1/events and the log (core/event.h)
 */
#ifndef VS_MODEL_H
#define VS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "vsteer.h"
#include "lib/compiler.h"
#include "lib/err.h"
#include "core/addr.h"
#include "core/drain.h"
#include "core/event.h"
#include "core/limits.h"
#include "core/netns.h"
#include "core/notify.h"
#include "core/owner.h"
#include "core/rollout.h"
#include "core/version.h"

/* How a cluster takes over when it is registered (the thesis's
 * upgradeTransition mode). */
enum cl_mode { CL_INSTANT, CL_MANUAL, CL_SESSION, CL_MIRROR };

/* Active health checks of a cluster's servers: GET path every interval;
 * a server that fails unhealthy_after checks in a row is kept out of the
 * sockmap until healthy_after pass. */
struct health_check {
	bool on;
	char path[128];
	uint32_t interval_ms, timeout_ms, unhealthy_after, healthy_after;
};

struct cluster {
	bool used;
	char id[ID_LEN];
	char version[VERSION_MAX_LEN];
	uint32_t svc;
	uint16_t weight; /* basis points of new sessions */
	enum cl_mode mode;
	bool no_affinity;	  /* rolled back: its sessions move off */
	uint32_t session_timeout; /* CL_SESSION: seconds */
	/* upgradeTransition's drainDeadline: the rollout its registration
	 * starts drains the version it moves from. */
	struct drain_spec drain_deadline;
	struct drain drain; /* its own, once a rollout away from it completed */
	uint32_t nsrv;
	struct vs_endpoint srv[VS_MAX_SERVERS];
	/* Where each server's sockets live: all in vsteerd's own network
	 * namespace, or all in others (model_by_addr()). */
	struct netns_spec netns[VS_MAX_SERVERS];
	struct health_check health;
	/* Who may listen for each server (core/owner.h): the cluster's
	 * "owner" if it gave one, else recorded from the first sockets. */
	struct owner rule;
	struct owner owner[VS_MAX_SERVERS];
};

/* How a service's clients are keyed, and how many new sessions one
 * network of them may open: so that one host of a /64, or one network of
 * many addresses, cannot push other clients' sessions out of the table. */
struct sess_opts {
	uint8_t key6;	/* IPv6 clients keyed by their first key6 bits (1-128) */
	uint8_t quota4; /* quota networks: IPv4 /quota4, IPv6 /quota6 */
	uint8_t quota6;
	uint32_t quota; /* new sessions per network per window; 0: no limit */
};

#define SESS_KEY6_DEFAULT   64 /* a host owns a /64 */
#define SESS_QUOTA4_DEFAULT 24
#define SESS_QUOTA6_DEFAULT 48	/* a site owns a /48 */
#define SESS_QUOTA_DEFAULT  256 /* a /24's worth */
#define SESS_QUOTA_MAX	    1000000
#define SESS_WINDOW_MIN	    60 /* seconds: the quota's window is this or the timeout */

struct service {
	bool used;
	char name[NAME_MAX_LEN];
	struct vs_endpoint addr;
	uint32_t salt;
	uint32_t session_timeout; /* seconds of idleness that end a session */
	bool http;		  /* "protocol": "http": status classes counted */
	struct sess_opts sess;
	struct analysis an; /* what its rollouts are judged by, unless they say */
	struct rollout ro;
	struct notify_list notify;	    /* its webhooks: where its events are sent */
	uint32_t rollbacks, auto_rollbacks; /* since vsteerd started, for /metrics */
	uint32_t windows[3];		    /* analysis verdicts by enum verdict, ditto */
};

struct model {
	struct service svc[VS_MAX_SERVICES];
	struct cluster cl[VS_MAX_SLOTS];
	struct event_ring events;
};

const char *model_mode_name(enum cl_mode mode);
/* The thesis capitalises modes ("Instant"): any case. */
int model_mode_parse(const char *s, enum cl_mode *mode);

/* Records an event (core/event.h) of the kind, with the message. */
void model_event(struct model *m, int64_t now, const char *svc, const char *kind, const char *fmt,
		 ...) __printf(5, 6);
/* The k-th newest event (0: the newest), k < m->events.n. */
const struct event *model_event_nth(const struct model *m, uint32_t k);

/* A name vsteer takes for a service or a fleet's host: 1-63 characters
 * of [A-Za-z0-9._-]. */
bool model_name_valid(const char *s);
int model_find_service(const struct model *m, const char *name);
int model_find_cluster(const struct model *m, const char *id);
int model_find_version(const struct model *m, uint32_t svc, const char *version);

/* A new service at the lowest free id; returns the id. */
int model_add_service(struct model *m, const char *name, const struct vs_endpoint *addr,
		      uint32_t salt, struct vs_err *err);
/* The same at a given id (a state file's). */
int model_put_service(struct model *m, uint32_t id, const char *name,
		      const struct vs_endpoint *addr, uint32_t salt, struct vs_err *err);
/* spec->svc, version, mode, srv, rule and (optionally) id are read; returns the
 * new cluster's slot, preferring free slots not set in `avoid` (a bitmap
 * of VS_MAX_SLOTS bits, or NULL): those the data plane still has traces
 * of. With an empty id one is generated. The newest instant cluster (or
 * a service's first) takes every new session. */
int model_add_cluster(struct model *m, const struct cluster *spec, const uint64_t *avoid,
		      struct vs_err *err);
/* A cluster as recorded (a state file's): at that slot, with its weight
 * and mode as given, no other cluster's weight touched. */
int model_put_cluster(struct model *m, uint32_t slot, const struct cluster *spec,
		      struct vs_err *err);
int model_del_cluster(struct model *m, uint32_t slot, bool force, struct vs_err *err);
/* Service svc and its clusters; one that has clusters only with force. */
int model_del_service(struct model *m, uint32_t svc, bool force, struct vs_err *err);
/* Set every version's weight of service svc: names[i] gets bp[i] basis
 * points, versions not named get 0. The named weights must sum to 10000. */
int model_set_weights(struct model *m, uint32_t svc, const char *const *names, const uint16_t *bp,
		      uint32_t n, struct vs_err *err);
/* "2.0 50.00%, 1.0 50.00%": svc's versions, newest first, and weights. */
void model_format_weights(const struct model *m, uint32_t svc, char *buf, size_t size);

/* Slots of service svc's clusters, newest version first; returns count. */
uint32_t model_order(const struct model *m, uint32_t svc, uint32_t out[VS_MAX_VERSIONS]);
uint32_t model_nservices(const struct model *m);
/* The version holding most of the weight (ties: the newest); -ENOENT if
 * the service has none. */
int model_stable(const struct model *m, uint32_t svc);

/* Whether cluster cl is steered by address: its servers live in other
 * network namespaces. */
bool model_by_addr(const struct cluster *cl);
/* Whether some cluster is steered by address. */
bool model_has_by_addr(const struct model *m);
/* Whether some IPv6 server is steered by address. */
bool model_has_addr6(const struct model *m);
/* Whether some service speaks http (its status lines are read). */
bool model_has_http(const struct model *m);
void model_svc_key(const struct model *m, uint32_t svc, struct vs_svc_key *k);
/* The defaults of a service made now (one from an older state file keeps
 * whole IPv6 addresses as keys: see codec/state.c). */
void model_sess_defaults(struct sess_opts *o);
/* The data plane's per-service options of service svc (sopts). */
void model_svc_opts(const struct model *m, uint32_t svc, struct vs_svc_opts *o);
/* The data plane's view of service svc; nsock[slot] is how many socket
 * slots each cluster uses right now. */
void model_svc_value(const struct model *m, uint32_t svc, const uint8_t nsock[VS_MAX_SLOTS],
		     struct vs_svc *v);

/* Percent (as the API speaks) to basis points; -EINVAL if out of 0..100
 * or finer than 0.01. */
int model_percent_to_bp(double pct, uint16_t *bp);

#endif
