// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Two threads use this: the controller writes smirror (dp_mirror_set,
 * under its lock) while the capture's own thread polls mcap. That needs
 * no lock between them: a map update is one bpf() call, atomic for an
 * array element of 8 bytes, and the perf buffer is the poller's alone.
 * The one value both read, the lost count, is an atomic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/dp_internal.h"
#include "kernel/dp_mirror.h"
#include "steer.skel.h"

#define CAP_BUF_BYTES (1 << 20) /* per CPU */

struct dp_capture {
	struct perf_buffer *pb;
	dp_capture_fn fn;
	void *ctx;
	uint64_t lost; /* the kernel's lost samples, and malformed records */
};

bool dp_mirror_supported(const struct dataplane *dp)
{
	/* The request meter (tcp_probe) takes the client's segments, the TC
	 * meter the backend's: both run whenever metering is on (a kernel
	 * without tcp_probe runs with metering off). */
	return dp && dp->meter != DP_METER_OFF && dp->tc;
}

int dp_mirror_set(struct dataplane *dp, uint32_t svc, const struct vs_mirror *m)
{
	if (svc >= VS_MAX_SERVICES)
		return -EINVAL;
	return bpf_map_update_elem(bpf_map__fd(dp->steer->maps.smirror), &svc, m, BPF_ANY) ?
		       -errno :
		       0;
}

int dp_mirror_stats(struct dataplane *dp, uint32_t svc, struct vs_mirror_stats *sum)
{
	int ret;

	if (svc >= VS_MAX_SERVICES)
		return -EINVAL;
	ret = dp_sum_percpu(bpf_map__fd(dp->steer->maps.mstats), svc, (__u64 *)sum,
			    sizeof(*sum) / 8);
	/* The budget's bookkeeping, meaningless summed. */
	sum->win_start = sum->win_bytes = 0;
	return ret;
}

/* What a record of this kind must look like: bytes only with a segment,
 * and its payload's start within them. */
static bool well_formed(const struct vs_cap *rec, __u32 size)
{
	__u32 rest = size - sizeof(*rec);

	/* The kernel pads a sample to 8 bytes, less the 4 of its size. */
	if (size < sizeof(*rec) || rest < rec->copied || rest - rec->copied >= 8)
		return false;
	switch (rec->kind) {
	case VS_CAP_REQ:
	case VS_CAP_RESP:
		return rec->off <= rec->copied && rec->copied <= VS_CAP_COPY_MAX;
	case VS_CAP_OPEN:
	case VS_CAP_CLOSE:
	case VS_CAP_LOST:
		return !rec->copied;
	default:
		return false;
	}
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	struct dp_capture *c = ctx;
	struct vs_cap rec;

	(void)cpu;
	/* A sample sits 4 bytes past an 8-byte boundary: copied out, not
	 * read in place. */
	if (size < sizeof(rec)) {
		__atomic_add_fetch(&c->lost, 1, __ATOMIC_RELAXED);
		return;
	}
	memcpy(&rec, data, sizeof(rec));
	if (!well_formed(&rec, size)) {
		__atomic_add_fetch(&c->lost, 1, __ATOMIC_RELAXED);
		return;
	}
	c->fn(c->ctx, &rec, (const uint8_t *)data + sizeof(rec));
}

static void on_lost(void *ctx, int cpu, __u64 cnt)
{
	struct dp_capture *c = ctx;

	(void)cpu;
	__atomic_add_fetch(&c->lost, cnt, __ATOMIC_RELAXED);
}

int dp_capture_open(struct dataplane *dp, dp_capture_fn fn, void *ctx, struct dp_capture **out)
{
	long page = sysconf(_SC_PAGESIZE);
	struct dp_capture *c;
	int ret;

	if (!fn || page <= 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	/* A power of two of pages, as the kernel wants. */
	c->pb = perf_buffer__new(bpf_map__fd(dp->steer->maps.mcap), CAP_BUF_BYTES / page, on_sample,
				 on_lost, c, NULL);
	ret = libbpf_get_error(c->pb);
	if (ret) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int dp_capture_poll(struct dp_capture *c, int timeout_ms)
{
	int n = perf_buffer__poll(c->pb, timeout_ms);

	return n == -EINTR ? 0 : n;
}

uint64_t dp_capture_lost(const struct dp_capture *c)
{
	return __atomic_load_n(&c->lost, __ATOMIC_RELAXED);
}

void dp_capture_close(struct dp_capture *c)
{
	if (!c)
		return;
	perf_buffer__free(c->pb);
	free(c);
}
