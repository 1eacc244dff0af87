// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libmicrohttpd glue: limits, TLS, collect the body, hand the request to
 * api_handle(). */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "api.h"
#include "http.h"
#include "log.h"

#define HTTP_MAX_CONNECTIONS 64		/* more get 503 */
#define HTTP_HARD_CONNECTIONS 96	/* more are not accepted at all */
#define HTTP_TIMEOUT_S       10		/* idle per connection: no slowloris */
#define HTTP_MEMORY_LIMIT    (32 * 1024)	/* request line and headers */

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

static atomic_int nconn;

static const char *get_arg(void *cls, const char *name)
{
	return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct api_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

	resp = MHD_create_response_from_buffer(len, r->body ? r->body : (char *)"",
					       r->body ? MHD_RESPMEM_MUST_FREE :
							 MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				r->content_type ? r->content_type : "application/json");
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->unauthorized)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"vsteerd\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result busy(struct MHD_Connection *conn)
{
	static const char msg[] = "{\"error\": {\"code\": \"too_many_connections\", \"message\": "
				  "\"over 64 API connections are open; try again\"}}\n";
	struct api_resp r = { .status = 503, .body = strdup(msg) };

	return send_reply(conn, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	struct api_resp resp;
	struct api_req req;
	(void)version;

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Keep reading but stop storing past the limit, so the client
		 * gets a 413 rather than a reset. */
		if (!b->too_big && b->len + *upload_size <= API_MAX_BODY) {
			char *nb = realloc(b->buf, b->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + b->len, upload, *upload_size);
			b->buf = nb;
			b->len += *upload_size;
		} else {
			b->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (atomic_load(&nconn) > HTTP_MAX_CONNECTIONS)
		return busy(conn);
	req = (struct api_req){
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
		.method = method, .path = url, .body = b->buf,
		.body_len = b->too_big ? API_MAX_BODY + 1 : b->len,
		.arg = get_arg, .arg_cls = conn,
	};
	api_handle(cls, &req, &resp);
	return send_reply(conn, &resp);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;
	(void)cls, (void)conn, (void)toe;

	if (b) {
		free(b->buf);
		free(b);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls, (void)conn, (void)socket_context;

	atomic_fetch_add(&nconn, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	(void)cls;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_warn("http: %s", buf);
}

int http_start(struct api *a, const struct http_opts *o, struct MHD_Daemon **out,
	       struct vs_err *err)
{
	struct sockaddr_storage ss = {};
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_USE_ERROR_LOG;
	const struct vs_endpoint *ep = &o->ep;
	char a_str[EP_STRLEN];

	if (ep->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->addr, 16);
		flags |= MHD_USE_IPv6;
	}
	ep_format(ep, a_str, sizeof(a_str));
	if (o->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return vs_errf(err, -ENOTSUP, 500, "api_tls",
				       "this libmicrohttpd has no TLS support");
		flags |= MHD_USE_TLS;
	}
	*out = MHD_start_daemon(flags, ep->port, NULL, NULL, on_request, a,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, HTTP_HARD_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, o->tls_cert,
				MHD_OPTION_HTTPS_MEM_KEY, o->tls_key,
				MHD_OPTION_END);
	if (!*out)
		return vs_errf(err, -EADDRINUSE, 500, "api_listen",
			       "cannot serve the API on %s (address in use, not local, or a bad TLS certificate or key)",
			       a_str);
	return 0;
}

void http_stop(struct MHD_Daemon *d)
{
	if (d)
		MHD_stop_daemon(d);
}
