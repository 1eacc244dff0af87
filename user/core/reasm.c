// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Offsets inside reasm_add() are relative to `next` as it was on entry,
 * in 64 bits: every range held is within REASM_MAX_AHEAD of it, so the
 * 32-bit sequence space wraps only in the two subtractions that make
 * them (RFC 1982: a difference read as signed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/reasm.h"

struct reasm_seg {
	struct reasm_seg *next;
	uint32_t seq, len;
	uint32_t cap; /* of data */
	bool hole;    /* not captured: no data, delivered as zeros */
	bool fin;     /* the FIN's place: len 0, last in the list */
	uint8_t *data;
};

/* Ranges of buf [off, off + len), sorted, apart; when there are
 * REASM_MAX_RANGES of them the last grows over the next hole, so that
 * reasm_has_hole() may say "hole" of captured bytes but never the
 * reverse. */
struct reasm_holes {
	size_t n, cap;
	struct {
		size_t off, len;
	} r[];
};

void reasm_init(struct reasm *r, uint32_t isn)
{
	memset(r, 0, sizeof(*r));
	r->next = isn;
}

static void drop_ahead(struct reasm *r)
{
	while (r->ahead) {
		struct reasm_seg *s = r->ahead;

		r->ahead = s->next;
		free(s->data);
		free(s);
	}
	r->ahead_bytes = 0;
}

void reasm_free(struct reasm *r)
{
	drop_ahead(r);
	free(r->buf);
	free(r->hole_at);
	memset(r, 0, sizeof(*r));
}

/* A broken stream keeps what it delivered (the caller decides what to do
 * with it) and frees what it held. */
static int broken(struct reasm *r, int err)
{
	r->broken = true;
	drop_ahead(r);
	return err;
}

static int note_hole(struct reasm *r, size_t off, size_t len)
{
	struct reasm_holes *h = r->hole_at;

	if (h && h->n && h->r[h->n - 1].off + h->r[h->n - 1].len == off) {
		h->r[h->n - 1].len += len;
		return 0;
	}
	if (h && h->n == REASM_MAX_RANGES) {
		h->r[h->n - 1].len = off + len - h->r[h->n - 1].off;
		return 0;
	}
	if (!h || h->n == h->cap) {
		size_t cap = h ? h->cap * 2 : 8;

		h = realloc(h, sizeof(*h) + cap * sizeof(h->r[0]));
		if (!h)
			return -ENOMEM;
		if (!r->hole_at)
			h->n = 0;
		h->cap = cap;
		r->hole_at = h;
	}
	h->r[h->n].off = off;
	h->r[h->n++].len = len;
	return 0;
}

/* n bytes onto buf: data's, or zeros where nothing was captured. */
static int deliver(struct reasm *r, const uint8_t *data, size_t n, bool hole)
{
	int err;

	if (r->len + n > REASM_MAX_PENDING)
		return -ENOBUFS;
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *p;

		while (cap < r->len + n)
			cap *= 2;
		p = realloc(r->buf, cap);
		if (!p)
			return -ENOMEM;
		r->buf = p;
		r->cap = cap;
	}
	if (hole) {
		err = note_hole(r, r->len, n);
		if (err)
			return err;
		memset(r->buf + r->len, 0, n);
		r->holes += n;
	} else {
		memcpy(r->buf + r->len, data, n);
	}
	r->len += n;
	r->delivered += n;
	r->next += (uint32_t)n;
	return 0;
}

static int64_t off_of(const struct reasm_seg *s, uint32_t base)
{
	return (int32_t)(s->seq - base);
}

/* Hold [a, b) after prev (NULL: first), growing prev when it ends at a
 * and is of the same kind: a burst after a loss arrives in order and
 * becomes one range. */
static int hold(struct reasm *r, struct reasm_seg *prev, uint32_t base, int64_t a, int64_t b,
		const uint8_t *data, bool hole)
{
	uint32_t n = (uint32_t)(b - a);
	struct reasm_seg *s;

	if (prev && !prev->fin && prev->hole == hole && off_of(prev, base) + prev->len == a) {
		if (!hole && prev->len + n > prev->cap) {
			uint32_t cap = prev->cap * 2 > prev->len + n ? prev->cap * 2 :
								       prev->len + n;
			uint8_t *p = realloc(prev->data, cap);

			if (!p)
				return -ENOMEM;
			prev->data = p;
			prev->cap = cap;
		}
		if (!hole)
			memcpy(prev->data + prev->len, data, n);
		prev->len += n;
		r->ahead_bytes += n;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s || (!hole && !(s->data = malloc(n)))) {
		free(s);
		return -ENOMEM;
	}
	s->seq = base + (uint32_t)a;
	s->len = n;
	s->hole = hole;
	if (!hole) {
		s->cap = n;
		memcpy(s->data, data, n);
	}
	s->next = prev ? prev->next : r->ahead;
	if (prev)
		prev->next = s;
	else
		r->ahead = s;
	r->ahead_bytes += n;
	return 0;
}

/* [a, b) of a segment whose payload starts at offset start, its first
 * `copied` bytes in data: delivered when a is next, else held, in two
 * parts where what was copied ends. */
static int place(struct reasm *r, struct reasm_seg **prev, uint32_t base, int64_t a, int64_t b,
		 int64_t start, const uint8_t *data, int64_t copied)
{
	int64_t cend = start + copied;
	int err = 0;

	for (int hole = 0; hole < 2 && !err; hole++) {
		int64_t pa = hole ? (a > cend ? a : cend) : a;
		int64_t pb = hole ? b : (b < cend ? b : cend);
		const uint8_t *p;

		if (pa >= pb)
			continue;
		p = hole ? NULL : data + (pa - start);
		if (pa == (int32_t)(r->next - base))
			err = deliver(r, p, pb - pa, hole);
		else if (!(err = hold(r, *prev, base, pa, pb, p, hole)) &&
			 (*prev ? (*prev)->next : r->ahead) &&
			 off_of(*prev ? (*prev)->next : r->ahead, base) == pa)
			*prev = *prev ? (*prev)->next : r->ahead;
	}
	return err;
}

/* Deliver the ranges that now start at next, and reach the FIN. */
static int drain(struct reasm *r)
{
	int err;

	while (r->ahead && r->ahead->seq == r->next) {
		struct reasm_seg *s = r->ahead;

		if (s->fin) {
			r->fin = true;
			drop_ahead(r);
			return 0;
		}
		err = deliver(r, s->data, s->len, s->hole);
		if (err)
			return err;
		r->ahead_bytes -= s->len;
		r->ahead = s->next;
		free(s->data);
		free(s);
	}
	return 0;
}

/* The FIN held at or after the ranges, if any. */
static struct reasm_seg *fin_of(const struct reasm *r)
{
	struct reasm_seg *s = r->ahead;

	while (s && s->next)
		s = s->next;
	return s && s->fin ? s : NULL;
}

/* Of [a, b), the ranges a segment copied up to cend makes: a copied
 * one and one not copied. */
static int64_t pieces(int64_t a, int64_t b, int64_t cend)
{
	return (a < cend && a < b) + (b > cend && a < b);
}

/* What a segment [start, end) copied up to cend brings that was not
 * there: *fresh bytes, of which *held are to be held in at most
 * *ranges new ranges; the bounds are checked before anything changes. */
static void count_new(const struct reasm *r, uint32_t base, int64_t start, int64_t end,
		      int64_t cend, int64_t *fresh, int64_t *held, int64_t *ranges)
{
	int64_t at = start, so;

	*fresh = 0;
	*held = 0;
	*ranges = 0;
	for (const struct reasm_seg *s = r->ahead; s && !s->fin; s = s->next) {
		(*ranges)++;
		so = off_of(s, base);
		if (so >= end || so + s->len <= at)
			continue;
		if (so > at) {
			*fresh += so - at;
			/* the part from next on is delivered, not held */
			if (at > 0) {
				*held += so - at;
				*ranges += pieces(at, so, cend);
			}
		}
		at = so + s->len;
	}
	if (end > at) {
		*fresh += end - at;
		if (at > 0) {
			*held += end - at;
			*ranges += pieces(at, end, cend);
		}
	}
}

static int add_fin(struct reasm *r, uint32_t base, int64_t end)
{
	struct reasm_seg *s, **pp = &r->ahead;

	/* Ranges beyond the FIN cannot be: drop them. */
	while (*pp && off_of(*pp, base) < end)
		pp = &(*pp)->next;
	while (*pp) {
		s = *pp;
		*pp = s->next;
		r->ahead_bytes -= s->len;
		free(s->data);
		free(s);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->seq = base + (uint32_t)end;
	s->fin = true;
	*pp = s;
	return 0;
}

int reasm_add(struct reasm *r, uint32_t seq, const uint8_t *data, uint32_t copied, uint32_t len,
	      bool fin)
{
	uint32_t base = r->next;
	int64_t start = (int32_t)(seq - base), end, at, fresh, held, ranges, skip;
	struct reasm_seg *f, *prev = NULL, *s;
	int err = 0;

	if (r->broken)
		return -EPIPE;
	if (r->fin)
		return 0;
	if (start > REASM_MAX_AHEAD)
		return broken(r, -ENOBUFS);
	if (copied > len)
		copied = len;
	end = start + len;
	if (end < 0) {
		r->dups += len;
		return 0;
	}
	if (start < 0) {
		skip = -start;
		r->dups += skip;
		if (copied) {
			data += skip < copied ? skip : copied;
			copied -= skip < copied ? skip : copied;
		}
		start = 0;
	}
	f = fin_of(r);
	if (f && end > off_of(f, base))
		end = off_of(f, base) > start ? off_of(f, base) : start;
	count_new(r, base, start, end, start + copied, &fresh, &held, &ranges);
	if (r->ahead_bytes + held > REASM_MAX_AHEAD || ranges > REASM_MAX_RANGES)
		return broken(r, -ENOBUFS);
	r->dups += (end - start) - fresh;

	/* Fill the gaps between held ranges; bytes already held stay. */
	at = start;
	for (s = r->ahead; s && !s->fin && at < end && !err; s = s->next) {
		int64_t so = off_of(s, base);

		if (so > at)
			err = place(r, &prev, base, at, so < end ? so : end, start, data, copied);
		if (so + s->len > at)
			at = so + s->len;
		prev = s;
	}
	if (!err && at < end)
		err = place(r, &prev, base, at, end, start, data, copied);
	if (!err && fin && !f)
		err = add_fin(r, base, end);
	if (!err)
		err = drain(r);
	return err ? broken(r, err) : 0;
}

void reasm_consume(struct reasm *r, size_t n)
{
	struct reasm_holes *h = r->hole_at;
	size_t keep = 0;

	if (n > r->len)
		n = r->len;
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		size_t off = h->r[i].off, end = off + h->r[i].len;

		if (end <= n)
			continue;
		h->r[keep].off = off > n ? off - n : 0;
		h->r[keep++].len = end - (off > n ? off : n);
	}
	h->n = keep;
}

bool reasm_has_hole(const struct reasm *r, size_t n)
{
	return r->hole_at && r->hole_at->n && r->hole_at->r[0].off < n;
}
