/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writes guarded by a transaction's compare, over etcd_client's calls:
 * create a key only if absent, put one only at the revision it was read
 * at, and settle a guarded write whose outcome is unknown.
 */
#ifndef VS_ETCD_GUARD_H
#define VS_ETCD_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

struct etcd_client;

/* key = text only while key is at mod revision base (0: absent) and the
 * compares in more (a JSON array, stolen; NULL: none) hold: *won says
 * whether. A write whose outcome is unknown (its member did not answer
 * in time) is settled by reading key from another member: applied (text
 * is there), sent again once (key still at base), or lost to another. */
int etcd_guard_put(struct etcd_client *c, const char *key, const char *text, int64_t base,
		   json_t *more, bool *won, int64_t *rev, struct vs_err *err);
/* key = doc (JSON, stolen) with lease (0: none), only if key does not
 * exist: *created says whether it did not, *rev is the revision after. */
int etcd_guard_create(struct etcd_client *c, const char *key, json_t *doc, int64_t lease,
		      bool *created, int64_t *rev, struct vs_err *err);

#endif
