/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service's rollout and the engine that drives it, as pure functions
 * over the model: start a rollout, control it, record a verdict, and
 * advance it to a given wall-clock time. The controller runs these on a
 * copy of the model inside a transaction and calls rollout_tick() every
 * tick. `now` is always passed in, so tests can run a rollout of days in
 * milliseconds.
 */
#ifndef VS_ROLLOUT_H
#define VS_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "core/drain.h"
#include "core/judge.h"
#include "core/limits.h"
#include "core/mirror.h"

struct model;

enum ro_strategy { RO_INSTANT, RO_SESSION, RO_GRADUAL, RO_MIRROR };
enum ro_phase { RO_NONE, RO_PROGRESSING, RO_PAUSED, RO_COMPLETED, RO_ABORTED, RO_ROLLED_BACK };
enum ro_op { RO_OP_PROMOTE, RO_OP_PAUSE, RO_OP_RESUME, RO_OP_ABORT, RO_OP_ROLLBACK };

#define RO_MAX_STEPS 32
#define RO_WAIT	     (-1) /* a step without hold: wait for promote */

struct ro_step {
	uint16_t weight; /* basis points for the target */
	int64_t hold;	 /* seconds, or RO_WAIT */
};

/* What happened to a rollout, in the rollout itself (and the state
 * file): the events of other services cannot push it out. */
enum ro_mark_type {
	ROM_STARTED = 1,
	ROM_STEP,
	ROM_PROMOTED,
	ROM_PROMOTED_FULL,
	ROM_PAUSED,
	ROM_RESUMED,
	ROM_ABORTED,
	ROM_ROLLED_BACK,
	ROM_AUTO_ROLLBACK,
	ROM_COMPLETED,
	ROM_AUTO_PAUSE,
	ROM_MIRROR_PASSED, /* a mirror ended with its verdict passed */
	ROM_MIRROR_FAILED, /* ... failed or inconclusive */
	ROM_TYPES
};
#define RO_MAX_HISTORY 48 /* when full, the oldest after "started" go */

struct ro_mark {
	int64_t time;
	uint16_t weight; /* the target's, after it (basis points) */
	uint8_t type;	 /* enum ro_mark_type */
	uint8_t step;	 /* index, at it */
	uint32_t pad;	 /* no padding: models are compared whole */
};

/* What POST /v1/services/{name}/rollout asks for. */
struct ro_request {
	char to[ID_LEN]; /* version or cluster id */
	enum ro_strategy strategy;
	uint32_t session_timeout; /* seconds, 0: none */
	bool session_timeout_set; /* given (0 too): else, when 0, the service
					 * keeps the timeout it has */
	uint32_t nsteps;
	struct ro_step steps[RO_MAX_STEPS];
	struct analysis_req an; /* over the service's analysis settings */
	/* The stable version's measurements just before: the controller's
	 * to give (seconds 0: none). */
	struct window_sum base;
	struct drain_spec drain;
	struct mirror_spec mirror; /* RO_MIRROR */
	/* RO_MIRROR: the rollout to start when the mirror's verdict passes
	 * (its `to` is not read: the mirror's target), or NULL. Only read
	 * while the request is executed. */
	const struct ro_request *then;
};

/* A service's current (or last) rollout: from its stable version to a
 * target. Times are wall-clock seconds, so a restart continues on
 * schedule. */
struct rollout {
	enum ro_phase phase;
	enum ro_strategy strategy;
	uint32_t from, to;	  /* cluster slots */
	uint32_t session_timeout; /* seconds; 0: no affinity */
	uint32_t nsteps, step;
	struct ro_step steps[RO_MAX_STEPS];
	int64_t started;
	int64_t step_started;
	int64_t paused_left; /* hold seconds left when paused */
	int64_t ended;
	struct analysis an;
	struct drain_spec drain; /* the version moved from, once completed */
	uint32_t nhist;
	struct ro_mark hist[RO_MAX_HISTORY]; /* oldest first */
	/* RO_MIRROR: what it mirrors and compares, its verdict over every
	 * request compared so far (the controller's to keep current), and
	 * the rollout that follows a passing one. */
	struct mirror_spec mirror;
	enum verdict mirror_verdict;
	char mirror_why[256];
	bool has_then;
	struct ro_request then;
	char why[256];	     /* an automatic rollback's reason */
	char pause_why[160]; /* the last automatic pause's */
	/* The fleet's (docs/fleet.md): its schedule and rollback are the
	 * driving host's; here, windows are judged and counted only, and
	 * once failure_limit failed in a row, why stays the last one's until
	 * the driver rolls back (a pass after must not hide it). */
	bool fleet;
	uint32_t nmarks; /* marks ever made: the newest nmarks - n are new to a host at n */
};

bool rollout_active(const struct rollout *ro);
int rollout_start(struct model *m, uint32_t svc, const struct ro_request *req, int64_t now,
		  struct vs_err *err);
int rollout_control(struct model *m, uint32_t svc, enum ro_op op, bool full, int64_t now,
		    struct vs_err *err);
/* An instant cluster that took over on registration (the weights are
 * set already): record it as an instant rollout, judged as req's an and
 * base say (to and the rest of req are not read): completed at once when
 * it is not judged. */
void rollout_record_instant(struct model *m, uint32_t svc, uint32_t from, uint32_t to,
			    const struct ro_request *req, int64_t now);
/* Before an operator's change to service svc (weights, a new rollout, a
 * version deleted or taking over): a rollout at 100% that is only being
 * judged completes, the change being the operator's verdict. True if a
 * rollout is still in progress, one that the change must wait for. */
bool rollout_settle(struct model *m, uint32_t svc, int64_t now);
/* Record a window's verdict; after failure_limit failures in a row, roll
 * back. True if rolled back. A paused rollout is judged too. */
bool rollout_verdict(struct model *m, uint32_t svc, enum verdict v, const char *why, int64_t now);
/* A mirror's verdict over every request it compared so far (what ends
 * it when its duration is over or it is promoted); true if it changed. */
bool rollout_mirror_verdict(struct model *m, uint32_t svc, enum verdict v, const char *why);
/* Roll back service svc's rollout in progress for a reason that is not
 * this host's windows (the fleet's driver: another host's failed them);
 * recorded as an automatic rollback. -errno as rollout_control(). */
int rollout_fail(struct model *m, uint32_t svc, const char *why, int64_t now, struct vs_err *err);
/* Advance every progressing rollout to `now`, but the fleet's; true if
 * anything changed. */
bool rollout_tick(struct model *m, int64_t now);
/* Advance service svc's, the fleet's too: its driver's, with the judged
 * status of every host in ro->an. True if anything changed. */
bool rollout_advance(struct model *m, uint32_t svc, int64_t now);
/* With analysis on, the current step ends once a window passed at this
 * wall time or later (and its hold is over). */
int64_t rollout_gate_since(const struct rollout *ro);
/* When the current step's hold ends, or -1 if it waits for promote. */
int64_t rollout_next_due(const struct rollout *ro);
/* The target's current weight in basis points. */
uint16_t rollout_weight(const struct model *m, const struct rollout *ro);

#endif
