// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the URL router and everything api_handle() does before a
 * handler runs (token, body size, query parameters, JSON body), through
 * api_check(): no socket, controller or kernel. Input: METHOD, PATH,
 * QUERY ("a=1&b"), AUTHORIZATION and BODY, separated by NULs (missing
 * ones are empty). Invariants: captures come from the path; an error
 * reply is a 4xx JSON error; nothing but GET passes without the token. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "api/router.h"

#define TOKEN	 "fuzz-token-0123456789"
#define MAX_ARGS 16

static void check_router(const char *method, const char *path)
{
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	const char *allow = NULL;
	int r;

	memset(caps, 0x55, sizeof(caps));
	r = api_route(method, path, caps, &allow);
	if (r == -1 /* -EPERM */ && (!allow || !*allow))
		abort();
	if (r >= 0) /* captures are NUL-terminated and from the path */
		for (int i = 0; i < ROUTE_MAX_CAPS; i++)
			if (caps[i][0] != 0x55 &&
			    (!memchr(caps[i], '\0', ROUTE_CAP_LEN) || !strstr(path, caps[i])))
				abort();
}

/* "a=1&b&c=" into name/value pairs, in place. */
static size_t split_query(char *q, struct api_arg *args)
{
	size_t n = 0;

	for (char *p = q, *next; *p && n < MAX_ARGS; p = next) {
		char *eq;

		next = p + strcspn(p, "&");
		if (*next)
			*next++ = '\0';
		eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		args[n++] = (struct api_arg){ .name = p, .value = eq };
	}
	return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = malloc(size + 1), *field[5] = { NULL }, *p;
	struct api a = { .c = NULL, .token = TOKEN };
	struct api_arg args[MAX_ARGS];
	struct api_resp resp;
	struct api_req req;
	json_t *j;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	for (int i = 0; i < 5; i++) {
		field[i] = p <= buf + size ? p : buf + size;
		if (p <= buf + size)
			p += strlen(p) + 1;
	}
	check_router(field[0], field[1]);
	req = (struct api_req){
		.method = field[0],
		.path = field[1],
		.authorization = *field[3] ? field[3] : NULL,
		.body = field[4],
		.body_len = strlen(field[4]),
		.args = args,
		.nargs = split_query(field[2], args),
	};
	r = api_check(&a, &req, &resp);
	if (r == 0) {
		if (strcmp(req.method, "GET") &&
		    (!req.authorization || strcmp(req.authorization, "Bearer " TOKEN)))
			abort();
	} else {
		j = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
		if (resp.status < 400 || resp.status > 499 || !j ||
		    !json_is_string(json_object_get(json_object_get(j, "error"), "code")))
			abort();
		json_decref(j);
	}
	free(resp.body);
	free(buf);
	return 0;
}
