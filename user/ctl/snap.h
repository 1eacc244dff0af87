/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the API shows, taken under the controller's lock in one go and
 * rendered after it is released: the model, and for the versions asked
 * for their sockets, health, windows and the kernel's counters. Taking a
 * snapshot writes nothing: reads never write.
 */
#ifndef VS_SNAP_H
#define VS_SNAP_H

#include <stdbool.h>
#include <stdint.h>
#include "core/history.h"
#include "core/model.h"
#include "core/window.h"
#include "ctl/mirror.h"

struct ctl;
struct vs_features;

struct snap_server {
	uint32_t live;	  /* its sockets in the sockmap now */
	bool healthy;	  /* not kept out by its health checks */
	uint32_t backlog; /* accept backlog at the last full scan */
	uint32_t refused; /* sockets on its address refused for their owner */
};

struct snap_version {
	struct vs_ver_stats st;
	int64_t open;		 /* open connections, never below 0 */
	struct hist lat, size;	 /* all its life */
	struct vs_ver_sums sums; /* their exact sums */
	uint32_t live;		 /* sockets of all its servers */
	struct snap_server srv[VS_MAX_SERVERS];
	bool recent_ok; /* its last RECENT_SECONDS window */
	struct window recent;
	bool judged_ok; /* its side of the last judged analysis window */
	struct window judged;
};

struct snap {
	struct model m;
	/* Filled for the versions asked for, NULL for the others. */
	struct snap_version *ver[VS_MAX_SLOTS];
	struct vs_svc_stats svc[VS_MAX_SERVICES]; /* of the services asked for */
	struct vs_svc_guard guard[VS_MAX_SERVICES];
	/* The mirror reports of the services asked for that have one, and
	 * what the kernel's capture did for them (kernel/dp_mirror.h). */
	struct mirror_report *mirror[VS_MAX_SERVICES];
	struct vs_mirror_stats capture[VS_MAX_SERVICES];
	int svc_id;	  /* the service asked for by name, or -1 */
	int cluster_slot; /* the cluster asked for by id, or -1 */
	uint64_t ticks;
	const char *version;		     /* vsteerd's build, or NULL */
	uint64_t notify_sent, notify_failed; /* webhook deliveries (ctl/notifier.h) */
	uint32_t notify_queued;
	bool metering;
	bool mirroring; /* the capture and replay threads run: mirrors can */
	int drain_how;	/* enum dp_drain: how drains close connections */
	const struct vs_features *features;
	/* the fleet's thread's last word (ctl/fleet.h), for /metrics */
	struct {
		bool on, stale, driving, driver; /* this host drives; some host does */
		uint32_t nok, nfailing, nmissing, nbehind;
	} fleet;
};

/* What to take: SNAP_MODEL the model alone (events, names); otherwise
 * also the versions of the service named `service`, or the cluster with
 * id `cluster`, or of everything when both are NULL. An unknown name or
 * id is -ENOENT with err filled (404). */
enum snap_what { SNAP_MODEL, SNAP_VERSIONS };
int snap_take(struct ctl *c, enum snap_what what, const char *service, const char *cluster,
	      struct snap **out, struct vs_err *err);
void snap_free(struct snap *s);
/* For GET /v1/events: the events alone (a follower's reply, 32 at once,
 * copies 90 KiB each instead of the whole model); 404 unknown_service if
 * service is given and there is none of that name. */
int snap_events(struct ctl *c, const char *service, struct event_ring *out, struct vs_err *err);
/* For GET /v1/services/{name}/history: a copy of the service's history
 * (empty until its first sample); 404 unknown_service if there is no
 * service of that name. */
int snap_history(struct ctl *c, const char *service, struct history *out, struct vs_err *err);
/* For GET /healthz: how many ticks ran, without a snapshot. */
uint64_t snap_ticks(struct ctl *c);

#endif
