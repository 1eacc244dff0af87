// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "codec/etcd.h"
#include "store/etcd_client.h"
#include "store/etcd_guard.h"

int etcd_guard_create(struct etcd_client *c, const char *key, json_t *doc, int64_t lease,
		      bool *created, int64_t *rev, struct vs_err *err)
{
	char *v = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int ret;

	json_decref(doc);
	if (!v)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	ret = etcd_client_txn(c,
			      etcd_txn_req(json_pack("[o]", etcd_cmp(key, ETCD_CREATE, 0)),
					   json_pack("[{s:o}]", "request_put",
						     etcd_put_req(key, v, strlen(v), lease)),
					   json_array()),
			      created, rev, err);
	free(v);
	return ret;
}

/* After a write whose outcome is unknown: key as it is now says whether
 * it was applied (text there), not (still at base: sent again, once), or
 * another write came first. */
static int put_if_again(struct etcd_client *c, const char *key, const char *text, int64_t base,
			json_t *cmps, bool *won, int64_t *rev, struct vs_err *err)
{
	struct etcd_range r;
	struct vs_err first = *err;
	int64_t now;

	if (etcd_client_range(c, key, false, &r, err)) {
		*err = first;
		return -ETIMEDOUT;
	}
	now = r.n ? r.kvs[0].mod_rev : 0;
	*won = r.n && r.kvs[0].value_len == strlen(text) &&
	       !memcmp(r.kvs[0].value, text, r.kvs[0].value_len);
	*rev = *won ? now : r.rev;
	etcd_range_free(&r);
	if (*won || now != base)
		return 0;
	return etcd_client_txn(c,
			       etcd_txn_req(json_incref(cmps),
					    json_pack("[{s:o}]", "request_put",
						      etcd_put_req(key, text, strlen(text), 0)),
					    json_array()),
			       won, rev, err);
}

int etcd_guard_put(struct etcd_client *c, const char *key, const char *text, int64_t base,
		   json_t *more, bool *won, int64_t *rev, struct vs_err *err)
{
	json_t *cmps = json_pack("[o]", etcd_cmp(key, ETCD_MOD, base));
	int ret;

	if (cmps && more)
		json_array_extend(cmps, more);
	json_decref(more);
	if (!cmps)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	ret = etcd_client_txn(c,
			      etcd_txn_req(json_incref(cmps),
					   json_pack("[{s:o}]", "request_put",
						     etcd_put_req(key, text, strlen(text), 0)),
					   json_array()),
			      won, rev, err);
	if (ret == -ETIMEDOUT)
		ret = put_if_again(c, key, text, base, cmps, won, rev, err);
	json_decref(cmps);
	return ret;
}
