// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libmicrohttpd glue: limits, TLS, the request deadline, collect the body
 * and the query, hand the request to api_handle(). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <microhttpd.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "api/http.h"
#include "api/router.h"

#define HTTP_MAX_CONNECTIONS  64	  /* more get 503 */
#define HTTP_HARD_CONNECTIONS 96	  /* more are not accepted at all */
#define HTTP_TIMEOUT_S	      10	  /* idle per connection */
#define HTTP_MEMORY_LIMIT     (32 * 1024) /* request line and headers */
/* libmicrohttpd's timeout is for idleness only: a client sending a byte
 * every few seconds would hold its connection for ever, and 64 such
 * clients lock everyone else out. So every request also has a deadline:
 * this long from the connection's start (or from the previous reply on
 * a kept-alive connection) to its reply sent. */
#define HTTP_DEADLINE_S 30
#define HTTP_WATCH_MS	500 /* how often the deadline is checked */

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

/* An open API connection, as the deadline sees it. */
struct conn {
	struct conn *prev, *next;
	int fd;
	int64_t since_ms; /* connection start, or its last reply sent (clock_mono_ms) */
	bool cut;	  /* shut down for missing the deadline */
};

/* The open connections: libmicrohttpd's thread adds and removes them and
 * restarts their clocks, the watchdog thread cuts the late ones. File
 * scope, as there is one API server per process. libmicrohttpd reports a
 * connection closed before it closes the socket, and the report waits for
 * the lock, so the watchdog never shuts down an fd that was reused. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn head; /* list sentinel */
	int n;
	bool stop;
	bool running;
	pthread_t thread;
} conns = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.head = { .prev = &conns.head, .next = &conns.head },
};

static void *watchdog(void *arg)
{
	struct timespec until;
	int64_t now;
	int cut;
	(void)arg;

	pthread_mutex_lock(&conns.lock);
	while (!conns.stop) {
		now = clock_mono_ms();
		cut = 0;
		for (struct conn *c = conns.head.next; c != &conns.head; c = c->next) {
			if (c->cut || now - c->since_ms < HTTP_DEADLINE_S * 1000L)
				continue;
			/* libmicrohttpd then reads EOF and closes it itself:
			 * closing the fd here would pull it from under it. */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			cut++;
		}
		if (cut) {
			pthread_mutex_unlock(&conns.lock);
			pr_warn("http: closed %d API connection%s that took over %d s for a request\n",
				cut, cut == 1 ? "" : "s", HTTP_DEADLINE_S);
			pthread_mutex_lock(&conns.lock);
		}
		/* The condition variable waits on CLOCK_MONOTONIC, the clock
		 * clock_mono_ms() reads. */
		now += HTTP_WATCH_MS;
		until = (struct timespec){ .tv_sec = now / 1000, .tv_nsec = now % 1000 * 1000000L };
		if (!conns.stop)
			pthread_cond_timedwait(&conns.wake, &conns.lock, &until);
	}
	pthread_mutex_unlock(&conns.lock);
	return NULL;
}

static int watchdog_start(void)
{
	pthread_condattr_t ca;
	int ret;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = -pthread_cond_init(&conns.wake, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		return ret;
	conns.stop = false;
	ret = -pthread_create(&conns.thread, NULL, watchdog, NULL);
	if (ret) {
		pthread_cond_destroy(&conns.wake);
		return ret;
	}
	conns.running = true;
	return 0;
}

static void watchdog_stop(void)
{
	if (!conns.running)
		return;
	pthread_mutex_lock(&conns.lock);
	conns.stop = true;
	pthread_cond_signal(&conns.wake);
	pthread_mutex_unlock(&conns.lock);
	pthread_join(conns.thread, NULL);
	pthread_cond_destroy(&conns.wake);
	conns.running = false;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct conn *c = *socket_context;
	(void)cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		c = calloc(1, sizeof(*c));
		if (!c) {
			/* Without a deadline it could be held for ever:
			 * refuse it rather. */
			if (ci)
				shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		c->fd = ci ? ci->connect_fd : -1;
		c->cut = c->fd < 0;
		c->since_ms = clock_mono_ms();
		pthread_mutex_lock(&conns.lock);
		c->prev = conns.head.prev;
		c->next = &conns.head;
		c->prev->next = c->next->prev = c;
		conns.n++;
		pthread_mutex_unlock(&conns.lock);
		*socket_context = c;
	} else if (c) {
		pthread_mutex_lock(&conns.lock);
		c->prev->next = c->next;
		c->next->prev = c->prev;
		conns.n--;
		pthread_mutex_unlock(&conns.lock);
		free(c);
		*socket_context = NULL;
	}
}

static int open_connections(void)
{
	int n;

	pthread_mutex_lock(&conns.lock);
	n = conns.n;
	pthread_mutex_unlock(&conns.lock);
	return n;
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

struct query {
	struct api_arg *v;
	size_t n, cap;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct query *q = cls;
	(void)kind;

	if (q->n < q->cap)
		q->v[q->n++] = (struct api_arg){ .name = key, .value = value };
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	struct api_resp resp;
	struct api_req req;
	struct query q = {};
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
	if (open_connections() > HTTP_MAX_CONNECTIONS)
		return busy(conn);
	/* Every query parameter, repeated ones included: the API refuses
	 * those it does not know rather than ignoring them. */
	q.cap = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
	if (q.cap && !(q.v = calloc(q.cap, sizeof(*q.v))))
		return MHD_NO;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
	req = (struct api_req){
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
		.method = method,
		.path = url,
		.body = b->buf,
		.body_len = b->too_big ? API_MAX_BODY + 1 : b->len,
		.args = q.v,
		.nargs = q.n,
	};
	api_handle(cls, &req, &resp);
	free(q.v);
	return send_reply(conn, &resp);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct body *b = *con_cls;
	(void)cls, (void)toe;

	if (b) {
		free(b->buf);
		free(b);
		*con_cls = NULL;
	}
	/* A reply went out: the next request on this connection gets a
	 * deadline of its own. */
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context) {
		struct conn *c = ci->socket_context;

		pthread_mutex_lock(&conns.lock);
		c->since_ms = clock_mono_ms();
		pthread_mutex_unlock(&conns.lock);
	}
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
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const struct vs_endpoint *ep = &o->ep;
	char a_str[EP_STRLEN];
	int ret;

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
	ret = watchdog_start();
	if (ret)
		return vs_errf(err, ret, 500, "internal", "cannot start the API's watchdog: %s",
			       strerror(-ret));
	*out = MHD_start_daemon(flags, ep->port, NULL, NULL, on_request, a,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
				&ss, MHD_OPTION_CONNECTION_LIMIT, HTTP_HARD_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				o->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key, MHD_OPTION_END);
	if (!*out) {
		watchdog_stop();
		return vs_errf(
			err, -EADDRINUSE, 500, "api_listen",
			"cannot serve the API on %s (address in use, not local, or a bad TLS certificate or key)",
			a_str);
	}
	return 0;
}

void http_stop(struct MHD_Daemon *d)
{
	watchdog_stop();
	if (d)
		MHD_stop_daemon(d);
}
