/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Passing events on once they are committed: each becomes a log line at
 * its kind's level, and each subscriber (the API's followers of
 * GET /v1/events?wait=, the notifier) is told the newest id. Runs under
 * the controller's lock; a subscriber must not block or take it. */
#ifndef VS_PUBLISH_H
#define VS_PUBLISH_H

#include <stdint.h>

struct ctl;
struct model;

#define PUBLISH_MAX_SUBSCRIBERS 4

typedef void (*publish_fn)(void *arg, uint64_t last_id);

struct publish_state {
	uint64_t last; /* the newest event passed on */
	uint32_t n;
	struct {
		publish_fn fn;
		void *arg;
	} sub[PUBLISH_MAX_SUBSCRIBERS];
};

/* Events up to m's newest count as passed on: they were, by the vsteerd
 * that recorded them. */
void publish_init(struct publish_state *p, const struct model *m);
/* fn is called, under the controller's lock, with the newest event's id:
 * now, and after new events. 0, or -ENOSPC. */
int publish_subscribe(struct ctl *c, publish_fn fn, void *arg);
/* Log and pass on the events c->m has that were not yet. */
void publish_events(struct ctl *c);

#endif
