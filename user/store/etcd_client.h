/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A client of an etcd cluster over its v3 JSON gateway (HTTP, libcurl):
 * the store a fleet of vsteerd hosts shares (docs/fleet.md). Calls block,
 * each on a curl handle of its own, so threads may share a client. A call
 * goes to the member that answered last, and on to the next one when a
 * member cannot be reached or has no leader; a refusal (a bad request, a
 * failed compare) is an answer, not a reason to try another.
 *
 * Functions return 0 or a -errno, with err filled: -EAGAIN when no member
 * answered (code etcd_unavailable), -ETIMEDOUT when a write was sent and
 * no answer came (it may have been applied: read before writing again),
 * -EACCES when etcd refused the credentials, -EPROTO or -EMSGSIZE for a
 * reply that is not etcd's (etcd_bad_reply), -EIO for a request etcd
 * refused (etcd_refused).
 */
#ifndef VS_ETCD_CLIENT_H
#define VS_ETCD_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "codec/etcd.h"
#include "lib/err.h"

#define ETCD_CLIENT_MAX_ENDPOINTS 8

struct etcd_client_opts {
	const char *endpoints; /* "http://10.0.0.1:2379,https://..." */
	const char *user;      /* NULL: etcd without authentication */
	const char *password;
	const char *cacert; /* TLS: the CA that signed the members' certificates */
	const char *cert;   /* and this host's own, for client authentication */
	const char *key;
	long timeout_ms; /* one call on one member; 0: 3000 */
};

struct etcd_client;

int etcd_client_open(const struct etcd_client_opts *o, struct etcd_client **out,
		     struct vs_err *err);
void etcd_client_close(struct etcd_client *c);

/* One call: POST req (not stolen) to path ("/v3/kv/range"), the reply
 * into *resp (the caller's). Treated as a write: once its request went
 * out, it is not sent to another member. */
int etcd_client_call(struct etcd_client *c, const char *path, json_t *req, json_t **resp,
		     struct vs_err *err);

/* key's value, or every key under prefix key, with the revision read at. */
int etcd_client_range(struct etcd_client *c, const char *key, bool prefix, struct etcd_range *out,
		      struct vs_err *err);
int etcd_client_put(struct etcd_client *c, const char *key, const char *value, size_t len,
		    int64_t lease, int64_t *rev, struct vs_err *err);
int etcd_client_delete(struct etcd_client *c, const char *key, bool prefix, int64_t *rev,
		       struct vs_err *err);
/* A transaction built by etcd_txn_req() (stolen): whether its compares
 * held. */
int etcd_client_txn(struct etcd_client *c, json_t *txn, bool *succeeded, int64_t *rev,
		    struct vs_err *err);
/* A lease of ttl seconds; keepalive renews it (*ttl 0: it had expired,
 * and what was put with it is gone); revoke ends it and deletes what was
 * put with it. */
int etcd_client_grant(struct etcd_client *c, int64_t ttl, int64_t *id, struct vs_err *err);
int etcd_client_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl, struct vs_err *err);
int etcd_client_revoke(struct etcd_client *c, int64_t id, struct vs_err *err);

/* For a stream (store/etcd_watch): *h, a POST of body to path on the
 * member calls go to now, set up as every call is (token, logged in first
 * if needed; TLS); *member says which, for the three after it. *h and
 * *hdrs are the caller's to free after the transfer. */
int etcd_client_stream(struct etcd_client *c, const char *path, const char *body, CURL **h,
		       struct curl_slist **hdrs, size_t *member, struct vs_err *err);
const char *etcd_client_member(const struct etcd_client *c, size_t member);
/* member could not answer: calls go on to the next one. */
void etcd_client_failed(struct etcd_client *c, size_t member);
/* etcd refused the token: the next call or stream logs in again. */
void etcd_client_token_refused(struct etcd_client *c);

#endif
