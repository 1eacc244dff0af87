// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "ctl/ctl.h"
#include "ctl/health.h"
#include "ctl/txn.h"

#define HEALTH_POLL_MS 50

struct probe {
	uint32_t slot, srv;
	char id[ID_LEN];
	struct vs_endpoint ep;
	char path[128];
	uint32_t timeout_ms;
};

/* Wait for fd to be ready for `events` until the deadline. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - clock_mono_ms();

	return left > 0 && poll(&p, 1, left) == 1 && (p.revents & events);
}

/* GET path on ep: healthy on a 2xx or 3xx status line within the timeout. */
static bool probe(const struct probe *p)
{
	int64_t deadline = clock_mono_ms() + p->timeout_ms;
	struct sockaddr_storage ss;
	char req[256], buf[64];
	socklen_t len;
	size_t got = 0;
	bool ok = false;
	int fd;

	len = ep_to_sockaddr(&p->ep, &ss);
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

void health_forget(struct health_state *h, uint32_t slot)
{
	memset(h->fails[slot], 0, sizeof(h->fails[slot]));
	memset(h->passes[slot], 0, sizeof(h->passes[slot]));
	memset(h->next_ms[slot], 0, sizeof(h->next_ms[slot]));
}

void health_record(struct ctl *c, uint32_t slot, const char *id, uint32_t srv, bool ok)
{
	const struct cluster *cl = &c->m->cl[slot];
	const struct health_check *hc = &cl->health;
	struct health_state *h = &c->health;
	bool out = c->sock.out[slot] & (1U << srv);
	const char *name;
	char a[EP_STRLEN];

	if (!cl->used || strcmp(cl->id, id) || srv >= cl->nsrv)
		return; /* the cluster changed while we probed */
	ep_format(&cl->srv[srv], a, sizeof(a));
	name = c->m->svc[cl->svc].name;
	if (ok) {
		h->fails[slot][srv] = 0;
		if (!out || ++h->passes[slot][srv] < hc->healthy_after)
			return;
		h->passes[slot][srv] = 0;
		sock_put_back(&c->sock, slot, srv);
		txn_event(c, name, "backend_up", "%s of %s passes its health checks again", a,
			  cl->version);
		return;
	}
	h->passes[slot][srv] = 0;
	if (out || ++h->fails[slot][srv] < hc->unhealthy_after)
		return;
	h->fails[slot][srv] = 0;
	sock_take_out(&c->sock, c->dp, slot, srv);
	txn_event(c, name, "backend_down",
		  "%s of %s failed %u health checks of %s in a row: out of rotation", a,
		  cl->version, hc->unhealthy_after, hc->path);
}

/* The next check that is due, if any: copied out under the lock. */
static bool next_probe(struct ctl *c, struct probe *p)
{
	struct health_state *h = &c->health;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		for (uint32_t v = 0; cl->used && cl->health.on && v < cl->nsrv; v++) {
			if (clock_mono_ms() < h->next_ms[s][v])
				continue;
			h->next_ms[s][v] = clock_mono_ms() + cl->health.interval_ms;
			*p = (struct probe){ .slot = s,
					     .srv = v,
					     .ep = cl->srv[v],
					     .timeout_ms = cl->health.timeout_ms };
			memcpy(p->id, cl->id, ID_LEN);
			memcpy(p->path, cl->health.path, sizeof(p->path));
			return true;
		}
	}
	return false;
}

static void *health_main(void *arg)
{
	struct ctl *c = arg;
	struct probe p;
	bool found, ok;

	while (!atomic_load(&c->health.stopping)) {
		pthread_mutex_lock(&c->lock);
		found = next_probe(c, &p);
		pthread_mutex_unlock(&c->lock);
		if (!found) {
			usleep(HEALTH_POLL_MS * 1000);
			continue;
		}
		ok = probe(&p); /* without the lock: it may take the timeout */
		pthread_mutex_lock(&c->lock);
		health_record(c, p.slot, p.id, p.srv, ok);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int health_start(struct ctl *c)
{
	int ret;

	atomic_store(&c->health.stopping, false);
	ret = -pthread_create(&c->health.thread, NULL, health_main, c);
	c->health.running = !ret;
	return ret;
}

void health_stop(struct ctl *c)
{
	if (!c->health.running)
		return;
	atomic_store(&c->health.stopping, true);
	pthread_join(c->health.thread, NULL);
	c->health.running = false;
}
