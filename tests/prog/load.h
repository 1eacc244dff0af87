/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every BPF object of the build, loaded on the running kernel as vsteerd
 * loads it (test_load.c), so that a verifier that rejects one says so in
 * a case of its own, with its reason.
 */
#ifndef VSTEER_PROG_LOAD_H
#define VSTEER_PROG_LOAD_H

#include <bpf/libbpf.h>

/* Open options that keep the verifier's log of a failed load for
 * load_verdict() (libbpf asks for it only after a load failed). */
extern struct bpf_object_open_opts load_log_opts;

/* After a failed load of the object called name: its verifier's log to
 * stderr, and the verifier's reason (the line before the "processed N
 * insns" summary, with the instruction it stopped at), or "no verifier
 * log" when it failed before the verifier. */
const char *load_failed(const char *name);

/* Run the load cases (check_run each). */
void load_cases(void);

#endif
