/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every version's numbers over the last RECENT_SECONDS-second window, for
 * the API ("lastWindow"), whether or not a rollout judges it. All
 * versions share the windows, so two versions' numbers are of the same
 * seconds; the first window after a version appears (or after vsteerd
 * starts) is partial and not shown. Longer windows of the same readings
 * give a rollout its baseline: the stable version's last minute or two
 * before the rollout started. Each roll also appends a sample to every
 * service's history (core/history.h), which the API shows for charts:
 * the rolls are its clock. */
#ifndef VS_RECENT_H
#define VS_RECENT_H

#include <stdint.h>
#include "core/history.h"
#include "core/model.h"
#include "core/window.h"

struct dataplane;

#define RECENT_SECONDS		5
#define RECENT_BASELINE_SECONDS 60

/* A version's counters and open connections at the last roll: while
 * they stand still, its histograms do too. */
struct recent_sig {
	struct vs_ver_stats st;
	__s64 open;
};

struct recent_state {
	int64_t start; /* when every version's current window began; 0: none */
	/* Each slot's at its last roll that read the histograms. An idle
	 * version's roll reuses what it read then (the current window's
	 * base) instead of reading 560 buckets again: at 400 versions that
	 * was most of an idle vsteerd's CPU. */
	struct recent_sig sig[VS_MAX_SLOTS];
	bool sig_ok[VS_MAX_SLOTS];
	struct window_track v[VS_MAX_SLOTS];
	int64_t long_start; /* the same for the RECENT_BASELINE_SECONDS windows */
	struct window_track longer[VS_MAX_SLOTS];
	/* Each service's, by id: allocated at its first sample (a fixed
	 * size, sizeof(struct history)), freed when the service goes. Not
	 * persisted: a restart begins them again. */
	struct history *hist[VS_MAX_SERVICES];
};

/* Roll the windows that are due and append a sample to every service's
 * history; now is monotonic seconds, wall the wall clock's, the samples'
 * time. Without metering nothing is measured, but the samples are taken
 * all the same: weights are still worth a chart. */
void recent_tick(struct recent_state *r, struct dataplane *dp, const struct model *m, int64_t now,
		 int64_t wall);
/* A slot about to hold another version. */
void recent_forget(struct recent_state *r, uint32_t slot);
/* slot's last whole window, or NULL. */
const struct window *recent_last(const struct recent_state *r, uint32_t slot);
/* What slot did from the start of the last whole longer window (or of
 * the current one, when there is none yet) until now: one to two
 * RECENT_BASELINE_SECONDS. seconds 0: nothing measured yet. */
void recent_baseline(const struct recent_state *r, struct dataplane *dp, uint32_t slot, int64_t now,
		     struct window_sum *out);
/* Service svc's history, or NULL when it has none yet (no roll since it
 * came, or no memory). */
const struct history *recent_history(const struct recent_state *r, uint32_t svc);
/* Service svc is gone: its history goes with it. */
void recent_forget_service(struct recent_state *r, uint32_t svc);
/* Free the histories (vsteerd's controller closes). */
void recent_free(struct recent_state *r);

#endif
