// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/history.h"

static const struct history_point absent = {
	.weight = HISTORY_ABSENT,
	.open = HISTORY_UNKNOWN,
	.p50_ms = -1,
	.p99_ms = -1,
};

void history_init(struct history *h, const char *service)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->service, sizeof(h->service), "%s", service);
}

uint32_t history_len(const struct history *h)
{
	return h->count < HISTORY_KEEP ? (uint32_t)h->count : HISTORY_KEEP;
}

/* The ring position of index i (0: the oldest held). */
static uint32_t pos(const struct history *h, uint32_t i)
{
	return (h->count - history_len(h) + i) % HISTORY_KEEP;
}

static int find(const struct history *h, const char *version)
{
	for (int c = 0; c < HISTORY_COLS; c++)
		if (h->col[c].version[0] && !strcmp(h->col[c].version, version))
			return c;
	return -1;
}

/* A column for a version that has none: a free one, else the one of a
 * version gone whose last sample is the oldest (taken[] are the columns
 * of this sample's versions). There is always one: fewer than
 * HISTORY_COLS versions have a column already. Its old points become
 * absent, so no sample reads as the new version's before it came. */
static int take_col(struct history *h, const bool taken[HISTORY_COLS], const char *version)
{
	int best = -1;

	for (int c = 0; c < HISTORY_COLS && best < 0; c++)
		if (!h->col[c].version[0])
			best = c;
	if (best < 0)
		for (int c = 0; c < HISTORY_COLS; c++)
			if (!taken[c] && (best < 0 || h->col[c].last < h->col[best].last))
				best = c;
	for (uint32_t i = 0; i < HISTORY_KEEP; i++)
		h->col[best].p[i] = absent;
	snprintf(h->col[best].version, sizeof(h->col[best].version), "%s", version);
	return best;
}

int history_append(struct history *h, int64_t time, const struct history_in *in, uint32_t n)
{
	uint64_t seq = h->count, oldest = seq + 1 > HISTORY_KEEP ? seq + 1 - HISTORY_KEEP : 0;
	uint32_t at = seq % HISTORY_KEEP, prev = (seq + HISTORY_KEEP - 1) % HISTORY_KEEP;
	bool taken[HISTORY_COLS] = { false };
	int col[HISTORY_COLS];

	if (n > HISTORY_COLS)
		return -E2BIG;
	/* Two passes: a new version must not take the column of one that
	 * comes later in in[]. */
	for (uint32_t v = 0; v < n; v++) {
		col[v] = find(h, in[v].version);
		if (col[v] >= 0)
			taken[col[v]] = true;
	}
	/* A column none of the samples held after this one has is freed. */
	for (int c = 0; c < HISTORY_COLS; c++)
		if (!taken[c] && h->col[c].version[0] && h->col[c].last < oldest)
			h->col[c].version[0] = '\0';
	/* find() again: a version given twice takes one column. */
	for (uint32_t v = 0; v < n; v++)
		if (col[v] < 0 && (col[v] = find(h, in[v].version)) < 0)
			taken[col[v] = take_col(h, taken, in[v].version)] = true;
	for (int c = 0; c < HISTORY_COLS; c++)
		if (h->col[c].version[0])
			h->col[c].p[at] = absent;
	for (uint32_t v = 0; v < n; v++) {
		h->col[col[v]].p[at] = in[v].p;
		h->col[col[v]].last = seq;
	}
	if (seq && time <= h->time[prev])
		time = h->time[prev] + 1;
	h->time[at] = time;
	h->count++;
	return 0;
}

uint32_t history_after(const struct history *h, int64_t since)
{
	uint32_t lo = 0, hi = history_len(h);

	/* Times increase (history_append()): the first one after since. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (history_time(h, mid) > since)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int64_t history_time(const struct history *h, uint32_t i)
{
	return h->time[pos(h, i)];
}

const struct history_point *history_at(const struct history *h, uint32_t col, uint32_t i)
{
	if (col >= HISTORY_COLS || !h->col[col].version[0])
		return NULL;
	return &h->col[col].p[pos(h, i)];
}

bool history_measured(const struct history_point *p)
{
	return p->weight != HISTORY_ABSENT && p->seconds;
}
