/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Events: every change vsteerd makes or sees, numbered, kept in a ring
 * (in the model, so in the state file), shown by GET /v1/events and
 * written as log lines. Each kind has one level, in the table in event.c,
 * which docs/api.md lists and tests/kinds.py keeps in step. */
#ifndef VS_EVENT_H
#define VS_EVENT_H

#include <stdint.h>
#include "lib/log.h"
#include "core/limits.h"

#define EVENT_RING	  256 /* events kept; the oldest goes first */
#define EVENT_KIND_LEN	  24
#define EVENT_MESSAGE_LEN 256

struct event {
	uint64_t id;		    /* 1, 2, ...: one more than the event before it */
	int64_t time;		    /* wall-clock seconds */
	char service[NAME_MAX_LEN]; /* "" for the daemon as a whole */
	char kind[EVENT_KIND_LEN];
	char message[EVENT_MESSAGE_LEN]; /* a sentence that names the values */
};

struct event_ring {
	uint32_t n, head; /* head: where the next one goes */
	uint64_t last_id; /* of the newest event ever added, kept or not */
	struct event ev[EVENT_RING];
};

/* Adds an event with the next id; the oldest one goes when full. */
void event_add(struct event_ring *r, int64_t now, const char *svc, const char *kind,
	       const char *message);
/* Adds one with the id it had (a state file's); ids must increase. */
int event_restore(struct event_ring *r, const struct event *e);
/* The k-th newest event (0: the newest), k < r->n. */
const struct event *event_nth(const struct event_ring *r, uint32_t k);
/* How many of the kept events have an id above since (they are the
 * newest ones). */
uint32_t event_count_after(const struct event_ring *r, uint64_t since);
/* Events after since that were not kept (the ring went round). */
uint64_t event_missed(const struct event_ring *r, uint64_t since);
/* The level of a kind: warning for rollbacks and refusals, notice for
 * changes, info for the rest (an unknown kind is info). */
enum vs_log_level event_level(const char *kind);

/* A kind and its level. */
struct event_kind {
	const char *kind;
	enum vs_log_level level;
};
extern const struct event_kind event_kinds[];

#endif
