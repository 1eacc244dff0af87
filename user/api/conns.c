// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "api/conns.h"

#define CONNS_WATCH_MS 500   /* how often the deadlines are checked */
#define CONNS_LOG_MS   10000 /* at most one line this often about drops */

struct conn {
	struct conn *prev, *next;
	int fd;
	int family;
	uint8_t addr[16];
	int64_t since_ms; /* connection start, or its last reply sent */
	int64_t hold_ms;  /* a follower's reply is held until then (conns_hold) */
	bool busy;	  /* a request head is in, its reply not yet sent */
	bool cut;	  /* shut down: no longer counted */
};

/* libmicrohttpd's thread adds, removes and updates entries, the watchdog
 * thread cuts the late ones. File scope: one API server per process.
 * libmicrohttpd reports a connection closed before it closes the socket,
 * and the report waits for the lock, so no reused fd is ever shut down. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn head; /* list sentinel */
	int evicted;	  /* since the last sweep */
	bool stop;
	bool running;
	pthread_t thread;
} conns = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.head = { .prev = &conns.head, .next = &conns.head },
};

static void cut(struct conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
}

static bool same_client(const struct conn *a, const struct conn *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The live connection waiting longest for a request head (idle between
 * requests, or trickling one in), of like's client if like is set. */
static struct conn *oldest_waiting(const struct conn *like)
{
	struct conn *best = NULL;

	for (struct conn *c = conns.head.next; c != &conns.head; c = c->next)
		if (!c->cut && !c->busy && (!like || same_client(c, like)) &&
		    (!best || c->since_ms < best->since_ms))
			best = c;
	return best;
}

/* Make room for c, just added: at most CONNS_PER_CLIENT connections of
 * its client and CONNS_MAX in all, dropping those waiting longest. When
 * every other is under way there is none to drop: c stays, and its
 * request is refused if they still are when it comes (conns_head()). */
static void make_room(struct conn *c)
{
	int mine = 0, all = 0;
	struct conn *v;

	for (struct conn *e = conns.head.next; e != &conns.head; e = e->next) {
		if (e->cut)
			continue;
		all++;
		mine += same_client(e, c);
	}
	if (mine > CONNS_PER_CLIENT && (v = oldest_waiting(c)) && v != c) {
		cut(v);
		conns.evicted++;
		all--;
	}
	if (all > CONNS_MAX && (v = oldest_waiting(NULL)) && v != c) {
		cut(v);
		conns.evicted++;
	}
}

struct conn *conns_open(int fd, const struct sockaddr *addr, int64_t now)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->since_ms = now;
	if (addr && addr->sa_family == AF_INET) {
		c->family = AF_INET;
		memcpy(c->addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	} else if (addr && addr->sa_family == AF_INET6) {
		c->family = AF_INET6;
		memcpy(c->addr, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
	}
	pthread_mutex_lock(&conns.lock);
	c->prev = conns.head.prev;
	c->next = &conns.head;
	c->prev->next = c->next->prev = c;
	make_room(c);
	pthread_mutex_unlock(&conns.lock);
	return c;
}

void conns_close(struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&conns.lock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	pthread_mutex_unlock(&conns.lock);
	free(c);
}

int conns_head(struct conn *c, char *msg, size_t size)
{
	int mine = 0, all = 0, status = 0;
	char a[INET6_ADDRSTRLEN] = "?";

	if (!c)
		return 0;
	pthread_mutex_lock(&conns.lock);
	for (struct conn *e = conns.head.next; e != &conns.head; e = e->next) {
		if (e == c || e->cut || !e->busy)
			continue;
		all++;
		mine += same_client(e, c);
	}
	if (mine >= CONNS_PER_CLIENT) {
		if (c->family)
			inet_ntop(c->family, c->addr, a, sizeof(a));
		snprintf(msg, size,
			 "%s has %d API requests under way, the most one client may have; try again when one is answered",
			 a, mine);
		status = 429;
	} else if (all >= CONNS_MAX) {
		snprintf(msg, size,
			 "the API has %d requests under way, the most it serves at once; try again",
			 all);
		status = 503;
	} else {
		c->busy = true;
	}
	pthread_mutex_unlock(&conns.lock);
	return status;
}

void conns_replied(struct conn *c, int64_t now)
{
	if (!c)
		return;
	pthread_mutex_lock(&conns.lock);
	c->busy = false;
	c->since_ms = now;
	c->hold_ms = 0;
	pthread_mutex_unlock(&conns.lock);
}

void conns_hold(struct conn *c, int64_t until)
{
	if (!c)
		return;
	pthread_mutex_lock(&conns.lock);
	c->hold_ms = until;
	pthread_mutex_unlock(&conns.lock);
}

void conns_sweep(int64_t now, struct conns_cut *n)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_lock(&conns.lock);
	for (struct conn *c = conns.head.next; c != &conns.head; c = c->next) {
		if (c->cut)
			continue;
		if (!c->busy && now - c->since_ms >= CONNS_HEAD_S * 1000L) {
			cut(c);
			n->head++;
		} else if (c->busy && now - c->since_ms >= CONNS_REQUEST_S * 1000L &&
			   now >= c->hold_ms + CONNS_REQUEST_S * 1000L) {
			cut(c);
			n->request++;
		}
	}
	n->evicted = conns.evicted;
	conns.evicted = 0;
	pthread_mutex_unlock(&conns.lock);
}

static void log_cuts(const struct conns_cut *n)
{
	char line[256] = "";
	size_t len = 0;

	if (n->head)
		len += snprintf(line + len, sizeof(line) - len,
				"; %d sent no request head within %d s", n->head, CONNS_HEAD_S);
	if (n->request && len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - len, "; %d had no reply within %d s",
				n->request, CONNS_REQUEST_S);
	if (n->evicted && len < sizeof(line))
		snprintf(line + len, sizeof(line) - len,
			 "; %d waited longest for a request when another needed room", n->evicted);
	pr_warn("http: closed %d API connections%s\n", n->head + n->request + n->evicted, line);
}

static void *watchdog(void *arg)
{
	struct conns_cut n, sum = {};
	int64_t now, logged = 0;
	struct timespec until;
	(void)arg;

	pthread_mutex_lock(&conns.lock);
	while (!conns.stop) {
		pthread_mutex_unlock(&conns.lock);
		now = clock_mono_ms();
		conns_sweep(now, &n);
		sum.head += n.head;
		sum.request += n.request;
		sum.evicted += n.evicted;
		/* A flood would make a line per sweep: one per 10 s says it. */
		if ((sum.head || sum.request || sum.evicted) && now - logged >= CONNS_LOG_MS) {
			log_cuts(&sum);
			memset(&sum, 0, sizeof(sum));
			logged = now;
		}
		now += CONNS_WATCH_MS;
		until = clock_mono_timespec(now);
		pthread_mutex_lock(&conns.lock);
		if (!conns.stop)
			pthread_cond_timedwait(&conns.wake, &conns.lock, &until);
	}
	pthread_mutex_unlock(&conns.lock);
	return NULL;
}

int conns_start(void)
{
	int ret;

	ret = clock_cond_init(&conns.wake);
	if (ret)
		return ret;
	conns.stop = false;
	ret = -pthread_create(&conns.thread, NULL, watchdog, NULL);
	if (ret) {
		pthread_cond_destroy(&conns.wake);
		return ret;
	}
	conns.running = true;
	return 0;
}

void conns_stop(void)
{
	if (!conns.running)
		return;
	pthread_mutex_lock(&conns.lock);
	conns.stop = true;
	pthread_cond_signal(&conns.wake);
	pthread_mutex_unlock(&conns.lock);
	pthread_join(conns.thread, NULL);
	pthread_cond_destroy(&conns.wake);
	conns.running = false;
}
