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
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/dp_internal.h"
#include "kernel/dp_mirror.h"
#include "steer.skel.h"

#define CAP_BUF_BYTES	 (1 << 20) /* per CPU */
#define CAP_WAKEUP_BYTES (CAP_BUF_BYTES / 4)

struct dp_capture {
	struct perf_buffer *pb;
	dp_capture_fn fn;
	void *ctx;
	uint64_t lost; /* the kernel's lost samples, and malformed records */
	int handled;   /* records handed to fn by this poll */
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
	c->handled++;
	c->fn(c->ctx, &rec, (const uint8_t *)data + sizeof(rec));
}

/* perf_buffer__new_raw()'s callback: the two kinds of record the kernel
 * writes to a BPF output event's buffer. */
static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *e)
{
	struct dp_capture *c = ctx;

	if (e->type == PERF_RECORD_SAMPLE) {
		struct {
			struct perf_event_header h;
			__u32 size;
			char data[];
		} *s = (void *)e;

		on_sample(c, cpu, s->data, s->size);
	} else if (e->type == PERF_RECORD_LOST) {
		struct {
			struct perf_event_header h;
			__u64 id;
			__u64 lost;
		} *l = (void *)e;

		__atomic_add_fetch(&c->lost, l->lost, __ATOMIC_RELAXED);
	}
	return LIBBPF_PERF_EVENT_CONT;
}

int dp_capture_open(struct dataplane *dp, dp_capture_fn fn, void *ctx, struct dp_capture **out)
{
	/* The reader is woken when a quarter of a CPU's buffer is full, not
	 * for every record as libbpf's perf_buffer__new() asks: a wakeup per
	 * record (an IPI and a context switch) cost the mirrored connection
	 * more than the copy itself. dp_capture_poll() takes the rest. */
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.watermark = 1,
		.wakeup_watermark = CAP_WAKEUP_BYTES,
	};
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
	c->pb = perf_buffer__new_raw(bpf_map__fd(dp->steer->maps.mcap), CAP_BUF_BYTES / page, &attr,
				     on_event, c, NULL);
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
	int ret;

	c->handled = 0;
	ret = perf_buffer__poll(c->pb, timeout_ms);
	if (ret < 0 && ret != -EINTR)
		return ret;
	/* What is below the wakeup mark, from every CPU's buffer: a record
	 * waits at most one poll's timeout. */
	ret = perf_buffer__consume(c->pb);
	if (ret < 0)
		return ret;
	return c->handled;
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
