/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Where to send events: a list of webhook targets, each a URL, the kinds
 * of event it wants and the headers to send with them. The daemon has one
 * list (the config's top level) and each service one (in the model, so
 * the state file keeps it). Plain data with no pointers: models are
 * copied and compared whole. ctl/notifier sends them. */
#ifndef VS_NOTIFY_H
#define VS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#define NOTIFY_MAX_TARGETS  4	 /* per list: the daemon's, each service's */
#define NOTIFY_URL_LEN	    256	 /* a URL and its NUL */
#define NOTIFY_MAX_HEADERS  8	 /* per target */
#define NOTIFY_HEADER_NAME  64	 /* a header name and its NUL */
#define NOTIFY_HEADERS_LEN  1024 /* all of a target's "Name: value" lines */
#define NOTIFY_TIMEOUT_MIN  100	 /* ms: an attempt's timeout, "timeoutMs" */
#define NOTIFY_TIMEOUT_MAX  30000
#define NOTIFY_TIMEOUT_DFLT 5000
#define NOTIFY_MAX_KINDS    64 /* kinds a target can name: bits of `kinds` */

struct notify_target {
	char url[NOTIFY_URL_LEN]; /* http:// or https://, checked by codec/parse */
	bool all;		  /* every kind, those added later too */
	uint64_t kinds;		  /* bit i: event_kinds[i] (core/event.h) */
	uint32_t timeout_ms;	  /* of one attempt, connecting included */
	uint32_t nheaders;
	/* nheaders strings "Name: value", each NUL-terminated, one after
	 * the other: as an HTTP client sends them. */
	char headers[NOTIFY_HEADERS_LEN];
};

struct notify_list {
	uint32_t n;
	struct notify_target t[NOTIFY_MAX_TARGETS];
};

/* The index of kind in event_kinds[], which is its bit in kinds;
 * -ENOENT for a kind vsteerd does not record. */
int notify_kind_bit(const char *kind);
/* Whether t wants events of kind. */
bool notify_wants(const struct notify_target *t, const char *kind);
/* Appends "name: value"; -E2BIG past NOTIFY_MAX_HEADERS or
 * NOTIFY_HEADERS_LEN. The caller has checked both. */
int notify_add_header(struct notify_target *t, const char *name, const char *value);
/* The i-th "Name: value" line, i < t->nheaders. */
const char *notify_header(const struct notify_target *t, uint32_t i);

#endif
