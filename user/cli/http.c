// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/http.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/str.h"

#define TOKEN_MAX	   4096
#define CLI_RETRY_EVERY_MS 500

struct reply_buf {
	char *data;
	size_t len;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct reply_buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	/* a reply larger than any of vsteerd's is stopped, not buffered */
	if (b->len + n > CLI_REPLY_MAX) {
		b->too_big = true;
		return 0;
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int read_token(struct cli_api *api, const char *path)
{
	char *tok;
	size_t len;
	int ret;

	ret = file_read(path, 0, TOKEN_MAX, &tok, &len);
	if (ret < 0) {
		snprintf(api->err, sizeof(api->err), "token file %s: %s", path, file_strerror(ret));
		return ret;
	}
	while (len && isspace((unsigned char)tok[len - 1]))
		tok[--len] = '\0';
	if (!len || !str_is_printable(tok, len, false) || strchr(tok, ' ')) {
		snprintf(api->err, sizeof(api->err), "token file %s: %s", path,
			 len ? "the token is not one line of printable characters" : "empty");
		free(tok);
		return -EINVAL;
	}
	ret = 0;
	if ((size_t)snprintf(api->auth, sizeof(api->auth), "Authorization: Bearer %s", tok) >=
	    sizeof(api->auth)) {
		snprintf(api->err, sizeof(api->err), "token file %s: the token is too long", path);
		explicit_bzero(api->auth, sizeof(api->auth));
		ret = -ENAMETOOLONG;
	}
	explicit_bzero(tok, len);
	free(tok);
	return ret;
}

int cli_api_init(struct cli_api *api, const char *url, const char *token_file, const char *cacert)
{
	size_t n;
	int ret;

	memset(api, 0, sizeof(*api));
	if (!url)
		url = getenv("VSTEER_API");
	if (!url || !*url)
		url = CLI_API_DEFAULT;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(api->err, sizeof(api->err),
			 "--api '%.200s': not http://HOST:PORT or https://...", url);
		return -EINVAL;
	}
	if (str_copy(api->url, sizeof(api->url), url) < 0 ||
	    !str_is_printable(url, strlen(url), false)) {
		snprintf(api->err, sizeof(api->err), "--api '%.200s': not a URL", url);
		return -EINVAL;
	}
	n = strlen(api->url);
	while (n && api->url[n - 1] == '/')
		api->url[--n] = '\0';
	if (!token_file)
		token_file = getenv("VSTEER_TOKEN_FILE");
	if (token_file && *token_file) {
		ret = read_token(api, token_file);
		if (ret < 0)
			return ret;
	}
	api->cacert = cacert;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(api->err, sizeof(api->err), "libcurl: cannot start");
		return -ENOMEM;
	}
	api->curl = curl_easy_init();
	if (!api->curl) {
		snprintf(api->err, sizeof(api->err), "libcurl: cannot start");
		return -ENOMEM;
	}
	return 0;
}

void cli_api_free(struct cli_api *api)
{
	if (api->curl)
		curl_easy_cleanup(api->curl);
	api->curl = NULL;
	explicit_bzero(api->auth, sizeof(api->auth));
	curl_global_cleanup();
}

int cli_api_escape(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = *s;

		if (isalnum(c) || strchr("-._~", c)) {
			if (o + 1 >= size)
				return -ENAMETOOLONG;
			out[o++] = c;
		} else {
			if (o + 3 >= size)
				return -ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= size)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

/* What a reply that is not 2xx says: the API's code and message, or the
 * start of what came (libmicrohttpd's own refusals are HTML). */
static void error_reply(struct cli_api *api, const char *method, const char *path,
			const struct reply_buf *b)
{
	json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char a[64], m[800];

	if (code && msg) {
		str_copy(api->code, sizeof(api->code), str_printable(a, sizeof(a), code));
		snprintf(api->err, sizeof(api->err), "%s: %s", api->code,
			 str_printable(m, sizeof(m), msg));
	} else {
		snprintf(api->err, sizeof(api->err),
			 "%s %s: HTTP %d from %s, which is not vsteerd's API "
			 "(its errors are JSON; is --api right?): %s",
			 method, path, api->status, api->url,
			 b->data ? str_printable(m, 120, b->data) : "no body");
	}
	json_decref(j);
}

static int call_once(struct cli_api *api, const char *method, const char *path, json_t *body,
		     int wait, json_t **reply, bool *again)
{
	struct reply_buf b = { 0 };
	struct curl_slist *hdrs = NULL;
	char url[1024], *data = NULL;
	json_error_t jerr;
	CURL *c = api->curl;
	CURLcode cc;
	long status = 0;
	int ret;

	*again = false;
	api->status = 0;
	api->code[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", api->url, path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(wait + CLI_REQUEST_TIMEOUT));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vsteerctl");
	if (api->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, api->cacert);
	/* every change says it is JSON, with a body or without: vsteerd
	 * refuses what a web page could make a browser send */
	if (strcmp(method, "GET"))
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (api->auth[0])
		hdrs = curl_slist_append(hdrs, api->auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		data = json_dumps(body, JSON_COMPACT);
		if (!data) {
			ret = -ENOMEM;
			snprintf(api->err, sizeof(api->err), "out of memory");
			goto free_hdrs;
		}
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	api->status = (int)status;
	if (b.too_big) {
		ret = -EFBIG;
		snprintf(api->err, sizeof(api->err),
			 "%s %s: the reply is over %d MiB: not vsteerd's", method, path,
			 CLI_REPLY_MAX >> 20);
		goto free_data;
	}
	if (cc != CURLE_OK) {
		/* vsteerd not there, gone mid-reply or stuck: what a restart
		 * looks like; a certificate or a URL is not mended by waiting */
		*again = cc == CURLE_COULDNT_CONNECT || cc == CURLE_RECV_ERROR ||
			 cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
			 cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_PARTIAL_FILE;
		ret = -ECONNREFUSED;
		snprintf(api->err, sizeof(api->err), "%s %s: no answer from vsteerd at %s: %s%s",
			 method, path, api->url, curl_easy_strerror(cc),
			 cc == CURLE_COULDNT_CONNECT ?
				 " (is it running? --api or VSTEER_API says where)" :
				 "");
		goto free_data;
	}
	if (status < 200 || status > 299) {
		ret = -EPROTO;
		error_reply(api, method, path, &b);
		/* a vsteerd adopting its pins answers this until it has */
		*again = status == 503 && !strcmp(api->code, "starting");
		goto free_data;
	}
	*reply = b.data ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
	if (!*reply || !json_is_object(*reply)) {
		char m[120];

		json_decref(*reply);
		*reply = NULL;
		ret = -EBADMSG;
		snprintf(api->err, sizeof(api->err),
			 "%s %s: the reply from %s is not a JSON object: %s", method, path,
			 api->url, b.data ? str_printable(m, sizeof(m), b.data) : "empty");
		goto free_data;
	}
	ret = 0;
free_data:
	free(data);
free_hdrs:
	curl_slist_free_all(hdrs);
	free(b.data);
	return ret;
}

int cli_api_call(struct cli_api *api, const char *method, const char *path, json_t *body, int wait,
		 json_t **reply)
{
	int64_t start = clock_mono_ms(), now;
	bool again = false, said = false;
	int ret;

	for (;;) {
		ret = call_once(api, method, path, body, wait, reply, &again);
		if (!ret || !again || strcmp(method, "GET") || !api->retry_ms)
			break;
		now = clock_mono_ms();
		if (now - start >= api->retry_ms || (api->give_up_at && now >= api->give_up_at))
			break;
		if (!said)
			fprintf(stderr, "vsteerctl: %s; trying again for up to %llds\n", api->err,
				(long long)(api->retry_ms / 1000));
		said = true;
		/* a connection refused comes back at once: not a busy loop */
		usleep(CLI_RETRY_EVERY_MS * 1000);
	}
	if (said && !ret)
		fprintf(stderr, "vsteerctl: vsteerd at %s answers again\n", api->url);
	return ret;
}
