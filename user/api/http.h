/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_HTTP_H
#define VS_HTTP_H

#include "lib/err.h"
#include "core/addr.h"

struct MHD_Daemon;

struct api;

struct http_opts {
	struct vs_endpoint ep;
	const char *tls_cert; /* PEM text, or NULL for plain HTTP */
	const char *tls_key;
};

/* Serve the API from libmicrohttpd's own thread. */
int http_start(struct api *a, const struct http_opts *o, struct MHD_Daemon **out,
	       struct vs_err *err);
void http_stop(struct MHD_Daemon *d);

#endif
