// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "api/metrics_fmt.h"

void metrics_fmt_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_fmt_escape(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" :
				  *s == '"'  ? "\\\"" :
				  *s == '\n' ? "\\n" :
					       NULL;
		size_t len = rep ? 2 : 1;

		if (n + len >= size)
			break;
		if (rep)
			memcpy(out + n, rep, 2);
		else
			out[n] = *s;
		n += len;
	}
	if (size)
		out[n] = '\0';
}

static void labels(FILE *f, const char *svc, const char *ver, const char *extra)
{
	char e[256];
	bool any = false;

	if (!svc && !extra)
		return;
	fputc('{', f);
	if (svc) {
		metrics_fmt_escape(e, sizeof(e), svc);
		fprintf(f, "service=\"%s\"", e);
		any = true;
	}
	if (ver) {
		metrics_fmt_escape(e, sizeof(e), ver);
		fprintf(f, ",version=\"%s\"", e);
	}
	if (extra)
		fprintf(f, "%s%s", any ? "," : "", extra);
	fputc('}', f);
}

void metrics_fmt_sample(FILE *f, const char *name, const char *svc, const char *ver,
			const char *extra, unsigned long long val)
{
	fputs(name, f);
	labels(f, svc, ver, extra);
	fprintf(f, " %llu\n", val);
}

void metrics_fmt_sample_f(FILE *f, const char *name, const char *svc, const char *ver,
			  const char *extra, double val)
{
	char num[32];

	/* The shortest of 15 or 17 digits that reads back as the same
	 * double: 0.25, not 0.25000000000000001. */
	snprintf(num, sizeof(num), "%.15g", val);
	if (strtod(num, NULL) != val)
		snprintf(num, sizeof(num), "%.17g", val);
	fputs(name, f);
	labels(f, svc, ver, extra);
	fprintf(f, " %s\n", num);
}

void metrics_fmt_hist(FILE *f, const struct metrics_fmt_hist *spec, const char *svc,
		      const char *ver, const struct hist *h, uint64_t sum)
{
	char le[48], name[128];
	uint64_t cum;

	snprintf(name, sizeof(name), "%s_bucket", spec->name);
	for (size_t i = 0; i < spec->nles; i++) {
		cum = 0;
		for (uint32_t b = 0; b + 1 < VS_HBUCKETS; b++)
			if (vs_hbucket_low(b + 1) * spec->scale <= spec->les[i])
				cum += h->b[b];
		/* %.10g: 1000000, not 1e+06, as client libraries write it. */
		snprintf(le, sizeof(le), "le=\"%.10g\"", spec->les[i]);
		metrics_fmt_sample(f, name, svc, ver, le, cum);
	}
	metrics_fmt_sample(f, name, svc, ver, "le=\"+Inf\"", hist_total(h));
	snprintf(name, sizeof(name), "%s_sum", spec->name);
	if (spec->scale == 1)
		metrics_fmt_sample(f, name, svc, ver, NULL, sum);
	else
		metrics_fmt_sample_f(f, name, svc, ver, NULL, sum * spec->scale);
	snprintf(name, sizeof(name), "%s_count", spec->name);
	metrics_fmt_sample(f, name, svc, ver, NULL, hist_total(h));
}
