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
/* Bring every service's map value in line with the model and the socket
 * counts; a no-op (one lookup each) when nothing changed. */
void txn_sync_services(struct ctl *c);

#endif
