/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Comparing two responses' bodies the way a mirror needs it: JSON field
 * by field (so key order and whitespace do not count), leaving out the
 * fields that are noise (they differ between two responses of the stable
 * version itself) and those the rollout says to ignore. Bodies that are
 * not JSON are compared byte for byte. The bodies come from backends:
 * any bytes, any depth, never a crash.
 *
 * A field path: object keys joined by '.', an array's elements all named
 * "[]" ("items[].updatedAt"), "" for the whole body.
 */
#ifndef VS_JDIFF_H
#define VS_JDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JDIFF_MAX_PATHS 32
#define JDIFF_PATH_MAX	96 /* core/mirror.h's MIRROR_IGNORE_MAX */
#define JDIFF_MAX_DEPTH 32 /* deeper JSON is compared as a whole */

/* The noise of one route, learned from pairs of the stable version's
 * responses. */
struct jdiff_noise {
	uint32_t n;
	char path[JDIFF_MAX_PATHS][JDIFF_PATH_MAX];
	bool whole;	  /* the bodies are not JSON, or more paths differ than
		     * fit: bodies of this route cannot be compared */
	uint32_t samples; /* pairs learned from */
};

/* Learn from a and b, two responses of the stable version to one
 * request: every path whose value differs (or is in one only) is noise. */
void jdiff_learn(struct jdiff_noise *noise, const uint8_t *a, size_t an, const uint8_t *b,
		 size_t bn);
/* Whether a (the primary's body) and b (the target's) differ beyond noise
 * (may be NULL) and the ignored paths (ignore[0..nignore), strings of
 * JDIFF_PATH_MAX); where gets the first path that differs ("" for the
 * whole body). A path ignored covers what is below it. */
bool jdiff_differ(const struct jdiff_noise *noise, const char (*ignore)[JDIFF_PATH_MAX],
		  uint32_t nignore, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		  char *where, size_t size);

#endif
