/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the running kernel offers, probed once at start, so that a kernel
 * without a hook gets a sentence naming it instead of a verifier dump, and
 * the request meters are left off (not failing) where they cannot load.
 * The probing needs the capabilities vsteerd runs with; the rest is pure.
 */
#ifndef VS_FEATURES_H
#define VS_FEATURES_H

#include <stdbool.h>

struct vs_feature {
	const char *name;
	const char *what;  /* what vsteer uses it for */
	const char *since; /* the mainline release that added it */
	bool core;	   /* steering needs it; otherwise the meters ... */
	bool drain;	   /* ... or only drain deadlines */
	bool ok;
};

struct vs_features {
	char kernel[65];
	int bpf_err; /* -errno if even a trivial program cannot load */
	struct vs_feature f[16];
	unsigned int n;
};

/* Probe the kernel (loads tiny programs: needs the capabilities vsteerd
 * runs with). 0, or -errno when even probing failed. */
int features_probe(struct vs_features *fs);
/* The first missing feature steering needs, or NULL. */
const struct vs_feature *features_core_missing(const struct vs_features *fs);
/* Whether the feature called name is there. */
bool features_ok(const struct vs_features *fs, const char *name);
/* The first missing feature the request meters need, or NULL. */
const struct vs_feature *features_meter_missing(const struct vs_features *fs);

#endif
