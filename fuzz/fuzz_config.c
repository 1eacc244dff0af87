// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the config file parser. Whatever it accepts must survive a
 * trip through the state file unchanged. */
#include <stdlib.h>
#include <string.h>
#include "codec/config.h"
#include "codec/state.h"
#include "codec/state_parse.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct model m, back;
	struct vs_err err = {};
	struct config cfg;
	char *a, *b;

	memset(&m, 0, sizeof(m));
	if (config_parse((const char *)data, size, "fuzz", &cfg, &m, &err))
		return 0;
	a = state_dump(&m);
	if (!a || state_parse(a, strlen(a), "fuzz", &back, &err))
		abort(); /* what we wrote, we must read */
	b = state_dump(&back);
	if (!b || strcmp(a, b))
		abort();
	free(a);
	free(b);
	return 0;
}
