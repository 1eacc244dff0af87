// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <microhttpd.h>
#include "lib/clock.h"
#include "api/waiters.h"

/* File scope, like conns.c: one API server per process. Connections are
 * resumed outside the lock: libmicrohttpd takes its own lock to resume,
 * and holds it nowhere it could wait for ours. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct {
		struct MHD_Connection *conn;
		int64_t until;
	} w[WAITERS_MAX];
	uint32_t n;
	uint32_t unanswered; /* resumed by waiters_stop(), reply not yet sent */
	uint64_t last_id;    /* the newest event published */
	bool stop, running;
	pthread_t thread;
} waiters = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Take the followers due at now (all of them when now < 0) off the list
 * into out; waiters.lock held. */
static uint32_t take_due(int64_t now, struct MHD_Connection **out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < waiters.n;) {
		if (now >= 0 && waiters.w[i].until > now) {
			i++;
			continue;
		}
		out[n++] = waiters.w[i].conn;
		waiters.w[i] = waiters.w[--waiters.n];
	}
	return n;
}

static void resume(struct MHD_Connection **conns, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		MHD_resume_connection(conns[i]);
}

int waiters_add(struct MHD_Connection *conn, uint64_t seen, int64_t until)
{
	int ret = 0;

	pthread_mutex_lock(&waiters.lock);
	if (waiters.last_id > seen) {
		ret = -EAGAIN;
	} else if (waiters.n == WAITERS_MAX || waiters.stop || !waiters.running) {
		ret = -ENOSPC;
	} else {
		/* Suspended before anyone can see it: resuming a connection
		 * that is not suspended is a libmicrohttpd panic. */
		MHD_suspend_connection(conn);
		waiters.w[waiters.n].conn = conn;
		waiters.w[waiters.n++].until = until;
		pthread_cond_signal(&waiters.wake);
	}
	pthread_mutex_unlock(&waiters.lock);
	return ret;
}

void waiters_published(void *arg, uint64_t last_id)
{
	struct MHD_Connection *due[WAITERS_MAX];
	uint32_t n;
	(void)arg;

	pthread_mutex_lock(&waiters.lock);
	waiters.last_id = last_id;
	n = take_due(-1, due);
	pthread_mutex_unlock(&waiters.lock);
	resume(due, n);
}

static void *deadlines(void *arg)
{
	struct MHD_Connection *due[WAITERS_MAX];
	struct timespec ts;
	int64_t next;
	uint32_t n;
	(void)arg;

	pthread_mutex_lock(&waiters.lock);
	while (!waiters.stop) {
		n = take_due(clock_mono_ms(), due);
		if (n) {
			pthread_mutex_unlock(&waiters.lock);
			resume(due, n);
			pthread_mutex_lock(&waiters.lock);
			continue;
		}
		next = INT64_MAX;
		for (uint32_t i = 0; i < waiters.n; i++)
			if (waiters.w[i].until < next)
				next = waiters.w[i].until;
		if (next == INT64_MAX) {
			pthread_cond_wait(&waiters.wake, &waiters.lock);
			continue;
		}
		ts = clock_mono_timespec(next);
		pthread_cond_timedwait(&waiters.wake, &waiters.lock, &ts);
	}
	pthread_mutex_unlock(&waiters.lock);
	return NULL;
}

int waiters_start(void)
{
	int ret;

	ret = clock_cond_init(&waiters.wake);
	if (ret)
		return ret;
	waiters.stop = false;
	waiters.n = 0;
	waiters.last_id = 0; /* publish_subscribe() tells the newest */
	ret = -pthread_create(&waiters.thread, NULL, deadlines, NULL);
	if (ret) {
		pthread_cond_destroy(&waiters.wake);
		return ret;
	}
	waiters.running = true;
	return 0;
}

void waiters_answered(void)
{
	pthread_mutex_lock(&waiters.lock);
	if (waiters.unanswered && !--waiters.unanswered)
		pthread_cond_broadcast(&waiters.wake);
	pthread_mutex_unlock(&waiters.lock);
}

void waiters_stop(void)
{
	struct MHD_Connection *due[WAITERS_MAX];
	int64_t deadline = clock_mono_ms() + WAITERS_STOP_MS;
	struct timespec ts;
	uint32_t n;

	if (!waiters.running)
		return;
	pthread_mutex_lock(&waiters.lock);
	waiters.stop = true;
	n = waiters.unanswered = take_due(-1, due);
	pthread_cond_broadcast(&waiters.wake);
	pthread_mutex_unlock(&waiters.lock);
	resume(due, n);
	/* Their (empty) replies go out before libmicrohttpd closes every
	 * connection: a follower is told to come back, not cut off. */
	ts = (struct timespec){ .tv_sec = deadline / 1000, .tv_nsec = deadline % 1000 * 1000000L };
	pthread_mutex_lock(&waiters.lock);
	while (waiters.unanswered &&
	       pthread_cond_timedwait(&waiters.wake, &waiters.lock, &ts) != ETIMEDOUT)
		;
	waiters.unanswered = 0;
	pthread_mutex_unlock(&waiters.lock);
	pthread_join(waiters.thread, NULL);
	pthread_cond_destroy(&waiters.wake);
	waiters.running = false;
}
