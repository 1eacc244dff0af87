// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the URL router and everything api_handle() does before a
 * handler runs (framing, Host and Origin, token, content type, query
 * parameters, body size, JSON body), through api_check_head() and
 * api_check(): no socket, controller or kernel. Input: METHOD, PATH (as
 * sent, percent-encoded), QUERY (as sent: "a=1&b"), AUTHORIZATION, BODY,
 * VERSION ("HTTP/1.1"; empty: HTTP/1.0) and HEADERS ("Name: value" lines,
 * '\n' between them), separated by NULs (missing ones are empty). The API
 * listens on 127.0.0.1:9900, allows the host vsteer.example:9900 and the
 * origin https://dash.example, and has a token. Invariants: captures are
 * decoded segments, never with a '/'; the head checks and the full ones
 * agree; an error reply is a 4xx JSON error, and one to a head says to
 * close; nothing but GET (and HEAD of the dashboard's files, which are
 * then in the reply, with the page's headers) passes without the token
 * and a JSON content type; nothing with two lengths or a transfer coding passes; a foreign
 * Host or Origin passes only with the token; an encoded '/' is never a
 * separator. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <jansson.h>
#include "lib/hostport.h"
#include "api/origin.h"
#include "api/router.h"
#include "api/ui.h"

#define TOKEN	    "fuzz-token-0123456789"
#define MAX_HEADERS 32
#define NFIELDS	    7

static void check_router(const char *method, const char *path)
{
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN];
	const char *allow = NULL;
	int r;

	memset(caps, 0x55, sizeof(caps));
	r = api_route(method, path, caps, &allow);
	if (r == -1 /* -EPERM */ && (!allow || !*allow))
		abort();
	if (r >= 0) /* captures are NUL-terminated decoded segments */
		for (int i = 0; i < ROUTE_MAX_CAPS; i++)
			if (caps[i][0] != 0x55 && (!memchr(caps[i], '\0', ROUTE_CAP_LEN) ||
						   strchr(caps[i], '/') || !caps[i][0]))
				abort();
	if (r >= 0 && strcasestr(path, "%2f"))
		abort();
}

/* "Name: value\nName2: v" into pairs, in place. */
static size_t split_headers(char *s, struct api_arg *h)
{
	size_t n = 0;

	for (char *p = s, *next; *p && n < MAX_HEADERS; p = next) {
		char *colon;

		next = p + strcspn(p, "\n");
		if (*next)
			*next++ = '\0';
		colon = strchr(p, ':');
		if (!colon)
			continue;
		*colon++ = '\0';
		colon += strspn(colon, " ");
		h[n++] = (struct api_arg){ .name = p, .value = colon };
	}
	return n;
}

static const char *header(const struct api_arg *h, size_t n, const char *name, int *count)
{
	const char *v = NULL;

	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(h[i].name, name) && !(*count)++)
			v = h[i].value;
	return v;
}

/* A loose, independent reading of "one of this API's names": what passes
 * without the token must at least look like one. */
static bool looks_allowed(const char *v)
{
	static const char *const names[] = { "127.0.0.1", "localhost", ":", "vsteer.example",
					     "dash.example" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasestr(v, names[i]))
			return true;
	return false;
}

static void check_reply(const struct api_resp *resp)
{
	json_t *j = resp->body ? json_loads(resp->body, 0, NULL) : NULL;

	if (resp->status < 400 || resp->status > 499 || !j ||
	    !json_is_string(json_object_get(json_object_get(j, "error"), "code")))
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct hostport hosts[] = { { .host = "vsteer.example", .port = 9900 } };
	static const struct hostport origins[] = {
		{ .host = "dash.example", .port = 443, .https = true },
	};
	char *buf = malloc(size + 1), *field[NFIELDS] = { NULL }, *p;
	struct origin_policy pol = {
		.hosts = hosts, .nhosts = 1, .origins = origins, .norigins = 1
	};
	static const struct ui_asset files[] = { { "index.html", "text/html", "<html>", 6 },
						 { "app.js", "text/javascript", "x", 1 },
						 { 0 } };
	struct api a = { .c = NULL, .token = TOKEN, .origin = &pol, .ui = files };
	struct api_arg h[MAX_HEADERS + 1];
	struct api_resp head, resp;
	struct api_req req;
	const char *v, *ct;
	int r, rh, n, nct;
	bool token;
	size_t nh;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	for (int i = 0; i < NFIELDS; i++) {
		field[i] = p <= buf + size ? p : buf + size;
		if (p <= buf + size)
			p += strlen(p) + 1;
	}
	pol.ep.family = AF_INET;
	pol.ep.port = 9900;
	inet_pton(AF_INET, "127.0.0.1", pol.ep.addr);
	check_router(field[0], field[1]);
	nh = split_headers(field[6], h);
	if (*field[3])
		h[nh++] = (struct api_arg){ .name = "Authorization", .value = field[3] };
	req = (struct api_req){
		.method = field[0],
		.path = field[1],
		.query = *field[2] ? field[2] : NULL,
		.version = *field[5] ? field[5] : NULL,
		.headers = h,
		.nheaders = nh,
		.body = field[4],
		.body_len = strlen(field[4]),
	};
	rh = api_check_head(&a, &req, &head);
	r = api_check(&a, &req, &resp);
	if (rh) {
		check_reply(&head);
		if (!r || resp.status != head.status || !head.close)
			abort();
	}
	if (r) {
		check_reply(&resp);
	} else {
		v = header(h, nh, "Authorization", &n);
		token = n == 1 && !strcmp(v, "Bearer " TOKEN);
		ct = header(h, nh, "Content-Type", &nct);
		if (ui_path(req.path) && (strcmp(req.method, "GET") && strcmp(req.method, "HEAD")))
			abort();
		if (ui_path(req.path) && (!resp.file || resp.body || resp.headers != ui_headers))
			abort();
		if (strcmp(req.method, "GET") && !ui_path(req.path) &&
		    (!token || nct != 1 || !strcasestr(ct, "application/json")))
			abort();
		if (header(h, nh, "Transfer-Encoding", &n) || n)
			abort();
		header(h, nh, "Content-Length", &n);
		if (n > 1) {
			/* repeats pass only when they agree */
			const char *first = NULL;

			for (size_t i = 0; i < nh; i++)
				if (!strcasecmp(h[i].name, "Content-Length")) {
					if (first && strtoull(first, NULL, 10) !=
							     strtoull(h[i].value, NULL, 10))
						abort();
					first = h[i].value;
				}
		}
		if (!token && (((v = header(h, nh, "Host", &n)) && !looks_allowed(v)) ||
			       ((v = header(h, nh, "Origin", &n)) && !looks_allowed(v))))
			abort();
	}
	free(head.body);
	free(resp.body);
	free(buf);
	return 0;
}
