// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks: what the kernel cannot see. A backend that accepts
 * connections but never answers keeps its listening socket, so the data
 * plane would keep sending it clients. A thread GETs each checked server's
 * path directly (not through the service address), outside the
 * controller's lock, and takes a server that fails unhealthy_after checks
 * in a row out of the sockmap until healthy_after pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ctl.h"
#include "log.h"
#include "sockets.h"
#include "state.h"

#define HEALTH_POLL_MS 50

struct probe {
	uint32_t slot, b;
	char id[ID_LEN];
	struct vs_endpoint ep;
	char path[128];
	uint32_t timeout_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for `events` until the deadline. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - now_ms();

	return left > 0 && poll(&p, 1, left) == 1 && (p.revents & events);
}

/* GET path on ep: healthy on a 2xx or 3xx status line within the timeout. */
static bool probe(const struct probe *p)
{
	int64_t deadline = now_ms() + p->timeout_ms;
	struct sockaddr_storage ss = {};
	char req[256], buf[64];
	socklen_t len;
	size_t got = 0;
	bool ok = false;
	int fd;

	if (p->ep.family == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(p->ep.port);
		memcpy(&s4->sin_addr, p->ep.addr, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p->ep.port);
		memcpy(&s6->sin6_addr, p->ep.addr, 16);
		len = sizeof(*s6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 &&
	    (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline)))
		goto close_fd;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: vsteer-health\r\n\r\n", p->path);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		goto close_fd;
	while (got < 12 && wait_fd(fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	/* "HTTP/1.1 200" */
	ok = got >= 12 && !strncmp(buf, "HTTP/1.", 7) && (buf[9] == '2' || buf[9] == '3');
close_fd:
	close(fd);
	return ok;
}

/* Record a check's result; a change of state is an event. */
static void record(struct ctl *c, const struct probe *p, bool ok)
{
	const struct cluster *cl = &c->m->cl[p->slot];
	const struct health *h = &cl->health;
	char a[EP_STRLEN];
	bool *down = &c->bk_down[p->slot][p->b];

	if (!cl->used || strcmp(cl->id, p->id) || p->b >= cl->nbk)
		return;	/* the cluster changed while we probed */
	ep_format(&p->ep, a, sizeof(a));
	if (ok) {
		c->hc_fail[p->slot][p->b] = 0;
		if (*down && ++c->hc_ok[p->slot][p->b] >= h->healthy_after) {
			*down = false;
			model_event(c->m, wall_now(), c->m->svc[cl->svc].name, "backend_up",
				    "%s of %s passes its health checks again", a, cl->version);
			pr_info("%s (%s) healthy again\n", a, cl->version);
			c->last_full_scan = 0;	/* put its sockets back now */
		}
		return;
	}
	c->hc_ok[p->slot][p->b] = 0;
	if (!*down && ++c->hc_fail[p->slot][p->b] >= h->unhealthy_after) {
		*down = true;
		take_out(c, p->slot, p->b);
		model_event(c->m, wall_now(), c->m->svc[cl->svc].name, "backend_down",
			    "%s of %s failed %u health checks of %s in a row: out of rotation",
			    a, cl->version, h->unhealthy_after, h->path);
		pr_warn("%s (%s) failed its health checks: out of rotation\n", a, cl->version);
	}
}

static void *health_main(void *arg)
{
	static int64_t next[VS_MAX_SLOTS][VS_MAX_BACKENDS];
	struct ctl *c = arg;
	struct probe p;

	while (!c->stopping) {
		bool found = false;

		pthread_mutex_lock(&c->lock);
		for (uint32_t s = 0; s < VS_MAX_SLOTS && !found; s++) {
			const struct cluster *cl = &c->m->cl[s];

			for (uint32_t b = 0; cl->used && cl->health.on && b < cl->nbk; b++) {
				if (now_ms() < next[s][b])
					continue;
				next[s][b] = now_ms() + cl->health.interval_ms;
				p = (struct probe){ .slot = s, .b = b, .ep = cl->bk[b],
						    .timeout_ms = cl->health.timeout_ms };
				memcpy(p.id, cl->id, ID_LEN);
				memcpy(p.path, cl->health.path, sizeof(p.path));
				found = true;
				break;
			}
		}
		pthread_mutex_unlock(&c->lock);
		if (!found) {
			usleep(HEALTH_POLL_MS * 1000);
			continue;
		}
		bool ok = probe(&p);	/* without the lock: it may take the timeout */

		pthread_mutex_lock(&c->lock);
		record(c, &p, ok);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int health_start(struct ctl *c)
{
	return -pthread_create(&c->health_thread, NULL, health_main, c);
}

void health_stop(struct ctl *c)
{
	c->stopping = true;
	pthread_join(c->health_thread, NULL);
}
