// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * LD_PRELOAD shim for the fault tests: SIGKILL the process at a chosen
 * rename(), the moment a change of vsteerd's becomes its state file.
 *
 *   VSTEER_KILL_RENAME=state.json  rename()s onto a path ending so count (the
 *                                  target: the temp file's name is random)
 *   VSTEER_KILL_NTH=2              the one to die at (default 1)
 *   VSTEER_KILL_WHEN=after         die just after it (default: before)
 *
 * A timer or a signal from outside can only land near that moment; this
 * lands exactly on it, every run.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rename(const char *from, const char *to)
{
	static int (*real_rename)(const char *, const char *);
	static int seen;
	const char *suffix = getenv("VSTEER_KILL_RENAME"), *nth = getenv("VSTEER_KILL_NTH");
	const char *when = getenv("VSTEER_KILL_WHEN");
	size_t n = strlen(to), k = suffix ? strlen(suffix) : 0;
	bool hit = suffix && n >= k && !strcmp(to + n - k, suffix) &&
		   ++seen == (nth ? atoi(nth) : 1);
	bool after = when && !strcmp(when, "after");
	int ret;

	if (!real_rename)
		real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	if (hit && !after)
		raise(SIGKILL);
	ret = real_rename(from, to);
	if (hit)
		raise(SIGKILL);
	return ret;
}
