/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The data plane's per-version histograms (include/vsteer_hist.h), as the
 * controller reads them: totals, quantiles, means, differences. Pure. */
#ifndef VS_HIST_H
#define VS_HIST_H

#include <stdint.h>
#include "vsteer_hist.h"

struct hist {
	__u64 b[VS_HBUCKETS];
};

uint64_t hist_total(const struct hist *h);
/* The value below which a fraction q of the samples fall, as the middle
 * of its bucket (at most 6.25% off); 0 for an empty histogram. */
double hist_quantile(const struct hist *h, double q);
/* The sum of the samples, each at its bucket's middle; and their mean. */
double hist_sum(const struct hist *h);
double hist_mean(const struct hist *h);
/* out = now - before, bucket by bucket; a bucket that went down (the slot
 * was reset under us) counts 0. */
void hist_sub(struct hist *out, const struct hist *now, const struct hist *before);

#endif
