// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A start of the controller over pins left by a vsteerd before it, against
 * the fake kernel adapter: ctl_open() changes nothing in the kernel, and a
 * ctl_start() that fails (the state file cannot be renamed into place, or
 * the kernel refuses the svcs write) puts back what it wrote: services,
 * options, ports, the sockets it placed; the state file is not written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/dp_maps.h"
#include "ctl/ctl.h"

#include "fake_dp.h"
#include "harness.h"
#include "helpers.h"

#define C_V1	101 /* 1.0's socket, at sockmap index 0 */
#define C_V2	102 /* 2.0's, which a start would place */
#define C_STRAY 555 /* at index 1, serving nothing the model knows */

/* Pins of a vsteerd that steered "web" (127.0.0.1:8080) to 1.0 in slot 0,
 * and another service nobody knows now; its state file lost. */
struct start {
	char dir[64], state[96];
	struct dataplane *dp;
	struct ctl *c;
	struct vs_svc_key k, unknown;
	struct vs_svc pinned;
};

static void start_free(void *arg)
{
	struct start *t = arg;

	ctl_close(t->c);
	fake_dp_free(t->dp);
	state_dir_remove(t->dir, t->state);
}

/* The config now has 2.0 alone, in slot 0: starting it means writing svcs
 * and putting 2.0's socket next to 1.0's. */
static struct start *pinned_start(struct model **m)
{
	struct start *t = tcalloc(sizeof(*t));
	struct vs_err err = {};

	snprintf(t->dir, sizeof(t->dir), "/tmp/vsteer-unit-XXXXXX");
	if (!mkdtemp(t->dir))
		return NULL;
	snprintf(t->state, sizeof(t->state), "%s/state.json", t->dir);
	t->dp = fake_dp_new(true);
	defer(start_free, t);
	*m = new_model();
	if (!t->dp || add_svc(*m, "web", "127.0.0.1:8080", 1, &err) != 0 ||
	    add_cl(*m, 0, "2.0", CL_INSTANT, "127.0.0.1:9002", "c2", &err) != 0)
		return NULL;
	t->pinned = (struct vs_svc){ .id = 0, .salt = 0xabcdef, .nver = 1 };
	t->pinned.ver[0] = (struct vs_ver){ .slot = 0, .upto = VS_BUCKETS, .nsock = 1 };
	model_svc_key(*m, 0, &t->k);
	fake_dp_svc_put(t->dp, &t->k, &t->pinned);
	t->unknown = t->k;
	t->unknown.port = 9999;
	fake_dp_svc_put(t->dp, &t->unknown, &t->pinned);
	fake_dp_listen(t->dp, "127.0.0.1:9001", C_V1);
	fake_dp_listen(t->dp, "127.0.0.1:9002", C_V2);
	fake_dp_sock_put(t->dp, 0, C_V1);
	fake_dp_sock_put(t->dp, 1, C_STRAY);
	return t;
}

static __u64 sock_at(struct start *t, __u32 idx)
{
	__u64 cookie = 0;

	return dp_sock_cookie(t->dp, idx, &cookie) ? 0 : cookie;
}

/* Every map the start writes holds what the pins held. */
static void check_pins_kept(struct start *t)
{
	struct vs_svc_opts o, zero_o = {};
	struct vs_ports p, zero_p = {};
	struct vs_svc v;

	CHECK_INT(fake_dp_svc(t->dp, &t->k, &v), ==, 0);
	CHECK(!memcmp(&v, &t->pinned, sizeof(v)), "svcs changed: nver %u slot %u", v.nver,
	      v.ver[0].slot);
	CHECK_INT(fake_dp_svc(t->dp, &t->unknown, &v), ==, 0);
	CHECK_INT(dp_get_opts(t->dp, 0, &o), ==, 0);
	CHECK(!memcmp(&o, &zero_o, sizeof(o)), "sopts changed");
	CHECK_INT(dp_get_ports(t->dp, &p), ==, 0);
	CHECK(!memcmp(&p, &zero_p, sizeof(p)), "ports changed");
	CHECK_INT(sock_at(t, 0), ==, C_V1);
	CHECK_INT(sock_at(t, 1), ==, C_STRAY);
	CHECK_INT(sock_at(t, 2), ==, 0);
	CHECK_INT(model_nservices(t->c->m), ==, 0);
}

static void test_start_open_changes_nothing(void)
{
	struct vs_err err = {};
	struct model *m;
	struct start *t = pinned_start(&m);

	CHECK(t, "fixture");
	CHECK_INT(ctl_open(&t->c, t->dp, m, t->state, &err), ==, 0);
	CHECK_INT(fake_dp_svc_writes(t->dp), ==, 0);
	CHECK_INT(t->c->pending ? 1 : 0, ==, 1);
	check_pins_kept(t);
	CHECK_INT(access(t->state, F_OK), ==, -1);
	CHECK_INT(state_tmp_files(t->dir), ==, 1); /* staged */
	ctl_close(t->c);
	t->c = NULL;
	CHECK_INT(state_tmp_files(t->dir), ==, 0);
	CHECK_INT(access(t->state, F_OK), ==, -1);
}

/* The last thing that can fail, after every map was written. */
static void test_start_undone_at_state_rename(void)
{
	struct vs_err err = {};
	struct model *m;
	struct start *t = pinned_start(&m);

	CHECK(t, "fixture");
	CHECK_INT(ctl_open(&t->c, t->dp, m, t->state, &err), ==, 0);
	/* rename() cannot put a file over a directory. */
	CHECK_INT(mkdir(t->state, 0700), ==, 0);
	CHECK_INT(ctl_start(t->c, &err), ==, -EISDIR);
	CHECK_ERR(-EISDIR, &err, -EISDIR, 500, "state_write");
	CHECK(fake_dp_svc_writes(t->dp) > 0, "the maps were not written before the rename");
	check_pins_kept(t);
	CHECK_INT(state_tmp_files(t->dir), ==, 0);
	/* The same start, once it can write its state: 2.0 placed, the
	 * stray and the unknown service gone. */
	CHECK_INT(rmdir(t->state), ==, 0);
	ctl_close(t->c);
	t->c = NULL;
	CHECK_INT(ctl_open(&t->c, t->dp, m, t->state, &err), ==, 0);
	CHECK_INT(ctl_start(t->c, &err), ==, 0);
	CHECK_INT(sock_at(t, 0), ==, 0); /* 1.0's socket serves no server of 2.0 */
	CHECK_INT(sock_at(t, 1), ==, 0);
	CHECK_INT(sock_at(t, 2), ==, C_V2);
	CHECK_INT(fake_dp_nsvcs(t->dp), ==, 1);
	CHECK_INT(access(t->state, F_OK), ==, 0);
}

static void test_start_undone_at_map_write(void)
{
	struct vs_err err = {};
	struct model *m;
	struct start *t = pinned_start(&m);

	CHECK(t, "fixture");
	CHECK_INT(ctl_open(&t->c, t->dp, m, t->state, &err), ==, 0);
	fake_dp_fail_svc_writes(t->dp, -EPERM);
	CHECK_INT(ctl_start(t->c, &err), ==, -EPERM);
	CHECK_ERR(-EPERM, &err, -EPERM, 500, "bpf");
	fake_dp_fail_svc_writes(t->dp, 0);
	check_pins_kept(t);
	CHECK_INT(state_tmp_files(t->dir), ==, 0);
	CHECK_INT(access(t->state, F_OK), ==, -1);
}

const struct unit_case start_cases[] = {
	TEST(test_start_open_changes_nothing),
	TEST(test_start_undone_at_state_rename),
	TEST(test_start_undone_at_map_write),
	{ NULL, NULL },
};
