/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * etcd v3's JSON gateway (etcd 3.4, Debian 12's): the requests vsteer
 * sends, built, and the responses it reads, checked. No I/O here.
 *
 * The gateway's rules, which every function follows: keys and values are
 * base64; 64-bit integers come as JSON strings (numbers are taken too);
 * a field at its zero value is left out of a response, so a missing one
 * reads as 0, false or empty (a transaction whose compare failed has no
 * "succeeded"). A response from a peer that is not etcd, or is broken,
 * is refused with an error that names the field (code etcd_bad_reply).
 */
#ifndef VS_ETCD_H
#define VS_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

/* Bounds on what a reply may carry, far above what vsteer writes: a key
 * (vsteer's are under 300 bytes), a value (etcd's own request limit is
 * 1.5 MiB), the kvs of one range or the events of one watch message. */
#define ETCD_KEY_MAX   4096
#define ETCD_VALUE_MAX (2u << 20)
#define ETCD_ITEMS_MAX 65536

/* A key and its value, decoded; both NUL-terminated (a key with a NUL
 * byte is refused; a value may hold any bytes, value_len says how many). */
struct etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_rev; /* revision of the put that created it */
	int64_t mod_rev;    /* of its last put */
	int64_t version;    /* puts since it was created */
	int64_t lease;	    /* 0: none */
};

/* A range's answer. */
struct etcd_range {
	int64_t rev; /* the store's revision it was read at */
	struct etcd_kv *kvs;
	size_t n;
	bool more; /* a limit cut it short */
};

enum etcd_event_type { ETCD_PUT, ETCD_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv; /* a delete's: its key and mod_rev only */
};

/* One message of a watch stream (one line of the gateway's answer). */
struct etcd_watch_msg {
	int64_t rev; /* the store's revision when it was sent */
	int64_t watch_id;
	bool created;	     /* the watch's first message */
	bool canceled;	     /* its last: compact_rev or reason says why */
	int64_t compact_rev; /* > 0: the start revision was compacted: read
			      * afresh and watch from after that read */
	char reason[128];    /* cancel_reason, or a stream error's message */
	struct etcd_event *ev;
	size_t nev; /* 0 and not created or canceled: progress */
};

/* Compare targets of a transaction. */
enum etcd_target { ETCD_MOD, ETCD_CREATE, ETCD_VERSION };

/* -- requests (NULL only when out of memory) -- */

/* {"key": key}; with prefix, every key that starts with key (range_end
 * the prefix with its last byte plus one). */
json_t *etcd_key_req(const char *key, bool prefix);
/* A put's body, or a transaction's request_put: lease 0 for none. */
json_t *etcd_put_req(const char *key, const char *value, size_t len, int64_t lease);
/* A transaction's compare: key's target EQUAL to v (ETCD_CREATE with 0:
 * the key does not exist). */
json_t *etcd_cmp(const char *key, enum etcd_target target, int64_t v);
/* A transaction: compares (all must hold), then success's operations, or
 * failure's; each op is {"request_put": ...} and so on. Each an array
 * (empty for none); steals their references. NULL if any is not (a part
 * that could not be built): never a write without its compares. */
json_t *etcd_txn_req(json_t *compare, json_t *success, json_t *failure);

/* -- responses -- */

/* A reply with an HTTP status other than 200: its "error" or "message"
 * as err (status 502 unless etcd's is 4xx-worthy: code etcd_refused for
 * a request etcd refused, etcd_unavailable for 503/504). Returns -EIO,
 * -EACCES (401/403) or -EAGAIN (503/504: try another member). */
int etcd_reply_error(int http_status, const char *body, size_t len, struct vs_err *err);

int etcd_parse_range(json_t *resp, struct etcd_range *out, struct vs_err *err);
void etcd_range_free(struct etcd_range *r);

/* A transaction's answer: whether its compares held, the revision after
 * it. */
int etcd_parse_txn(json_t *resp, bool *succeeded, int64_t *rev, struct vs_err *err);

/* A put's or a delete's answer: the revision after it. */
int etcd_parse_rev(json_t *resp, int64_t *rev, struct vs_err *err);

/* lease/grant's answer, or lease/keepalive's ({"result": ...}): the
 * lease's ID and TTL; TTL 0 from a keepalive: the lease is gone. */
int etcd_parse_lease(json_t *resp, int64_t *id, int64_t *ttl, struct vs_err *err);

/* One line of a watch stream (without its newline). */
int etcd_parse_watch(const char *line, size_t len, struct etcd_watch_msg *out, struct vs_err *err);
void etcd_watch_msg_free(struct etcd_watch_msg *m);

#endif
