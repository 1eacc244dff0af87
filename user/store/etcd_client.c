// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "lib/str.h"
#include "store/etcd_client.h"

/* A reply larger than this is not one vsteer asked for. */
#define REPLY_MAX (64u << 20)
/* An endpoint's URL, and the gateway's longest path after it. */
#define ENDPOINT_MAX 256
#define URL_MAX	     (ENDPOINT_MAX + 64)

struct etcd_client {
	char *ep[ETCD_CLIENT_MAX_ENDPOINTS];
	size_t nep;
	char *user, *password, *cacert, *cert, *key;
	long timeout_ms;
	pthread_mutex_t lock;	    /* cur, token, token_gen */
	pthread_mutex_t login_lock; /* one login at a time */
	size_t cur;		    /* the member that answered last */
	char token[2048];	    /* authentication's, "" before the first */
	unsigned token_gen;	    /* logins so far: a refused token is renewed once */
	bool curl_up;		    /* curl_global_init() done: undone at close */
};

struct buf {
	char *p;
	size_t n, cap, max;
	bool over; /* a reply over max: not etcd's to a call of ours */
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb, cap;
	char *p;

	if (n > b->max - b->n) {
		b->over = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (b->n + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* An endpoint is http(s)://host:port and nothing after: a path would
 * send the gateway's paths elsewhere. */
static int check_endpoint(const char *ep, struct vs_err *err)
{
	const char *hp = !strncmp(ep, "http://", 7)  ? ep + 7 :
			 !strncmp(ep, "https://", 8) ? ep + 8 :
						       NULL;
	char safe[128];

	const char *port = hp ? strrchr(hp, ':') : NULL;

	if (!hp || !*hp || strpbrk(hp, "/?#@ \t") || !port || port == hp || !port[1] ||
	    strspn(port + 1, "0123456789") != strlen(port + 1) || strlen(port + 1) > 5 ||
	    strlen(ep) > ENDPOINT_MAX || !str_is_printable(ep, strlen(ep), false))
		return vs_errf(err, -EINVAL, 400, "bad_etcd",
			       "etcd endpoint '%s': must be http://HOST:PORT or https://HOST:PORT",
			       str_printable(safe, sizeof(safe), ep));
	return 0;
}

static char *dup_or_null(const char *s, int *ret)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*ret = -ENOMEM;
	return d;
}

int etcd_client_open(const struct etcd_client_opts *o, struct etcd_client **out, struct vs_err *err)
{
	struct etcd_client *c = calloc(1, sizeof(*c));
	char *list = NULL, *save = NULL, *tok;
	int ret = 0;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->login_lock, NULL);
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 3000;
	if (!o->endpoints || !*o->endpoints) {
		ret = vs_errf(err, -EINVAL, 400, "bad_etcd", "etcd: no endpoint given");
		goto fail;
	}
	if ((o->user == NULL) != (o->password == NULL)) {
		ret = vs_errf(err, -EINVAL, 400, "bad_etcd",
			      "etcd: a user needs a password, and a password a user");
		goto fail;
	}
	list = strdup(o->endpoints);
	if (!list) {
		ret = -ENOMEM;
		goto fail;
	}
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if ((ret = check_endpoint(tok, err)))
			goto fail;
		if (c->nep == ETCD_CLIENT_MAX_ENDPOINTS) {
			ret = vs_errf(err, -EINVAL, 400, "bad_etcd", "etcd: more than %d endpoints",
				      ETCD_CLIENT_MAX_ENDPOINTS);
			goto fail;
		}
		c->ep[c->nep] = strdup(tok);
		if (!c->ep[c->nep++]) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	if (!c->nep) {
		ret = vs_errf(err, -EINVAL, 400, "bad_etcd", "etcd: no endpoint given");
		goto fail;
	}
	c->user = dup_or_null(o->user, &ret);
	c->password = dup_or_null(o->password, &ret);
	c->cacert = dup_or_null(o->cacert, &ret);
	c->cert = dup_or_null(o->cert, &ret);
	c->key = dup_or_null(o->key, &ret);
	if (ret)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		ret = vs_errf(err, -ENOMEM, 500, "internal", "etcd: cannot start libcurl");
		goto fail;
	}
	c->curl_up = true;
	free(list);
	*out = c;
	return 0;
fail:
	free(list);
	etcd_client_close(c);
	return ret;
}

void etcd_client_close(struct etcd_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nep; i++)
		free(c->ep[i]);
	free(c->user);
	free(c->password);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->login_lock);
	if (c->curl_up)
		curl_global_cleanup();
	free(c);
}

/* A handle for one POST of body to member ep's path, with the token
 * unless this is the login itself. */
static CURL *post(struct etcd_client *c, const char *ep, const char *path, const char *body,
		  bool with_token, struct curl_slist **hdrs, char *url, size_t url_size)
{
	CURL *h = curl_easy_init();
	struct curl_slist *more;
	char auth[sizeof(c->token) + 32] = "";

	if (!h)
		return NULL;
	snprintf(url, url_size, "%s%s", ep, path);
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	pthread_mutex_lock(&c->lock);
	if (with_token && c->token[0]) /* etcd takes the token bare, not as "Bearer" */
		snprintf(auth, sizeof(auth), "Authorization: %s", c->token);
	pthread_mutex_unlock(&c->lock);
	if (*hdrs && auth[0]) {
		more = curl_slist_append(*hdrs, auth);
		if (!more)
			curl_slist_free_all(*hdrs);
		*hdrs = more;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	return h;
}

/* What etcd 3.4 answers about a token it will not take: expired (401),
 * sent to a member whose auth store moved on, or missing (400). clientv3
 * logs in again on each. */
static bool token_refused(const char *body)
{
	return body && (strstr(body, "invalid auth token") || strstr(body, "user name is empty") ||
			strstr(body, "revision of auth store is old"));
}

/* How a call goes: as any, again after a login (which it does not
 * repeat), or as the login itself (without a token). */
enum call_mode { CALL_FIRST, CALL_AGAIN, CALL_LOGIN };

static int authenticate(struct etcd_client *c, const char *ep, unsigned gen, struct vs_err *err);

/* One unary call to one member: 0 with *resp; -EAGAIN when the call may
 * go to the next member (the request never reached this one, or it has no
 * leader, or safe: a read); -ETIMEDOUT when it was sent and the outcome
 * is unknown (a write may have been applied). */
static int call_one(struct etcd_client *c, const char *ep, const char *path, const char *body,
		    bool safe, enum call_mode mode, json_t **resp, struct vs_err *err)
{
	struct buf b = { .max = REPLY_MAX };
	struct curl_slist *hdrs = NULL;
	char url[URL_MAX];
	long status = 0, sent = 0;
	unsigned gen;
	CURLcode res;
	CURL *h;
	int ret;

	pthread_mutex_lock(&c->lock);
	gen = c->token_gen;
	pthread_mutex_unlock(&c->lock);
	h = post(c, ep, path, body, mode != CALL_LOGIN, &hdrs, url, sizeof(url));
	if (!h || !hdrs) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (b.over) {
		ret = vs_errf(err, -EMSGSIZE, 502, "etcd_bad_reply",
			      "etcd %s: the reply to %s is over %u MiB", ep, path, REPLY_MAX >> 20);
	} else if (res != CURLE_OK) {
		ret = !sent || safe ? -EAGAIN : -ETIMEDOUT;
		vs_errf(err, ret, 503, "etcd_unavailable", "etcd %s: %s%s", ep,
			curl_easy_strerror(res),
			ret == -ETIMEDOUT ? " after the request was sent: its outcome is unknown" :
					    "");
	} else if (status != 200) {
		ret = etcd_reply_error(status, b.p, b.n, err);
		vs_err_prefix(err, ep);
		if (!c->user && token_refused(b.p)) {
			ret = vs_errf(err, -EACCES, 502, "etcd_refused",
				      "etcd %s asks for a user and password", ep);
		} else if (mode == CALL_FIRST && c->user && token_refused(b.p)) {
			ret = authenticate(c, ep, gen, err);
			if (!ret)
				ret = call_one(c, ep, path, body, safe, CALL_AGAIN, resp, err);
		} else if (ret == -EAGAIN && !safe && !(b.p && strstr(b.p, "no leader"))) {
			/* "request timed out" and the like: maybe applied */
			ret = -ETIMEDOUT;
		}
	} else {
		*resp = json_loadb(b.p ? b.p : "", b.n, JSON_REJECT_DUPLICATES, NULL);
		ret = *resp ? 0 :
			      vs_errf(err, -EPROTO, 502, "etcd_bad_reply",
				      "etcd %s: the reply to %s is not JSON", ep, path);
	}
	free(b.p);
	return ret;
}

/* Log in, unless another thread did since the token of generation gen
 * was found missing or refused: one login however many calls found it
 * stale. */
static int authenticate(struct etcd_client *c, const char *ep, unsigned gen, struct vs_err *err)
{
	json_t *req, *resp = NULL;
	const char *tok;
	char *body = NULL;
	bool done;
	int ret;

	pthread_mutex_lock(&c->login_lock);
	pthread_mutex_lock(&c->lock);
	done = c->token_gen != gen;
	pthread_mutex_unlock(&c->lock);
	if (done) {
		pthread_mutex_unlock(&c->login_lock);
		return 0;
	}
	req = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	ret = body ? call_one(c, ep, "/v3/auth/authenticate", body, true, CALL_LOGIN, &resp, err) :
		     -ENOMEM;
	free(body);
	if (ret == -EIO) { /* etcd answers a wrong password with 400 */
		ret = -EACCES;
		err->status = 502;
		vs_err_prefix(err, "the login was refused");
	}
	tok = json_string_value(json_object_get(resp, "token"));
	if (!ret && (!tok || !*tok || strlen(tok) >= sizeof(c->token) || !str_is_token(tok)))
		ret = vs_errf(err, -EPROTO, 502, "etcd_bad_reply", "etcd %s: no usable token", ep);
	if (!ret) {
		pthread_mutex_lock(&c->lock);
		snprintf(c->token, sizeof(c->token), "%s", tok);
		c->token_gen++;
		pthread_mutex_unlock(&c->lock);
	}
	json_decref(resp);
	pthread_mutex_unlock(&c->login_lock);
	return ret;
}

/* A call to the cluster: to the member that answered last, and on to the
 * next while one cannot answer (safe: a read, which may be sent twice). */
static int call(struct etcd_client *c, const char *path, json_t *req, bool safe, json_t **resp,
		struct vs_err *err)
{
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct vs_err local;
	size_t first, i;
	int ret = -EAGAIN;

	if (!err) /* the messages are read on the way: they need a place */
		err = &local;
	*resp = NULL;
	if (!body)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	first = c->cur;
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->nep && ret == -EAGAIN; i++) {
		size_t k = (first + i) % c->nep;
		unsigned gen;
		bool login;

		pthread_mutex_lock(&c->lock);
		login = c->user && !c->token[0];
		gen = c->token_gen;
		pthread_mutex_unlock(&c->lock);
		ret = login ? authenticate(c, c->ep[k], gen, err) : 0;
		if (!ret)
			ret = call_one(c, c->ep[k], path, body, safe, CALL_FIRST, resp, err);
		pthread_mutex_lock(&c->lock);
		/* the next call starts where this one was answered, or past
		 * the member that could not or did not in time (a member cut
		 * off from the others holds writes until they time out) */
		c->cur = ret == -EAGAIN || ret == -ETIMEDOUT ? (k + 1) % c->nep : k;
		pthread_mutex_unlock(&c->lock);
	}
	free(body);
	/* every member tried: the last one's reason stands for all */
	if (ret == -EAGAIN && c->nep > 1)
		vs_err_prefix(err, "no etcd member answered; the last");
	return ret;
}

int etcd_client_call(struct etcd_client *c, const char *path, json_t *req, json_t **resp,
		     struct vs_err *err)
{
	return call(c, path, req, false, resp, err);
}

static int call_stolen(struct etcd_client *c, const char *path, json_t *req, bool safe,
		       json_t **resp, struct vs_err *err)
{
	int ret = req ? call(c, path, req, safe, resp, err) : -ENOMEM;

	json_decref(req);
	return ret;
}

int etcd_client_range(struct etcd_client *c, const char *key, bool prefix, struct etcd_range *out,
		      struct vs_err *err)
{
	json_t *resp = NULL;
	int ret = call_stolen(c, "/v3/kv/range", etcd_key_req(key, prefix), true, &resp, err);

	memset(out, 0, sizeof(*out));
	if (!ret)
		ret = etcd_parse_range(resp, out, err);
	json_decref(resp);
	return ret;
}

int etcd_client_put(struct etcd_client *c, const char *key, const char *value, size_t len,
		    int64_t lease, int64_t *rev, struct vs_err *err)
{
	json_t *resp = NULL;
	int ret = call_stolen(c, "/v3/kv/put", etcd_put_req(key, value, len, lease), false, &resp,
			      err);

	if (!ret)
		ret = etcd_parse_rev(resp, rev, err);
	json_decref(resp);
	return ret;
}

int etcd_client_delete(struct etcd_client *c, const char *key, bool prefix, int64_t *rev,
		       struct vs_err *err)
{
	json_t *resp = NULL;
	int ret =
		call_stolen(c, "/v3/kv/deleterange", etcd_key_req(key, prefix), false, &resp, err);

	if (!ret)
		ret = etcd_parse_rev(resp, rev, err);
	json_decref(resp);
	return ret;
}

int etcd_client_txn(struct etcd_client *c, json_t *txn, bool *succeeded, int64_t *rev,
		    struct vs_err *err)
{
	json_t *resp = NULL;
	int ret = call_stolen(c, "/v3/kv/txn", txn, false, &resp, err);

	if (!ret)
		ret = etcd_parse_txn(resp, succeeded, rev, err);
	json_decref(resp);
	return ret;
}

int etcd_client_grant(struct etcd_client *c, int64_t ttl, int64_t *id, struct vs_err *err)
{
	json_t *resp = NULL;
	int64_t got;
	int ret = call_stolen(c, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ttl),
			      false, &resp, err);

	if (!ret)
		ret = etcd_parse_lease(resp, id, &got, err);
	json_decref(resp);
	return ret;
}

int etcd_client_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl, struct vs_err *err)
{
	json_t *resp = NULL;
	int64_t got;
	/* The gateway serves the keepalive stream one request at a time: a
	 * body of one request gets one {"result": ...} back. */
	int ret = call_stolen(c, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)id),
			      true, &resp, err);

	if (!ret)
		ret = etcd_parse_lease(resp, &got, ttl, err);
	json_decref(resp);
	return ret;
}

int etcd_client_revoke(struct etcd_client *c, int64_t id, struct vs_err *err)
{
	json_t *resp = NULL;
	int64_t rev;
	int ret = call_stolen(c, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)id), true,
			      &resp, err);

	if (!ret)
		ret = etcd_parse_rev(resp, &rev, err);
	/* sent twice (the first answer was lost): the first one did it */
	if (ret == -EIO && err && strstr(err->msg, "lease not found"))
		ret = 0;
	json_decref(resp);
	return ret;
}

int etcd_client_stream(struct etcd_client *c, const char *path, const char *body, CURL **h,
		       struct curl_slist **hdrs, size_t *member, struct vs_err *err)
{
	struct vs_err local;
	char url[URL_MAX];
	unsigned gen;
	bool login;
	int ret;

	if (!err)
		err = &local;
	pthread_mutex_lock(&c->lock);
	*member = c->cur;
	login = c->user && !c->token[0];
	gen = c->token_gen;
	pthread_mutex_unlock(&c->lock);
	*h = NULL;
	*hdrs = NULL;
	if (login) {
		ret = authenticate(c, c->ep[*member], gen, err);
		if (ret) {
			if (ret == -EAGAIN)
				etcd_client_failed(c, *member);
			return ret;
		}
	}
	/* libcurl copies the URL: url may go */
	*h = post(c, c->ep[*member], path, body, true, hdrs, url, sizeof(url));
	if (!*h || !*hdrs) {
		curl_slist_free_all(*hdrs);
		*hdrs = NULL;
		curl_easy_cleanup(*h);
		*h = NULL;
		return vs_errf(err, -ENOMEM, 500, "internal", "etcd: out of memory");
	}
	return 0;
}

const char *etcd_client_member(const struct etcd_client *c, size_t member)
{
	return c->ep[member % c->nep];
}

void etcd_client_failed(struct etcd_client *c, size_t member)
{
	pthread_mutex_lock(&c->lock);
	if (c->cur == member)
		c->cur = (member + 1) % c->nep;
	pthread_mutex_unlock(&c->lock);
}

void etcd_client_token_refused(struct etcd_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->token[0] = '\0'; /* the next call logs in first */
	pthread_mutex_unlock(&c->lock);
}
