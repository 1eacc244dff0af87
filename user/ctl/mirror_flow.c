// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/reasm.h"
#include "ctl/mirror.h"
#include "ctl/mirror_flow.h"
#include "ctl/mirror_replay.h"

#define FLOW_BUCKETS  1024
#define STREAM_MARKS  64
#define FLOW_STASH    64	    /* records held until the OPEN */
#define FLOW_GRACE_NS 1000000000ULL /* a CLOSE, or a flow without OPEN, waits this long */

/* When the bytes of a stream arrived: from buffer offset off on, those
 * of a record of time ns. */
struct mark {
	size_t off;
	uint64_t ns;
};

struct stream {
	struct reasm r;
	struct mark mk[STREAM_MARKS];
	uint32_t nmk;
};

/* A request waiting for its response. */
struct pending {
	char method[H1_METHOD_MAX];
	char route[ROUTE_MAX];
	uint8_t *bytes; /* NULL: the capture did not copy all of it */
	size_t len;
	uint64_t ns; /* its last byte arrived */
	bool authorization, cookie, upgrade;
};

/* A record read before the connection's OPEN: each CPU has a buffer of
 * its own, read one after the other, so a connection's segments can come
 * before its OPEN (and after its CLOSE). */
struct stashed {
	struct vs_cap rec;
	uint8_t *data;
};

struct flow {
	struct flow *next;
	uint64_t cookie;
	uint32_t svc;
	int64_t started; /* the rollout it was sampled for */
	uint64_t last_ns;
	bool opened;	    /* its OPEN was read: the streams know where they start */
	uint64_t closed_ns; /* its CLOSE was read (records may still follow) */
	struct stashed stash[FLOW_STASH];
	uint32_t nstash;
	size_t held; /* its share of mirror_flows.held */
	struct stream req, resp;
	struct pending q[MIRROR_MAX_PIPELINE];
	uint32_t nq;
	bool done; /* lost, not HTTP, or upgraded: nothing more is read */
};

struct mirror_flows {
	struct flow *b[FLOW_BUCKETS];
	uint32_t n;
	double tokens[VS_MAX_SERVICES]; /* maxPerSecond's bucket */
	uint64_t tokens_ns[VS_MAX_SERVICES];
	size_t held; /* bytes the flows hold: at most MIRROR_HELD_MAX */
};

void mirror_job_free(struct mirror_job *j)
{
	if (!j)
		return;
	free(j->req);
	free(j->body);
	free(j->head);
	free(j);
}

struct mirror_flows *mirror_flows_new(void)
{
	return calloc(1, sizeof(struct mirror_flows));
}

static void pending_free(struct flow *fl)
{
	for (uint32_t i = 0; i < fl->nq; i++)
		free(fl->q[i].bytes);
	fl->nq = 0;
}

static void flow_free(struct flow *fl)
{
	for (uint32_t i = 0; i < fl->nstash; i++)
		free(fl->stash[i].data);
	pending_free(fl);
	reasm_free(&fl->req.r);
	reasm_free(&fl->resp.r);
	free(fl);
}

void mirror_flows_free(struct mirror_flows *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < FLOW_BUCKETS; i++)
		while (f->b[i]) {
			struct flow *fl = f->b[i];

			f->b[i] = fl->next;
			flow_free(fl);
		}
	free(f);
}

static struct flow **slot_of(struct mirror_flows *f, uint64_t cookie)
{
	struct flow **p = &f->b[(cookie * 0x9E3779B97F4A7C15ULL) >> 54];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

static void flow_drop(struct mirror_flows *f, struct flow **p)
{
	struct flow *fl = *p;

	*p = fl->next;
	f->held -= fl->held;
	flow_free(fl);
	f->n--;
}

/* A run's counters, under ms->lock: only while the flow's rollout runs. */
static struct mirror_report *report_of(struct mirror_state *ms, const struct flow *fl)
{
	const struct mirror_run *run = &ms->run[fl->svc];

	if (!run->on || run->started != fl->started || !ms->rep[fl->svc] ||
	    ms->rep[fl->svc]->started != fl->started)
		return NULL;
	return ms->rep[fl->svc];
}

/* The flow cannot be followed any more: its requests waiting for a
 * response are lost to the mirror. */
static void flow_fail(struct mirror_state *ms, struct flow *fl)
{
	struct mirror_report *rep;

	pthread_mutex_lock(&ms->lock);
	rep = report_of(ms, fl);
	if (rep) {
		rep->n.requests += fl->nq;
		rep->n.dropped_stream += fl->nq;
	}
	pthread_mutex_unlock(&ms->lock);
	pending_free(fl);
	fl->done = true;
}

static uint64_t stream_ns(const struct stream *s, size_t off)
{
	uint64_t ns = 0;

	for (uint32_t i = 0; i < s->nmk && s->mk[i].off <= off; i++)
		ns = s->mk[i].ns;
	return ns;
}

static void stream_consume(struct stream *s, size_t n)
{
	uint32_t keep = 0;

	reasm_consume(&s->r, n);
	for (uint32_t i = 0; i < s->nmk; i++) {
		/* A mark whose bytes were all consumed goes, unless it is
		 * the last (the next bytes may be its record's still). */
		if (i + 1 < s->nmk && s->mk[i + 1].off <= n)
			continue;
		s->mk[keep] = s->mk[i];
		s->mk[keep].off = s->mk[i].off > n ? s->mk[i].off - n : 0;
		keep++;
	}
	s->nmk = keep;
}

static int stream_add(struct stream *s, const struct vs_cap *rec, const uint8_t *data)
{
	uint32_t copied = rec->copied > rec->off ? rec->copied - rec->off : 0;
	size_t before = s->r.len;
	int ret;

	if (copied > rec->len)
		copied = rec->len;
	ret = reasm_add(&s->r, rec->seq, data + rec->off, copied, rec->len, rec->fin);
	if (ret || s->r.len == before)
		return ret;
	if (s->nmk == STREAM_MARKS)
		s->nmk--; /* later bytes are dated by the newest record: never earlier */
	s->mk[s->nmk++] = (struct mark){ .off = before, .ns = rec->ns };
	return 0;
}

static void parse_requests(struct mirror_state *ms, struct flow *fl)
{
	struct stream *s = &fl->req;
	struct h1_msg m;
	int ret;

	while (!fl->done && fl->nq < MIRROR_MAX_PIPELINE) {
		struct pending *p = &fl->q[fl->nq];

		const char *v;
		size_t vlen;

		ret = h1_request(s->r.buf, s->r.len, &m);
		if (ret == -EAGAIN)
			return;
		if (ret) {
			/* Not HTTP/1.x, or over its limits: that request is
			 * lost to the mirror with those waiting before it. */
			fl->nq++;
			fl->q[fl->nq - 1] = (struct pending){ 0 };
			flow_fail(ms, fl);
			return;
		}
		memset(p, 0, sizeof(*p));
		memcpy(p->method, m.method, sizeof(p->method));
		route_of(m.method, m.target, p->route, sizeof(p->route));
		if (!reasm_has_hole(&s->r, m.len) && (p->bytes = malloc(m.len)))
			memcpy(p->bytes, s->r.buf, m.len);
		p->len = m.len;
		p->ns = stream_ns(s, m.len - 1);
		/* A proxy's credentials are the user's as much. */
		p->authorization = m.authorization ||
				   !h1_header(s->r.buf, &m, "Proxy-Authorization", &v, &vlen);
		p->cookie = m.cookie;
		p->upgrade = m.upgrade;
		fl->nq++;
		stream_consume(s, m.len);
		if (m.upgrade)
			return; /* what follows is not HTTP: nothing more is parsed */
	}
}

/* Whether service svc may replay one more request now: maxPerSecond as a
 * token bucket of one second's worth. */
static bool rate_ok(struct mirror_flows *f, uint32_t svc, uint32_t per_second, uint64_t now_ns)
{
	double t = f->tokens[svc];

	if (f->tokens_ns[svc])
		t += (double)(now_ns - f->tokens_ns[svc]) * per_second / 1e9;
	else
		t = per_second;
	f->tokens_ns[svc] = now_ns;
	if (t > per_second)
		t = per_second;
	f->tokens[svc] = t >= 1 ? t - 1 : t;
	return t >= 1;
}

/* Why a pair is not replayed, counted in rep; NULL: it is. */
static uint64_t *skip_reason(struct mirror_report *rep, const struct mirror_spec *sp,
			     const struct pending *p)
{
	if (!mirror_method_on(sp, p->method))
		return &rep->n.skipped_method;
	if (p->upgrade)
		return &rep->n.skipped_upgrade;
	if (p->authorization && !sp->authorization)
		return &rep->n.skipped_authorization;
	if (p->cookie && !sp->cookies)
		return &rep->n.skipped_cookie;
	return NULL;
}

static struct mirror_job *job_of(const struct flow *fl, struct pending *p, const struct h1_msg *m,
				 const struct stream *s, uint64_t first_ns)
{
	struct mirror_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->svc = fl->svc;
	j->started = fl->started;
	memcpy(j->route, p->route, sizeof(j->route));
	memcpy(j->method, p->method, sizeof(j->method));
	j->req = p->bytes;
	j->req_len = p->len;
	p->bytes = NULL;
	j->status = m->status;
	j->size = m->body_len;
	j->lat_ns = first_ns > p->ns ? first_ns - p->ns : 0;
	j->arrived_ns = p->ns;
	j->head = malloc(m->head_len);
	if (j->head) {
		memcpy(j->head, s->r.buf, m->head_len);
		j->head_len = m->head_len;
	}
	if (m->body_len <= MIRROR_BODY_MAX && !reasm_has_hole(&s->r, m->len) &&
	    (j->body = malloc(m->body_len ? m->body_len : 1))) {
		int64_t n = h1_body(s->r.buf, m, j->body, m->body_len);

		if (n < 0) {
			free(j->body);
			j->body = NULL;
		} else {
			j->body_len = n;
		}
	}
	return j;
}

/* A request and the response its client got: replay it, or count why
 * not. */
static void pair(struct mirror_state *ms, struct mirror_flows *f, struct flow *fl,
		 struct pending *p, const struct h1_msg *m, uint64_t first_ns)
{
	struct mirror_report *rep;
	const struct mirror_spec *sp;
	struct mirror_route *r;
	struct mirror_job *j = NULL;
	uint64_t *skip;

	pthread_mutex_lock(&ms->lock);
	rep = report_of(ms, fl);
	if (!rep)
		goto unlock;
	sp = &ms->run[fl->svc].spec;
	rep->n.requests++;
	skip = skip_reason(rep, sp, p);
	if (skip) {
		(*skip)++;
		goto unlock;
	}
	if (!p->bytes) {
		rep->n.dropped_stream++;
		goto unlock;
	}
	if (!rate_ok(f, fl->svc, sp->max_per_second, first_ns)) {
		rep->n.dropped_rate++;
		goto unlock;
	}
	j = job_of(fl, p, m, &fl->resp, first_ns);
	if (!j) {
		rep->n.dropped_stream++;
		goto unlock;
	}
	r = mirror_route_get(rep->route, &rep->nroutes, j->route);
	if (rep->noise_issued[r - rep->route] < sp->noise_samples) {
		rep->noise_issued[r - rep->route]++;
		rep->n.noise_samples++;
		j->noise = true;
	}
unlock:
	pthread_mutex_unlock(&ms->lock);
	if (j)
		mirror_replay_push(ms, j);
}

static void parse_responses(struct mirror_state *ms, struct mirror_flows *f, struct flow *fl)
{
	struct stream *s = &fl->resp;
	struct h1_msg m;
	int ret;

	while (!fl->done && fl->nq) {
		struct pending *p = &fl->q[0];
		bool upgrade = p->upgrade;

		ret = h1_response(s->r.buf, s->r.len, p->method, s->r.fin, &m);
		if (ret == -EAGAIN)
			return;
		if (ret) {
			flow_fail(ms, fl);
			return;
		}
		if (m.status < 200 && m.status != 101) {
			stream_consume(s, m.len); /* an interim response: the final one follows */
			continue;
		}
		pair(ms, f, fl, p, &m, stream_ns(s, 0));
		free(p->bytes);
		memmove(&fl->q[0], &fl->q[1], (fl->nq - 1) * sizeof(fl->q[0]));
		fl->nq--;
		stream_consume(s, m.len);
		if (upgrade || m.close)
			fl->done = true;
	}
}

static struct flow *flow_new(struct mirror_state *ms, struct mirror_flows *f, struct flow **p,
			     const struct vs_cap *rec)
{
	struct flow *fl;
	int64_t started;

	if (rec->svc >= VS_MAX_SERVICES || f->n >= MIRROR_MAX_FLOWS)
		return NULL;
	pthread_mutex_lock(&ms->lock);
	started = ms->run[rec->svc].on ? ms->run[rec->svc].started : 0;
	pthread_mutex_unlock(&ms->lock);
	if (!started || !(fl = calloc(1, sizeof(*fl))))
		return NULL;
	fl->cookie = rec->cookie;
	fl->svc = rec->svc;
	fl->started = started;
	fl->last_ns = rec->ns;
	fl->next = *p;
	*p = fl;
	f->n++;
	return fl;
}

/* What fl holds now, into f->held; returns f->held. */
static size_t account(struct mirror_flows *f, struct flow *fl)
{
	size_t n = fl->req.r.len + fl->req.r.ahead_bytes + fl->resp.r.len + fl->resp.r.ahead_bytes;

	for (uint32_t i = 0; i < fl->nq; i++)
		n += fl->q[i].bytes ? fl->q[i].len : 0;
	for (uint32_t i = 0; i < fl->nstash; i++)
		n += fl->stash[i].rec.copied;
	f->held += n - fl->held;
	fl->held = n;
	return f->held;
}

static void flow_segment(struct mirror_state *ms, struct mirror_flows *f, struct flow *fl,
			 const struct vs_cap *rec, const uint8_t *data)
{
	bool req = rec->kind == VS_CAP_REQ;

	if (fl->done)
		return;
	if (stream_add(req ? &fl->req : &fl->resp, rec, data)) {
		flow_fail(ms, fl);
		return;
	}
	if (req)
		parse_requests(ms, fl);
	parse_responses(ms, f, fl);
	/* The requests may be waiting for room in the queue. */
	if (!req)
		parse_requests(ms, fl);
	if (account(f, fl) > MIRROR_HELD_MAX) {
		flow_fail(ms, fl);
		reasm_free(&fl->req.r);
		reasm_free(&fl->resp.r);
		account(f, fl);
	}
}

/* A segment before the OPEN: kept (a copy) until it comes. */
static void stash(struct mirror_state *ms, struct mirror_flows *f, struct flow *fl,
		  const struct vs_cap *rec, const uint8_t *data)
{
	struct stashed *st = &fl->stash[fl->nstash];

	if (fl->nstash == FLOW_STASH || f->held + rec->copied > MIRROR_HELD_MAX ||
	    !(st->data = malloc(rec->copied ? rec->copied : 1))) {
		flow_fail(ms, fl);
		return;
	}
	st->rec = *rec;
	memcpy(st->data, data, rec->copied);
	fl->nstash++;
	account(f, fl);
}

static void flow_open(struct mirror_state *ms, struct mirror_flows *f, struct flow *fl,
		      const struct vs_cap *rec)
{
	fl->opened = true;
	reasm_init(&fl->req.r, rec->seq);
	reasm_init(&fl->resp.r, rec->len);
	for (uint32_t i = 0; i < fl->nstash; i++) {
		flow_segment(ms, f, fl, &fl->stash[i].rec, fl->stash[i].data);
		free(fl->stash[i].data);
	}
	fl->nstash = 0;
	account(f, fl);
}

void mirror_flows_record(struct mirror_state *ms, struct mirror_flows *f, const struct vs_cap *rec,
			 const uint8_t *data)
{
	struct flow **p = slot_of(f, rec->cookie), *fl = *p;
	bool seg = rec->kind == VS_CAP_REQ || rec->kind == VS_CAP_RESP;

	if ((!seg && rec->kind != VS_CAP_OPEN && rec->kind != VS_CAP_CLOSE &&
	     rec->kind != VS_CAP_LOST) ||
	    rec->off > rec->copied)
		return;
	if (!fl && !(fl = flow_new(ms, f, p, rec)))
		return;
	if (rec->ns > fl->last_ns)
		fl->last_ns = rec->ns;
	switch (rec->kind) {
	case VS_CAP_OPEN:
		if (!fl->opened)
			flow_open(ms, f, fl, rec);
		return;
	case VS_CAP_LOST:
		flow_fail(ms, fl);
		return;
	case VS_CAP_CLOSE:
		/* Its last segments may still be in another CPU's buffer. */
		fl->closed_ns = rec->ns;
		return;
	}
	if (fl->done)
		return;
	if (!fl->opened)
		stash(ms, f, fl, rec, data);
	else
		flow_segment(ms, f, fl, rec, data);
}

size_t mirror_flows_held(const struct mirror_flows *f)
{
	return f->held;
}

void mirror_flows_expire(struct mirror_state *ms, struct mirror_flows *f, uint64_t now_ns)
{
	for (size_t i = 0; i < FLOW_BUCKETS; i++) {
		struct flow **p = &f->b[i];

		while (*p) {
			struct flow *fl = *p;
			bool gone, over;

			pthread_mutex_lock(&ms->lock);
			gone = !report_of(ms, fl);
			pthread_mutex_unlock(&ms->lock);
			/* Closed, or never opened (its OPEN was lost), a while
			 * ago; or not heard of for long (its CLOSE was lost). */
			over = now_ns > fl->last_ns + (fl->closed_ns || !fl->opened ?
							       FLOW_GRACE_NS :
							       MIRROR_FLOW_IDLE_NS);

			if (gone || over) {
				if (!gone)
					flow_fail(ms, fl);
				flow_drop(f, p);
			} else {
				p = &(*p)->next;
			}
		}
	}
}
