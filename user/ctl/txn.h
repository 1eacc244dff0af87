/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every change is a transaction: compute the new model on a copy, check
 * it, put sockets in place, stage the state file (written and fsynced),
 * write the maps, rename the state file into place, and only then make
 * the copy current. If any step fails the maps go back to what they were
 * and the caller gets the error; nothing is half-applied.
 */
#ifndef VS_TXN_H
#define VS_TXN_H

#include "lib/compiler.h"
#include "core/model.h"

struct ctl;

/* What one service's maps should hold: options, slots, key and value. */
struct txn_want {
	struct vs_svc_opts o;
	struct vs_svc_key k;
	struct vs_svc v;
	struct vs_slot slot[VS_MAX_VERSIONS];
	uint32_t order[VS_MAX_VERSIONS]; /* the slots' numbers */
	uint32_t n;
};

/* The tick's sync (txn_sync_services): what each service's maps were
 * last found or made to hold. A tick reads them back only for a service
 * whose wanted values moved, after a write failed, after any change
 * (txn_write_maps()), and every TXN_VERIFY_EVERY seconds (a map edited
 * by hand heals then): reading every service every tick took 2,400
 * syscalls a second at 100 services. */
#define TXN_VERIFY_EVERY 30
struct txn_sync_state {
	bool ok[VS_MAX_SERVICES];
	struct txn_want last[VS_MAX_SERVICES];
	int64_t verified; /* monotonic seconds */
};

/* Make next current, as above; c->lock held. On success next has been
 * copied into c->m. */
int txn_commit(struct ctl *c, struct model *next, struct vs_err *err);

/* fn's change to a copy of the model for service `svc` (by name; NULL
 * for none), committed if fn succeeds; then `after`, if any, still under
 * the lock, so that no other change comes in between. Takes c->lock. */
typedef int (*txn_fn)(struct model *next, uint32_t svc, const void *arg, struct vs_err *err);
typedef void (*txn_after_fn)(struct ctl *c, const void *arg);
int txn_run(struct ctl *c, const char *svc, txn_fn fn, txn_after_fn after, const void *arg,
	    struct vs_err *err);

/* An event, committed like any change; c->lock held. If the commit fails
 * the event is kept in the model all the same (and written with the next
 * change), and the error returned. */
int txn_event(struct ctl *c, const char *svc, const char *kind, const char *fmt, ...)
	__printf(4, 5);

/* Make the maps say what `want` says; services only `other` has are
 * removed (so the same call undoes a failed commit). No state file. */
int txn_write_maps(struct ctl *c, const struct model *want, const struct model *other);
/* Bring every service's maps in line with the model and the socket
 * counts (struct txn_sync_state says when it reads them). */
void txn_sync_services(struct ctl *c);

#endif
