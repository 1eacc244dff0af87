/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_HTTP_H
#define VS_HTTP_H

#include "lib/err.h"
#include "core/addr.h"
#include "api/auth.h"

struct config;

struct MHD_Daemon;

struct api;

struct http_opts {
	struct vs_endpoint ep;
	const char *tls_cert; /* PEM text, or NULL for plain HTTP */
	const char *tls_key;
	const char *cert_path; /* where they came from, for errors */
	const char *key_path;
};

/* Whether libmicrohttpd takes o's certificate and key (parsed, and the key
 * the certificate's), with no socket opened: 0, or an error naming both
 * files. 0 without TLS. */
int http_check_tls(const struct http_opts *o, struct vs_err *err);
/* Serve the API from libmicrohttpd's own thread: o's address bound (an
 * error with the kernel's reason if it is taken), TLS checked first. Until
 * http_serve() every request is answered 503 "starting", so the API can be bound before vsteerd changes anything
 * and serve once the controller is there. */
int http_start(struct api *a, const struct http_opts *o, struct MHD_Daemon **out,
	       struct vs_err *err);
/* Serve requests with controller c from now on (until then: 503); an
 * error if GET /v1/events?wait= cannot wait (the rest is served). */
int http_serve(struct api *a, struct ctl *c, struct vs_err *err);
void http_stop(struct MHD_Daemon *d);
/* The API's access rules from cfg: the token (required off loopback)
 * read into token, the TLS certificate and key read into o (freed by the
 * caller), o's address. */
int http_security(const struct config *cfg, char token[AUTH_TOKEN_MAX + 1], struct http_opts *o,
		  struct vs_err *err);

#endif
