/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The state file read back (codec/state.h writes it). */
#ifndef VS_STATE_PARSE_H
#define VS_STATE_PARSE_H

#include <jansson.h>
#include "core/model.h"

/* Every error names the file (`name`) and the field. */
int state_parse(const char *text, size_t len, const char *name, struct model *m,
		struct vs_err *err);
/* -ENOENT if there is no state file. A symbolic link, or anything but a
 * regular file, is refused. */
int state_load(const char *path, struct model *m, struct vs_err *err);
/* A rollout as state_rollout_json() wrote it (null: none) into service
 * svc of m, whose clusters it names by slot; errors name `w`. */
int state_rollout_load(json_t *j, const char *w, struct model *m, uint32_t svc, struct vs_err *err);

#endif
