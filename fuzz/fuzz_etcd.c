// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: what an etcd peer (or anything answering in its place) may
 * send: the input as one watch-stream line, as a range, transaction and
 * lease reply, as an error body, as base64, as a host's status in a
 * fleet and as the config's "fleet", a fleet's version, the fleet's rollout taken into a
 * host's model and judged from hosts' statuses. Invariants: nothing
 * crashes or leaks; a parsed kv's key is non-empty with no NUL; base64
 * that decodes encodes back to the same text (one spelling per value). */
#include <stdlib.h>
#include <string.h>
#include "lib/b64.h"
#include "core/rollout.h"
#include "core/rollout_fleet.h"
#include "codec/config.h"
#include "codec/etcd.h"
#include "codec/fleet.h"

/* A host's model: service default with versions 1.0 and 2.0. */
static const char host_config[] =
	"{\"proxy\": {\"address\": \"127.0.0.1\", \"port\": 8080},"
	" \"cluster\": [{\"version\": \"1.0\", \"servers\": [\"127.0.0.1:9001\"]},"
	" {\"version\": \"2.0\", \"servers\": [\"127.0.0.1:9002\"]}]}";

/* The fleet's rollout from the input (a desired state's "rollout", or
 * the input itself) into the host's model: a rollout it takes is one
 * whose versions are the host's, in the fleet's hands; then judged as
 * the driver would from the input as hosts' statuses. */
static void check_rollout(json_t *ro, json_t *hosts)
{
	static struct model m, before;
	static struct config cfg;
	static bool ready;
	struct fleet_judged out;
	struct vs_err err;

	if (!ready) {
		if (config_parse(host_config, sizeof(host_config) - 1, "fuzz", &cfg, &before, &err))
			abort();
		ready = true;
	}
	memcpy(&m, &before, sizeof(m));
	if (!fleet_rollout_load(ro, &m, 0, &err)) {
		const struct rollout *r = &m.svc[0].ro;

		if (!r->fleet || r->to >= VS_MAX_SLOTS || !m.cl[r->to].used || m.cl[r->to].svc != 0)
			abort();
		rollout_fleet_adopt(&m, 0, &before.svc[0].ro, "h1", 1);
	}
	fleet_rollout_judge(hosts, json_object_get(hosts, "members"), 2, 0,
			    &(struct fleet_ro_ref){ "default", 1, 1, "progressing", 5, 3 }, &out);
	if (out.applied > out.members || (out.ready && out.applied < out.required))
		abort();
}

static void check_kv(const struct etcd_kv *kv)
{
	if (!kv->key || !*kv->key || strlen(kv->key) > ETCD_KEY_MAX || !kv->value ||
	    kv->value_len > ETCD_VALUE_MAX)
		abort();
}

static void check_b64(const uint8_t *data, size_t size)
{
	uint8_t *dec = malloc(size / 4 * 3 + 1);
	char *enc;
	int n;

	if (!dec)
		return;
	n = b64_decode((const char *)data, size, dec, size / 4 * 3);
	if (n >= 0) {
		enc = malloc(B64_ENCODED_SIZE((size_t)n));
		if (!enc || b64_encode(dec, n, enc, B64_ENCODED_SIZE((size_t)n)) != (int)size ||
		    memcmp(enc, data, size))
			abort();
		free(enc);
	}
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_watch_msg m;
	struct etcd_range r;
	struct fleet_cfg fc;
	struct fleet_desired_doc dd;
	struct fleet_version_doc vd;
	struct vs_err err;
	int64_t a, b;
	bool ok;
	json_t *j;

	if (!etcd_parse_watch((const char *)data, size, &m, &err)) {
		for (size_t i = 0; i < m.nev; i++)
			check_kv(&m.ev[i].kv);
		etcd_watch_msg_free(&m);
	}
	j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		if (!etcd_parse_range(j, &r, &err)) {
			for (size_t i = 0; i < r.n; i++)
				check_kv(&r.kvs[i]);
			etcd_range_free(&r);
		}
		etcd_parse_txn(j, &ok, &a, &err);
		etcd_parse_lease(j, &a, &b, &err);
		fleet_cfg_init(&fc);
		if (!fleet_cfg_parse(j, &fc, &err) && fc.lease_s < FLEET_LEASE_MIN)
			abort();
		json_decref(j);
	}
	if (!fleet_desired_parse((const char *)data, size, &dd, &err) &&
	    (dd.w.n < 1 || dd.w.n > VS_MAX_VERSIONS))
		abort();
	j = json_loadb((const char *)data, size, 0, NULL);
	check_rollout(dd.rollout ?: j, j);
	json_decref(j);
	fleet_desired_free(&dd);
	if (!fleet_version_parse((const char *)data, size, &vd, &err) &&
	    (!json_array_size(vd.servers) || json_array_size(vd.servers) > VS_MAX_SERVERS))
		abort();
	fleet_version_free(&vd);
	if (!fleet_host_parse("h1", (const char *)data, size, &j, &err)) {
		if (!json_is_object(j) || !json_is_array(json_object_get(j, "problems")))
			abort();
		json_decref(j);
	}
	etcd_reply_error(503, (const char *)data, size, &err);
	check_b64(data, size);
	return 0;
}
