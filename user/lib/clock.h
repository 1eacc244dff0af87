/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The two clocks: wall-clock seconds for what a person schedules (a
 * rollout's holds, events), monotonic time for intervals. */
#ifndef VS_CLOCK_H
#define VS_CLOCK_H

#include <stdint.h>

/* Wall-clock seconds. VSTEER_CLOCK_FILE, if set, names a file holding the
 * time instead: the tests' way to let a rollout of days pass in seconds. */
int64_t clock_wall(void);
/* Monotonic milliseconds and seconds. */
int64_t clock_mono_ms(void);
int64_t clock_mono_s(void);

#endif
