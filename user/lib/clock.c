// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "lib/clock.h"

int64_t clock_wall(void)
{
	const char *path = getenv("VSTEER_CLOCK_FILE");
	long long t;
	FILE *f;

	if (path && (f = fopen(path, "re"))) {
		int n = fscanf(f, "%lld", &t);

		fclose(f);
		if (n == 1)
			return t;
	}
	return time(NULL);
}

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int64_t clock_mono_s(void)
{
	return clock_mono_ms() / 1000;
}

void clock_rfc3339(int64_t secs, int ms, char buf[CLOCK_RFC3339_LEN])
{
	time_t t = secs;
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, CLOCK_RFC3339_LEN, "1970-01-01T00:00:00Z");
		return;
	}
	n = strftime(buf, CLOCK_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms >= 0)
		snprintf(buf + n, CLOCK_RFC3339_LEN - n, ".%03dZ", ms % 1000);
	else
		snprintf(buf + n, CLOCK_RFC3339_LEN - n, "Z");
}

int clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int ret;

	ret = -pthread_condattr_init(&ca);
	if (ret)
		return ret;
	ret = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!ret)
		ret = -pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return ret;
}

struct timespec clock_mono_timespec(int64_t ms)
{
	return (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };
}
