// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "codec/etcd.h"
#include "lib/b64.h"
#include "lib/str.h"

static int bad_reply(struct vs_err *err, const char *field, const char *why)
{
	return vs_errf(err, -EPROTO, 502, "etcd_bad_reply", "etcd's reply: %s %s", field, why);
}

/* base64 of n bytes as a JSON string, or NULL. */
static json_t *b64_json(const void *p, size_t n)
{
	size_t size = B64_ENCODED_SIZE(n);
	char *s = malloc(size);
	json_t *j = NULL;

	if (s && b64_encode(p, n, s, size) >= 0)
		j = json_string(s);
	free(s);
	return j;
}

json_t *etcd_key_req(const char *key, bool prefix)
{
	size_t n = strlen(key);
	json_t *req = json_object();
	char *end;

	if (!req || json_object_set_new(req, "key", b64_json(key, n)))
		goto fail;
	if (!prefix)
		return req;
	/* The first key after every key with this prefix: the prefix with
	 * its last byte that is not 0xff plus one, what follows it cut. An
	 * empty prefix, or one of 0xff only, has no end: "\0" means the
	 * whole keyspace to etcd. */
	end = strdup(key);
	if (!end)
		goto fail;
	while (n && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (n)
		end[n - 1]++;
	if (json_object_set_new(req, "range_end", n ? b64_json(end, n) : json_string("AA=="))) {
		free(end);
		goto fail;
	}
	free(end);
	return req;
fail:
	json_decref(req);
	return NULL;
}

json_t *etcd_put_req(const char *key, const char *value, size_t len, int64_t lease)
{
	json_t *req = json_object();

	if (!req || json_object_set_new(req, "key", b64_json(key, strlen(key))) ||
	    json_object_set_new(req, "value", b64_json(value, len)) ||
	    (lease && json_object_set_new(req, "lease", json_integer(lease)))) {
		json_decref(req);
		return NULL;
	}
	return req;
}

json_t *etcd_cmp(const char *key, enum etcd_target target, int64_t v)
{
	static const char *const targets[] = {
		[ETCD_MOD] = "MOD", [ETCD_CREATE] = "CREATE", [ETCD_VERSION] = "VERSION"
	};
	static const char *const fields[] = {
		[ETCD_MOD] = "mod_revision", [ETCD_CREATE] = "create_revision", [ETCD_VERSION] = "version"
	};

	return json_pack("{s:s, s:s, s:o, s:I}", "result", "EQUAL", "target", targets[target],
			 "key", b64_json(key, strlen(key)), fields[target], (json_int_t)v);
}

json_t *etcd_txn_req(json_t *compare, json_t *success, json_t *failure)
{
	json_t *req = NULL;

	/* A part that failed to build must not leave a transaction without
	 * its compares: an unguarded write. */
	if (json_is_array(compare) && json_is_array(success) && json_is_array(failure))
		req = json_pack("{s:O, s:O, s:O}", "compare", compare, "success", success,
				"failure", failure);
	json_decref(compare);
	json_decref(success);
	json_decref(failure);
	return req;
}

/* -- responses -- */

/* An int64 field: a string of digits (what the gateway writes) or a
 * number; missing or null: 0. */
static int get_i64(json_t *obj, const char *field, int64_t *out, struct vs_err *err)
{
	json_t *v = json_object_get(obj, field);
	const char *s;
	char *end;
	long long x;

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return bad_reply(err, field, "is not a number");
	s = json_string_value(v);
	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return bad_reply(err, field, "is not a number");
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end)
		return bad_reply(err, field, "is not a 64-bit integer");
	*out = x;
	return 0;
}

static int get_bool(json_t *obj, const char *field, bool *out, struct vs_err *err)
{
	json_t *v = json_object_get(obj, field);

	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad_reply(err, field, "is not true or false");
	*out = json_is_true(v);
	return 0;
}

/* A base64 field decoded into a new NUL-terminated buffer (*len its
 * length): missing is empty. */
static int get_b64(json_t *obj, const char *field, size_t max, char **out, size_t *len,
		   struct vs_err *err)
{
	json_t *v = json_object_get(obj, field);
	const char *s = "";
	size_t n = 0;
	int got;

	*out = NULL;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return bad_reply(err, field, "is not a string");
		s = json_string_value(v);
		n = json_string_length(v);
	}
	if (n / 4 * 3 > max + 2)
		return bad_reply(err, field, "is too long");
	*out = malloc(n / 4 * 3 + 1);
	if (!*out)
		return -ENOMEM;
	got = b64_decode(s, n, *out, n / 4 * 3);
	if (got < 0 || (size_t)got > max) {
		free(*out);
		*out = NULL;
		return bad_reply(err, field, got < 0 ? "is not base64" : "is too long");
	}
	(*out)[got] = '\0';
	if (len)
		*len = got;
	return 0;
}

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static int parse_kv(json_t *j, struct etcd_kv *kv, struct vs_err *err)
{
	size_t klen;
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j))
		return bad_reply(err, "kv", "is not an object");
	ret = get_b64(j, "key", ETCD_KEY_MAX, &kv->key, &klen, err);
	if (!ret && (!klen || strlen(kv->key) != klen))
		ret = bad_reply(err, "key", klen ? "holds a NUL byte" : "is empty");
	if (!ret)
		ret = get_b64(j, "value", ETCD_VALUE_MAX, &kv->value, &kv->value_len, err);
	if (!ret)
		ret = get_i64(j, "create_revision", &kv->create_rev, err);
	if (!ret)
		ret = get_i64(j, "mod_revision", &kv->mod_rev, err);
	if (!ret)
		ret = get_i64(j, "version", &kv->version, err);
	if (!ret)
		ret = get_i64(j, "lease", &kv->lease, err);
	if (ret)
		kv_free(kv);
	return ret;
}

/* The store's revision in a reply's header: etcd's start at 1, so a
 * missing one is not etcd's answer (but for a cancelled watch's). */
static int header_rev(json_t *resp, int64_t *rev, bool may_lack, struct vs_err *err)
{
	json_t *h = json_object_get(resp, "header");
	int ret;

	if (!json_is_object(resp))
		return bad_reply(err, "body", "is not an object");
	if (!json_is_object(h))
		return bad_reply(err, "header", "is missing");
	ret = get_i64(h, "revision", rev, err);
	if (!ret && *rev <= 0 && !(may_lack && *rev == 0))
		ret = bad_reply(err, "revision", *rev ? "is negative" : "is missing");
	return ret;
}

int etcd_reply_error(int http_status, const char *body, size_t len, struct vs_err *err)
{
	json_t *j = json_loadb(body ? body : "", len, 0, NULL);
	const char *msg = NULL;
	char safe[256];
	int ret;

	if (j) {
		/* unary calls: {"error", "message", "code"}; streams:
		 * {"error": {"message", ...}} */
		json_t *e = json_object_get(j, "error");

		msg = json_string_value(json_object_get(j, "message"));
		if (!msg)
			msg = json_string_value(json_is_object(e) ? json_object_get(e, "message") :
								    e);
	}
	str_printable(safe, sizeof(safe), msg ? msg : "no message");
	if (http_status == 401 || http_status == 403)
		ret = vs_errf(err, -EACCES, 502, "etcd_refused",
			      "etcd refused access (HTTP %d): %s", http_status, safe);
	else if (http_status == 503 || http_status == 504)
		ret = vs_errf(err, -EAGAIN, 503, "etcd_unavailable",
			      "etcd unavailable (HTTP %d): %s", http_status, safe);
	else
		ret = vs_errf(err, -EIO, 502, "etcd_refused", "etcd answered HTTP %d: %s",
			      http_status, safe);
	json_decref(j);
	return ret;
}

int etcd_parse_range(json_t *resp, struct etcd_range *out, struct vs_err *err)
{
	json_t *kvs;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = header_rev(resp, &out->rev, false, err);
	if (!ret)
		ret = get_bool(resp, "more", &out->more, err);
	if (ret)
		return ret;
	kvs = json_object_get(resp, "kvs");
	if (!kvs || json_is_null(kvs))
		return 0;
	if (!json_is_array(kvs))
		return bad_reply(err, "kvs", "is not an array");
	if (json_array_size(kvs) > ETCD_ITEMS_MAX)
		return bad_reply(err, "kvs", "has too many entries");
	out->kvs = calloc(json_array_size(kvs) + 1, sizeof(*out->kvs));
	if (!out->kvs)
		return -ENOMEM;
	for (i = 0; i < json_array_size(kvs); i++) {
		ret = parse_kv(json_array_get(kvs, i), &out->kvs[i], err);
		if (ret) {
			etcd_range_free(out);
			return ret;
		}
		out->n++;
	}
	return 0;
}

void etcd_range_free(struct etcd_range *r)
{
	for (size_t i = 0; i < r->n; i++)
		kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

int etcd_parse_txn(json_t *resp, bool *succeeded, int64_t *rev, struct vs_err *err)
{
	int ret = header_rev(resp, rev, false, err);

	return ret ? ret : get_bool(resp, "succeeded", succeeded, err);
}

int etcd_parse_rev(json_t *resp, int64_t *rev, struct vs_err *err)
{
	return header_rev(resp, rev, false, err);
}

int etcd_parse_lease(json_t *resp, int64_t *id, int64_t *ttl, struct vs_err *err)
{
	json_t *r = json_object_get(resp, "result");
	const char *e;
	int ret;

	if (json_is_object(r)) /* keepalive's stream frames its answers */
		resp = r;
	if (!json_is_object(resp))
		return bad_reply(err, "body", "is not an object");
	/* grant's own error field: the lease was not granted */
	e = json_string_value(json_object_get(resp, "error"));
	if (e && *e) {
		char safe[200];

		return vs_errf(err, -EIO, 502, "etcd_refused", "etcd refused the lease: %s",
			       str_printable(safe, sizeof(safe), e));
	}
	ret = get_i64(resp, "ID", id, err);
	if (!ret)
		ret = get_i64(resp, "TTL", ttl, err);
	if (!ret && (*id <= 0 || *ttl < 0))
		ret = bad_reply(err, "lease", *id > 0 ? "has a negative TTL" : "has no ID");
	return ret;
}

static int parse_event(json_t *j, struct etcd_event *ev, struct vs_err *err)
{
	json_t *t;

	if (!json_is_object(j))
		return bad_reply(err, "event", "is not an object");
	t = json_object_get(j, "type");
	if (!t || json_is_null(t) || (json_is_string(t) && !strcmp(json_string_value(t), "PUT")))
		ev->type = ETCD_PUT; /* the zero value, left out */
	else if (json_is_string(t) && !strcmp(json_string_value(t), "DELETE"))
		ev->type = ETCD_DELETE;
	else
		return bad_reply(err, "event type", "is neither PUT nor DELETE");
	return parse_kv(json_object_get(j, "kv"), &ev->kv, err);
}

int etcd_parse_watch(const char *line, size_t len, struct etcd_watch_msg *out, struct vs_err *err)
{
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *r, *e, *evs;
	const char *reason;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		ret = bad_reply(err, "watch message", "is not a JSON object");
		goto out;
	}
	e = json_object_get(j, "error");
	if (e) {
		/* The stream failed: {"error": {"grpc_code", "message", ...}} */
		const char *m =
			json_string_value(json_is_object(e) ? json_object_get(e, "message") : e);

		out->canceled = true;
		str_printable(out->reason, sizeof(out->reason), m ? m : "stream error");
		goto out;
	}
	r = json_object_get(j, "result");
	if (!json_is_object(r)) {
		ret = bad_reply(err, "watch message", "has no result");
		goto out;
	}
	if ((ret = get_bool(r, "canceled", &out->canceled, err)) ||
	    (ret = header_rev(r, &out->rev, out->canceled, err)) ||
	    (ret = get_i64(r, "watch_id", &out->watch_id, err)) ||
	    (ret = get_bool(r, "created", &out->created, err)) ||
	    (ret = get_i64(r, "compact_revision", &out->compact_rev, err)))
		goto out;
	reason = json_string_value(json_object_get(r, "cancel_reason"));
	if (reason)
		str_printable(out->reason, sizeof(out->reason), reason);
	evs = json_object_get(r, "events");
	if (!evs || json_is_null(evs))
		goto out;
	if (!json_is_array(evs) || json_array_size(evs) > ETCD_ITEMS_MAX) {
		ret = bad_reply(err, "events",
				json_is_array(evs) ? "has too many entries" : "is not an array");
		goto out;
	}
	out->ev = calloc(json_array_size(evs) + 1, sizeof(*out->ev));
	if (!out->ev) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(evs); i++) {
		ret = parse_event(json_array_get(evs, i), &out->ev[i], err);
		if (ret)
			goto out;
		out->nev++;
	}
out:
	if (ret)
		etcd_watch_msg_free(out);
	json_decref(j);
	return ret;
}

void etcd_watch_msg_free(struct etcd_watch_msg *m)
{
	for (size_t i = 0; i < m->nev; i++)
		kv_free(&m->ev[i].kv);
	free(m->ev);
	m->ev = NULL;
	m->nev = 0;
}
