// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "codec/state.h"
#include "ctl/ctl.h"
#include "ctl/notifier.h"

void notifier_init(struct notifier_state *n)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
}

/* Under n->lock. */
static void item_free(struct notifier_state *n, struct notifier_item *it)
{
	free(it->body);
	memset(it, 0, sizeof(*it));
	atomic_fetch_sub(&n->queued, 1);
	if (n->dropping) {
		pr_warn("notifications: the queue has room again; %llu deliveries were dropped while it was full\n",
			(unsigned long long)n->dropping);
		n->dropping = 0;
	}
}

int notifier_queue(struct notifier_state *n, const struct notify_target *t, const struct event *e)
{
	json_t *j = state_event_json(e);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct notifier_item *it = NULL;

	json_decref(j);
	pthread_mutex_lock(&n->lock);
	for (uint32_t i = 0; body && i < NOTIFIER_QUEUE && !it; i++)
		if (!n->q[i].used)
			it = &n->q[i];
	if (!it) {
		atomic_fetch_add(&n->failed, 1);
		if (!n->dropping++)
			pr_warn("notifications: the queue is full (%d deliveries): event %llu to %s and the ones after it are dropped until it has room\n",
				NOTIFIER_QUEUE, (unsigned long long)e->id, t->url);
		pthread_mutex_unlock(&n->lock);
		free(body);
		return -ENOBUFS;
	}
	*it = (struct notifier_item){ .used = true,
				      .seq = ++n->seq,
				      .due_ms = clock_mono_ms(),
				      .event = e->id,
				      .t = *t,
				      .body = body };
	snprintf(it->kind, sizeof(it->kind), "%s", e->kind);
	atomic_fetch_add(&n->queued, 1);
	/* Under the lock: notifier_stop() clears multi under it before
	 * cleaning it up. The wakeup writes a byte to a socket pair. */
	if (n->multi)
		curl_multi_wakeup(n->multi);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static void queue_list(struct notifier_state *n, const struct notify_list *l, const struct event *e)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (notify_wants(&l->t[i], e->kind))
			notifier_queue(n, &l->t[i], e);
}

void notifier_on_events(void *arg, uint64_t last_id)
{
	struct ctl *c = arg;
	struct notifier_state *n = &c->notify;
	const struct event_ring *r = &c->m->events;
	uint32_t k;

	/* The first call says where we start: older events were sent, or
	 * not, by the vsteerd that recorded them. */
	if (!n->primed) {
		n->primed = true;
		n->last = last_id;
		return;
	}
	for (k = event_count_after(r, n->last); k-- > 0;) {
		const struct event *e = event_nth(r, k);
		int svc = e->service[0] ? model_find_service(c->m, e->service) : -1;

		queue_list(n, &n->daemon, e);
		if (svc >= 0)
			queue_list(n, &c->m->svc[svc].notify, e);
	}
	n->last = last_id;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr, (void)arg;
	return size * nmemb;
}

/* Outside n->lock: the item is the thread's while it is sending. */
static int attempt(struct notifier_state *n, struct notifier_item *it)
{
	struct curl_slist *h = NULL, *next;
	CURL *easy = curl_easy_init();

	if (!easy)
		return -ENOMEM;
	for (uint32_t i = 0; i < it->t.nheaders + 2; i++) {
		next = curl_slist_append(h, i < it->t.nheaders	? notify_header(&it->t, i) :
					    i == it->t.nheaders ? "Content-Type: application/json" :
								  n->agent);
		if (!next) {
			curl_slist_free_all(h);
			curl_easy_cleanup(easy);
			return -ENOMEM;
		}
		h = next;
	}
	curl_easy_setopt(easy, CURLOPT_URL, it->t.url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)it->t.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, it);
	it->easy = easy;
	it->hdrs = h;
	it->attempts++;
	curl_multi_add_handle(n->multi, easy);
	return 0;
}

static void detach(struct notifier_state *n, struct notifier_item *it)
{
	if (!it->easy)
		return;
	curl_multi_remove_handle(n->multi, it->easy);
	curl_easy_cleanup(it->easy);
	curl_slist_free_all(it->hdrs);
	it->easy = it->hdrs = NULL;
}

/* Start the deliveries that are due, oldest first, while fewer than
 * NOTIFIER_PARALLEL are under way. Returns how long to wait for the
 * next one that is not due yet, in ms. */
static int start_due(struct notifier_state *n)
{
	struct notifier_item *go[NOTIFIER_PARALLEL];
	int64_t now = clock_mono_ms(), wait = 1000;
	uint32_t busy = 0, ngo = 0;

	pthread_mutex_lock(&n->lock);
	for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++)
		busy += n->q[i].sending;
	while (busy + ngo < NOTIFIER_PARALLEL) {
		struct notifier_item *best = NULL;

		for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++) {
			struct notifier_item *it = &n->q[i];

			if (it->used && !it->sending && it->due_ms <= now &&
			    (!best || it->seq < best->seq))
				best = it;
		}
		if (!best)
			break;
		best->sending = true;
		go[ngo++] = best;
	}
	for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++)
		if (n->q[i].used && !n->q[i].sending && n->q[i].due_ms - now < wait)
			wait = n->q[i].due_ms - now;
	pthread_mutex_unlock(&n->lock);
	for (uint32_t i = 0; i < ngo; i++) {
		if (!attempt(n, go[i]))
			continue;
		pthread_mutex_lock(&n->lock);
		go[i]->sending = false;
		go[i]->due_ms = now + NOTIFIER_BACKOFF;
		pthread_mutex_unlock(&n->lock);
	}
	return wait > 0 ? (int)wait : 0;
}

static void finish(struct notifier_state *n, CURL *easy, CURLcode res)
{
	struct notifier_item *it = NULL;
	long code = 0;
	char why[96];

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&it);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	detach(n, it);
	if (res != CURLE_OK)
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
	else
		snprintf(why, sizeof(why), "answered %ld", code);
	pthread_mutex_lock(&n->lock);
	it->sending = false;
	if (res == CURLE_OK && code >= 200 && code < 300) {
		atomic_fetch_add(&n->sent, 1);
		item_free(n, it);
	} else if (it->attempts < NOTIFIER_ATTEMPTS) {
		it->due_ms = clock_mono_ms() + ((int64_t)NOTIFIER_BACKOFF << (it->attempts - 1));
		pr_debug("notifications: event %llu to %s: %s; trying again\n",
			 (unsigned long long)it->event, it->t.url, why);
	} else {
		atomic_fetch_add(&n->failed, 1);
		pr_warn("notifications: event %llu (%s) not delivered to %s: %s, %u attempts\n",
			(unsigned long long)it->event, it->kind, it->t.url, why, it->attempts);
		item_free(n, it);
	}
	pthread_mutex_unlock(&n->lock);
}

static void *notifier_main(void *arg)
{
	struct notifier_state *n = arg;
	int64_t stop_at = -1;

	for (;;) {
		int running, left, wait;
		CURLMsg *msg;

		if (stop_at < 0 && atomic_load(&n->stopping))
			stop_at = clock_mono_ms() + NOTIFIER_STOP_MS;
		if (stop_at >= 0 && (!atomic_load(&n->queued) || clock_mono_ms() >= stop_at))
			break;
		wait = start_due(n);
		curl_multi_perform(n->multi, &running);
		while ((msg = curl_multi_info_read(n->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				finish(n, msg->easy_handle, msg->data.result);
		if (stop_at >= 0 && stop_at - clock_mono_ms() < wait)
			wait = stop_at - clock_mono_ms() > 0 ? (int)(stop_at - clock_mono_ms()) : 0;
		curl_multi_poll(n->multi, NULL, 0, wait, NULL);
	}
	return NULL;
}

int notifier_start(struct ctl *c, const struct notify_list *daemon, const char *version)
{
	struct notifier_state *n = &c->notify;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	n->multi = curl_multi_init();
	if (!n->multi) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	n->daemon = *daemon;
	snprintf(n->agent, sizeof(n->agent), "User-Agent: vsteerd/%s", version);
	atomic_store(&n->stopping, false);
	ret = -pthread_create(&n->thread, NULL, notifier_main, n);
	if (!ret)
		ret = publish_subscribe(c, notifier_on_events, c);
	if (ret) {
		notifier_stop(c);
		return ret;
	}
	n->running = true;
	return 0;
}

void notifier_release(struct notifier_state *n)
{
	uint32_t left = 0;

	pthread_mutex_lock(&n->lock);
	for (uint32_t i = 0; i < NOTIFIER_QUEUE; i++) {
		struct notifier_item *it = &n->q[i];

		if (!it->used)
			continue;
		if (n->multi)
			detach(n, it);
		left++;
		atomic_fetch_add(&n->failed, 1);
		item_free(n, it);
	}
	pthread_mutex_unlock(&n->lock);
	if (left)
		pr_warn("notifications: %u deliveries were not made before vsteerd stopped\n",
			left);
}

void notifier_stop(struct ctl *c)
{
	struct notifier_state *n = &c->notify;
	void *multi = n->multi;

	if (!multi)
		return;
	atomic_store(&n->stopping, true);
	curl_multi_wakeup(multi);
	if (n->thread)
		pthread_join(n->thread, NULL);
	n->running = false;
	notifier_release(n);
	/* Events may still come (another thread's): queued, and counted as
	 * not made when the controller closes. */
	pthread_mutex_lock(&n->lock);
	n->multi = NULL;
	pthread_mutex_unlock(&n->lock);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
}
