/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * This host in a fleet (docs/fleet.md): a thread of its own holds a lease
 * in etcd, registers the host once under members/ID, publishes its status
 * under hosts/ID with the lease every FLEET_PUBLISH_MS, and reads every
 * host's back. A host that cannot reach etcd for a lease's time is stale:
 * its lease lapsed and the others see it missing; it keeps steering with
 * what it has. All etcd I/O happens outside the controller's lock; the
 * API reads what the thread last saw (fleet_view_take()), never etcd.
 */
#ifndef VS_FLEET_H
#define VS_FLEET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "codec/fleet.h"
#include "core/model.h"

#define FLEET_PUBLISH_MS 2000 /* a host's status, and the read of the others' */

struct ctl;
struct etcd_client;
struct snap;

/* The host's status document (codec/fleet.h) from a snapshot of all its
 * versions: the API's views render it (api/views_fleet.h), handed down
 * by vsteerd so that ctl/ needs nothing above it. */
typedef json_t *(*fleet_render_fn)(const struct snap *s, const char *host);

/* A service's desired state in the fleet (PREFIX/services/NAME) as this
 * host last applied it. */
struct fleet_desired {
	char name[NAME_MAX_LEN]; /* "": a free place */
	int64_t mod_rev;	 /* of its key when applied */
	char by[NAME_MAX_LEN];	 /* the host whose API wrote it */
	char problem[224];	 /* why this host could not apply it; "" */
	bool has_salt;		 /* the service's salt in the fleet, for the next write */
	uint32_t salt;
};

/* A version the fleet has (PREFIX/services/SVC/versions/VERSION) as this
 * host took it: registered here with the servers given there, unless it
 * has its own; deleted here when the key goes. */
struct fleet_version {
	char svc[NAME_MAX_LEN]; /* "": a free place */
	char version[VERSION_MAX_LEN];
	int64_t mod_rev;
	char by[NAME_MAX_LEN];
	bool gone;	   /* the key was deleted: this host deletes its own */
	char problem[256]; /* why this host could not follow; "" */
};

/* What the API shows: copied out under the fleet's lock. */
struct fleet_view {
	bool on; /* in a fleet: the rest is filled */
	char host_id[NAME_MAX_LEN];
	char prefix[FLEET_PREFIX_MAX];
	char endpoints[FLEET_ENDPOINTS_MAX];
	uint32_t lease_s;
	bool joined;	     /* etcd answered once since the start */
	bool stale;	     /* no answer from etcd for a lease's time */
	int64_t stale_since; /* wall seconds, while stale */
	int64_t contact_at;  /* wall ms of etcd's last answer, 0: none yet */
	char error[256];     /* the last failure ("" after a success) */
	json_t *hosts;	     /* {"ID": status} of the last read; NULL before one */
	json_t *members;     /* {"ID": {"joined": TIME}} */
	int64_t read_at;     /* wall ms of that read */
	int64_t revision;    /* etcd's revision at that read */
	uint32_t nok, nfailing, nmissing, nbehind;
	struct fleet_desired desired[VS_MAX_SERVICES];
	struct fleet_version versions[VS_MAX_SLOTS];
	int64_t applied_rev;	   /* the store's revision this host has applied up to */
	int64_t desired_rev;	   /* the newest change to a service it saw */
	char driver[NAME_MAX_LEN]; /* the host that drives rollouts, "": none seen */
	bool driving;		   /* this one */
};

/* An event from the fleet's threads: under the controller's lock, which
 * they never hold with the fleet's own (ctl/txn.h). */
#define fleet_event(c, kind, ...) fleet_event_svc((c), "", (kind), __VA_ARGS__)
#define fleet_event_svc(c, svc, kind, ...)                  \
	do {                                                \
		pthread_mutex_lock(&(c)->lock);             \
		txn_event((c), (svc), (kind), __VA_ARGS__); \
		pthread_mutex_unlock(&(c)->lock);           \
	} while (0)

struct fleet_state {
	struct fleet_cfg cfg;
	struct etcd_client *client; /* NULL: not in a fleet */
	fleet_render_fn render;
	pthread_t thread;
	atomic_bool stopping;
	bool running;
	int64_t lease;	       /* 0: none held */
	bool registered;       /* members/ID written since the lease */
	int64_t lease_checked; /* mono ms of its last grant or keepalive */
	int64_t published;     /* mono ms of the last status put */
	int64_t contact_mono;  /* mono ms of etcd's last answer */
	bool driving;	       /* holds PREFIX/driver (ctl/fleet_drive.h) */
	int64_t driver_rev;    /* the key's create revision: the driver's writes compare it */
	bool versions_told;    /* this host's versions written to the fleet */
	json_t *waiting;       /* the driver's: {"SERVICE": why its step waits}; lock */
	pthread_t sync_thread; /* ctl/fleet_sync.c */
	bool sync_running;
	pthread_mutex_t apply_lock; /* one desired state applied at a time */
	pthread_mutex_t lock;	    /* guards view */
	struct fleet_view view;
};

/* Settings checked, the password file read, the client made (no I/O to
 * etcd yet): vsteerd's start, and --check-config. Nothing to do without
 * endpoints. f's lock is its owner's (ctl_open() makes it). */
int fleet_open(struct fleet_state *f, const struct fleet_cfg *cfg, struct vs_err *err);
void fleet_close(struct fleet_state *f);
/* src's settings and client, opened before the controller was there, into
 * the controller's dst; src is left closed. */
void fleet_adopt(struct fleet_state *dst, struct fleet_state *src);
/* The thread: idle until ctl_start(). No thread without fleet_open(). */
int fleet_start(struct ctl *c, fleet_render_fn render);
/* Stops it and gives up the lease (its status goes at once): the others
 * see this host missing. Twice is once. */
void fleet_stop(struct ctl *c);

/* 503 fleet_stale while this host has no link to etcd (or never had):
 * a change to the fleet made here could not reach the others. */
int fleet_refuse_stale(struct fleet_state *f, struct vs_err *err);
/* A copy of what the thread last saw, the caller's to fleet_view_free(). */
void fleet_view_take(struct fleet_state *f, struct fleet_view *out);
void fleet_view_free(struct fleet_view *v);
/* DELETE /v1/fleet/hosts/ID: forget a member that has no status (its
 * lease lapsed: dead or gone for good). -ENOENT (404) if it is no member,
 * -EBUSY (409) while its status is there, -EAGAIN (503) without etcd. */
int fleet_forget(struct fleet_state *f, const char *id, struct vs_err *err);

#endif
