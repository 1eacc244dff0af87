// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * etcd's JSON gateway codec (codec/etcd) and base64 (lib/b64): requests
 * as etcd 3.4 reads them, replies as it writes them (zero fields left
 * out, 64-bit integers as strings), and every broken reply refused with
 * the field named. The end-to-end tests run a real etcd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/etcd.h"
#include "lib/b64.h"
#include "store/etcd_client.h"

#include "harness.h"
#include "helpers.h"

static void test_b64_vectors(void)
{
	/* RFC 4648, section 10 */
	static const struct {
		const char *plain, *enc;
	} v[] = { { "", "" },
		  { "f", "Zg==" },
		  { "fo", "Zm8=" },
		  { "foo", "Zm9v" },
		  { "foob", "Zm9vYg==" },
		  { "fooba", "Zm9vYmE=" },
		  { "foobar", "Zm9vYmFy" } };
	char enc[32], dec[32];

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		row("%s", v[i].plain);
		CHECK_INT(b64_encode(v[i].plain, strlen(v[i].plain), enc, sizeof(enc)), ==,
			  strlen(v[i].enc));
		CHECK_STR(enc, v[i].enc);
		CHECK_INT(b64_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec)), ==,
			  strlen(v[i].plain));
		dec[strlen(v[i].plain)] = '\0';
		CHECK_STR(dec, v[i].plain);
	}
	row("%s", "");
	/* every byte value and every length's padding, round trip */
	for (size_t n = 0; n <= 9; n++) {
		unsigned char in[9], out[9];

		for (size_t k = 0; k < n; k++)
			in[k] = (unsigned char)(0xff - 29 * k - n);
		CHECK_INT(b64_encode(in, n, enc, B64_ENCODED_SIZE(n)), ==, (n + 2) / 3 * 4);
		CHECK_INT(b64_decode(enc, strlen(enc), out, sizeof(out)), ==, n);
		CHECK_INT(memcmp(in, out, n), ==, 0);
	}
	CHECK_INT(b64_encode("foo", 3, enc, 4), ==, -ENOSPC); /* no room for the NUL */
	CHECK_INT(b64_decode("Zm9vYmFy", 8, dec, 5), ==, -ENOSPC);
}

static void test_b64_refused(void)
{
	/* Anything but whole padded groups, and a second spelling of a
	 * value (bits past the data set): one encoding per key. */
	static const char *const bad[] = { "Zg=",   "Zg",	 "Z===",     "Zh==",	 "Zm9=",
					   "Zm=v",  "Zm9v\n",	 "Zm 9v",    "====",	 "Zg==Zg==",
					   "Z\0==", "Zm9v Zg==", "Zm9vYm-=", "Zm9vYm_=", "Zm9 ",
					   "Zm9\n", "Zm9vZg=\n", " Zm9" };
	char out[32];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = strlen(bad[i]);

		row("%s", bad[i]);
		if (i == 10)
			len = 4; /* "Z\0==": a NUL inside */
		CHECK_INT(b64_decode(bad[i], len, out, sizeof(out)), ==, -EINVAL);
	}
}

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(j);
	return track(s);
}

static void test_etcd_requests(void)
{
	/* "/vsteer/": every key under it ends before "/vsteer0" */
	CHECK_STR(dumps(etcd_key_req("/vsteer/", true)),
		  "{\"key\":\"L3ZzdGVlci8=\",\"range_end\":\"L3ZzdGVlcjA=\"}");
	CHECK_STR(dumps(etcd_key_req("/vsteer/a", false)), "{\"key\":\"L3ZzdGVlci9h\"}");
	/* trailing 0xff bytes cannot be incremented: the byte before is */
	CHECK_STR(dumps(etcd_key_req("a\xff\xff", true)),
		  "{\"key\":\"Yf//\",\"range_end\":\"Yg==\"}");
	CHECK_STR(dumps(etcd_key_req("\xff", true)), "{\"key\":\"/w==\",\"range_end\":\"AA==\"}");
	CHECK_STR(dumps(etcd_put_req("/k", "v\0w", 3, 0)), "{\"key\":\"L2s=\",\"value\":\"dgB3\"}");
	CHECK_STR(dumps(etcd_put_req("/k", "", 0, 7587)),
		  "{\"key\":\"L2s=\",\"lease\":7587,\"value\":\"\"}");
	CHECK_STR(dumps(etcd_cmp("/k", ETCD_MOD, 42)),
		  "{\"key\":\"L2s=\",\"mod_revision\":42,\"result\":\"EQUAL\",\"target\":\"MOD\"}");
	CHECK_STR(
		dumps(etcd_cmp("/k", ETCD_CREATE, 0)),
		"{\"create_revision\":0,\"key\":\"L2s=\",\"result\":\"EQUAL\",\"target\":\"CREATE\"}");
	CHECK_STR(dumps(etcd_txn_req(json_pack("[o]", etcd_cmp("/k", ETCD_VERSION, 1)),
				     json_pack("[{s:o}]", "request_put",
					       etcd_put_req("/k", "x", 1, 0)),
				     json_array())),
		  "{\"compare\":[{\"key\":\"L2s=\",\"result\":\"EQUAL\",\"target\":\"VERSION\","
		  "\"version\":1}],\"failure\":[],\"success\":[{\"request_put\":{\"key\":\"L2s=\","
		  "\"value\":\"eA==\"}}]}");
	/* a part that could not be built: no transaction, never one without
	 * its compares */
	CHECK(!etcd_txn_req(NULL, json_array(), json_array()), "a txn without its compare");
	CHECK(!etcd_txn_req(json_array(), json_array(), NULL), "a txn without its failure ops");
}

static json_t *load(const char *sq)
{
	json_t *j = json_loads(jq(sq), 0, NULL);

	if (j)
		defer((void (*)(void *))json_decref, j);
	return j;
}

static void test_etcd_range(void)
{
	struct etcd_range r;
	struct vs_err err;

	/* as etcd 3.4 answers: a key created at 5 and put again at 9 */
	CHECK_INT(etcd_parse_range(
			  load("{'header': {'cluster_id': '14841639068965178418',"
			       "  'member_id': '10276657743932975437', 'revision': '9',"
			       "  'raft_term': '2'},"
			       " 'kvs': [{'key': 'L3ZzdGVlci9h', 'create_revision': '5',"
			       "  'mod_revision': '9', 'version': '2', 'value': 'dgB3'},"
			       "  {'key': 'L2s=', 'create_revision': '3', 'mod_revision': '3',"
			       "   'version': '1', 'lease': '7587'}], 'count': '2'}"),
			  &r, &err),
		  ==, 0);
	CHECK_INT(r.rev, ==, 9);
	CHECK_INT(r.n, ==, 2);
	CHECK_INT(r.more, ==, false);
	CHECK_STR(r.kvs[0].key, "/vsteer/a");
	CHECK_INT(r.kvs[0].value_len, ==, 3);
	CHECK_INT(memcmp(r.kvs[0].value, "v\0w", 4), ==, 0);
	CHECK_INT(r.kvs[0].create_rev, ==, 5);
	CHECK_INT(r.kvs[0].mod_rev, ==, 9);
	CHECK_INT(r.kvs[0].version, ==, 2);
	CHECK_INT(r.kvs[0].lease, ==, 0);
	CHECK_STR(r.kvs[1].value, ""); /* an empty value is left out */
	CHECK_INT(r.kvs[1].lease, ==, 7587);
	etcd_range_free(&r);
	/* nothing under the prefix: no kvs at all */
	CHECK_INT(etcd_parse_range(load("{'header': {'revision': '12'}, 'more': true}"), &r, &err),
		  ==, 0);
	CHECK_INT(r.n, ==, 0);
	CHECK_INT(r.rev, ==, 12);
	CHECK_INT(r.more, ==, true);
	etcd_range_free(&r);
}

static void test_etcd_range_refused(void)
{
	static const struct {
		const char *reply, *names;
	} bad[] = {
		{ "[]", "body" },
		{ "{'kvs': []}", "header" },
		{ "{'header': {}}", "revision is missing" },
		{ "{'header': {'revision': '0'}}", "revision is missing" },
		{ "{'header': {'revision': '-3'}}", "revision is negative" },
		{ "{'header': {'revision': '9x'}}", "revision" },
		{ "{'header': {'revision': '99999999999999999999'}}", "revision" },
		{ "{'header': {'revision': true}}", "revision" },
		{ "{'header': {'revision': '1'}, 'kvs': {}}", "kvs" },
		{ "{'header': {'revision': '1'}, 'kvs': [1]}", "kv" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'L2s'}]}", "key" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': ''}]}", "key" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'YQBi'}]}", "NUL" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'L2s=', 'value': 5}]}", "value" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'L2s=', 'version': '-'}]}",
		  "version" },
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'L2s=', 'lease': ''}]}", "lease" },
		{ "{'header': {'revision': '1'}, 'more': 'yes'}", "more" },
		/* one good kv, then a bad one: nothing comes back */
		{ "{'header': {'revision': '1'}, 'kvs': [{'key': 'L2s='}, {'key': '!!!!'}]}",
		  "key" },
	};
	struct etcd_range r;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = json_loads(jq(bad[i].reply), 0, NULL);
		int ret;

		row("%s", bad[i].reply);
		CHECK(j, "test input");
		ret = etcd_parse_range(j, &r, &err);
		json_decref(j);
		CHECK_ERR(ret, &err, -EPROTO, 502, "etcd_bad_reply");
		CHECK_HAS(err.msg, bad[i].names);
		CHECK_INT(r.n, ==, 0);
		CHECK(!r.kvs, "no kvs after a refusal");
	}
}

static void test_etcd_txn_lease(void)
{
	struct vs_err err;
	int64_t rev, id, ttl;
	bool ok;

	CHECK_INT(etcd_parse_txn(
			  load("{'header': {'revision': '10'}, 'succeeded': true,"
			       " 'responses': [{'response_put': {'header': {'revision': '10'}}}]}"),
			  &ok, &rev, &err),
		  ==, 0);
	CHECK_INT(ok, ==, true);
	CHECK_INT(rev, ==, 10);
	/* a failed compare: "succeeded" left out */
	CHECK_INT(etcd_parse_txn(load("{'header': {'revision': '11'},"
				      " 'responses': [{'response_range': {'header': {}}}]}"),
				 &ok, &rev, &err),
		  ==, 0);
	CHECK_INT(ok, ==, false);
	CHECK_INT(rev, ==, 11);
	CHECK_INT(etcd_parse_rev(load("{'header': {'revision': '12'}}"), &rev, &err), ==, 0);
	CHECK_INT(rev, ==, 12);
	/* grant, keepalive, and a keepalive of a lease that expired */
	CHECK_INT(etcd_parse_lease(load("{'header': {}, 'ID': '7587868', 'TTL': '5'}"), &id, &ttl,
				   &err),
		  ==, 0);
	CHECK_INT(id, ==, 7587868);
	CHECK_INT(ttl, ==, 5);
	CHECK_INT(etcd_parse_lease(load("{'result': {'header': {}, 'ID': '7587868', 'TTL': '4'}}"),
				   &id, &ttl, &err),
		  ==, 0);
	CHECK_INT(ttl, ==, 4);
	CHECK_INT(etcd_parse_lease(load("{'result': {'header': {}, 'ID': '7587868'}}"), &id, &ttl,
				   &err),
		  ==, 0);
	CHECK_INT(ttl, ==, 0);
	CHECK_ERR(etcd_parse_lease(load("{'header': {}, 'TTL': '5'}"), &id, &ttl, &err), &err,
		  -EPROTO, 502, "etcd_bad_reply");
	CHECK_ERR(etcd_parse_lease(load("{'ID': '1', 'error': 'too many leases'}"), &id, &ttl,
				   &err),
		  &err, -EIO, 502, "etcd_refused");
	CHECK_HAS(err.msg, "too many leases");
}

static int watch(const char *sq, struct etcd_watch_msg *m, struct vs_err *err)
{
	const char *s = jq(sq);

	return etcd_parse_watch(s, strlen(s), m, err);
}

static void test_etcd_watch(void)
{
	struct etcd_watch_msg m;
	struct vs_err err;

	CHECK_INT(watch("{'result': {'header': {'revision': '9'}, 'created': true}}", &m, &err), ==,
		  0);
	CHECK_INT(m.created, ==, true);
	CHECK_INT(m.nev, ==, 0);
	CHECK_INT(m.rev, ==, 9);
	etcd_watch_msg_free(&m);
	/* a put (type left out) and a delete in one message */
	CHECK_INT(
		watch("{'result': {'header': {'revision': '11'}, 'events': ["
		      "  {'kv': {'key': 'L2s=', 'create_revision': '10', 'mod_revision': '10',"
		      "   'version': '1', 'value': 'eA=='}},"
		      "  {'type': 'DELETE', 'kv': {'key': 'L3ZzdGVlci9h', 'mod_revision': '11'}}]}}",
		      &m, &err),
		==, 0);
	CHECK_INT(m.nev, ==, 2);
	CHECK_INT(m.ev[0].type, ==, ETCD_PUT);
	CHECK_STR(m.ev[0].kv.key, "/k");
	CHECK_STR(m.ev[0].kv.value, "x");
	CHECK_INT(m.ev[1].type, ==, ETCD_DELETE);
	CHECK_STR(m.ev[1].kv.key, "/vsteer/a");
	CHECK_INT(m.ev[1].kv.mod_rev, ==, 11);
	etcd_watch_msg_free(&m);
	/* started below the compacted revision */
	CHECK_INT(watch("{'result': {'header': {'revision': '40'}, 'canceled': true,"
			" 'compact_revision': '30'}}",
			&m, &err),
		  ==, 0);
	CHECK_INT(m.canceled, ==, true);
	CHECK_INT(m.compact_rev, ==, 30);
	etcd_watch_msg_free(&m);
	/* the stream itself failed */
	CHECK_INT(watch("{'error': {'grpc_code': 14, 'http_code': 503, 'message': 'no leader\\n',"
			" 'http_status': 'Service Unavailable'}}",
			&m, &err),
		  ==, 0);
	CHECK_INT(m.canceled, ==, true);
	CHECK_STR(m.reason, "no leader?"); /* printable only */
	etcd_watch_msg_free(&m);
	/* a progress notification: nothing but the revision */
	CHECK_INT(watch("{'result': {'header': {'revision': '41'}}}", &m, &err), ==, 0);
	CHECK_INT(m.nev + m.created + m.canceled, ==, 0);
	CHECK_INT(m.rev, ==, 41);
	etcd_watch_msg_free(&m);
}

static void test_etcd_watch_refused(void)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{'result': 1}",
		"{'result': {}}",
		"{'result': {'header': {}}}", /* only a cancel may lack the revision */
		"{'result': {'header': {'revision': '1'}, 'events': {}}}",
		"{'result': {'header': {'revision': '1'}, 'events': [{'type': 'PATCH', 'kv': {'key': 'L2s='}}]}}",
		"{'result': {'header': {'revision': '1'}, 'events': [{'kv': {'key': 'L2s='}}, {'kv': 3}]}}",
		"{'result': {'header': {'revision': '1'}, 'events': [{'kv': {'key': 'L2s='}}, {}]}}",
		"{'result': {'header': {'revision': '1'}, 'created': 'yes'}}",
		"{'result': {'header': {'revision': '1'}}, 'result': {'header': {'revision': '1'}}}",
	};
	struct etcd_watch_msg m;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i]);
		CHECK_ERR(watch(bad[i], &m, &err), &err, -EPROTO, 502, "etcd_bad_reply");
		CHECK(!m.ev && !m.nev, "no events after a refusal");
	}
}

static void test_etcd_reply_error(void)
{
	static const char wrong_rev[] =
		"{\"error\":\"etcdserver: mvcc: required revision has been "
		"compacted\",\"message\":\"etcdserver: mvcc: required revision "
		"has been compacted\",\"code\":11}";
	struct vs_err err;

	CHECK_ERR(etcd_reply_error(400, wrong_rev, strlen(wrong_rev), &err), &err, -EIO, 502,
		  "etcd_refused");
	CHECK_HAS(err.msg, "HTTP 400: etcdserver: mvcc: required revision has been compacted");
	CHECK_ERR(etcd_reply_error(401, "{\"message\":\"etcdserver: invalid auth token\"}", 44,
				   &err),
		  &err, -EACCES, 502, "etcd_refused");
	CHECK_HAS(err.msg, "invalid auth token");
	CHECK_ERR(etcd_reply_error(503, "{\"error\":{\"message\":\"etcdserver: no leader\"}}", 45,
				   &err),
		  &err, -EAGAIN, 503, "etcd_unavailable");
	CHECK_HAS(err.msg, "no leader");
	/* not etcd at all: the status, and no bytes of the body */
	CHECK_ERR(etcd_reply_error(404, "<html>\x01</html>", 14, &err), &err, -EIO, 502,
		  "etcd_refused");
	CHECK_HAS(err.msg, "HTTP 404: no message");
	CHECK_ERR(etcd_reply_error(500, NULL, 0, &err), &err, -EIO, 502, "etcd_refused");
}

/* What --etcd may name, and the error for each thing it may not. */
static void test_etcd_client_endpoints(void)
{
	static const struct {
		const char *list, *names;
	} bad[] = {
		{ "", "no endpoint" },
		{ ",", "no endpoint" },
		{ "127.0.0.1:2379", "'127.0.0.1:2379'" },
		{ "ftp://h:21", "'ftp://h:21'" },
		{ "http://", "'http://'" },
		{ "http://h", "'http://h'" },
		{ "http://h:2379/v3", "'http://h:2379/v3'" },
		{ "http://u:p@h:2379", "'http://u:p@h:2379'" },
		{ "http://h:2379,http://h 2:2379", "'http://h 2:2379'" },
		{ "http://h:2379?x", "'http://h:2379?x'" },
		{ "http://h\x01:1", "must be" },
		{ "http://a:1,http://b:1,http://c:1,http://d:1,http://e:1,http://f:1,http://g:1,"
		  "http://h:1,http://i:1",
		  "more than 8" },
	};
	struct etcd_client_opts o = {};
	struct etcd_client *c;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].list);
		o.endpoints = bad[i].list;
		CHECK_ERR(etcd_client_open(&o, &c, &err), &err, -EINVAL, 400, "bad_etcd");
		CHECK_HAS(err.msg, bad[i].names);
		CHECK(!c, "no client after a refusal");
	}
	row("%s", "");
	o.endpoints = "http://127.0.0.1:2379";
	o.user = "root";
	CHECK_ERR(etcd_client_open(&o, &c, &err), &err, -EINVAL, 400, "bad_etcd");
	CHECK_HAS(err.msg, "password");
	o.password = "pw";
	o.endpoints = "http://10.0.0.1:2379,https://[::1]:2379,https://etcd.example:2379";
	CHECK_INT(etcd_client_open(&o, &c, &err), ==, 0);
	etcd_client_close(c);
}

const struct unit_case etcd_cases[] = {
	TEST(test_etcd_client_endpoints), TEST(test_b64_vectors), TEST(test_b64_refused),
	TEST(test_etcd_requests),	  TEST(test_etcd_range),  TEST(test_etcd_range_refused),
	TEST(test_etcd_txn_lease),	  TEST(test_etcd_watch),  TEST(test_etcd_watch_refused),
	TEST(test_etcd_reply_error),	  { NULL, NULL },
};
