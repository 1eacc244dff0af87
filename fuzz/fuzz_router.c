// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the URL router. Input: METHOD, a NUL, then the path. */
#include <stdlib.h>
#include <string.h>
#include "api.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	const char *allow = NULL, *method, *path;
	char *buf = malloc(size + 2);
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	method = buf;
	path = buf + strlen(buf) + (strlen(buf) < size);
	memset(caps, 0x55, sizeof(caps));
	r = api_route(method, path, caps, &allow);
	if (r == -1 /* -EPERM */ && (!allow || !*allow))
		abort();
	if (r >= 0)	/* captures are NUL-terminated and from the path */
		for (int i = 0; i < ROUTE_MAX_CAPS; i++)
			if (caps[i][0] != 0x55 && (!memchr(caps[i], '\0', ROUTE_CAP_LEN) ||
						    !strstr(path, caps[i])))
				abort();
	free(buf);
	return 0;
}
