// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "core/hist.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_maps.h"
#include "steer.skel.h"

int dp_set_svc(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v)
{
	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.svcs), k, v, BPF_ANY) ? -errno : 0;
}

int dp_get_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.svcs), k, v) ? -errno : 0;
}

int dp_del_svc(struct dataplane *dp, const struct vs_svc_key *k)
{
	if (bpf_map_delete_elem(bpf_map__fd(dp->steer->maps.svcs), k) && errno != ENOENT)
		return -errno;
	return 0;
}

int dp_next_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc_key *next)
{
	return bpf_map_get_next_key(bpf_map__fd(dp->steer->maps.svcs), k, next) ? -errno : 0;
}

int dp_set_ports(struct dataplane *dp, const struct vs_ports *p)
{
	__u32 zero = 0;

	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.ports), &zero, p, BPF_ANY) ? -errno :
											    0;
}

int dp_get_ports(struct dataplane *dp, struct vs_ports *p)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.ports), &zero, p) ? -errno : 0;
}

int dp_set_opts(struct dataplane *dp, __u32 id, const struct vs_svc_opts *o)
{
	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.sopts), &id, o, BPF_ANY) ? -errno :
											  0;
}

int dp_get_opts(struct dataplane *dp, __u32 id, struct vs_svc_opts *o)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.sopts), &id, o) ? -errno : 0;
}

int dp_set_slot(struct dataplane *dp, __u32 slot, const struct vs_slot *v)
{
	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.vslot), &slot, v, BPF_ANY) ? -errno :
											    0;
}

int dp_get_slot(struct dataplane *dp, __u32 slot, struct vs_slot *v)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.vslot), &slot, v) ? -errno : 0;
}

int dp_set_back(struct dataplane *dp, __u32 idx, const struct vs_addr *b)
{
	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.backs), &idx, b, BPF_ANY) ? -errno :
											   0;
}

int dp_set_bports(struct dataplane *dp, const struct vs_ports *p)
{
	__u32 zero = 0;

	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.bports), &zero, p, BPF_ANY) ?
		       -errno :
		       0;
}

int dp_sock_cookie(struct dataplane *dp, __u32 idx, __u64 *cookie)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.socks), &idx, cookie) ? -errno : 0;
}

int dp_lstate(struct dataplane *dp, __u64 n[VS_LSTATE_N])
{
	int fd = bpf_map__fd(dp->steer->maps.lstate);

	for (__u32 i = 0; i < VS_LSTATE_N; i++)
		if (bpf_map_lookup_elem(fd, &i, &n[i]))
			return -errno;
	return 0;
}

int dp_sock_del(struct dataplane *dp, __u32 idx)
{
	if (bpf_map_delete_elem(bpf_map__fd(dp->steer->maps.socks), &idx) && errno != ENOENT)
		return -errno;
	return 0;
}

int dp_ver_stats(struct dataplane *dp, __u32 slot, struct vs_ver_stats *sum)
{
	return dp_sum_percpu(bpf_map__fd(dp->steer->maps.vstats), slot, (__u64 *)sum,
			     sizeof(*sum) / 8);
}

int dp_ver_sums(struct dataplane *dp, __u32 slot, struct vs_ver_sums *sum)
{
	return dp_sum_percpu(bpf_map__fd(dp->steer->maps.vsums), slot, (__u64 *)sum,
			     sizeof(*sum) / 8);
}

/* What the sums were estimated from before there was vsums: each sample
 * at its bucket's middle. */
static int hist_estimate(struct dataplane *dp, bool size, __u32 slot, __u64 *sum)
{
	struct hist h;
	int ret = dp_hist(dp, size, slot, h.b);

	*sum = ret ? 0 : (__u64)hist_sum(&h);
	return ret;
}

/* Whether libbpf made vsums anew over pins that were there before
 * (dp->maps_made, by the maps' index). */
static bool sums_made(struct dataplane *dp)
{
	struct bpf_map *m;
	__u64 bit = 1;

	bpf_object__for_each_map (m, dp->steer->obj) {
		if (m == dp->steer->maps.vsums)
			return dp->maps_made & bit;
		bit <<= 1;
	}
	return false;
}

static int seed_sums(struct dataplane *dp)
{
	int ncpu = libbpf_num_possible_cpus(), ret = 0;
	struct vs_ver_sums *v;
	struct vs_ver_stats st;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 slot = 0; !ret && slot < VS_MAX_SLOTS; slot++) {
		ret = dp_ver_stats(dp, slot, &st);
		if (ret || !st.requests)
			continue;
		ret = hist_estimate(dp, false, slot, &v[0].lat_ns);
		if (!ret)
			ret = hist_estimate(dp, true, slot, &v[0].resp_bytes);
		if (!ret &&
		    bpf_map_update_elem(bpf_map__fd(dp->steer->maps.vsums), &slot, v, BPF_ANY))
			ret = -errno;
	}
	free(v);
	return ret;
}

void dp_seed_sums(struct dataplane *dp)
{
	int ret;

	if (!sums_made(dp))
		return;
	ret = seed_sums(dp);
	if (ret)
		pr_warn("cannot seed the latency and size sums from the pinned histograms: %s; /metrics' _sum counts from now on\n",
			strerror(-ret));
	else
		pr_info("the pinned maps predate vsums: each version's latency and size sums start from its histograms' estimate\n");
}

int dp_svc_stats(struct dataplane *dp, __u32 id, struct vs_svc_stats *sum)
{
	return dp_sum_percpu(bpf_map__fd(dp->steer->maps.sstats), id, (__u64 *)sum,
			     sizeof(*sum) / 8);
}

int dp_svc_guard(struct dataplane *dp, __u32 id, struct vs_svc_guard *sum)
{
	return dp_sum_percpu(bpf_map__fd(dp->steer->maps.sguard), id, (__u64 *)sum,
			     sizeof(*sum) / 8);
}

/* Forget the sessions on `slot`, so that a version given the slot later
 * inherits none: each place that names it freed by compare-and-swap on
 * the table mapped into memory, as the data plane changes places, so a
 * place the data plane changed meanwhile (a connection counted, another
 * client in it) is left as it is. Its slot and last_ms stay: a free
 * place's are not read, and a client taking it writes its own. */
static int purge_sessions(struct dataplane *dp, __u32 slot)
{
	struct bpf_map *m = dp->steer->maps.sessions;
	size_t page = sysconf(_SC_PAGESIZE);
	size_t len = ((size_t)bpf_map__max_entries(m) * sizeof(struct vs_sess_set) + page - 1) /
		     page * page;
	struct vs_sess_set *sets;
	__u64 x;

	sets = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (sets == MAP_FAILED)
		return -errno;
	for (__u32 i = 0; i < bpf_map__max_entries(m); i++)
		for (int w = 0; w < VS_SESS_WAYS; w++) {
			struct vs_sess *e = &sets[i].way[w];

			x = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
			if (!VS_SESS_TAG(x) || __atomic_load_n(&e->slot, __ATOMIC_RELAXED) != slot)
				continue;
			__atomic_compare_exchange_n(&e->word, &x, 0, false, __ATOMIC_ACQ_REL,
						    __ATOMIC_RELAXED);
		}
	munmap(sets, len);
	return 0;
}

int dp_reset_slot(struct dataplane *dp, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus();
	__s64 none = 0;
	void *zero;
	int ret;

	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, sizeof(struct vs_ver_stats));
	if (!zero)
		return -ENOMEM;
	ret = bpf_map_update_elem(bpf_map__fd(dp->steer->maps.vstats), &slot, zero, BPF_ANY) ||
			      bpf_map_update_elem(bpf_map__fd(dp->steer->maps.vsums), &slot, zero,
						  BPF_ANY) ?
		      -errno :
		      0;
	/* A reused slot must not inherit the last version's histograms. */
	for (__u32 b = 0; !ret && b < VS_HBUCKETS; b++) {
		__u32 k = slot * VS_HBUCKETS + b;

		if (bpf_map_update_elem(bpf_map__fd(dp->steer->maps.lat), &k, zero, BPF_ANY) ||
		    bpf_map_update_elem(bpf_map__fd(dp->steer->maps.rsize), &k, zero, BPF_ANY))
			ret = -errno;
	}
	free(zero);
	/* Nor its clients' affinity, nor its open connection count: with
	 * them a new version in the slot would get the old one's sessions. */
	if (!ret && bpf_map_update_elem(bpf_map__fd(dp->steer->maps.vopen), &slot, &none, BPF_ANY))
		ret = -errno;
	if (!ret)
		ret = purge_sessions(dp, slot);
	/* Nor what the last version was steered by. */
	if (!ret)
		ret = dp_set_slot(dp, slot, &(struct vs_slot){});
	return ret;
}

/* A slot's buckets in one batch lookup: read one by one, the windows'
 * roll of 6,400 histograms took 45,000 syscalls a second (5% of a core
 * at 400 versions). The batch starts after the key it is given. */
static int hist_batch(int fd, __u32 slot, __u64 out[VS_HBUCKETS])
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[VS_HBUCKETS], prev = slot * VS_HBUCKETS - 1, next, count = VS_HBUCKETS;
	int ncpu = libbpf_num_possible_cpus(), ret = 0;
	__u64 *vals;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * VS_HBUCKETS, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_batch(fd, slot ? &prev : NULL, &next, keys, vals, &count, &opts))
		ret = -errno;
	if (!ret && (count != VS_HBUCKETS || keys[0] != slot * VS_HBUCKETS))
		ret = -EIO;
	for (__u32 b = 0; !ret && b < VS_HBUCKETS; b++) {
		out[b] = 0;
		for (int c = 0; c < ncpu; c++)
			out[b] += vals[(size_t)b * ncpu + c];
	}
	free(vals);
	return ret;
}

int dp_hist(struct dataplane *dp, bool size, __u32 slot, __u64 out[VS_HBUCKETS])
{
	int fd = bpf_map__fd(size ? dp->steer->maps.rsize : dp->steer->maps.lat), ret;

	if (slot >= VS_MAX_SLOTS)
		return -EINVAL;
	if (!hist_batch(fd, slot, out))
		return 0;
	/* The batch failed (a kernel without batch lookups of arrays,
	 * before 5.6): one by one. */
	ret = 0;
	for (__u32 b = 0; !ret && b < VS_HBUCKETS; b++)
		ret = dp_sum_percpu(fd, slot * VS_HBUCKETS + b, &out[b], 1);
	return ret;
}

int dp_open_conns(struct dataplane *dp, __u32 slot, __s64 *n)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->steer->maps.vopen), &slot, n) ? -errno : 0;
}

int dp_read_window(struct dataplane *dp, __u32 slot, struct window *w)
{
	struct vs_ver_stats st;
	int ret;

	ret = dp_ver_stats(dp, slot, &st);
	if (!ret)
		ret = dp_hist(dp, false, slot, w->lat.b);
	if (!ret)
		ret = dp_hist(dp, true, slot, w->size.b);
	w->arrived = st.arrived;
	w->requests = st.requests;
	w->status5xx = st.status[3];
	w->errors = st.resets + st.failover_out;
	return ret;
}
