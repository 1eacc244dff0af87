/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The harness of the BPF program tests (tests/prog/): the style of
 * tests/unit/harness.h. Every run_case() is one counted case; it stops at
 * its first failed check. Output, one line per case:
 *     ok N - name
 *     not ok N - name: line L: [row] what failed
 * and last `prog: P passed, F failed`; the exit status is 0 iff F == 0.
 */
#ifndef VSTEER_TESTS_PROG_HARNESS_H
#define VSTEER_TESTS_PROG_HARNESS_H

#include <stdbool.h>
#include <string.h>

/* Whether the running case failed a check. */
extern bool cur_failed;

/* Run fn(arg) as case `name`; returns whether it passed. */
bool run_case(const char *name, void (*fn)(const void *arg), const void *arg);
/* Print the last line; the exit status for main(). */
int summary(void);

/* Name the table row (and what was computed for it) the following checks
 * are about. */
void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define CHECK(cond, fmt, ...)                                                \
	do {                                                                 \
		if (!(cond)) {                                               \
			fail_at(__LINE__, "%s: " fmt, #cond, ##__VA_ARGS__); \
			return;                                              \
		}                                                            \
	} while (0)

#define CHECK_INT(a, op, b)                                                                \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                        \
		if (!(_a op _b)) {                                                         \
			fail_at(__LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, _a, _b); \
			return;                                                            \
		}                                                                          \
	} while (0)

/* Stop the running case if a helper it called failed a check. */
#define CHECK_HELPER(call)      \
	do {                    \
		call;           \
		if (cur_failed) \
			return; \
	} while (0)

#endif
