/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * user/kernel/dp_maps.c's readers against real maps (test_maps.c): a data
 * plane opened in a bpffs of its own, values written per CPU, read back
 * summed. Runs in the private namespaces test_lookup.c's setup made.
 */
#ifndef VSTEER_PROG_MAPS_H
#define VSTEER_PROG_MAPS_H

void maps_cases(void);

#endif
