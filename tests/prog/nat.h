/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet steering's programs (bpf/nat.bpf.c) run by the kernel on packet
 * fixtures (test_nat.c): BPF_PROG_TEST_RUN of TC programs on made-up
 * Ethernet frames, their rewritten addresses, ports and checksums
 * checked. Runs in the private network namespace test_lookup.c's setup
 * made.
 */
#ifndef VSTEER_PROG_NAT_H
#define VSTEER_PROG_NAT_H

/* Run the packet steering cases (check_run each). */
void nat_cases(void);

#endif
