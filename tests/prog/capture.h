/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Capture for mirroring in the real kernel (test_capture.c): real
 * connections through a data plane opened with user/kernel/'s API, their
 * captured segments checked byte for byte. Runs in the private network
 * namespace test_lookup.c's setup made; makes a mount namespace and a
 * bpffs of its own.
 */
#ifndef VSTEER_PROG_CAPTURE_H
#define VSTEER_PROG_CAPTURE_H

/* Run the capture cases (check_run each). */
void capture_cases(void);

#endif
