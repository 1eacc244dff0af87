/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The checks and the case counter of the C test binaries (tests/unit/,
 * tests/prog/). Every check_run() is one counted case; it stops at its
 * first failed check. Output, one line per case:
 *     ok N - name
 *     not ok N - name: line L: [row] what failed
 * and last `LABEL: P passed, F failed` (check_summary()); tests/run counts
 * the lines.
 */
#ifndef VSTEER_TESTS_CHECK_H
#define VSTEER_TESTS_CHECK_H

#include <stdbool.h>
#include <string.h>

/* Whether the running case failed a check. */
extern bool cur_failed;

/* Run fn(arg) as case `name`, then after(), if any, however it ended;
 * returns whether it passed. */
bool check_run(const char *name, void (*fn)(const void *arg), const void *arg, void (*after)(void));
/* Print the last line; the exit status for main(). */
int check_summary(const char *label);

/* Name the table row (and what was computed for it) the following checks
 * are about. */
void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* clang-format off */
#define CHECK(cond, fmt, ...) do {						\
	if (!(cond)) {								\
		fail_at(__LINE__, "%s: " fmt, #cond, ##__VA_ARGS__);		\
		return;								\
	}									\
} while (0)

#define CHECK_INT(a, op, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);			\
	if (!(_a op _b)) {							\
		fail_at(__LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, _a, _b); \
		return;								\
	}									\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *_a = (a), *_b = (b);					\
	if (!_a || !_b || strcmp(_a, _b)) {					\
		fail_at(__LINE__, "%s == %s ('%s' vs '%s')", #a, #b,		\
			_a ? _a : "(null)", _b ? _b : "(null)");		\
		return;								\
	}									\
} while (0)

#define CHECK_HAS(hay, needle) do {						\
	const char *_h = (hay), *_n = (needle);					\
	if (!strstr(_h, _n)) {							\
		fail_at(__LINE__, "'%s' does not contain '%s'", _h, _n);	\
		return;								\
	}									\
} while (0)

/* An error return (struct vs_err): the -errno, the HTTP status and the
 * code. */
#define CHECK_ERR(ret, e, want_ret, want_status, want_code) do {		\
	CHECK_INT(ret, ==, want_ret);						\
	CHECK_INT((e)->status, ==, want_status);				\
	CHECK_STR((e)->code, want_code);					\
} while (0)

/* Stop the running case if a helper it called failed a check. */
#define CHECK_HELPER(call) do {							\
	call;									\
	if (cur_failed)								\
		return;								\
} while (0)
/* clang-format on */

#endif
