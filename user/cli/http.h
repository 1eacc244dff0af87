/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl's side of the REST API over libcurl: the address, the bearer
 * token, TLS, and every reply decoded into JSON or a sentence. */
#ifndef VS_CLI_HTTP_H
#define VS_CLI_HTTP_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CLI_API_DEFAULT "http://127.0.0.1:9900"
/* The largest reply taken: a service's view with a mirror report is tens
 * of KiB; anything near this is not vsteerd. */
#define CLI_REPLY_MAX (4 * 1024 * 1024)
/* The longest a request may take, beyond the wait it asks the API for. */
#define CLI_REQUEST_TIMEOUT 15

struct cli_api {
	char url[512];	    /* without a trailing / */
	char auth[512];	    /* "Authorization: Bearer ...", or empty */
	const char *cacert; /* or NULL */
	char err[1024];	    /* why the last call failed */
	int status;	    /* the last reply's HTTP status, 0 if none */
	char code[64];	    /* the last error reply's code, or empty */
	/* A GET that finds no vsteerd is tried again for up to retry_ms
	 * (0: not), but not past give_up_at (clock_mono_ms(); 0: no limit):
	 * a follower outlives a restart of vsteerd (its watchdog's, say). */
	int64_t retry_ms, give_up_at;
	void *curl;
};

/* url: NULL for $VSTEER_API or the default; token_file: NULL for
 * $VSTEER_TOKEN_FILE or none. 0 or -errno with api->err set. */
int cli_api_init(struct cli_api *api, const char *url, const char *token_file, const char *cacert);
void cli_api_free(struct cli_api *api);
/* METHOD path (already escaped) with body (may be NULL; not stolen), the
 * request taking up to wait + CLI_REQUEST_TIMEOUT seconds: 0 and the
 * decoded JSON reply in *reply for a 2xx, else -errno and api->err: the
 * API's "code: message" for an error reply (-EPROTO), or what went wrong
 * on the way (-ECONNREFUSED: no answer; -EBADMSG: not JSON; -EFBIG). A
 * GET is tried again for api->retry_ms while vsteerd does not answer or
 * says it is starting. */
int cli_api_call(struct cli_api *api, const char *method, const char *path, json_t *body, int wait,
		 json_t **reply);
/* A path segment percent-encoded into out: 0 or -ENAMETOOLONG. */
int cli_api_escape(const char *s, char *out, size_t size);

#endif
