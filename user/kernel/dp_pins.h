/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pin directory (dp.h's layout): checked every tick, each missing pin
 * put back from the fd vsteerd holds, so that steering outlives vsteerd
 * as the log says it does; the lock on it; and another vsteerd steering
 * the same network namespace.
 */
#ifndef VS_DP_PINS_H
#define VS_DP_PINS_H

#include <stdbool.h>
#include "lib/err.h"

struct dataplane;

#define DP_PINS_NAMES 320 /* every pin's name, ", " between */

/* What dp_pins_check() found and did; names are comma-separated. */
struct dp_pins_report {
	bool dir_made;		      /* the pin directory was gone: made again */
	char repinned[DP_PINS_NAMES]; /* were missing: pinned again */
	char replaced[DP_PINS_NAMES]; /* held another object: ours again */
	char missing[DP_PINS_NAMES];  /* not pinned, and cannot be now */
	char why[256];		      /* why not, for the first of them */
	int err;		      /* its -errno */
};

/* Every pin of dp in place, holding dp's object: a missing one (or the
 * whole directory, made again 0700 and locked again) is pinned again from
 * the fd dp holds; another object at one of the names is unpinned and ours
 * put back, as the directory is vsteerd's alone. 0 when every pin is in
 * place; otherwise r->err, r->missing and r->why say what is not. A stat
 * per pin when nothing changed. */
int dp_pins_check(struct dataplane *dp, struct dp_pins_report *r);
/* The pin directory dp steers from. */
const char *dp_pins_dir(const struct dataplane *dp);

/* For kernel/ only. */
bool dp_pins_on_bpffs(const char *path);
/* An flock on dir, held by the fd returned; -errno if another vsteerd
 * holds it. */
int dp_pins_lock(const char *dir, struct vs_err *err);
/* Unlink the maps older builds pinned in dir and this one does not use. */
void dp_pins_drop_old(const char *dir);
/* Unlink what vsteerd pins in dir, then dir itself. */
int dp_pins_remove(const char *dir);
/* Note what dp_attach() pinned, and the fd each is held by. */
int dp_pins_record(struct dataplane *dp, struct vs_err *err);
/* -EEXIST, with a sentence naming its pin directory, when another
 * vsteerd's sk_lookup link (not the one pinned in pin_dir) steers this
 * network namespace. */
int dp_pins_neighbour(const char *pin_dir, struct vs_err *err);

#endif
