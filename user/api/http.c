// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libmicrohttpd glue: limits, TLS, the connection table (conns.c), the
 * request as sent (target, headers), its body, and api_check_head() and
 * api_handle() to answer it. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "codec/config.h"
#include "ctl/publish.h"
#include "api/conns.h"
#include "api/http.h"
#include "api/router.h"
#include "api/waiters.h"

/* libmicrohttpd's own limit: past it, it does not accept. conns.c keeps
 * the table at CONNS_MAX by dropping connections that wait for a request,
 * so this is reached only when that many have requests under way. */
#define HTTP_HARD_CONNECTIONS 96
#define HTTP_TIMEOUT_S	      10 /* idle per connection: a stalled body */
/* A request's head must fit here, with what libmicrohttpd keeps about it.
 * Twice the head router.c takes (API_MAX_HEAD), so that one over that is
 * refused with our JSON; only one over this gets libmicrohttpd's own 414
 * or 431 page, before any callback sees it. */
#define HTTP_MEMORY_LIMIT (64 * 1024)
#define TLS_MAX_SIZE	  (64 * 1024) /* a PEM certificate chain or key */
#define TLS_MSG_LEN	  256

/* One request: the target as sent, and the body collected. */
struct request {
	char *path, *query; /* query NULL: none */
	char *buf;
	size_t len;
	bool too_big;
	bool head_seen;	    /* the access handler has been called */
	int64_t wait_until; /* a follower's deadline (clock_mono_ms()), once set */
};

static struct conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		*socket_context = conns_open(fd ? fd->connect_fd : -1,
					     addr ? addr->client_addr : NULL, clock_mono_ms());
		/* Without deadlines it could be held for ever: refuse it
		 * rather. */
		if (!*socket_context && fd)
			shutdown(fd->connect_fd, SHUT_RDWR);
	} else {
		conns_close(*socket_context);
		*socket_context = NULL;
	}
}

/* The request line is in; libmicrohttpd is about to decode the target.
 * Keep it as sent: the router splits the path before decoding it, so an
 * encoded '/' is no separator, and parses the query itself. Then cut the
 * query off in libmicrohttpd's own buffer (its NUL-terminated copy of the
 * line, which it parses right after this returns): libmicrohttpd 0.9.75
 * stores every query parameter in the connection's memory pool, and one
 * with too many for the pool gets no answer at all, until the timeout. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *r = calloc(1, sizeof(*r));
	char *q;
	(void)cls, (void)conn;

	if (!uri) /* a request line without a target */
		uri = "";
	q = strchr(uri, '?');
	if (!r)
		return NULL;
	r->path = strndup(uri, q ? (size_t)(q - uri) : strlen(uri));
	if (q) {
		r->query = strdup(q + 1);
		q[1] = '\0';
	}
	if (!r->path || (q && !r->query)) {
		free(r->path);
		free(r->query);
		free(r);
		return NULL;
	}
	return r;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct api_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

	/* A file of the dashboard's lives as long as the binary. */
	if (r->file && !r->body)
		resp = MHD_create_response_from_buffer(r->file_len, (void *)r->file,
						       MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(len, r->body ? r->body : (char *)"",
						       r->body ? MHD_RESPMEM_MUST_FREE :
								 MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	for (const struct api_arg *h = r->headers; h && h->name; h++)
		MHD_add_response_header(resp, h->name, h->value);
	if (r->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	MHD_add_response_header(resp, "Content-Type",
				r->content_type ? r->content_type : "application/json");
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->unauthorized)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"vsteerd\"");
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct headers {
	struct api_arg *v;
	size_t n, cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct headers *h = cls;
	(void)kind;

	if (h->n < h->cap)
		h->v[h->n++] = (struct api_arg){ .name = key, .value = value ? value : "" };
	return MHD_YES;
}

/* The access handler, called when the request head is in (the checks
 * that need no body answer then, before a body is read), for each piece
 * of the body, and once more at its end. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct request *r = *con_cls;
	struct headers h = {};
	struct api_resp resp;
	struct api_req req;
	char msg[200];
	int refused, ret;
	(void)url;

	if (!r)
		return MHD_NO; /* on_uri() ran out of memory */
	/* The API listens from the start of a start, so that a taken address
	 * stops vsteerd before it changes anything; it serves once the
	 * controller is there. */
	if (!__atomic_load_n(&((struct api *)cls)->c, __ATOMIC_ACQUIRE)) {
		api_refuse(&resp, 503, "starting", "vsteerd is starting; ask again in a moment");
		return send_reply(conn, &resp);
	}
	if (*upload_size) {
		/* Keep reading but stop storing past the limit, so the client
		 * gets a 413 rather than a reset. */
		if (!r->too_big && r->len + *upload_size <= API_MAX_BODY) {
			char *nb = realloc(r->buf, r->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + r->len, upload, *upload_size);
			r->buf = nb;
			r->len += *upload_size;
		} else {
			r->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	h.cap = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
	if (h.cap && !(h.v = calloc(h.cap, sizeof(*h.v))))
		return MHD_NO;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &h);
	req = (struct api_req){
		.method = method,
		.version = version,
		.path = r->path,
		.query = r->query,
		.headers = h.v,
		.nheaders = h.n,
		.body = r->buf,
		.body_len = r->too_big ? API_MAX_BODY + 1 : r->len,
	};
	if (!r->head_seen) {
		r->head_seen = true;
		refused = conns_head(conn_of(conn), msg, sizeof(msg));
		if (refused)
			api_refuse(&resp, refused, "too_many_connections", msg);
		if (!refused && !api_check_head(cls, &req, &resp)) {
			free(h.v);
			return MHD_YES; /* on to the body */
		}
	} else {
		/* A follower with nothing to read yet is suspended, and comes
		 * back here when an event or its deadline does; an event that
		 * came meanwhile means handling it again at once (bounded:
		 * each time takes the events up to then). */
		for (int tries = 0;; tries++) {
			req.wait_deadline = r->wait_until;
			api_handle(cls, &req, &resp);
			if (!resp.wait_until || tries == 3)
				break;
			r->wait_until = resp.wait_until;
			ret = waiters_add(conn, resp.wait_seen, resp.wait_until);
			if (ret == -ENOSPC)
				break;
			free(resp.body);
			if (!ret) {
				conns_hold(conn_of(conn), r->wait_until);
				free(h.v);
				return MHD_YES;
			}
		}
	}
	free(h.v);
	return send_reply(conn, &resp);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;
	(void)cls, (void)toe;

	if (r) {
		if (r->wait_until)
			waiters_answered();
		free(r->path);
		free(r->query);
		free(r->buf);
		free(r);
		*con_cls = NULL;
	}
	/* A reply went out: the next request on this connection gets
	 * deadlines of its own. */
	conns_replied(conn_of(conn), clock_mono_ms());
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	(void)cls;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_warn("http: %s", buf);
}

/* What libmicrohttpd says while it tries a certificate and key: the first
 * line, for the error, rather than a log line each. */
static void on_tls_log(void *cls, const char *fmt, va_list ap)
{
	char *msg = cls;
	size_t n;

	if (msg[0])
		return;
	vsnprintf(msg, TLS_MSG_LEN, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = '\0';
}

static enum MHD_Result on_nothing(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)cls, (void)conn, (void)url, (void)method, (void)version, (void)upload;
	(void)upload_size, (void)con_cls;
	return MHD_NO;
}

int http_check_tls(const struct http_opts *o, struct vs_err *err)
{
	char msg[TLS_MSG_LEN] = "";
	struct MHD_Daemon *d;

	if (!o->tls_cert)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return vs_errf(err, -ENOTSUP, 500, "api_tls",
			       "this libmicrohttpd has no TLS support");
	/* A daemon with no socket and no thread loads them as the API's
	 * will: GnuTLS parses both and checks that the key is the
	 * certificate's. */
	d = MHD_start_daemon(MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, on_nothing, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_tls_log, msg,
			     MHD_OPTION_HTTPS_MEM_CERT, o->tls_cert, MHD_OPTION_HTTPS_MEM_KEY,
			     o->tls_key, MHD_OPTION_END);
	if (!d)
		return vs_errf(
			err, -EINVAL, 400, "api_tls",
			"configService.tlsCert %s and tlsKey %s are not a PEM certificate and its key: %s",
			o->cert_path, o->key_path, msg[0] ? msg : "libmicrohttpd refused them");
	MHD_stop_daemon(d);
	return 0;
}

/* Bound and listening here, not by libmicrohttpd, so that a taken address
 * is refused with the kernel's reason before vsteerd changes anything. */
static int listen_on(const struct vs_endpoint *ep, struct vs_err *err)
{
	struct sockaddr_storage ss;
	char a[EP_STRLEN];
	socklen_t len;
	int fd, ret, one = 1;

	len = ep_to_sockaddr(ep, &ss);
	ep_format(ep, a, sizeof(a));
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* As libmicrohttpd's own: a restart need not wait out TIME_WAIT,
	 * and [::] is IPv6 only. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ep->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, SOMAXCONN))
		goto close_fd;
	return fd;

close_fd:
	ret = -errno;
	close(fd);
	errno = -ret;
fail:
	return vs_errf(err, -errno, 500, "api_listen",
		       "cannot serve the API on %s (configService): %s", a, strerror(errno));
}

int http_start(struct api *a, const struct http_opts *o, struct MHD_Daemon **out,
	       struct vs_err *err)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			     MHD_ALLOW_SUSPEND_RESUME;
	char a_str[EP_STRLEN];
	int fd, ret;

	ret = http_check_tls(o, err);
	if (ret)
		return ret;
	if (o->tls_cert)
		flags |= MHD_USE_TLS;
	fd = listen_on(&o->ep, err);
	if (fd < 0)
		return fd;
	ret = conns_start();
	if (ret) {
		close(fd);
		return vs_errf(err, ret, 500, "internal",
			       "cannot start the API's connection watchdog: %s", strerror(-ret));
	}
	ret = waiters_start();
	if (ret) {
		conns_stop();
		close(fd);
		return vs_errf(err, ret, 500, "internal", "cannot start the events' waiters: %s",
			       strerror(-ret));
	}
	/* From here the socket is libmicrohttpd's to close. */
	*out = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER,
				on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, HTTP_HARD_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
				o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				o->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key, MHD_OPTION_END);
	if (!*out) {
		waiters_stop();
		conns_stop();
		ep_format(&o->ep, a_str, sizeof(a_str));
		return vs_errf(
			err, -EIO, 500, "api_listen",
			"cannot serve the API on %s: libmicrohttpd did not start (its log says why)",
			a_str);
	}
	return 0;
}

int http_serve(struct api *a, struct ctl *c, struct vs_err *err)
{
	/* Followers of ?wait= learn the newest event before any of them can
	 * ask: requests are answered only once a->c is set. Served even if
	 * that fails: the rest of the API does not need it. */
	int ret = publish_subscribe(c, waiters_published, NULL);

	__atomic_store_n(&a->c, c, __ATOMIC_RELEASE);
	if (ret)
		return vs_errf(err, ret, 500, "internal",
			       "cannot follow events (?wait= answers at once): %s", strerror(-ret));
	return 0;
}

void http_stop(struct MHD_Daemon *d)
{
	waiters_stop(); /* libmicrohttpd stops only with none suspended */
	conns_stop();
	if (d)
		MHD_stop_daemon(d);
}

static int read_pem(const char *path, const char **out, struct vs_err *err)
{
	size_t len;
	int ret;

	ret = file_read(path, 0, TLS_MAX_SIZE, (char **)out, &len);
	if (ret == -EFBIG)
		return vs_errf(err, ret, 500, "api_tls", "%s: over %d KiB", path,
			       TLS_MAX_SIZE >> 10);
	if (ret)
		return vs_errf(err, ret, 500, "api_tls", "%s: %s", path, file_strerror(ret));
	return 0;
}

int http_security(const struct config *cfg, char token[AUTH_TOKEN_MAX + 1], struct http_opts *ho,
		  struct vs_err *err)
{
	char a[EP_STRLEN];
	int ret;

	ho->ep = cfg->api;
	if (cfg->token_file[0] && (ret = auth_token_load(cfg->token_file, token, err)))
		return ret;
	if (!cfg->token_file[0] && !ep_is_loopback(&cfg->api)) {
		ep_format(&cfg->api, a, sizeof(a));
		return vs_errf(
			err, -EPERM, 400, "api_token",
			"the API would listen on %s, beyond loopback, without a token: set configService.tokenFile",
			a);
	}
	if (cfg->tls_cert[0]) {
		ho->cert_path = cfg->tls_cert;
		ho->key_path = cfg->tls_key;
		ret = read_pem(cfg->tls_cert, &ho->tls_cert, err);
		if (!ret)
			ret = read_pem(cfg->tls_key, &ho->tls_key, err);
		if (ret)
			return ret;
	}
	return 0;
}
