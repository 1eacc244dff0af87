/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The unit test harness. Every test_*() function is one counted case; it
 * stops at its first failed check. Each test file ends with its cases
 * table, which main() (harness.c) runs in the order of unit_suites there.
 * Output, one line per case:
 *     ok N - name
 *     not ok N - name: line L: [row] what failed
 * and last `unit: P passed, F failed`; the exit status is 0 iff F == 0.
 */
#ifndef VSTEER_TESTS_HARNESS_H
#define VSTEER_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct unit_case {
	const char *name;
	void (*fn)(void);
};

/* clang-format off */
#define TEST(fn) { &#fn[5], fn }	/* the name without "test_" */
/* clang-format on */

/* The cases tables, each ended by { NULL, NULL }. */
extern const struct unit_case hash_cases[], parse_cases[], model_cases[], config_cases[],
	state_cases[], rollout_cases[], router_cases[], analysis_cases[], ctl_cases[];

/* Whether the running case failed a check. */
extern bool cur_failed;

/* Allocations of the running case, freed after it whether it passed or
 * stopped half-way at a failed check. */
void *track(void *p);
void *tcalloc(size_t size);
/* Run fn(arg) after the running case, however it ends (last in, first
 * out): for what free() cannot undo. */
void defer(void (*fn)(void *), void *arg);

/* Name the table row the following checks are about. */
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

#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *_a = (a), *_b = (b);                                                 \
		if (!_a || !_b || strcmp(_a, _b)) {                                              \
			fail_at(__LINE__, "%s == %s ('%s' vs '%s')", #a, #b, _a ? _a : "(null)", \
				_b ? _b : "(null)");                                             \
			return;                                                                  \
		}                                                                                \
	} while (0)

#define CHECK_HAS(hay, needle)                                                   \
	do {                                                                     \
		const char *_h = (hay), *_n = (needle);                          \
		if (!strstr(_h, _n)) {                                           \
			fail_at(__LINE__, "'%s' does not contain '%s'", _h, _n); \
			return;                                                  \
		}                                                                \
	} while (0)

/* An error return: the -errno, the HTTP status and the code. */
#define CHECK_ERR(ret, e, want_ret, want_status, want_code) \
	do {                                                \
		CHECK_INT(ret, ==, want_ret);               \
		CHECK_INT((e)->status, ==, want_status);    \
		CHECK_STR((e)->code, want_code);            \
	} while (0)

#endif
