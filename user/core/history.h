/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service's recent history, for charts (GET /v1/services/{name}/history):
 * a sample each time the versions' last windows roll (ctl/recent.h), the
 * last HISTORY_KEEP of them in a ring of fixed size, one column per
 * version. A page that only keeps what it saw since it loaded would show
 * nothing of a rollout already under way.
 *
 * A version that goes keeps its column while any sample held still has
 * it (so a chart shows its traffic falling away), then the column is
 * freed. Pure: the caller passes the samples and their time.
 */
#ifndef VS_HISTORY_H
#define VS_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/version.h"

#define HISTORY_KEEP 360	     /* samples: 30 minutes of 5 s windows */
#define HISTORY_COLS VS_MAX_VERSIONS /* versions a service can have at once */

/* One version in one sample. Counts rather than rates, so that a rate is
 * computed once, when it is shown, from exact numbers. */
struct history_point {
	uint16_t weight;	   /* basis points; HISTORY_ABSENT: no such version then */
	uint16_t seconds;	   /* the window it measured; 0: no whole window */
	uint32_t open;		   /* open connections; HISTORY_UNKNOWN: not read */
	uint32_t requests, errors; /* answered, and failed of those (window_sum) */
	double p50_ms, p99_ms;	   /* < 0: no latency measured */
};

#define HISTORY_ABSENT	UINT16_MAX
#define HISTORY_UNKNOWN UINT32_MAX

struct history_col {
	char version[VERSION_MAX_LEN]; /* "": the column is free */
	uint64_t last;		       /* the number of the last sample it was in */
	struct history_point p[HISTORY_KEEP];
};

/* ~93 KiB, whatever the traffic: allocated once per service. */
struct history {
	char service[NAME_MAX_LEN];
	uint64_t count;		    /* samples ever appended: the next one's number */
	int64_t time[HISTORY_KEEP]; /* wall-clock seconds, by number % HISTORY_KEEP */
	struct history_col col[HISTORY_COLS];
};

/* A version present in a sample. */
struct history_in {
	const char *version;
	struct history_point p;
};

/* Empty, for the service named service. */
void history_init(struct history *h, const char *service);
/* Append the sample taken at time (its end, wall-clock seconds) of the n
 * versions in[] (the others are absent in it; a version given twice
 * takes one column, the last point given), dropping the
 * oldest sample once HISTORY_KEEP are held. Times are kept increasing,
 * a second apart at least, so that a reader's since= cursor neither skips
 * nor repeats a sample when the wall clock is set back. 0, or -E2BIG for
 * more versions than columns (nothing appended). */
int history_append(struct history *h, int64_t time, const struct history_in *in, uint32_t n);
/* How many samples are held. */
uint32_t history_len(const struct history *h);
/* The index (0: the oldest held) of the first sample whose time is after
 * since; history_len() if none is. */
uint32_t history_after(const struct history *h, int64_t since);
/* The time of the sample at index i (0: the oldest held). */
int64_t history_time(const struct history *h, uint32_t i);
/* Column col's point in the sample at index i (0: the oldest held), or
 * NULL for a free column. */
const struct history_point *history_at(const struct history *h, uint32_t col, uint32_t i);
/* Whether p has measurements: a whole window of a version that was there. */
bool history_measured(const struct history_point *p);

#endif
