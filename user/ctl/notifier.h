/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Webhooks: each committed event that a target wants (the daemon's
 * targets see every service's events, a service's its own) is POSTed to
 * it as JSON, as GET /v1/events shows it. Taking the events is the
 * publish subscriber (ctl/publish.h), under the controller's lock: it
 * only copies them into a bounded queue. A thread of its own sends them
 * with libcurl, several at once, never holding the controller's lock, so
 * a slow or dead receiver delays neither the controller nor the API. A
 * delivery is tried NOTIFIER_ATTEMPTS times, with a doubling backoff;
 * any answer but a 2xx, or none within the target's timeout, is a
 * failure. A delivery that fails every attempt, or finds the queue full,
 * or is still pending when vsteerd stops, is counted as failed and
 * logged.
 */
#ifndef VS_NOTIFIER_H
#define VS_NOTIFIER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/event.h"
#include "core/notify.h"

struct ctl;

#define NOTIFIER_QUEUE	   256	/* deliveries waiting or under way */
#define NOTIFIER_ATTEMPTS  4	/* the first, then after 0.5, 1 and 2 s */
#define NOTIFIER_BACKOFF   500	/* ms before the second attempt; doubled after */
#define NOTIFIER_PARALLEL  16	/* attempts under way at once */
#define NOTIFIER_STOP_MS   2000 /* how long a stopping vsteerd waits for them */
#define NOTIFIER_AGENT_LEN 64

struct notifier_item {
	bool used, sending;
	uint8_t attempts; /* made so far */
	uint64_t seq;	  /* queue order: the oldest due is sent first */
	int64_t due_ms;	  /* monotonic: when the next attempt may start */
	uint64_t event;
	char kind[EVENT_KIND_LEN];
	struct notify_target t;
	char *body; /* the event's JSON */
	void *easy; /* CURL *, while sending */
	void *hdrs; /* struct curl_slist *, while sending */
};

struct notifier_state {
	pthread_mutex_t lock; /* the queue; taken inside the controller's */
	struct notify_list daemon;
	char agent[NOTIFIER_AGENT_LEN]; /* "User-Agent: vsteerd/VERSION" */
	bool primed;			/* told the newest event once */
	uint64_t last;			/* the newest event looked at */
	uint64_t seq;
	uint64_t dropping; /* deliveries dropped since the queue filled */
	struct notifier_item q[NOTIFIER_QUEUE];
	atomic_uint_fast64_t sent, failed;
	atomic_uint queued;
	void *multi; /* CURLM * */
	pthread_t thread;
	atomic_bool stopping;
	bool running;
};

/* An empty queue (ctl_open()). */
void notifier_init(struct notifier_state *n);
/* Subscribe to c's events and start the sending thread; daemon: the
 * config's top-level targets (copied), version for the User-Agent. */
int notifier_start(struct ctl *c, const struct notify_list *daemon, const char *version);
/* Stop the thread: what is pending gets up to NOTIFIER_STOP_MS, then
 * counts as failed. Frees what the queue holds. */
void notifier_stop(struct ctl *c);
/* Frees what the queue holds, unsent (ctl_close(), after a stop). */
void notifier_release(struct notifier_state *n);
/* The publish subscriber: queues the events up to last_id that a target
 * wants. arg is the struct ctl; called under its lock. */
void notifier_on_events(void *arg, uint64_t last_id);
/* Queue e for t: 0, or -ENOBUFS when the queue is full (counted as
 * failed, logged once until it has room again). */
int notifier_queue(struct notifier_state *n, const struct notify_target *t, const struct event *e);

#endif
