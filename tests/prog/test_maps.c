// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vsteer.h"
#include "vsteer_hist.h"
#include "kernel/dp.h"
#include "kernel/dp_maps.h"

#include "check.h"
#include "maps.h"

/* What CPU c holds in bucket b of slot s: distinct for each. */
static __u64 bucket_value(__u32 s, __u32 b, int c)
{
	return (__u64)s * 100000 + b * 10 + c + 1;
}

/* dp_hist() reads a slot's buckets in one batch: the first slot, one in
 * the middle and the last, each exactly its own buckets, per-CPU values
 * summed; a slot past the end is refused. */
static void case_hist(const void *arg)
{
	static const __u32 slots[] = { 0, 7, VS_MAX_SLOTS - 1 };
	int ncpu = libbpf_num_possible_cpus(), fd;
	char mnt[64] = "", pins[96], path[128];
	struct dataplane *dp = NULL;
	struct vs_err err = {};
	__u64 *vals, got[VS_HBUCKETS];

	(void)arg;
	CHECK(ncpu > 0, "possible CPUs: %d", ncpu);
	vals = calloc(ncpu, sizeof(*vals));
	CHECK(vals, "calloc");
	CHECK(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount private: %s",
	      strerror(errno));
	snprintf(mnt, sizeof(mnt), "/tmp/vsmapsXXXXXX");
	CHECK(mkdtemp(mnt), "mkdtemp: %s", strerror(errno));
	CHECK(mount("bpf", mnt, "bpf", 0, NULL) == 0, "mount bpffs: %s", strerror(errno));
	snprintf(pins, sizeof(pins), "%s/vsteer", mnt);
	CHECK(dp_open(&dp, pins, 0, DP_METER_OFF, &err) == 0, "dp_open: %s", err.msg);
	CHECK(dp_attach(dp, &err) == 0, "dp_attach: %s", err.msg); /* the pins into place */
	dp_commit(dp);
	snprintf(path, sizeof(path), "%s/lat", pins);
	fd = bpf_obj_get(path);
	CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	/* Each slot under test and its neighbours filled: a read that is off
	 * by one key shows. */
	for (__u32 s = 0; s < VS_MAX_SLOTS; s++)
		for (__u32 b = 0; b < VS_HBUCKETS; b++) {
			__u32 key = s * VS_HBUCKETS + b;

			for (int c = 0; c < ncpu; c++)
				vals[c] = bucket_value(s, b, c);
			CHECK(bpf_map_update_elem(fd, &key, vals, BPF_ANY) == 0, "update %u: %s",
			      key, strerror(errno));
		}
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		CHECK_INT(dp_hist(dp, false, slots[i], got), ==, 0);
		for (__u32 b = 0; b < VS_HBUCKETS; b++) {
			__u64 want = 0;

			for (int c = 0; c < ncpu; c++)
				want += bucket_value(slots[i], b, c);
			CHECK(got[b] == want, "slot %u bucket %u: %llu, want %llu", slots[i], b,
			      (unsigned long long)got[b], (unsigned long long)want);
		}
	}
	CHECK_INT(dp_hist(dp, true, 3, got), ==, 0); /* rsize: untouched, zero */
	for (__u32 b = 0; b < VS_HBUCKETS; b++)
		CHECK(got[b] == 0, "rsize slot 3 bucket %u: %llu", b, (unsigned long long)got[b]);
	CHECK_INT(dp_hist(dp, false, VS_MAX_SLOTS, got), ==, -EINVAL);
	close(fd);
	dp_close(dp);
	CHECK(dp_cleanup(pins, &err) == 0, "dp_cleanup: %s", err.msg);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	free(vals);
}

void maps_cases(void)
{
	check_run("maps: dp_hist reads a slot's buckets in one batch, per-CPU sums", case_hist,
		  NULL, NULL);
}
