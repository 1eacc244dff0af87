/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The two clocks: wall-clock seconds for what a person schedules (a
 * rollout's holds, events), monotonic time for intervals. */
#ifndef VS_CLOCK_H
#define VS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock seconds. VSTEER_CLOCK_FILE, if set, names a file holding the
 * time instead: the tests' way to let a rollout of days pass in seconds. */
int64_t clock_wall(void);
/* Monotonic nanoseconds (bpf_ktime_get_ns()'s clock), milliseconds and
 * seconds. */
uint64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
int64_t clock_mono_s(void);
/* A condition variable whose timed waits take clock_mono_ms() times, so
 * a wall clock set back does not stretch them; 0 or -errno. */
int clock_cond_init(pthread_cond_t *cond);
/* A clock_mono_ms() time as pthread_cond_timedwait() takes it. */
struct timespec clock_mono_timespec(int64_t ms);

/* Longest clock_rfc3339() output, NUL included: 2026-12-06T10:52:01.123Z */
#define CLOCK_RFC3339_LEN 32
/* Seconds since the epoch, and ms (0-999, or -1 to leave them out), as
 * RFC 3339 in UTC. */
void clock_rfc3339(int64_t secs, int ms, char buf[CLOCK_RFC3339_LEN]);

#endif
