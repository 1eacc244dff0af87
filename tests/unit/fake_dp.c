// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/window.h"
#include "kernel/dp.h"
#include "kernel/dp_cgroup.h"
#include "kernel/dp_connect.h"
#include "kernel/dp_nat.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_mirror.h"
#include "kernel/dp_pins.h"
#include "kernel/dp_tc.h"
#include "vsteer_idle.h"

#include "fake_dp.h"

#define FAKE_MAX_LISTENERS 64
#define FAKE_MAX_CONNS	   64

/* A steered connection, as a drain pass finds it. */
struct fake_conn {
	bool used;
	__u32 slot;
	int verdict; /* enum vs_idle */
};

struct fake_svc {
	bool used;
	struct vs_svc_key k;
	struct vs_svc v;
};

/* A capture record a test pushed, with its bytes, until a poll hands it
 * over. */
struct fake_cap {
	struct fake_cap *next;
	struct vs_cap rec;
	uint8_t data[];
};

struct dp_capture {
	struct dataplane *dp;
	dp_capture_fn fn;
	void *ctx;
};

struct dataplane {
	bool metering;
	struct vs_mirror mirror[VS_MAX_SERVICES];
	struct vs_mirror_stats mstats[VS_MAX_SERVICES];
	struct fake_cap *caps, **caps_tail;
	uint64_t cap_lost;
	struct fake_svc svcs[VS_MAX_SERVICES];
	struct vs_ports ports;
	struct vs_svc_opts opts[VS_MAX_SERVICES];
	__u64 socks[VS_SOCKMAP_SIZE];
	struct vs_listener ls[FAKE_MAX_LISTENERS];
	size_t nls;
	struct vs_ver_stats vstats[VS_MAX_SLOTS];
	__s64 vopen[VS_MAX_SLOTS];
	struct vs_slot vslot[VS_MAX_SLOTS];
	struct vs_addr backs[VS_SOCKMAP_SIZE];
	bool connect_attached;
	int fail_svc;
	unsigned long svc_writes, svc_reads, sock_reads, window_reads;
	__u64 lstate[VS_LSTATE_N];
	bool lstate_fail;
	struct dp_pins_report pins;
	bool pins_set;
	struct fake_conn conns[FAKE_MAX_CONNS];
	enum dp_drain drain_how;
	unsigned long drain_passes;
	bool tc_want;
};

struct dataplane *fake_dp_new(bool metering)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));

	if (dp) {
		dp->metering = metering;
		dp->drain_how = DP_DRAIN_ITER;
		dp->caps_tail = &dp->caps;
	}
	return dp;
}

void fake_dp_free(struct dataplane *dp)
{
	struct fake_cap *c, *next;

	if (!dp)
		return;
	for (c = dp->caps; c; c = next) {
		next = c->next;
		free(c);
	}
	free(dp);
}

int fake_dp_listen_as(struct dataplane *dp, const char *addr, __u64 cookie, __u32 uid, __u64 cgroup)
{
	struct vs_endpoint ep;
	struct vs_listener *l;

	if (ep_parse(addr, &ep) || dp->nls == FAKE_MAX_LISTENERS)
		return -EINVAL;
	l = &dp->ls[dp->nls++];
	*l = (struct vs_listener){
		.cookie = cookie, .port = ep.port, .family = ep.family, .uid = uid, .cgroup = cgroup
	};
	memcpy(l->addr, ep.addr, sizeof(l->addr));
	dp->lstate[VS_LSTATE_OPENED]++; /* as the tracker counts a listen() */
	return 0;
}

int fake_dp_listen(struct dataplane *dp, const char *addr, __u64 cookie)
{
	return fake_dp_listen_as(dp, addr, cookie, 0, 1);
}

static void close_sock(struct dataplane *dp, __u64 cookie, bool counted)
{
	for (size_t i = 0; i < dp->nls; i++) {
		if (dp->ls[i].cookie != cookie)
			continue;
		dp->ls[i] = dp->ls[--dp->nls];
		break;
	}
	for (size_t i = 0; i < VS_SOCKMAP_SIZE; i++) {
		if (dp->socks[i] != cookie)
			continue;
		/* The tracker counts a listener of the sockmap that closes. */
		dp->socks[i] = 0;
		dp->lstate[VS_LSTATE_CLOSED] += counted;
	}
}

void fake_dp_close(struct dataplane *dp, __u64 cookie)
{
	close_sock(dp, cookie, true);
}

void fake_dp_close_unseen(struct dataplane *dp, __u64 cookie)
{
	close_sock(dp, cookie, false);
}

void fake_dp_lstate_fail(struct dataplane *dp, bool fail)
{
	dp->lstate_fail = fail;
}

void fake_dp_sock_put(struct dataplane *dp, __u32 idx, __u64 cookie)
{
	dp->socks[idx] = cookie;
}

static struct fake_svc *find_svc(struct dataplane *dp, const struct vs_svc_key *k)
{
	for (size_t i = 0; i < VS_MAX_SERVICES; i++)
		if (dp->svcs[i].used && !memcmp(&dp->svcs[i].k, k, sizeof(*k)))
			return &dp->svcs[i];
	return NULL;
}

int fake_dp_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v)
{
	struct fake_svc *e = find_svc(dp, k);

	if (!e)
		return -ENOENT;
	*v = e->v;
	return 0;
}

void fake_dp_svc_put(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v)
{
	struct fake_svc *e = find_svc(dp, k);

	for (size_t i = 0; !e && i < VS_MAX_SERVICES; i++)
		if (!dp->svcs[i].used)
			e = &dp->svcs[i];
	if (e)
		*e = (struct fake_svc){ .used = true, .k = *k, .v = *v };
}

unsigned int fake_dp_nsvcs(const struct dataplane *dp)
{
	unsigned int n = 0;

	for (size_t i = 0; i < VS_MAX_SERVICES; i++)
		n += dp->svcs[i].used;
	return n;
}

void fake_dp_answered(struct dataplane *dp, __u32 slot, __u64 requests)
{
	dp->vstats[slot].requests = dp->vstats[slot].arrived = requests;
}

void fake_dp_fail_svc_writes(struct dataplane *dp, int err)
{
	dp->fail_svc = err;
}

unsigned long fake_dp_window_reads(const struct dataplane *dp)
{
	return dp->window_reads;
}

unsigned long fake_dp_svc_reads(const struct dataplane *dp)
{
	return dp->svc_reads;
}

unsigned long fake_dp_svc_writes(const struct dataplane *dp)
{
	return dp->svc_writes;
}

unsigned long fake_dp_sock_reads(const struct dataplane *dp)
{
	return dp->sock_reads;
}

void fake_dp_pins_next(struct dataplane *dp, const struct dp_pins_report *r)
{
	dp->pins = *r;
	dp->pins_set = true;
}

int fake_dp_conn(struct dataplane *dp, __u32 slot, int verdict)
{
	for (int i = 0; i < FAKE_MAX_CONNS; i++) {
		if (dp->conns[i].used)
			continue;
		dp->conns[i] = (struct fake_conn){ .used = true, .slot = slot, .verdict = verdict };
		dp->vopen[slot]++;
		return i;
	}
	return -ENOSPC;
}

void fake_dp_conn_verdict(struct dataplane *dp, int i, int verdict)
{
	dp->conns[i].verdict = verdict;
}

void fake_dp_conn_close(struct dataplane *dp, int i)
{
	if (!dp->conns[i].used)
		return;
	dp->conns[i].used = false;
	dp->vopen[dp->conns[i].slot]--;
}

bool fake_dp_conn_open(const struct dataplane *dp, int i)
{
	return dp->conns[i].used;
}

void fake_dp_set_drain(struct dataplane *dp, enum dp_drain how)
{
	dp->drain_how = how;
}

unsigned long fake_dp_drain_passes(const struct dataplane *dp)
{
	return dp->drain_passes;
}

/* ---- the adapter's functions, as the controller calls them ---- */

enum dp_drain dp_drain_how(const struct dataplane *dp)
{
	return dp->drain_how;
}

int dp_drain_run_in(struct dataplane *dp, int nsfd, const __u8 slots[VS_MAX_SLOTS],
		    struct vs_drain_rec **out, size_t *n)
{
	(void)nsfd;
	return dp_drain_run(dp, slots, out, n);
}

int dp_drain_run(struct dataplane *dp, const __u8 slots[VS_MAX_SLOTS], struct vs_drain_rec **out,
		 size_t *n)
{
	*out = NULL;
	*n = 0;
	if (dp->drain_how == DP_DRAIN_NONE)
		return -EOPNOTSUPP;
	dp->drain_passes++;
	*out = calloc(FAKE_MAX_CONNS, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < FAKE_MAX_CONNS; i++) {
		struct fake_conn *fc = &dp->conns[i];

		if (!fc->used || !slots[fc->slot])
			continue;
		(*out)[(*n)++] = (struct vs_drain_rec){ .cookie = i + 1,
							.slot = fc->slot,
							.verdict = fc->verdict };
		if (fc->verdict == VS_IDLE)
			fake_dp_conn_close(dp, i);
	}
	return 0;
}

bool dp_metering(const struct dataplane *dp)
{
	return dp->metering;
}

int dp_set_svc(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v)
{
	dp->svc_writes++;
	if (dp->fail_svc)
		return dp->fail_svc;
	if (!find_svc(dp, k) && fake_dp_nsvcs(dp) == VS_MAX_SERVICES)
		return -E2BIG;
	fake_dp_svc_put(dp, k, v);
	return 0;
}

int dp_get_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v)
{
	dp->svc_reads++;
	return fake_dp_svc(dp, k, v);
}

int dp_del_svc(struct dataplane *dp, const struct vs_svc_key *k)
{
	struct fake_svc *e = find_svc(dp, k);

	dp->svc_writes++;
	if (dp->fail_svc)
		return dp->fail_svc;
	if (e)
		e->used = false;
	return 0;
}

int dp_next_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc_key *next)
{
	size_t i = 0;

	if (k) {
		struct fake_svc *e = find_svc(dp, k);

		if (!e)
			return -ENOENT;
		i = e - dp->svcs + 1;
	}
	for (; i < VS_MAX_SERVICES; i++) {
		if (dp->svcs[i].used) {
			*next = dp->svcs[i].k;
			return 0;
		}
	}
	return -ENOENT;
}

int dp_set_ports(struct dataplane *dp, const struct vs_ports *p)
{
	dp->ports = *p;
	return 0;
}

int dp_get_ports(struct dataplane *dp, struct vs_ports *p)
{
	*p = dp->ports;
	return 0;
}

int dp_set_opts(struct dataplane *dp, __u32 id, const struct vs_svc_opts *o)
{
	dp->opts[id] = *o;
	return 0;
}

int dp_get_opts(struct dataplane *dp, __u32 id, struct vs_svc_opts *o)
{
	*o = dp->opts[id];
	return 0;
}

int dp_svc_guard(struct dataplane *dp, __u32 id, struct vs_svc_guard *sum)
{
	(void)dp, (void)id;
	memset(sum, 0, sizeof(*sum));
	return 0;
}

int dp_sock_cookie(struct dataplane *dp, __u32 idx, __u64 *cookie)
{
	dp->sock_reads++;
	if (idx >= VS_SOCKMAP_SIZE || !dp->socks[idx])
		return -ENOENT;
	*cookie = dp->socks[idx];
	return 0;
}

int dp_lstate(struct dataplane *dp, __u64 n[VS_LSTATE_N])
{
	if (dp->lstate_fail)
		return -EPERM;
	memcpy(n, dp->lstate, sizeof(dp->lstate));
	return 0;
}

int dp_sock_del(struct dataplane *dp, __u32 idx)
{
	if (idx < VS_SOCKMAP_SIZE)
		dp->socks[idx] = 0;
	return 0;
}

int dp_ver_stats(struct dataplane *dp, __u32 slot, struct vs_ver_stats *sum)
{
	*sum = dp->vstats[slot];
	return 0;
}

int dp_svc_stats(struct dataplane *dp, __u32 id, struct vs_svc_stats *sum)
{
	(void)dp, (void)id;
	memset(sum, 0, sizeof(*sum));
	return 0;
}

int dp_ver_sums(struct dataplane *dp, __u32 slot, struct vs_ver_sums *sum)
{
	(void)dp, (void)slot;
	memset(sum, 0, sizeof(*sum));
	return 0;
}

int dp_hist(struct dataplane *dp, bool size, __u32 slot, __u64 out[VS_HBUCKETS])
{
	(void)dp, (void)size, (void)slot;
	memset(out, 0, VS_HBUCKETS * sizeof(out[0]));
	return 0;
}

int dp_read_window(struct dataplane *dp, __u32 slot, struct window *w)
{
	dp->window_reads++;
	memset(w, 0, sizeof(*w));
	w->arrived = dp->vstats[slot].arrived;
	w->requests = dp->vstats[slot].requests;
	w->status5xx = dp->vstats[slot].status[3];
	w->errors = dp->vstats[slot].resets + dp->vstats[slot].failover_out;
	return 0;
}

int dp_open_conns(struct dataplane *dp, __u32 slot, __s64 *n)
{
	*n = dp->vopen[slot];
	return 0;
}

int dp_reset_slot(struct dataplane *dp, __u32 slot)
{
	memset(&dp->vstats[slot], 0, sizeof(dp->vstats[slot]));
	dp->vopen[slot] = 0;
	dp->vslot[slot] = (struct vs_slot){};
	return 0;
}

int dp_set_slot(struct dataplane *dp, __u32 slot, const struct vs_slot *v)
{
	dp->vslot[slot] = *v;
	return 0;
}

int dp_get_slot(struct dataplane *dp, __u32 slot, struct vs_slot *v)
{
	*v = dp->vslot[slot];
	return 0;
}

int dp_set_back(struct dataplane *dp, __u32 idx, const struct vs_addr *b)
{
	dp->backs[idx] = *b;
	return 0;
}

/* The unit tests' servers all live in the test's own namespace. */
int dp_list_listeners_in(struct dataplane *dp, int nsfd, struct vs_listener **out, size_t *n)
{
	(void)nsfd;
	return dp_list_listeners(dp, out, n);
}

int dp_insert_in(struct dataplane *dp, int nsfd, const __u64 *cookies, const __u32 *idx,
		 int *err_out, size_t n)
{
	(void)nsfd;
	return dp_insert(dp, cookies, idx, err_out, n);
}

int dp_set_bports(struct dataplane *dp, const struct vs_ports *p)
{
	(void)dp, (void)p;
	return 0;
}

int dp_nat_enable(struct dataplane *dp, struct vs_err *err)
{
	(void)dp, (void)err;
	return 0;
}

void dp_nat_attach_new(struct dataplane *dp, bool ipv6)
{
	(void)dp, (void)ipv6;
}

void dp_tc_attach_netns(struct dataplane *dp, int nsfd, __u64 ino)
{
	(void)dp, (void)nsfd, (void)ino;
}

/* The unit tests' servers live in their own namespace: never entered. */
int dp_netns_enter(int nsfd, int *own)
{
	(void)nsfd;
	*own = -1;
	return -EOPNOTSUPP;
}

void dp_netns_leave(int own)
{
	(void)own;
}

int dp_connect_attach(struct dataplane *dp, struct vs_err *err)
{
	(void)err;
	dp->connect_attached = true;
	return 0;
}

bool dp_connect_attached(const struct dataplane *dp)
{
	return dp->connect_attached;
}

int dp_list_listeners(struct dataplane *dp, struct vs_listener **out, size_t *n)
{
	*out = malloc(sizeof(dp->ls));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, dp->ls, dp->nls * sizeof(dp->ls[0]));
	*n = dp->nls;
	return 0;
}

int dp_insert(struct dataplane *dp, const __u64 *cookies, const __u32 *idx, int *err_out, size_t n)
{
	int done = 0;

	for (size_t i = 0; i < n; i++) {
		err_out[i] = -ENOENT;
		for (size_t j = 0; j < dp->nls; j++) {
			if (dp->ls[j].cookie == cookies[i]) {
				dp->socks[idx[i]] = cookies[i];
				err_out[i] = 0;
				done++;
				break;
			}
		}
	}
	return done;
}

int dp_cgroup_path(struct dataplane *dp, __u64 id, char *buf, size_t size)
{
	(void)dp;
	if (!id)
		return -ENOENT;
	if (id == 1)
		snprintf(buf, size, "/");
	else
		snprintf(buf, size, "/fake/%llu", (unsigned long long)id);
	return 0;
}

void dp_tc_attach_new(struct dataplane *dp)
{
	(void)dp;
}

void dp_commit(struct dataplane *dp)
{
	(void)dp;
}

bool dp_tc_want(struct dataplane *dp, bool want)
{
	dp->tc_want = want;
	return false;
}

bool fake_dp_tc_want(const struct dataplane *dp)
{
	return dp->tc_want;
}

int dp_pins_check(struct dataplane *dp, struct dp_pins_report *r)
{
	memset(r, 0, sizeof(*r));
	if (dp->pins_set)
		*r = dp->pins;
	dp->pins_set = false;
	return r->err;
}

const char *dp_pins_dir(const struct dataplane *dp)
{
	(void)dp;
	return "/sys/fs/bpf/fake";
}

bool dp_mirror_supported(const struct dataplane *dp)
{
	return dp && dp->metering;
}

int dp_mirror_set(struct dataplane *dp, uint32_t svc, const struct vs_mirror *m)
{
	if (svc >= VS_MAX_SERVICES)
		return -EINVAL;
	dp->mirror[svc] = *m;
	return 0;
}

int dp_mirror_stats(struct dataplane *dp, uint32_t svc, struct vs_mirror_stats *sum)
{
	if (svc >= VS_MAX_SERVICES)
		return -EINVAL;
	*sum = dp->mstats[svc];
	sum->win_start = sum->win_bytes = 0;
	return 0;
}

void fake_dp_mirror(const struct dataplane *dp, uint32_t svc, struct vs_mirror *m)
{
	*m = svc < VS_MAX_SERVICES ? dp->mirror[svc] : (struct vs_mirror){ 0 };
}

void fake_dp_mirror_stats_put(struct dataplane *dp, uint32_t svc, const struct vs_mirror_stats *s)
{
	if (svc < VS_MAX_SERVICES)
		dp->mstats[svc] = *s;
}

int fake_dp_capture_push(struct dataplane *dp, const struct vs_cap *rec, const uint8_t *data)
{
	struct fake_cap *c = malloc(sizeof(*c) + rec->copied);

	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->rec = *rec;
	if (rec->copied)
		memcpy(c->data, data, rec->copied);
	*dp->caps_tail = c;
	dp->caps_tail = &c->next;
	return 0;
}

void fake_dp_capture_set_lost(struct dataplane *dp, uint64_t lost)
{
	dp->cap_lost = lost;
}

int dp_capture_open(struct dataplane *dp, dp_capture_fn fn, void *ctx, struct dp_capture **out)
{
	struct dp_capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = (struct dp_capture){ .dp = dp, .fn = fn, .ctx = ctx };
	*out = c;
	return 0;
}

/* Never waits: what was pushed is there, and nothing else will come. */
int dp_capture_poll(struct dp_capture *c, int timeout_ms)
{
	struct dataplane *dp = c->dp;
	struct fake_cap *r;
	int n = 0;

	(void)timeout_ms;
	while ((r = dp->caps)) {
		dp->caps = r->next;
		if (!dp->caps)
			dp->caps_tail = &dp->caps;
		c->fn(c->ctx, &r->rec, r->data);
		free(r);
		n++;
	}
	return n;
}

uint64_t dp_capture_lost(const struct dp_capture *c)
{
	return c->dp->cap_lost;
}

void dp_capture_close(struct dp_capture *c)
{
	free(c);
}
