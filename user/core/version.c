// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "core/version.h"

bool version_valid(const char *v)
{
	int parts = 0, digits = 0;

	if (!*v || strlen(v) >= VERSION_MAX_LEN)
		return false;
	for (;; v++) {
		if (*v >= '0' && *v <= '9') {
			if (++digits > 9)
				return false;
		} else if (*v == '.' || *v == '\0') {
			if (!digits || ++parts > 8)
				return false;
			if (*v == '\0')
				return true;
			digits = 0;
		} else {
			return false;
		}
	}
}

static long next_part(const char **p)
{
	char *end;
	long n;

	if (!**p)
		return 0;
	n = strtol(*p, &end, 10);
	/* Always move on, even over what is not a number: compared to a
	 * string that never went through version_valid(), this must end
	 * (the fuzzer found a loop here, reached by PUT .../weights). */
	if (end == *p)
		end++;
	*p = *end == '.' ? end + 1 : end;
	return n;
}

int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		long x = next_part(&a), y = next_part(&b);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}
