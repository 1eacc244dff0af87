/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A mirror rollout's settings (core/mirror.h) as JSON: POST .../rollout's
 * "mirror", the config's upgradeTransition and the state file alike
 * (codec/parse.h's conventions). */
#ifndef VS_PARSE_MIRROR_H
#define VS_PARSE_MIRROR_H

#include <jansson.h>
#include "lib/err.h"
#include "core/mirror.h"

/* {"percent": 10,                   of the stable version's new connections,
 *                                   over 0 to 100 in steps of 0.01
 *  "maxPerSecond": 100,             1 to 100000
 *  "maxInFlight": 32,               1 to 1024
 *  "methods": ["GET", "HEAD"],      1 to 8 HTTP tokens (15 bytes), each once
 *  "duration": 600,                 seconds, 0 (until promoted) to 7 days
 *  "timeoutMs": 5000,               100 to 60000
 *  "authorization": false, "cookies": false,
 *  "compare": {"body": true,
 *              "ignore": ["items[].updatedAt"],  0 to 16 paths (1 to 95
 *                                                printable ASCII bytes)
 *              "headers": ["Content-Type"],      0 to 8 header names (63)
 *              "noiseSamples": 10,               0 to 1000
 *              "maxStatusMismatchRate": 0.01, "maxBodyDiffRate": 0.01}}  0 to 1
 * read over what *s holds (the caller sets the defaults, or what a state
 * had); a list given replaces the list. Errors have code (unknown keys:
 * unknown_field) and name where.field; *s is written only on success. */
int parse_mirror(json_t *j, const char *where, const char *code, struct mirror_spec *s,
		 struct vs_err *err);
/* s in the shape parse_mirror() reads, every field given; NULL if out of
 * memory. */
json_t *mirror_spec_json(const struct mirror_spec *s);

#endif
