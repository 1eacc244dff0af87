// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
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
#include "sess.h"

/* A data plane of its own, pinned in a bpffs mounted for it. */
struct tdp {
	char mnt[64];
	char pins[96];
	struct dataplane *dp;
};

static void tdp_open(struct tdp *t, __u32 sess_entries)
{
	struct vs_err err = {};

	CHECK(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount private: %s",
	      strerror(errno));
	snprintf(t->mnt, sizeof(t->mnt), "/tmp/vsmapsXXXXXX");
	CHECK(mkdtemp(t->mnt), "mkdtemp: %s", strerror(errno));
	CHECK(mount("bpf", t->mnt, "bpf", 0, NULL) == 0, "mount bpffs: %s", strerror(errno));
	snprintf(t->pins, sizeof(t->pins), "%s/vsteer", t->mnt);
	CHECK(dp_open(&t->dp, t->pins, sess_entries, DP_METER_OFF, &err) == 0, "dp_open: %s",
	      err.msg);
	CHECK(dp_attach(t->dp, &err) == 0, "dp_attach: %s", err.msg); /* the pins into place */
	dp_commit(t->dp);
}

static void tdp_close(struct tdp *t)
{
	struct vs_err err = {};

	if (t->dp) {
		dp_close(t->dp);
		CHECK(dp_cleanup(t->pins, &err) == 0, "dp_cleanup: %s", err.msg);
	}
	if (t->mnt[0]) {
		umount2(t->mnt, MNT_DETACH);
		rmdir(t->mnt);
	}
}

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
	struct tdp t = {};
	struct dataplane *dp;
	char path[128];
	__u64 *vals, got[VS_HBUCKETS];

	(void)arg;
	CHECK(ncpu > 0, "possible CPUs: %d", ncpu);
	vals = calloc(ncpu, sizeof(*vals));
	CHECK(vals, "calloc");
	CHECK_HELPER(tdp_open(&t, 0));
	dp = t.dp;
	snprintf(path, sizeof(path), "%s/lat", t.pins);
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
	tdp_close(&t);
	free(vals);
}

static __u32 salt_of(__u32 svc)
{
	return svc * 7919;
}

/* A version's slot given up (dp_reset_slot()) frees its sessions in the
 * table and only its: 300 clients on slot 5 and 300 on slot 6, many of
 * them sharing a set, in a table for 1024 clients (512 sets). */
static void case_purge(const void *arg)
{
	struct tsess ts = { .nsets = 512, .salt = salt_of };
	struct vs_sess e, got;
	struct tdp t = {};
	char path[128];
	int n;

	(void)arg;
	CHECK_HELPER(tdp_open(&t, 1024));
	snprintf(path, sizeof(path), "%s/sessions", t.pins);
	ts.fd = bpf_obj_get(path);
	CHECK(ts.fd >= 0, "%s: %s", path, strerror(errno));
	for (__u32 i = 0; i < 600; i++) {
		struct vs_sess_key k = { .svc = 1 + i % 3, .addr = { htonl(0x0a000000u + i) } };

		e = (struct vs_sess){ .word = i % 4, .last_ms = 1000 + i, .slot = 5 + i % 2 };
		n = tsess_put(&ts, &k, &e);
		CHECK(n == 0, "put %u: %s", i, strerror(-n));
	}
	CHECK_INT(tsess_count(&ts), ==, 600);
	CHECK_INT(dp_reset_slot(t.dp, 5), ==, 0);
	CHECK_INT(tsess_count(&ts), ==, 300);
	for (__u32 i = 0; i < 600; i++) {
		struct vs_sess_key k = { .svc = 1 + i % 3, .addr = { htonl(0x0a000000u + i) } };

		n = tsess_get(&ts, &k, &got);
		if (i % 2 == 0) {
			CHECK(n == -ENOENT, "client %u of slot 5 kept its session", i);
			continue;
		}
		CHECK(n == 0, "client %u of slot 6 lost its session", i);
		CHECK(got.slot == 6 && got.last_ms == 1000 + i && VS_SESS_OPEN(got.word) == i % 4,
		      "client %u: slot %u last_ms %u open %u", i, got.slot, got.last_ms,
		      VS_SESS_OPEN(got.word));
	}
	close(ts.fd);
	tdp_close(&t);
}

void maps_cases(void)
{
	check_run("maps: dp_hist reads a slot's buckets in one batch, per-CPU sums", case_hist,
		  NULL, NULL);
	check_run("maps: a slot given up frees its sessions, and only its", case_purge, NULL, NULL);
}
