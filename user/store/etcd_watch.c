// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "store/etcd_watch.h"

/* A watch message (one line) larger than this is not etcd's: it sends a
 * replay of history in messages of up to 1000 revisions. */
#define LINE_MAX_BYTES (32u << 20)

struct watch {
	CURL *h;
	char *line; /* the message being received */
	size_t n, cap;
	long status; /* the HTTP status, once the first bytes came */
	etcd_watch_fn fn;
	void *arg;
	const atomic_bool *stop;
	int ret;   /* why the stream was cut: fn's, a cancel, a bad message */
	bool auth; /* cancelled for its token: log in again */
	struct vs_err *err;
};

static int append(struct watch *w, const char *p, size_t n)
{
	size_t cap = w->cap ? w->cap : 4096;
	char *q;

	if (n > LINE_MAX_BYTES - w->n)
		return -EMSGSIZE;
	if (w->n + n + 1 > w->cap) {
		while (cap < w->n + n + 1)
			cap *= 2;
		q = realloc(w->line, cap);
		if (!q)
			return -ENOMEM;
		w->line = q;
		w->cap = cap;
	}
	memcpy(w->line + w->n, p, n);
	w->n += n;
	w->line[w->n] = '\0';
	return 0;
}

/* One message: to fn, and what it says about the watch. */
static int message(struct watch *w)
{
	struct etcd_watch_msg m;
	int ret = etcd_parse_watch(w->line, w->n, &m, w->err);

	w->n = 0;
	if (ret)
		return ret;
	ret = w->fn(&m, w->arg);
	if (!ret && m.canceled) {
		/* etcd keeps the stream open after a cancel: we end it */
		w->auth = strstr(m.reason, "permission denied") || strstr(m.reason, "auth token") ||
			  strstr(m.reason, "user name is empty");
		ret = vs_errf(w->err, -ECANCELED, 503, "etcd_unavailable",
			      "etcd cancelled the watch%s%s", m.reason[0] ? ": " : "", m.reason);
	}
	etcd_watch_msg_free(&m);
	return ret;
}

/* Bytes kept for the message being received; an error if they cannot
 * be. */
static int keep(struct watch *w, const char *p, size_t n)
{
	int ret = append(w, p, n);

	if (ret == -EMSGSIZE)
		return vs_errf(w->err, ret, 502, "etcd_bad_reply",
			       "etcd: a watch message of more than %u MiB", LINE_MAX_BYTES >> 20);
	if (ret)
		return vs_errf(w->err, ret, 500, "internal", "etcd: out of memory");
	return 0;
}

static size_t received(char *data, size_t size, size_t nmemb, void *arg)
{
	struct watch *w = arg;
	size_t n = size * nmemb, start = 0;

	if (!w->status)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	/* Not 200: the body is an error, kept whole for the message. */
	for (size_t i = 0; w->status == 200 && i < n; i++) {
		if (data[i] != '\n')
			continue;
		w->ret = keep(w, data + start, i - start);
		start = i + 1;
		if (!w->ret && w->n)
			w->ret = message(w);
		if (w->ret)
			return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	w->ret = keep(w, data + start, n - start);
	return w->ret ? 0 : n;
}

static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct watch *w = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return w->stop && atomic_load(w->stop);
}

static char *request(const char *key, bool prefix, int64_t start_rev)
{
	json_t *create = etcd_key_req(key, prefix), *req = NULL;
	char *body = NULL;

	if (create && (start_rev <= 0 ||
		       !json_object_set_new(create, "start_revision", json_integer(start_rev))))
		req = json_pack("{s:o}", "create_request", create);
	else
		json_decref(create);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return body;
}

int etcd_watch(struct etcd_client *c, const char *key, bool prefix, int64_t start_rev,
	       etcd_watch_fn fn, void *arg, const atomic_bool *stop, struct vs_err *err)
{
	struct watch w = { .fn = fn, .arg = arg, .stop = stop };
	struct curl_slist *hdrs = NULL, *more;
	char *body = request(key, prefix, start_rev);
	struct vs_err local;
	const char *ep;
	size_t member;
	CURLcode res;
	int ret;

	if (!err)
		err = &local;
	w.err = err;
	if (!body)
		return vs_errf(err, -ENOMEM, 500, "internal", "etcd: out of memory");
	ret = etcd_client_stream(c, "/v3/watch", body, &w.h, &hdrs, &member, err);
	if (ret) {
		free(body);
		return ret;
	}
	ep = etcd_client_member(c, member);
	/* etcd ends the watch when this member loses its leader, rather
	 * than let it sit on a minority that will never see a change */
	more = curl_slist_append(hdrs, "Grpc-Metadata-hasleader: true");
	if (more)
		hdrs = more;
	curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, received);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(w.h, CURLOPT_XFERINFODATA, &w);
	/* An idle watch carries nothing for minutes (etcd's progress
	 * notifications come every 10 by default): a member that died
	 * without closing is found by TCP keepalives. */
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPINTVL, 5L);
	res = curl_easy_perform(w.h);
	if (!w.status)
		curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &w.status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(w.h);
	free(body);
	if (w.ret) {
		ret = w.ret;
	} else if (res == CURLE_ABORTED_BY_CALLBACK) {
		ret = 0; /* stopped */
	} else if (w.status && w.status != 200) {
		ret = etcd_reply_error(w.status, w.line, w.n, err);
		vs_err_prefix(err, ep);
		w.auth = ret == -EACCES;
	} else if (w.n && (ret = message(&w))) {
		/* a last message without its newline: the gateway's error
		 * frame, or a cancel */
	} else {
		ret = vs_errf(err, -EAGAIN, 503, "etcd_unavailable", "etcd %s: the watch ended: %s",
			      ep,
			      res == CURLE_OK ? "closed by the member" : curl_easy_strerror(res));
	}
	free(w.line);
	if (w.auth) {
		etcd_client_token_refused(c);
		ret = -EAGAIN;
	}
	if (ret == -EAGAIN || ret == -ECANCELED)
		etcd_client_failed(c, member);
	return ret;
}
