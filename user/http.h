/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_HTTP_H
#define VS_HTTP_H

#include "addr.h"
#include "ctl.h"

struct MHD_Daemon;

/* Serve the API on ep from libmicrohttpd's own thread. */
int http_start(struct ctl *c, const struct vs_endpoint *ep, struct MHD_Daemon **out,
	       struct vs_err *err);
void http_stop(struct MHD_Daemon *d);

#endif
