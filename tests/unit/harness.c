// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the controller library: session hashing and version
 * picking (the very header the data plane runs), files, versions,
 * endpoints, the model, the rollout engine, the config and state files,
 * the API router, its connection table and listener matching, histograms
 * and analysis, the judge, the mirror's verdict and body comparison, and the
 * controller itself against a fake of the kernel adapter (fake_dp.c). No
 * root, no BPF, no traffic. The harness: checks, the running case's
 * allocations, and main(), which runs every file's cases (harness.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "lib/compiler.h"

static void *tmp_ptrs[64];
static size_t tmp_n;

void *track(void *p)
{
	if (p && tmp_n < ARRAY_SIZE(tmp_ptrs))
		tmp_ptrs[tmp_n++] = p;
	return p;
}

void *tcalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		fprintf(stderr, "unit: out of memory\n");
		exit(2);
	}
	return track(p);
}

static struct {
	void (*fn)(void *);
	void *arg;
} deferred[16];
static size_t deferred_n;

void defer(void (*fn)(void *), void *arg)
{
	if (deferred_n == ARRAY_SIZE(deferred)) {
		fprintf(stderr, "unit: too many deferred calls\n");
		exit(2);
	}
	deferred[deferred_n].fn = fn;
	deferred[deferred_n++].arg = arg;
}

static void tmp_free_all(void)
{
	while (deferred_n) {
		deferred_n--;
		deferred[deferred_n].fn(deferred[deferred_n].arg);
	}
	while (tmp_n)
		free(tmp_ptrs[--tmp_n]);
}

/* Run in this order; a case's number counts on across the tables. */
static const struct unit_case *const unit_suites[] = {
	hash_cases,	   file_cases,	   parse_cases,		model_cases,
	config_cases,	   state_cases,	   rollout_cases,	router_cases,
	conns_cases,	   analysis_cases, judge_cases,		ctl_cases,
	start_cases,	   drain_cases,	   notify_cases,	reconcile_cases,
	mirror_cases,	   jdiff_cases,	   parse_mirror_cases,	reasm_cases,
	http1_cases,	   route_cases,	   mirror_flow_cases,	sdnotify_cases,
	metrics_fmt_cases, history_cases,  cli_cases,		tick_cases,
	etcd_cases,	   fleet_cases,	   fleet_rollout_cases,
};

static void run_test(const void *arg)
{
	((const struct unit_case *)arg)->fn();
}

int main(void)
{
	for (size_t s = 0; s < ARRAY_SIZE(unit_suites); s++)
		for (const struct unit_case *t = unit_suites[s]; t->fn; t++)
			check_run(t->name, run_test, t, tmp_free_all);
	return check_summary("unit");
}
