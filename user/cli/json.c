// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/json.h"

const char *cli_jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : dflt;
}

bool cli_jhas_num(const json_t *o, const char *k, double *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return isfinite(*v);
}

double cli_jnum(const json_t *o, const char *k, double dflt)
{
	double v;

	return cli_jhas_num(o, k, &v) ? v : dflt;
}

long long cli_jint(const json_t *o, const char *k, long long dflt)
{
	double v;

	if (!cli_jhas_num(o, k, &v))
		return dflt;
	/* a reply's number may be anything, and a cast of one out of range
	 * is undefined (fuzz_cli found a step of 3593225678 as an int) */
	if (v >= CLI_JINT_MAX)
		return CLI_JINT_MAX;
	if (v <= -CLI_JINT_MAX)
		return -CLI_JINT_MAX;
	return (long long)v;
}

json_t *cli_jarr(const json_t *o, const char *k)
{
	json_t *j = json_object_get(o, k);

	return json_is_array(j) ? j : NULL;
}

json_t *cli_jobj(const json_t *o, const char *k)
{
	json_t *j = json_object_get(o, k);

	return json_is_object(j) ? j : NULL;
}

const char *cli_jfmt_num(double v, char *buf, size_t size)
{
	char *p;

	if (!isfinite(v) || fabs(v) > 1e15) {
		snprintf(buf, size, "?");
		return buf;
	}
	snprintf(buf, size, "%.2f", v);
	/* 25.00 -> 25, 12.50 -> 12.5 */
	p = strchr(buf, '.');
	if (p) {
		char *end = buf + strlen(buf) - 1;

		while (end > p && *end == '0')
			*end-- = '\0';
		if (end == p)
			*end = '\0';
	}
	return buf;
}
