// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The etcd client (user/store/etcd_client) against a real etcd cluster,
 * whose members' URLs VSTEER_ETCD names (tests/e2e/fleet.py starts three
 * and runs this): every call, the guarded writes two hosts race with,
 * leases that end, watches that replay and resume, the next member when
 * one is gone; and against peers that are not etcd at all.
 *
 *   VSTEER_ETCD=http://127.0.0.1:23791,... build/etcd_tests [quorum]
 *
 * "quorum": the calls alone, after the test killed a member. Keys live
 * under a prefix of the run's own (its pid), so runs do not meet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/etcd_client.h"
#include "store/etcd_watch.h"
#include "check.h"

static const char *endpoints;
static char prefix[64];
static struct etcd_client *cli;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *key(const char *name)
{
	static __thread char k[8][128];
	static __thread int i;

	i = (i + 1) % 8;
	snprintf(k[i], sizeof(k[i]), "%s%s", prefix, name);
	return k[i];
}

/* A watch's stop flag, set if the watch is still running after secs: a
 * watch that should have ended by itself fails its case instead of
 * hanging the run. */
struct deadline {
	atomic_bool stop;
	double secs;
	bool over;
	pthread_t t;
	pthread_mutex_t m;
	pthread_cond_t cv;
};

static void *deadline_run(void *arg)
{
	struct deadline *d = arg;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)d->secs;
	pthread_mutex_lock(&d->m);
	while (!d->over && pthread_cond_timedwait(&d->cv, &d->m, &until) != ETIMEDOUT)
		;
	if (!d->over)
		atomic_store(&d->stop, true);
	pthread_mutex_unlock(&d->m);
	return NULL;
}

static void deadline_start(struct deadline *d, double secs)
{
	atomic_init(&d->stop, false);
	d->secs = secs;
	d->over = false;
	pthread_mutex_init(&d->m, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_create(&d->t, NULL, deadline_run, d);
}

/* Whether the deadline passed before this. */
static bool deadline_end(struct deadline *d)
{
	pthread_mutex_lock(&d->m);
	d->over = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->m);
	pthread_join(d->t, NULL);
	return atomic_load(&d->stop);
}

static void case_open(const void *arg)
{
	struct etcd_client_opts o = { .endpoints = endpoints, .timeout_ms = 2000 };
	struct vs_err err;

	(void)arg;
	CHECK_INT(etcd_client_open(&o, &cli, &err), ==, 0);
}

static void case_put_range_delete(const void *arg)
{
	struct etcd_range r;
	struct vs_err err;
	int64_t rev1, rev2, rev3;

	(void)arg;
	CHECK_INT(etcd_client_put(cli, key("kv/a"), "one", 3, 0, &rev1, &err), ==, 0);
	CHECK_INT(etcd_client_put(cli, key("kv/b"), "t\0o", 3, 0, &rev2, &err), ==, 0);
	CHECK_INT(rev2, >, rev1);
	/* a key beside the prefix: not in its range */
	CHECK_INT(etcd_client_put(cli, key("kv0"), "x", 1, 0, &rev3, &err), ==, 0);
	CHECK_INT(etcd_client_range(cli, key("kv/"), true, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 2);
	CHECK_STR(r.kvs[0].key, key("kv/a"));
	CHECK_STR(r.kvs[0].value, "one");
	CHECK_INT(r.kvs[1].value_len, ==, 3);
	CHECK_INT(memcmp(r.kvs[1].value, "t\0o", 3), ==, 0);
	CHECK_INT(r.kvs[1].mod_rev, ==, rev2);
	CHECK_INT(r.rev, >=, rev3);
	etcd_range_free(&r);
	CHECK_INT(etcd_client_delete(cli, key("kv/"), true, &rev1, &err), ==, 0);
	CHECK_INT(etcd_client_range(cli, key("kv/"), true, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 0);
	etcd_range_free(&r);
	CHECK_INT(etcd_client_range(cli, key("kv0"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	etcd_range_free(&r);
}

/* Create key only if it does not exist: what two hosts' API calls race
 * with. */
static int create(const char *k, const char *v, bool *won)
{
	struct vs_err err;
	int64_t rev;

	return etcd_client_txn(cli,
			       etcd_txn_req(json_pack("[o]", etcd_cmp(k, ETCD_CREATE, 0)),
					    json_pack("[{s:o}]", "request_put",
						      etcd_put_req(k, v, strlen(v), 0)),
					    json_array()),
			       won, &rev, &err);
}

static void case_txn_create_once(const void *arg)
{
	struct etcd_range r;
	struct vs_err err;
	bool won;

	(void)arg;
	CHECK_INT(create(key("txn/x"), "first", &won), ==, 0);
	CHECK_INT(won, ==, true);
	CHECK_INT(create(key("txn/x"), "second", &won), ==, 0);
	CHECK_INT(won, ==, false);
	CHECK_INT(etcd_client_range(cli, key("txn/x"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	CHECK_STR(r.kvs[0].value, "first");
	etcd_range_free(&r);
}

/* Two threads add one to a counter N times each, each write guarded by
 * the mod_revision it read: no increment may be lost. */
#define INCREMENTS 40

struct racer {
	int done, lost_races;
	int ret;
};

static void *race(void *arg)
{
	struct racer *me = arg;
	struct vs_err err;

	while (me->done < INCREMENTS) {
		struct etcd_range r;
		char v[32];
		long n = 0;
		int64_t mod = 0, rev;
		bool ok;

		me->ret = etcd_client_range(cli, key("race"), false, &r, &err);
		if (me->ret)
			return NULL;
		if (r.n) {
			n = strtol(r.kvs[0].value, NULL, 10);
			mod = r.kvs[0].mod_rev;
		}
		etcd_range_free(&r);
		snprintf(v, sizeof(v), "%ld", n + 1);
		me->ret = etcd_client_txn(
			cli,
			etcd_txn_req(json_pack("[o]", mod ? etcd_cmp(key("race"), ETCD_MOD, mod) :
							    etcd_cmp(key("race"), ETCD_CREATE, 0)),
				     json_pack("[{s:o}]", "request_put",
					       etcd_put_req(key("race"), v, strlen(v), 0)),
				     json_array()),
			&ok, &rev, &err);
		if (me->ret)
			return NULL;
		if (ok)
			me->done++;
		else
			me->lost_races++;
	}
	return NULL;
}

static void case_txn_race(const void *arg)
{
	struct racer a = {}, b = {};
	struct etcd_range r;
	struct vs_err err;
	pthread_t ta, tb;

	(void)arg;
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_INT(a.ret, ==, 0);
	CHECK_INT(b.ret, ==, 0);
	CHECK_INT(etcd_client_range(cli, key("race"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	row("lost races: %d and %d", a.lost_races, b.lost_races);
	CHECK_INT(strtol(r.kvs[0].value, NULL, 10), ==, 2 * INCREMENTS);
	etcd_range_free(&r);
}

static void case_lease(const void *arg)
{
	struct etcd_range r;
	struct vs_err err;
	int64_t id, ttl, rev;
	double t0;

	(void)arg;
	CHECK_INT(etcd_client_grant(cli, 3, &id, &err), ==, 0);
	CHECK_INT(etcd_client_put(cli, key("lease/held"), "x", 1, id, &rev, &err), ==, 0);
	CHECK_INT(etcd_client_keepalive(cli, id, &ttl, &err), ==, 0);
	CHECK_INT(ttl, >, 0);
	CHECK_INT(etcd_client_range(cli, key("lease/held"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	CHECK_INT(r.kvs[0].lease, ==, id);
	etcd_range_free(&r);
	/* revoked: what it held goes at once */
	CHECK_INT(etcd_client_revoke(cli, id, &err), ==, 0);
	CHECK_INT(etcd_client_range(cli, key("lease/held"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 0);
	etcd_range_free(&r);
	CHECK_INT(etcd_client_keepalive(cli, id, &ttl, &err), ==, 0);
	CHECK_INT(ttl, ==, 0);
	/* not kept alive: gone after its TTL (2 s, etcd's least here; the
	 * leader checks expiry every 500 ms, and a new leader extends
	 * leases by an election timeout: 5 s is the bound) */
	CHECK_INT(etcd_client_grant(cli, 2, &id, &err), ==, 0);
	CHECK_INT(etcd_client_put(cli, key("lease/lapsed"), "x", 1, id, &rev, &err), ==, 0);
	t0 = now_s();
	for (;;) {
		size_t n;

		CHECK_INT(etcd_client_range(cli, key("lease/lapsed"), false, &r, &err), ==, 0);
		n = r.n;
		etcd_range_free(&r);
		if (!n)
			break;
		CHECK(now_s() - t0 < 5.0, "the key outlived its lease by %.1f s", now_s() - t0);
		usleep(50 * 1000);
	}
	row("lease ended %.2f s after the put", now_s() - t0);
	CHECK(now_s() - t0 > 1.0, "gone after %.2f s, before its TTL", now_s() - t0);
}

/* A watch collecting what it sees; stops itself after `want` events. */
struct seen {
	atomic_int created, events; /* read by the case while the watch runs */
	int puts, deletes, want;
	int64_t compact_rev, last_rev;
	char keys[16][128];
};

static int collect_ev(const struct etcd_watch_msg *m, void *arg)
{
	struct seen *s = arg;

	s->created += m->created;
	if (m->canceled) {
		s->compact_rev = m->compact_rev;
		return -ECANCELED;
	}
	for (size_t i = 0; i < m->nev; i++) {
		if (s->events < 16)
			snprintf(s->keys[s->events], sizeof(s->keys[0]), "%s", m->ev[i].kv.key);
		s->events++;
		s->puts += m->ev[i].type == ETCD_PUT;
		s->deletes += m->ev[i].type == ETCD_DELETE;
		s->last_rev = m->ev[i].kv.mod_rev;
	}
	return s->want && s->events >= s->want ? 1 : 0;
}

static void case_watch_replay(const void *arg)
{
	struct seen s = { .want = 3 };
	struct deadline d;
	struct vs_err err;
	int64_t first, rev;
	int ret;

	(void)arg;
	/* three changes, then a watch from the first: history replayed */
	CHECK_INT(etcd_client_put(cli, key("w/a"), "1", 1, 0, &first, &err), ==, 0);
	CHECK_INT(etcd_client_put(cli, key("w/b"), "2", 1, 0, &rev, &err), ==, 0);
	CHECK_INT(etcd_client_delete(cli, key("w/a"), false, &rev, &err), ==, 0);
	deadline_start(&d, 10);
	ret = etcd_watch(cli, key("w/"), true, first, collect_ev, &s, &d.stop, &err);
	CHECK(!deadline_end(&d), "the watch still ran after 10 s");
	CHECK_INT(ret, ==, 1);
	CHECK_INT(s.created, ==, 1);
	CHECK_INT(s.puts, ==, 2);
	CHECK_INT(s.deletes, ==, 1);
	CHECK_STR(s.keys[0], key("w/a"));
	CHECK_STR(s.keys[2], key("w/a"));
	CHECK_INT(s.last_rev, ==, rev);
}

struct live {
	struct seen s;
	atomic_bool stop;
	int ret;
};

static void *watcher(void *arg)
{
	struct live *l = arg;
	struct vs_err err;

	l->ret = etcd_watch(cli, key("live/"), true, 0, collect_ev, &l->s, &l->stop, &err);
	return NULL;
}

static void case_watch_live_stop(const void *arg)
{
	struct live l = {};
	struct vs_err err;
	pthread_t t;
	int64_t rev;
	double t0;

	(void)arg;
	atomic_init(&l.stop, false);
	pthread_create(&t, NULL, watcher, &l);
	/* puts until the watch has seen one (it may start after the first) */
	t0 = now_s();
	while (!l.s.events && now_s() - t0 < 5) {
		etcd_client_put(cli, key("live/k"), "v", 1, 0, &rev, &err);
		usleep(100 * 1000);
	}
	CHECK_INT(l.s.events, >, 0);
	CHECK_INT(l.s.created, ==, 1);
	atomic_store(&l.stop, true);
	t0 = now_s();
	pthread_join(t, NULL);
	row("the watch stopped %.2f s after the flag", now_s() - t0);
	CHECK_INT(l.ret, ==, 0);
	/* curl's progress callback runs at least once a second */
	CHECK(now_s() - t0 < 2.5, "the watch took %.1f s to stop", now_s() - t0);
}

static void case_watch_compacted(const void *arg)
{
	struct seen s = {};
	struct deadline d;
	struct vs_err err;
	json_t *req, *resp = NULL;
	int64_t first, rev;
	int ret;

	(void)arg;
	CHECK_INT(etcd_client_put(cli, key("c/a"), "1", 1, 0, &first, &err), ==, 0);
	CHECK_INT(etcd_client_put(cli, key("c/a"), "2", 1, 0, &rev, &err), ==, 0);
	req = json_pack("{s:I}", "revision", (json_int_t)rev);
	ret = etcd_client_call(cli, "/v3/kv/compaction", req, &resp, &err);
	json_decref(req);
	json_decref(resp);
	CHECK_INT(ret, ==, 0);
	deadline_start(&d, 10);
	ret = etcd_watch(cli, key("c/"), true, first, collect_ev, &s, &d.stop, &err);
	CHECK(!deadline_end(&d), "the watch still ran after 10 s");
	CHECK_INT(ret, ==, -ECANCELED);
	CHECK_INT(s.compact_rev, ==, rev);
	CHECK_INT(s.events, ==, 0);
}

/* A client whose first endpoint is dead: the call goes on to the next. */
static void case_next_member(const void *arg)
{
	char list[1024];
	struct etcd_client_opts o = { .endpoints = list, .timeout_ms = 2000 };
	struct etcd_client *c;
	struct etcd_range r;
	struct vs_err err;

	(void)arg;
	snprintf(list, sizeof(list), "http://127.0.0.1:1,%s", endpoints);
	CHECK_INT(etcd_client_open(&o, &c, &err), ==, 0);
	CHECK_INT(etcd_client_range(c, key("nothing"), false, &r, &err), ==, 0);
	etcd_range_free(&r);
	etcd_client_close(c);
}

/* Peers that are not etcd, or not any more: an answer each, then close. */
struct fake {
	int fd;
	const char *reply;
};

static void *serve(void *arg)
{
	struct fake *f = arg;
	char buf[4096];
	int c;

	while ((c = accept(f->fd, NULL, NULL)) >= 0) {
		const char *p = f->reply, *cut;

		/* The reply is best effort: a client that went is no failure.
		 * '\x01' cuts it: the part before goes out alone, so the
		 * client reads a message in two pieces. */
		if (read(c, buf, sizeof(buf)) > 0)
			for (; p; p = cut ? cut + 1 : NULL) {
				cut = strchr(p, '\x01');
				(void)!write(c, p, cut ? (size_t)(cut - p) : strlen(p));
				if (cut)
					usleep(50 * 1000);
			}
		close(c);
	}
	return NULL;
}

/* A fake member on 127.0.0.1, its client in *c. */
static int fake_start(struct fake *f, pthread_t *th, struct etcd_client **c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct etcd_client_opts o = { .timeout_ms = 2000 };
	socklen_t len = sizeof(a);
	struct vs_err err;
	char list[64];

	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)) || listen(f->fd, 8) ||
	    getsockname(f->fd, (struct sockaddr *)&a, &len))
		return -errno;
	snprintf(list, sizeof(list), "http://127.0.0.1:%d", ntohs(a.sin_port));
	o.endpoints = list;
	pthread_create(th, NULL, serve, f);
	return etcd_client_open(&o, c, &err);
}

static void fake_stop(struct fake *f, pthread_t th, struct etcd_client *c)
{
	etcd_client_close(c);
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(f->fd);
}

static const struct {
	const char *name, *reply, *code;
	int ret;
} fakes[] = {
	{ "not JSON", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "etcd_bad_reply",
	  -EPROTO },
	{ "JSON, not etcd's", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", "etcd_bad_reply",
	  -EPROTO },
	{ "a web page", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n<h1>x</h1",
	  "etcd_refused", -EIO },
	{ "cut mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\"",
	  "etcd_unavailable", -EAGAIN },
	{ "not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "etcd_unavailable", -EAGAIN },
};

static void case_not_etcd(const void *arg)
{
	const typeof(fakes[0]) *t = arg;
	struct fake f = { .reply = t->reply };
	struct etcd_client *c;
	struct etcd_range r = {};
	struct vs_err err;
	pthread_t th;
	int ret;

	CHECK_INT(fake_start(&f, &th, &c), ==, 0);
	ret = etcd_client_range(c, "/k", false, &r, &err);
	row("%s: %s", t->name, err.msg);
	fake_stop(&f, th, c);
	CHECK_INT(ret, ==, t->ret);
	CHECK_STR(err.code, t->code);
	CHECK_INT(r.n, ==, 0);
}

#define STREAM_200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
#define CREATED	   "{\"result\":{\"header\":{\"revision\":\"5\"},\"created\":true}}\n"

/* Watch streams as a member may send them, and end them. */
static const struct {
	const char *name, *reply, *says;
	int ret, created, events;
} fake_watches[] = {
	{ "a message in two pieces, then the member closes",
	  STREAM_200 CREATED "{\"result\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"kv\":"
			     "{\"key\":\"L2s=\",\x01\"mod_revision\":\"6\"}}]}}\n",
	  "closed by the member", -EAGAIN, 1, 1 },
	{ "an error frame without its newline",
	  STREAM_200 CREATED "{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}",
	  "no leader", -ECANCELED, 1, 0 },
	{ "an error status",
	  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 43\r\n\r\n"
	  "{\"error\":\"etcdserver: no leader\",\"code\":14}",
	  "no leader", -EAGAIN, 0, 0 },
	{ "a message that is not etcd's", STREAM_200 CREATED "{\"result\":{\"events\":[]}}\n",
	  "header", -EPROTO, 1, 0 },
};

static int count_ev(const struct etcd_watch_msg *m, void *arg)
{
	struct seen *s = arg;

	s->created += m->created;
	s->events += (int)m->nev;
	if (m->nev)
		snprintf(s->keys[0], sizeof(s->keys[0]), "%s", m->ev[0].kv.key);
	return 0;
}

static void case_fake_watch(const void *arg)
{
	const typeof(fake_watches[0]) *t = arg;
	struct fake f = { .reply = t->reply };
	struct etcd_client *c;
	struct seen s = {};
	struct deadline d;
	struct vs_err err;
	pthread_t th;
	int ret;

	CHECK_INT(fake_start(&f, &th, &c), ==, 0);
	deadline_start(&d, 10);
	ret = etcd_watch(c, "/k", false, 0, count_ev, &s, &d.stop, &err);
	row("%s: %s", t->name, ret ? err.msg : "");
	fake_stop(&f, th, c);
	CHECK(!deadline_end(&d), "the watch still ran after 10 s");
	CHECK_INT(ret, ==, t->ret);
	CHECK_HAS(err.msg, t->says);
	CHECK_INT(s.created, ==, t->created);
	CHECK_INT(s.events, ==, t->events);
	if (t->events)
		CHECK_STR(s.keys[0], "/k");
}

/* -- authentication ("auth": a cluster of its own, which this enables) -- */

static int open_as(const char *user, const char *password, struct etcd_client **c)
{
	struct etcd_client_opts o = {
		.endpoints = endpoints, .timeout_ms = 2000, .user = user, .password = password
	};
	struct vs_err err;

	return etcd_client_open(&o, c, &err);
}

static int call_stolen(struct etcd_client *c, const char *path, json_t *req)
{
	json_t *resp = NULL;
	struct vs_err err;
	int ret = etcd_client_call(c, path, req, &resp, &err);

	json_decref(req);
	json_decref(resp);
	return ret;
}

/* Another user: every token issued before is refused afterwards ("the
 * revision of auth store is old"), as after any change to users or
 * roles. */
static int add_user(struct etcd_client *c, int n)
{
	char name[32];

	snprintf(name, sizeof(name), "user%d", n);
	return call_stolen(c, "/v3/auth/user/add",
			   json_pack("{s:s, s:s}", "name", name, "password", "pw"));
}

static void case_auth_enable(const void *arg)
{
	(void)arg;
	CHECK_INT(call_stolen(cli, "/v3/auth/user/add",
			      json_pack("{s:s, s:s}", "name", "root", "password", "rootpw")),
		  ==, 0);
	CHECK_INT(call_stolen(cli, "/v3/auth/user/grant",
			      json_pack("{s:s, s:s}", "user", "root", "role", "root")),
		  ==, 0);
	CHECK_INT(call_stolen(cli, "/v3/auth/enable", json_object()), ==, 0);
}

static void case_auth_refused(const void *arg)
{
	struct etcd_client *c;
	struct etcd_range r;
	struct vs_err err;
	int64_t rev;

	(void)arg;
	/* no credentials: etcd's "user name is empty" says why */
	CHECK_ERR(etcd_client_range(cli, key("a"), false, &r, &err), &err, -EACCES, 502,
		  "etcd_refused");
	CHECK_HAS(err.msg, "asks for a user and password");
	/* a wrong password */
	CHECK_INT(open_as("root", "wrong", &c), ==, 0);
	CHECK_ERR(etcd_client_put(c, key("a"), "x", 1, 0, &rev, &err), &err, -EACCES, 502,
		  "etcd_refused");
	CHECK_HAS(err.msg, "the login was refused");
	CHECK_HAS(err.msg, "invalid user ID or password");
	etcd_client_close(c);
}

struct auth_racer {
	struct etcd_client *c;
	int ok, ret;
};

static void *auth_race(void *arg)
{
	struct auth_racer *a = arg;
	struct vs_err err;
	int64_t rev;

	for (int i = 0; i < 30 && !a->ret; i++) {
		a->ret = etcd_client_put(a->c, key("auth/race"), "x", 1, 0, &rev, &err);
		a->ok += !a->ret;
	}
	return NULL;
}

/* Logged in once, then every token refused while two threads call: each
 * call logs in again (one login for both) and none fails. */
static void case_auth_relogin(const void *arg)
{
	struct auth_racer a = {}, b = {};
	struct etcd_client *c;
	struct etcd_range r;
	struct vs_err err;
	pthread_t ta, tb;
	int64_t first, rev;
	struct seen s = { .want = 2 };
	struct deadline d;
	int ret;

	(void)arg;
	CHECK_INT(open_as("root", "rootpw", &c), ==, 0);
	CHECK_INT(etcd_client_put(c, key("auth/a"), "1", 1, 0, &first, &err), ==, 0);
	CHECK_INT(add_user(c, 0), ==, 0); /* the token is stale now */
	CHECK_INT(etcd_client_range(c, key("auth/a"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	etcd_range_free(&r);
	a.c = b.c = c;
	pthread_create(&ta, NULL, auth_race, &a);
	pthread_create(&tb, NULL, auth_race, &b);
	for (int i = 1; i <= 5; i++)
		CHECK_INT(add_user(c, i), ==, 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_INT(a.ret, ==, 0);
	CHECK_INT(b.ret, ==, 0);
	CHECK_INT(a.ok + b.ok, ==, 60);
	/* a watch logs in too, and after the token went stale */
	CHECK_INT(add_user(c, 6), ==, 0);
	CHECK_INT(etcd_client_put(c, key("auth/b"), "2", 1, 0, &rev, &err), ==, 0);
	CHECK_INT(add_user(c, 7), ==, 0);
	deadline_start(&d, 10);
	ret = etcd_watch(c, key("auth/"), true, first, collect_ev, &s, &d.stop, &err);
	if (ret == -EAGAIN) /* cancelled for its token: the next one logs in */
		ret = etcd_watch(c, key("auth/"), true, first, collect_ev, &s, &d.stop, &err);
	CHECK(!deadline_end(&d), "the watch still ran after 10 s");
	row("%s", ret ? err.msg : "");
	CHECK_INT(ret, ==, 1);
	CHECK_INT(s.puts, >=, 2);
	etcd_client_close(c);
}

/* -- TLS ("tls": one member that wants clients' certificates; the files
 * in VSTEER_ETCD_TLS: ca.pem, client.pem, client.key, other-ca.pem) -- */

static int open_tls(const char *ca, bool cert, struct etcd_client **c)
{
	const char *dir = getenv("VSTEER_ETCD_TLS");
	char cafile[512], certfile[512], keyfile[512];
	struct etcd_client_opts o = { .endpoints = endpoints, .timeout_ms = 2000 };
	struct vs_err err;

	snprintf(cafile, sizeof(cafile), "%s/%s", dir, ca);
	snprintf(certfile, sizeof(certfile), "%s/client.pem", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/client.key", dir);
	o.cacert = cafile;
	o.cert = cert ? certfile : NULL;
	o.key = cert ? keyfile : NULL;
	return etcd_client_open(&o, c, &err);
}

static void case_tls(const void *arg)
{
	struct etcd_client *c;
	struct etcd_range r;
	struct vs_err err;
	int64_t rev;

	(void)arg;
	CHECK_INT(open_tls("ca.pem", true, &c), ==, 0);
	CHECK_INT(etcd_client_put(c, key("tls/a"), "1", 1, 0, &rev, &err), ==, 0);
	CHECK_INT(etcd_client_range(c, key("tls/a"), false, &r, &err), ==, 0);
	CHECK_INT(r.n, ==, 1);
	etcd_range_free(&r);
	etcd_client_close(c);
}

/* What a client without the right certificates gets: an error naming the
 * member, and nothing written. */
static void case_tls_refused(const void *arg)
{
	static const struct {
		const char *ca;
		bool cert;
	} cases[] = { { "ca.pem", false }, { "other-ca.pem", true } };
	struct etcd_client *c;
	struct vs_err err;
	int64_t rev;

	(void)arg;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row("%s, %s", cases[i].ca, cases[i].cert ? "a client certificate" : "none");
		CHECK_INT(open_tls(cases[i].ca, cases[i].cert, &c), ==, 0);
		err = (struct vs_err){};
		CHECK(etcd_client_put(c, key("tls/b"), "1", 1, 0, &rev, &err) < 0, "%s", "refused");
		CHECK_HAS(err.msg, endpoints);
		etcd_client_close(c);
	}
}

int main(int argc, char **argv)
{
	bool quorum = argc > 1 && !strcmp(argv[1], "quorum");
	bool auth = argc > 1 && !strcmp(argv[1], "auth");
	bool tls = argc > 1 && !strcmp(argv[1], "tls");
	char name[128];

	endpoints = getenv("VSTEER_ETCD");
	if (!endpoints || argc > 2 || (argc == 2 && !quorum && !auth && !tls) ||
	    (tls && !getenv("VSTEER_ETCD_TLS"))) {
		fprintf(stderr,
			"usage: VSTEER_ETCD=URL,... etcd_tests [quorum|auth|tls] (tests/e2e/fleet.py)\n");
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "/vsteer-test/%d/%s/", (int)getpid(),
		 argc > 1 ? argv[1] : "all");
	if (tls) {
		check_run("with the cluster's CA and a client certificate", case_tls, NULL, NULL);
		check_run("without a client certificate, or another CA: refused", case_tls_refused,
			  NULL, NULL);
		return check_summary("etcd");
	}
	if (!check_run("setup: a client of the cluster", case_open, NULL, NULL))
		return check_summary("etcd");
	if (auth) {
		if (check_run("setup: root added, authentication on", case_auth_enable, NULL,
			      NULL)) {
			check_run("no credentials, a wrong password: refused", case_auth_refused,
				  NULL, NULL);
			check_run("stale tokens: logged in again, calls and watches go on",
				  case_auth_relogin, NULL, NULL);
		}
		etcd_client_close(cli);
		return check_summary("etcd");
	}
	check_run("put, range by prefix, delete", case_put_range_delete, NULL, NULL);
	check_run("a transaction creates a key once", case_txn_create_once, NULL, NULL);
	check_run("guarded increments from two threads: none lost", case_txn_race, NULL, NULL);
	check_run("next member when the first is dead", case_next_member, NULL, NULL);
	if (!quorum) {
		check_run("leases: kept alive, revoked, lapsed", case_lease, NULL, NULL);
		check_run("a watch replays history from a revision", case_watch_replay, NULL, NULL);
		check_run("a live watch, stopped by its flag", case_watch_live_stop, NULL, NULL);
		check_run("a watch from a compacted revision is cancelled", case_watch_compacted,
			  NULL, NULL);
		for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
			snprintf(name, sizeof(name), "not etcd: %s", fakes[i].name);
			check_run(name, case_not_etcd, &fakes[i], NULL);
		}
		for (size_t i = 0; i < sizeof(fake_watches) / sizeof(fake_watches[0]); i++) {
			snprintf(name, sizeof(name), "a watch stream: %s", fake_watches[i].name);
			check_run(name, case_fake_watch, &fake_watches[i], NULL);
		}
	}
	etcd_client_close(cli);
	return check_summary("etcd");
}
