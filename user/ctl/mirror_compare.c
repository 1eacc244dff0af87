// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/jdiff.h"
#include "ctl/mirror.h"
#include "ctl/mirror_compare.h"
#include "ctl/mirror_replay.h"

int mirror_answer_room(struct mirror_answer *a)
{
	size_t cap;
	uint8_t *b;

	if (a->cap - a->len >= 4096)
		return 0;
	if (a->cap >= MIRROR_RESP_MAX)
		return a->len < a->cap ? 0 : -E2BIG;
	cap = a->cap ? a->cap * 2 : 16384;
	if (cap > MIRROR_RESP_MAX)
		cap = MIRROR_RESP_MAX;
	b = realloc(a->buf, cap);
	if (!b)
		return a->len < a->cap ? 0 : -ENOMEM;
	a->buf = b;
	a->cap = cap;
	return 0;
}

int mirror_answer_parse(struct mirror_answer *a, const char *method, bool eof)
{
	for (;;) {
		int ret = h1_response(a->buf, a->len, method, eof, &a->m);

		if (ret)
			return ret;
		if (a->m.status >= 200 || a->m.status == 101)
			break;
		/* An interim response: the final one follows. */
		memmove(a->buf, a->buf + a->m.len, a->len - a->m.len);
		a->len -= a->m.len;
	}
	/* Bytes past the response nobody asked for: do not reuse it. */
	a->close = a->m.close || a->len > a->m.len || a->m.status == 101;
	return 0;
}

void mirror_answer_free(struct mirror_answer *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
}

/* An answer's body decoded into *out (NULL if it is longer than
 * MIRROR_BODY_MAX, or cannot be decoded). */
static size_t answer_body(const struct mirror_answer *a, uint8_t **out)
{
	int64_t n;

	*out = NULL;
	if (!a->ok || a->m.body_len > MIRROR_BODY_MAX)
		return 0;
	*out = malloc(a->m.body_len ? a->m.body_len : 1);
	if (!*out)
		return 0;
	n = h1_body(a->buf, &a->m, *out, a->m.body_len);
	if (n < 0) {
		free(*out);
		*out = NULL;
		return 0;
	}
	return n;
}

static bool header_differs(const uint8_t *a, const struct h1_msg *am, const uint8_t *b,
			   const struct h1_msg *bm, const char *name)
{
	const char *av, *bv;
	size_t al, bl;
	int ra = h1_header(a, am, name, &av, &al), rb = h1_header(b, bm, name, &bv, &bl);

	if (ra || rb)
		return !ra != !rb;
	return al != bl || memcmp(av, bv, al);
}

/* The route's noise, learned from the stable version's second answer. */
static void learn(struct mirror_report *rep, uint32_t i, const struct mirror_spec *sp,
		  const struct mirror_job *j, const struct h1_msg *pm,
		  const struct mirror_answer *s, const uint8_t *sb, size_t sn)
{
	if (j->body && sb)
		jdiff_learn(&rep->noise[i], j->body, j->body_len, sb, sn);
	for (uint32_t h = 0; pm && h < sp->nheaders; h++)
		if (header_differs(j->head, pm, s->buf, &s->m, sp->headers[h]))
			rep->noise_headers[i] |= 1U << h;
}

/* Whether the target's answer differs from the primary's beyond noise:
 * the body first, then the headers compared. */
static bool differs(const struct mirror_report *rep, uint32_t i, const struct mirror_spec *sp,
		    const struct mirror_job *j, const struct h1_msg *pm,
		    const struct mirror_answer *t, const uint8_t *tb, size_t tn, char *where,
		    size_t size)
{
	const struct jdiff_noise *nz = rep->noise[i].samples ? &rep->noise[i] : NULL;

	if (sp->body &&
	    jdiff_differ(nz, sp->ignore, sp->nignore, j->body, j->body_len, tb, tn, where, size))
		return true;
	for (uint32_t h = 0; pm && h < sp->nheaders; h++)
		if (!(rep->noise_headers[i] & (1U << h)) &&
		    header_differs(j->head, pm, t->buf, &t->m, sp->headers[h])) {
			snprintf(where, size, "header %s", sp->headers[h]);
			return true;
		}
	return false;
}

void mirror_compare(struct mirror_state *ms, const struct mirror_job *j,
		    const struct mirror_answer *t, const struct mirror_answer *stable)
{
	const struct mirror_run *run = &ms->run[j->svc];
	struct mirror_pair p = { .status_primary = j->status,
				 .size_primary = j->size,
				 .lat_primary = j->lat_ns,
				 /* No answer: its latency is not known, its status 0. */
				 .lat_target = j->lat_ns };
	char where[MIRROR_IGNORE_MAX] = "";
	uint8_t *tb, *sb = NULL;
	size_t tn, sn = 0;
	struct mirror_report *rep;
	struct mirror_route *r;
	struct h1_msg pm;
	bool pm_ok = j->head && !h1_response(j->head, j->head_len, "HEAD", true, &pm);
	uint32_t i;

	tn = answer_body(t, &tb);
	if (stable)
		sn = answer_body(stable, &sb);
	pthread_mutex_lock(&ms->lock);
	rep = ms->rep[j->svc];
	if (!run->on || run->started != j->started || !rep || rep->started != j->started)
		goto unlock;
	r = mirror_route_get(rep->route, &rep->nroutes, j->route);
	i = r - rep->route;
	if (stable && stable->ok)
		learn(rep, i, &run->spec, j, pm_ok ? &pm : NULL, stable, sb, sn);
	if (!t->ok) {
		rep->n.failed++;
	} else {
		p.status_target = t->m.status;
		p.size_target = t->m.body_len;
		p.lat_target = t->lat_ns;
		/* A route whose stable answers differ as a whole cannot be
		 * compared by body; nor can a body too large to hold; nor
		 * one whose noise is not known yet (replays run in parallel:
		 * one can come back before the route's first noise sample,
		 * and a timestamp would count as a difference). */
		p.body_compared = !rep->noise[i].whole && (!run->spec.body || (j->body && tb)) &&
				  (rep->noise[i].samples || !run->spec.noise_samples);
		p.body_differs = p.body_compared &&
				 differs(rep, i, &run->spec, j, pm_ok ? &pm : NULL, t, tb, tn,
					 where, sizeof(where));
		p.diff_where = where;
	}
	mirror_fig_add(&r->fig, &p);
	mirror_fig_add(&rep->all, &p);
unlock:
	pthread_mutex_unlock(&ms->lock);
	free(tb);
	free(sb);
}
