/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The unit test harness: the checks of tests/check.h, and the cases. Every
 * test_*() function is one counted case; each test file ends with its
 * cases table, which main() (harness.c) runs in the order of unit_suites
 * there; the last line is `unit: P passed, F failed`.
 */
#ifndef VSTEER_TESTS_HARNESS_H
#define VSTEER_TESTS_HARNESS_H

#include <stddef.h>

#include "check.h"

struct unit_case {
	const char *name;
	void (*fn)(void);
};

/* clang-format off */
#define TEST(fn) { &#fn[5], fn }	/* the name without "test_" */
/* clang-format on */

/* The cases tables, each ended by { NULL, NULL }. */
extern const struct unit_case hash_cases[], file_cases[], parse_cases[], model_cases[],
	config_cases[], state_cases[], rollout_cases[], router_cases[], conns_cases[],
	analysis_cases[], judge_cases[], ctl_cases[], start_cases[], drain_cases[], notify_cases[],
	reconcile_cases[], mirror_cases[], jdiff_cases[], parse_mirror_cases[], reasm_cases[],
	http1_cases[], route_cases[], mirror_flow_cases[], sdnotify_cases[], metrics_fmt_cases[],
	history_cases[], cli_cases[], tick_cases[], etcd_cases[], fleet_cases[],
	fleet_rollout_cases[];

/* Allocations of the running case, freed after it whether it passed or
 * stopped half-way at a failed check. */
void *track(void *p);
void *tcalloc(size_t size);
/* Run fn(arg) after the running case, however it ends (last in, first
 * out): for what free() cannot undo. */
void defer(void (*fn)(void *), void *arg);

#endif
