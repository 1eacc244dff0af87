/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Prometheus text format's pieces (exposition format 0.0.4): a
 * family's HELP and TYPE lines, samples with escaped labels, and a
 * histogram rebuilt from the data plane's fine buckets. Pure. */
#ifndef VS_METRICS_FMT_H
#define VS_METRICS_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/hist.h"

/* "# HELP name help" and "# TYPE name type": every family starts with
 * them, and all its samples follow before the next family's. */
void metrics_fmt_family(FILE *f, const char *name, const char *type, const char *help);
/* name{service="svc"[,version="ver"][,extra]} val. ver NULL: a
 * service's own; extra NULL, or labels without braces, escaped already;
 * svc NULL: no labels but extra's. */
void metrics_fmt_sample(FILE *f, const char *name, const char *svc, const char *ver,
			const char *extra, unsigned long long val);
/* The same with a value that is not a whole number. */
void metrics_fmt_sample_f(FILE *f, const char *name, const char *svc, const char *ver,
			  const char *extra, double val);
/* A label value as the format wants it: \\, \" and \n escaped. At most
 * size - 1 bytes; a value cut short is cut before an escape, never in it. */
void metrics_fmt_escape(char *out, size_t size, const char *s);

/* A histogram in base units: h's fine buckets are `scale` base units
 * each (1e-9 for ns in seconds); a fine bucket counts under `le` when all
 * of it lies below le, so a bucket's count is never too high. sum is the
 * exact sum of the values counted, in h's units. */
struct metrics_fmt_hist {
	const char *name;
	const double *les;
	size_t nles;
	double scale;
};
void metrics_fmt_hist(FILE *f, const struct metrics_fmt_hist *spec, const char *svc,
		      const char *ver, const struct hist *h, uint64_t sum);

#endif
