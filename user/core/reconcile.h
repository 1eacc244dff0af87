/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one precedence rule between the config file and what runs (the
 * state file): what runs wins for what exists in both; the config adds
 * what is new. At every start and every reload:
 *   - a service or cluster in the config and not running is added (a
 *     cluster added to a service that runs gets weight 0: only a rollout
 *     or PUT .../weights moves clients);
 *   - one running and not in the config is kept, and named in a note;
 *   - a setting that differs is named in a note with both values, and
 *     the running value kept; but for a service's analysis and
 *     notifications, which the config owns (no API sets them, and they
 *     move no client): those are taken.
 * Each addition and each note is an event in the model. Pure: no I/O.
 */
#ifndef VS_RECONCILE_H
#define VS_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include "core/model.h"

#define RECONCILE_MAX_NOTES 64 /* kept and made events; the rest counted */

struct reconcile_note {
	char service[NAME_MAX_LEN];
	char text[EVENT_MESSAGE_LEN];
};

struct reconcile_added {
	char service[NAME_MAX_LEN];
	char version[VERSION_MAX_LEN];
	char id[ID_LEN];
};

struct reconcile_result {
	uint32_t nsvc, ncl, nnotes; /* nnotes may be over RECONCILE_MAX_NOTES */
	uint32_t nan;		    /* services whose analysis was taken */
	uint32_t nnotify;	    /* ... whose notifications were */
	char svc[VS_MAX_SERVICES][NAME_MAX_LEN];
	struct reconcile_added cl[VS_MAX_SLOTS];
	uint32_t cl_slot[VS_MAX_SLOTS]; /* where each added cluster is in run */
	struct reconcile_note notes[RECONCILE_MAX_NOTES];
};

/* Merge cfg (a config as config_parse() made it) into run, by the rule
 * above; events recorded at now. New clusters avoid the slots set in
 * `avoid` (VS_MAX_SLOTS bits, or NULL) where they can. On an error (a new
 * service's address or server in use, a limit) run is half-merged: merge
 * into a copy. */
int reconcile_merge(struct model *run, const struct model *cfg, const uint64_t *avoid, int64_t now,
		    struct reconcile_result *r, struct vs_err *err);
/* A difference, or something running that the config lacks: a
 * config_differs event in run while r has room for it, and counted. */
void reconcile_note(struct model *run, struct reconcile_result *r, int64_t now, const char *svc,
		    const char *fmt, ...) __printf(5, 6);
/* "1 service added (api), 2 versions added, 3 differences kept as running"
 * or "nothing changed". */
void reconcile_summary(const struct reconcile_result *r, char *buf, size_t size);

#endif
