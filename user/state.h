/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the maps do not hold (names, ids, versions, servers, salts, which
 * slot is whose) lives in a JSON state file, written atomically on every
 * change so a restarted vsteerd adopts the pinned maps as they are. */
#ifndef VS_STATE_H
#define VS_STATE_H

#include <jansson.h>
#include "model.h"
#include "util.h"

#define VS_DEFAULT_STATE "/var/lib/vsteer/state.json"

/* A rollout's analysis settings and status as JSON (null when off); the
 * state file and the API show the same object. */
json_t *analysis_dump(const struct analysis *a);

/* Returns a malloc'ed JSON text. */
char *state_dump(const struct model *m);
int state_save(const struct model *m, const char *path, struct vs_err *err);
/* state_save() in two steps (see stage_file()): the new state is durable
 * in a temp file before the maps change, and becomes the state file after. */
int state_stage(const struct model *m, const char *path, struct staged_file *f,
		struct vs_err *err);
int state_commit(struct staged_file *f, struct vs_err *err);
/* -ENOENT if there is no state file; any other error names the file. */
int state_parse(const char *text, size_t len, const char *name,
		struct model *m, struct vs_err *err);
int state_load(const char *path, struct model *m, struct vs_err *err);

#endif
