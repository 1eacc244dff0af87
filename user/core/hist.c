// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "core/hist.h"

static double bucket_mid(uint32_t b)
{
	double lo = vs_hbucket_low(b);

	if (b + 1 >= VS_HBUCKETS)
		return lo;
	return (lo + (double)vs_hbucket_low(b + 1)) / 2;
}

uint64_t hist_total(const struct hist *h)
{
	uint64_t n = 0;

	for (uint32_t b = 0; b < VS_HBUCKETS; b++)
		n += h->b[b];
	return n;
}

double hist_quantile(const struct hist *h, double q)
{
	uint64_t total = hist_total(h), seen = 0;
	double want = q * total;

	if (!total)
		return 0;
	for (uint32_t b = 0; b < VS_HBUCKETS; b++) {
		seen += h->b[b];
		if (seen && seen >= want)
			return bucket_mid(b);
	}
	return bucket_mid(VS_HBUCKETS - 1);
}

double hist_sum(const struct hist *h)
{
	double sum = 0;

	for (uint32_t b = 0; b < VS_HBUCKETS; b++)
		sum += h->b[b] * bucket_mid(b);
	return sum;
}

double hist_mean(const struct hist *h)
{
	uint64_t total = hist_total(h);

	return total ? hist_sum(h) / total : 0;
}

void hist_sub(struct hist *out, const struct hist *now, const struct hist *before)
{
	for (uint32_t b = 0; b < VS_HBUCKETS; b++)
		out->b[b] = now->b[b] >= before->b[b] ? now->b[b] - before->b[b] : 0;
}
