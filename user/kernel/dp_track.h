/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The tracing programs (bpf/track.bpf.c): the connection tracker, always,
 * and the request meters when metering, each on a link pinned in the pin
 * directory. */
#ifndef VS_DP_TRACK_H
#define VS_DP_TRACK_H

#include "lib/err.h"

struct dataplane;

/* Loaded (only the programs this meter needs), sharing steer's maps;
 * nothing attached yet. */
int dp_track_load(struct dataplane *dp, struct vs_err *err);
/* Attached and pinned in dir, or the pinned links kept where they run
 * the same program. */
int dp_track_attach(struct dataplane *dp, const char *dir, struct vs_err *err);
/* Unpin the meters this start does not run (dp_commit()). */
void dp_track_unpin_idle(struct dataplane *dp);
/* Unpin the tracers this start pinned where none was (a failed start). */
void dp_track_unpin_made(struct dataplane *dp);

#endif
