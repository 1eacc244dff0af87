// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include "lib/clock.h"
#include "core/http1.h"
#include "ctl/mirror.h"
#include "ctl/mirror_compare.h"
#include "ctl/mirror_replay.h"

#define MAX_EVENTS 64

struct conn;

/* One request sent to one server, and its answer. */
struct exchange {
	struct task *t;
	struct conn *c;
	struct vs_endpoint ep;
	size_t sent;
	bool reused; /* on a kept-alive connection: a close before any byte is retried once */
	bool retried;
	uint64_t sent_ns, deadline_ns;
	struct mirror_answer a;
};

/* A job and its exchanges: the target's, and the stable version's when
 * it teaches the noise. */
struct task {
	struct mirror_job *j;
	bool counted;	     /* in ms->in_flight */
	uint64_t timeout_ns; /* the run's timeoutMs when it started */
	struct exchange x[2];
	int open; /* exchanges not done */
	struct task *next;
};

struct conn {
	int fd;
	uint32_t svc;
	struct vs_endpoint ep;
	struct exchange *x; /* NULL: idle */
	bool connecting;
	uint64_t idle_ns;
	struct conn *next;
};

struct mirror_replay {
	pthread_mutex_t qlock;
	struct mirror_job *head, *tail;	     /* pushed, not taken yet */
	struct mirror_job *wait, *wait_tail; /* taken, waiting for their time */
	int efd, ep;
	struct conn *conns; /* all of them, busy or idle */
	struct task *tasks; /* under way */
	uint32_t rr;	    /* round robin over a version's servers */
	uint64_t delay_ns;  /* arrival to replay: MIRROR_REPLAY_DELAY_NS, more while behind */
};

struct mirror_replay *mirror_replay_new(void)
{
	struct mirror_replay *r = calloc(1, sizeof(*r));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!r)
		return NULL;
	pthread_mutex_init(&r->qlock, NULL);
	r->delay_ns = MIRROR_REPLAY_DELAY_NS;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = NULL; /* the eventfd: the only event without a conn */
	if (r->efd < 0 || r->ep < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, r->efd, &ev)) {
		mirror_replay_free(r);
		return NULL;
	}
	return r;
}

static void conn_close(struct mirror_replay *r, struct conn *c)
{
	struct conn **p = &r->conns;

	while (*p && *p != c)
		p = &(*p)->next;
	if (*p)
		*p = c->next;
	close(c->fd); /* leaves the epoll set with it */
	free(c);
}

static void task_free(struct task *t)
{
	for (int i = 0; i < 2; i++)
		mirror_answer_free(&t->x[i].a);
	mirror_job_free(t->j);
	free(t);
}

void mirror_replay_free(struct mirror_replay *r)
{
	if (!r)
		return;
	while (r->conns)
		conn_close(r, r->conns);
	while (r->tasks) {
		struct task *t = r->tasks;

		r->tasks = t->next;
		task_free(t);
	}
	for (int q = 0; q < 2; q++) {
		struct mirror_job **head = q ? &r->wait : &r->head;

		while (*head) {
			struct mirror_job *j = *head;

			*head = j->next;
			mirror_job_free(j);
		}
	}
	if (r->efd >= 0)
		close(r->efd);
	if (r->ep >= 0)
		close(r->ep);
	pthread_mutex_destroy(&r->qlock);
	free(r);
}

size_t mirror_replay_queued(struct mirror_replay *r)
{
	size_t n = 0;

	pthread_mutex_lock(&r->qlock);
	for (const struct mirror_job *j = r->head; j; j = j->next)
		n++;
	pthread_mutex_unlock(&r->qlock);
	return n;
}

void mirror_replay_push(struct mirror_state *ms, struct mirror_job *j)
{
	struct mirror_replay *r = ms->replay;
	uint64_t one = 1;

	j->next = NULL;
	pthread_mutex_lock(&r->qlock);
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	pthread_mutex_unlock(&r->qlock);
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is awake already. */
	}
}

static uint64_t now_ns(void)
{
	return clock_mono_ns();
}

/* Software timestamps are of CLOCK_REALTIME: replay latencies are
 * measured on it, from the request's last byte sent to the answer's
 * arrival. */
static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* recv(), and when stamp is given, the kernel's receive time of what was
 * read (SCM_TIMESTAMPING; the time of reading if there is none). */
static ssize_t recv_stamped(int fd, void *buf, size_t len, uint64_t *stamp)
{
	char ctl[CMSG_SPACE(sizeof(struct scm_timestamping))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	ssize_t n = recvmsg(fd, &mh, 0);

	if (n <= 0 || !stamp)
		return n;
	*stamp = real_ns();
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		const struct scm_timestamping *ts = (const void *)CMSG_DATA(cm);

		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPING &&
		    (ts->ts[0].tv_sec || ts->ts[0].tv_nsec))
			*stamp = ts->ts[0].tv_sec * 1000000000ULL + ts->ts[0].tv_nsec;
	}
	return n;
}

static int watch(struct mirror_replay *r, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(r->ep, op, c->fd, &ev) ? -errno : 0;
}

/* A connection to ep for service svc: an idle one, or a new one. */
static struct conn *conn_get(struct mirror_replay *r, uint32_t svc, const struct vs_endpoint *ep,
			     bool *reused)
{
	struct sockaddr_storage ss;
	socklen_t len = ep_to_sockaddr(ep, &ss);
	/* The kernel's arrival time of the answer, not when this thread got
	 * to read it: on a busy host the two are milliseconds apart, and the
	 * primary's latency is the kernel's too. */
	int stamp = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	struct conn *c;
	int one = 1;

	for (c = r->conns; c; c = c->next)
		if (!c->x && c->svc == svc && ep_equal(&c->ep, ep)) {
			*reused = true;
			return c;
		}
	*reused = false;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPING, &stamp, sizeof(stamp));
	c->svc = svc;
	c->ep = *ep;
	c->next = r->conns;
	r->conns = c;
	if (connect(c->fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		conn_close(r, c);
		return NULL;
	}
	c->connecting = true;
	if (watch(r, c, EPOLLOUT, EPOLL_CTL_ADD)) {
		conn_close(r, c);
		return NULL;
	}
	return c;
}

static void task_done(struct mirror_state *ms, struct mirror_replay *r, struct task *t)
{
	struct task **p = &r->tasks;

	while (*p && *p != t)
		p = &(*p)->next;
	if (*p)
		*p = t->next;
	if (t->counted) {
		mirror_compare(ms, t->j, &t->x[0].a, t->j->noise ? &t->x[1].a : NULL);
		pthread_mutex_lock(&ms->lock);
		if (ms->in_flight[t->j->svc])
			ms->in_flight[t->j->svc]--;
		pthread_mutex_unlock(&ms->lock);
	}
	task_free(t);
}

/* The exchange is over (a.ok says how); its connection is kept for the
 * next request when both sides allow it. */
/* Idle connections to c's server: a burst made many, a few are enough
 * to keep. */
static uint32_t idle_to(const struct mirror_replay *r, const struct conn *c)
{
	uint32_t n = 0;

	for (const struct conn *o = r->conns; o; o = o->next)
		n += !o->x && o->svc == c->svc && ep_equal(&o->ep, &c->ep);
	return n;
}

static void exchange_end(struct mirror_state *ms, struct mirror_replay *r, struct exchange *x,
			 bool keep)
{
	struct conn *c = x->c;

	x->c = NULL;
	x->deadline_ns = 0;
	if (c) {
		c->x = NULL;
		if (keep && idle_to(r, c) <= MIRROR_IDLE_PER_EP &&
		    !watch(r, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD))
			c->idle_ns = now_ns();
		else
			conn_close(r, c);
	}
	if (--x->t->open == 0)
		task_done(ms, r, x->t);
}

static bool exchange_start(struct mirror_replay *r, struct exchange *x);

/* The connection failed or closed: retry once on a new one if it was a
 * kept-alive connection that the server had closed before we sent (a
 * race every keep-alive client meets), else the exchange failed. */
static void exchange_fail(struct mirror_state *ms, struct mirror_replay *r, struct exchange *x,
			  const char *why)
{
	if (x->reused && !x->retried && !x->a.len) {
		conn_close(r, x->c);
		x->c = NULL;
		x->retried = true;
		if (exchange_start(r, x))
			return;
	}
	x->a.ok = false;
	x->a.why = why;
	exchange_end(ms, r, x, false);
}

static bool exchange_start(struct mirror_replay *r, struct exchange *x)
{
	struct conn *c = conn_get(r, x->t->j->svc, &x->ep, &x->reused);

	if (!c)
		return false;
	x->c = c;
	c->x = x;
	x->sent = 0;
	x->a.len = 0;
	x->deadline_ns = now_ns() + x->t->timeout_ns;
	if (!c->connecting && watch(r, c, EPOLLOUT, EPOLL_CTL_MOD)) {
		conn_close(r, c);
		x->c = NULL;
		return false;
	}
	return true;
}

/* Bytes of the answer arrived (or the server closed: eof). */
static void exchange_read(struct mirror_state *ms, struct mirror_replay *r, struct exchange *x,
			  bool eof)
{
	int ret = mirror_answer_parse(&x->a, x->t->j->method, eof);

	if (ret == -EAGAIN && !eof)
		return;
	if (ret) {
		exchange_fail(ms, r, x, eof ? "closed before a whole response" : "not HTTP/1.x");
		return;
	}
	x->a.ok = true;
	x->a.lat_ns = x->a.first_ns > x->sent_ns ? x->a.first_ns - x->sent_ns : 0;
	exchange_end(ms, r, x, !eof && !x->a.close);
}

static void conn_io(struct mirror_state *ms, struct mirror_replay *r, struct conn *c,
		    uint32_t events)
{
	struct exchange *x = c->x;
	const struct mirror_job *j;
	ssize_t n;

	if (!x) {
		/* Idle, and the server closed it (or sent what nobody asked). */
		conn_close(r, c);
		return;
	}
	j = x->t->j;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			exchange_fail(ms, r, x, "connection refused");
			return;
		}
		c->connecting = false;
	}
	if (x->sent < j->req_len) {
		n = send(c->fd, j->req + x->sent, j->req_len - x->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			exchange_fail(ms, r, x, "connection reset");
			return;
		}
		if (n > 0)
			x->sent += n;
		if (x->sent == j->req_len) {
			x->sent_ns = real_ns();
			watch(r, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
		}
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		if (mirror_answer_room(&x->a)) {
			exchange_fail(ms, r, x, "response too large");
			return;
		}
		n = recv_stamped(c->fd, x->a.buf + x->a.len, x->a.cap - x->a.len,
				 x->a.len ? NULL : &x->a.first_ns);
		if (n > 0) {
			x->a.len += n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			exchange_read(ms, r, x, false);
			return;
		}
		if (n < 0) {
			exchange_fail(ms, r, x, "connection reset");
			return;
		}
		exchange_read(ms, r, x, true);
		return;
	}
}

/* A job from the queue: its exchanges started, or it is dropped
 * (its rollout is over, or no server could be reached at all). */
static void task_start(struct mirror_state *ms, struct mirror_replay *r, struct mirror_job *j)
{
	struct task *t = calloc(1, sizeof(*t));
	const struct mirror_run *run = &ms->run[j->svc];
	bool on;

	if (!t) {
		mirror_job_free(j);
		return;
	}
	pthread_mutex_lock(&ms->lock);
	on = run->on && run->started == j->started && run->ntarget && (!j->noise || run->nstable) &&
	     ms->rep[j->svc] && ms->rep[j->svc]->started == j->started;
	/* maxInFlight counts what is sent: waiting for its time is bounded
	 * by maxPerSecond already. */
	if (on && ms->in_flight[j->svc] >= run->spec.max_in_flight) {
		ms->rep[j->svc]->n.dropped_in_flight++;
		on = false;
	} else if (on) {
		ms->in_flight[j->svc]++;
		ms->rep[j->svc]->n.mirrored++;
		t->counted = true;
		t->timeout_ns = (uint64_t)run->spec.timeout_ms * 1000000;
		t->x[0].ep = run->target[r->rr % run->ntarget];
		if (j->noise)
			t->x[1].ep = run->stable[r->rr % run->nstable];
	}
	pthread_mutex_unlock(&ms->lock);
	r->rr++;
	t->j = j;
	t->next = r->tasks;
	r->tasks = t;
	t->open = j->noise ? 2 : 1;
	for (int i = 0; i < t->open; i++)
		t->x[i].t = t;
	for (int i = 0, n = t->open; i < n; i++) {
		struct exchange *x = &t->x[i];

		if (!on) {
			x->a.why = "the mirror ended";
			exchange_end(ms, r, x, false);
		} else if (!exchange_start(r, x)) {
			x->a.why = "cannot connect";
			exchange_end(ms, r, x, false);
		}
	}
}

static void take_queue(struct mirror_replay *r)
{
	struct mirror_job *j;
	uint64_t n;

	if (read(r->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: woken for nothing */
	}
	pthread_mutex_lock(&r->qlock);
	j = r->head;
	r->head = r->tail = NULL;
	pthread_mutex_unlock(&r->qlock);
	if (!j)
		return;
	if (r->wait_tail)
		r->wait_tail->next = j;
	else
		r->wait = j;
	while (j->next)
		j = j->next;
	r->wait_tail = j;
}

/* Start the jobs whose time has come, or comes within MIRROR_PACE_NS
 * (they are queued about in the order their requests arrived): a wake-up
 * per request would cost more than the replay. How many ms until the
 * next one's, at most 50. */
static int start_due(struct mirror_state *ms, struct mirror_replay *r, uint64_t now)
{
	while (r->wait) {
		struct mirror_job *j = r->wait;
		uint64_t due = j->arrived_ns + r->delay_ns;

		if (due > now + MIRROR_PACE_NS)
			return due - now < 50000000 ? (int)((due - now) / 1000000) : 50;
		/* Late: the whole schedule moves back by as much, so that what
		 * queued meanwhile keeps its spacing instead of going out at
		 * once (CI saw identical versions fail on p99, 52 ms against
		 * 10 ms, when a sanitizer build fell behind and a Python
		 * target got its requests in bunches). */
		if (now > due + MIRROR_PACE_NS && r->delay_ns < MIRROR_REPLAY_DELAY_MAX_NS) {
			r->delay_ns = now - j->arrived_ns;
			if (r->delay_ns > MIRROR_REPLAY_DELAY_MAX_NS)
				r->delay_ns = MIRROR_REPLAY_DELAY_MAX_NS;
		}
		r->wait = j->next;
		if (!r->wait)
			r->wait_tail = NULL;
		task_start(ms, r, j);
	}
	/* Nothing waits: no spacing to keep, and a lag that has passed
	 * should not delay the next request. */
	r->delay_ns = MIRROR_REPLAY_DELAY_NS;
	return 50;
}

/* Replays past their timeout fail; connections idle for
 * MIRROR_IDLE_MAX_NS are closed. */
static void sweep(struct mirror_state *ms, struct mirror_replay *r, uint64_t now)
{
	struct task *t, *next;

	for (t = r->tasks; t; t = next) {
		next = t->next;
		for (int i = 0; i < 2; i++)
			if (t->x[i].c && t->x[i].deadline_ns && now > t->x[i].deadline_ns) {
				t->x[i].retried = true;
				exchange_fail(ms, r, &t->x[i], "timed out");
				break; /* t may be gone */
			}
	}
	for (struct conn *c = r->conns, *cn; c; c = cn) {
		cn = c->next;
		if (!c->x && now > c->idle_ns + MIRROR_IDLE_MAX_NS)
			conn_close(r, c);
	}
}

void mirror_replay_run(struct mirror_state *ms)
{
	struct mirror_replay *r = ms->replay;
	struct epoll_event ev[MAX_EVENTS];

	int wait_ms = 50;

	while (!atomic_load(&ms->stopping)) {
		int n = epoll_wait(r->ep, ev, MAX_EVENTS, wait_ms);

		for (int i = 0; i < n; i++) {
			if (!ev[i].data.ptr) {
				take_queue(r);
				continue;
			}
			conn_io(ms, r, ev[i].data.ptr, ev[i].events);
		}
		wait_ms = start_due(ms, r, now_ns());
		sweep(ms, r, now_ns());
	}
}
