// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Strict where framing is at stake (RFC 9112 section 6.3, and 11.2's
 * request smuggling: a message two parsers could frame differently is an
 * error), lenient where it is not: a bare LF ends a line as CRLF does
 * (section 2.2 allows it, and many servers and clients accept it), a
 * request may follow empty lines (old clients send a CRLF after a
 * body), a reason phrase may be missing. A bare CR is never a line end.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "core/http1.h"

struct line {
	size_t at, len; /* the line without its CRLF or LF */
	size_t next;	/* where the next one starts */
};

/* The line at buf[at..n) whose LF must come before buf[limit]:
 * -EMSGSIZE when it cannot, -EAGAIN until it comes. */
static int line_at(const uint8_t *buf, size_t n, size_t at, size_t limit, struct line *l)
{
	size_t end = n < limit ? n : limit;
	const uint8_t *lf = at < end ? memchr(buf + at, '\n', end - at) : NULL;

	if (!lf)
		return n >= limit ? -EMSGSIZE : -EAGAIN;
	l->at = at;
	l->len = (size_t)(lf - buf) - at;
	l->next = (size_t)(lf - buf) + 1;
	if (l->len && buf[at + l->len - 1] == '\r')
		l->len--;
	if (memchr(buf + at, '\r', l->len) || memchr(buf + at, '\0', l->len))
		return -EPROTO;
	return 0;
}

/* RFC 9110 section 5.6.2 */
static bool tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static void trim(const uint8_t **p, size_t *len)
{
	while (*len && ows((*p)[0])) {
		(*p)++;
		(*len)--;
	}
	while (*len && ows((*p)[*len - 1]))
		(*len)--;
}

static bool is(const uint8_t *p, size_t len, const char *word)
{
	return len == strlen(word) && !strncasecmp((const char *)p, word, len);
}

/* A field line "name: value": the name a token right before the colon
 * (no space there, and none in front: that is obs-fold). */
static int field(const uint8_t *buf, const struct line *l, const uint8_t **name, size_t *nlen,
		 const uint8_t **val, size_t *vlen)
{
	const uint8_t *p = buf + l->at, *colon = memchr(p, ':', l->len);

	if (!colon || colon == p)
		return -EPROTO;
	for (const uint8_t *c = p; c < colon; c++)
		if (!tchar(*c))
			return -EPROTO;
	*name = p;
	*nlen = (size_t)(colon - p);
	*val = colon + 1;
	*vlen = l->len - *nlen - 1;
	trim(val, vlen);
	return 0;
}

/* Calls fn for each element of a comma-separated list, trimmed; empty
 * elements are skipped (RFC 9110 section 5.6.1). */
static int each_elem(const uint8_t *v, size_t len,
		     int (*fn)(void *ctx, const uint8_t *e, size_t elen), void *ctx)
{
	while (len) {
		const uint8_t *comma = memchr(v, ',', len);
		size_t elen = comma ? (size_t)(comma - v) : len;
		const uint8_t *e = v;
		size_t tlen = elen;
		int err;

		trim(&e, &tlen);
		if (tlen && (err = fn(ctx, e, tlen)))
			return err;
		v += elen + (comma ? 1 : 0);
		len -= elen + (comma ? 1 : 0);
	}
	return 0;
}

struct framing {
	struct h1_msg *m;
	int ncl;	   /* Content-Length values seen */
	int ncodings;	   /* transfer codings seen */
	int nchunked;	   /* of them, chunked */
	bool last_chunked; /* the last of them is chunked */
	bool keep_alive;
};

static int cl_elem(void *ctx, const uint8_t *e, size_t len)
{
	struct framing *f = ctx;
	int64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		if (e[i] < '0' || e[i] > '9' || v > (INT64_MAX - (e[i] - '0')) / 10)
			return -EPROTO;
		v = v * 10 + (e[i] - '0');
	}
	if (f->ncl++ && v != f->m->content_length)
		return -EPROTO;
	f->m->content_length = v;
	return 0;
}

static int te_elem(void *ctx, const uint8_t *e, size_t len)
{
	struct framing *f = ctx;
	size_t tlen = 0;

	while (tlen < len && tchar(e[tlen]))
		tlen++;
	f->ncodings++;
	f->last_chunked = is(e, tlen, "chunked");
	f->nchunked += f->last_chunked;
	return 0;
}

static int conn_elem(void *ctx, const uint8_t *e, size_t len)
{
	struct framing *f = ctx;

	if (is(e, len, "close"))
		f->m->close = true;
	else if (is(e, len, "keep-alive"))
		f->keep_alive = true;
	return 0;
}

static int on_field(struct framing *f, const uint8_t *name, size_t nlen, const uint8_t *v,
		    size_t vlen)
{
	int err = 0;

	if (is(name, nlen, "content-length")) {
		int before = f->ncl;

		err = each_elem(v, vlen, cl_elem, f);
		if (!err && f->ncl == before)
			err = -EPROTO; /* no value */
	} else if (is(name, nlen, "transfer-encoding")) {
		int before = f->ncodings;

		err = each_elem(v, vlen, te_elem, f);
		if (!err && f->ncodings == before)
			err = -EPROTO;
	} else if (is(name, nlen, "connection")) {
		err = each_elem(v, vlen, conn_elem, f);
	} else if (is(name, nlen, "authorization")) {
		f->m->authorization = true;
	} else if (is(name, nlen, "cookie")) {
		f->m->cookie = true;
	} else if (is(name, nlen, "upgrade")) {
		f->m->upgrade = true;
	}
	return err;
}

/* "HTTP/1.x" at p: its minor version, or -EPROTO. */
static int version(const uint8_t *p, size_t len)
{
	if (len != 8 || memcmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9')
		return -EPROTO;
	return p[7] - '0';
}

static int request_line(const uint8_t *buf, const struct line *l, struct h1_msg *m)
{
	const uint8_t *p = buf + l->at, *end = p + l->len, *sp1, *sp2;
	int minor;

	sp1 = memchr(p, ' ', l->len);
	if (!sp1 || sp1 == p)
		return -EPROTO;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -EPROTO;
	for (const uint8_t *c = p; c < sp1; c++)
		if (!tchar(*c))
			return -EPROTO;
	if (sp1 - p >= H1_METHOD_MAX)
		return -EPROTO; /* no method is that long */
	for (const uint8_t *c = sp1 + 1; c < sp2; c++)
		if (*c <= ' ' || *c == 0x7f)
			return -EPROTO;
	if (sp2 - sp1 - 1 >= H1_TARGET_MAX)
		return -EMSGSIZE;
	minor = version(sp2 + 1, (size_t)(end - sp2 - 1));
	if (minor < 0)
		return minor;
	memcpy(m->method, p, (size_t)(sp1 - p));
	memcpy(m->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	m->minor = (uint8_t)minor;
	return 0;
}

static int status_line(const uint8_t *buf, const struct line *l, struct h1_msg *m)
{
	const uint8_t *p = buf + l->at;
	int minor;

	/* "HTTP/1.1 200 OK", or without the reason: "HTTP/1.1 200" */
	if (l->len < 12 || (l->len > 12 && p[12] != ' ') || p[8] != ' ')
		return -EPROTO;
	minor = version(p, 8);
	if (minor < 0)
		return minor;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
	if (p[9] == '0')
		return -EPROTO;
	for (size_t i = 13; i < l->len; i++)
		if ((p[i] < ' ' && p[i] != '\t') || p[i] == 0x7f)
			return -EPROTO;
	m->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	m->minor = (uint8_t)minor;
	return 0;
}

/* Where the start line is: after the empty lines a request may follow. */
static int start_of(const uint8_t *buf, size_t n, bool request, struct line *l)
{
	size_t at = 0;
	int err;

	for (;;) {
		err = line_at(buf, n, at, H1_HEAD_MAX, l);
		if (err || l->len || !request)
			return err;
		at = l->next;
	}
}

/* The start line and the fields, up to the empty line: m->head_len, and
 * what the fields say about framing in f. */
static int head(const uint8_t *buf, size_t n, bool request, struct h1_msg *m, struct framing *f)
{
	const uint8_t *name, *val;
	size_t nlen, vlen;
	struct line l;
	int err;

	memset(m, 0, sizeof(*m));
	m->content_length = -1;
	memset(f, 0, sizeof(*f));
	f->m = m;
	err = start_of(buf, n, request, &l);
	if (!err)
		err = request ? request_line(buf, &l, m) : status_line(buf, &l, m);
	while (!err) {
		err = line_at(buf, n, l.next, H1_HEAD_MAX, &l);
		if (err || !l.len)
			break;
		err = field(buf, &l, &name, &nlen, &val, &vlen);
		if (!err)
			err = on_field(f, name, nlen, val, vlen);
	}
	if (err)
		return err;
	m->head_len = l.next;
	if (m->minor == 0 && !f->keep_alive)
		m->close = true;
	/* RFC 9112 section 6.1: a 1.0 message with a transfer coding has
	 * faulty framing; section 6.3: both headers, a smuggling shape. */
	if (f->ncodings && (m->minor == 0 || f->ncl))
		return -EPROTO;
	if (f->nchunked > 1 || (f->nchunked && !f->last_chunked && request))
		return -EPROTO;
	if (f->ncodings && !f->last_chunked && request)
		return -EPROTO;
	m->chunked = f->last_chunked;
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A line end at buf[pos..n): its length (2 or 1), -EAGAIN, -EPROTO. */
static int crlf(const uint8_t *buf, size_t n, size_t pos)
{
	if (pos >= n)
		return -EAGAIN;
	if (buf[pos] == '\n')
		return 1;
	if (buf[pos] != '\r')
		return -EPROTO;
	if (pos + 1 >= n)
		return -EAGAIN;
	return buf[pos + 1] == '\n' ? 2 : -EPROTO;
}

/* "1a;ext=v": the size. */
static int chunk_size(const uint8_t *buf, const struct line *l, uint64_t *size)
{
	size_t i = l->at, end = l->at + l->len;

	*size = 0;
	for (; i < end && hexval(buf[i]) >= 0; i++) {
		if (*size >> 56)
			return -EPROTO; /* over 2^60: no body is that long */
		*size = *size << 4 | (uint64_t)hexval(buf[i]);
	}
	if (i == l->at)
		return -EPROTO;
	while (i < end && ows(buf[i]))
		i++;
	if (i < end && buf[i] != ';')
		return -EPROTO;
	for (; i < end; i++)
		if (buf[i] < ' ' && buf[i] != '\t')
			return -EPROTO;
	return 0;
}

/* A chunked body from pos: *end after its trailers, *body the bytes of
 * its chunks' data, copied into out while they fit in size. */
static int chunks(const uint8_t *buf, size_t n, size_t pos, uint8_t *out, size_t size, size_t *end,
		  uint64_t *body)
{
	const uint8_t *name, *val;
	size_t nlen, vlen, trailers;
	uint64_t sz;
	struct line l;
	int err;

	*body = 0;
	for (;;) {
		err = line_at(buf, n, pos, pos + H1_HEAD_MAX, &l);
		if (!err)
			err = chunk_size(buf, &l, &sz);
		if (err)
			return err;
		pos = l.next;
		if (!sz)
			break;
		if (n - pos < sz)
			return -EAGAIN;
		if (out && *body + sz <= size)
			memcpy(out + *body, buf + pos, sz);
		*body += sz;
		pos += sz;
		err = crlf(buf, n, pos);
		if (err < 0)
			return err;
		pos += (size_t)err;
	}
	for (trailers = pos;;) {
		err = line_at(buf, n, pos, trailers + H1_HEAD_MAX, &l);
		if (err)
			return err;
		pos = l.next;
		if (!l.len)
			break;
		err = field(buf, &l, &name, &nlen, &val, &vlen);
		if (err)
			return err;
	}
	*end = pos;
	return 0;
}

/* The body after the head, framed by what the head said. */
static int body(const uint8_t *buf, size_t n, struct h1_msg *m)
{
	if (m->chunked)
		return chunks(buf, n, m->head_len, NULL, 0, &m->len, &m->body_len);
	if (m->content_length < 0) {
		m->len = m->head_len;
		return 0;
	}
	if ((uint64_t)m->content_length > n - m->head_len)
		return -EAGAIN;
	m->body_len = (uint64_t)m->content_length;
	m->len = m->head_len + (size_t)m->body_len;
	return 0;
}

int h1_request(const uint8_t *buf, size_t n, struct h1_msg *m)
{
	struct framing f;
	int err = head(buf, n, true, m, &f);

	if (err)
		return err;
	if (!strcmp(m->method, "CONNECT")) {
		m->upgrade = true;
		m->len = m->head_len;
		return 0;
	}
	return body(buf, n, m);
}

int h1_response(const uint8_t *buf, size_t n, const char *req_method, bool eof, struct h1_msg *m)
{
	bool connect = req_method && !strcmp(req_method, "CONNECT");
	struct framing f;
	int err = head(buf, n, false, m, &f);

	if (err)
		return err;
	if (m->status == 101 || (connect && m->status / 100 == 2))
		m->upgrade = true;
	if (m->status / 100 == 1 || m->status == 204 || m->status == 304 ||
	    (req_method && !strcmp(req_method, "HEAD")) || (connect && m->status / 100 == 2)) {
		m->len = m->head_len;
		return 0;
	}
	if (m->chunked || m->content_length >= 0)
		return body(buf, n, m);
	/* RFC 9112 section 6.3, rules 4 and 8: read until the close */
	m->until_close = true;
	if (!eof)
		return -EAGAIN;
	m->len = n;
	m->body_len = n - m->head_len;
	return 0;
}

/* The field lines of m's head, one by one: 1 and the line while there is
 * one, 0 at the end. *pos starts at 0. */
static int next_field(const uint8_t *buf, const struct h1_msg *m, size_t *pos, struct line *l)
{
	if (!*pos) {
		if (start_of(buf, m->head_len, m->method[0] != '\0', l))
			return 0;
		*pos = l->next;
	}
	if (line_at(buf, m->head_len, *pos, m->head_len, l) || !l->len)
		return 0;
	*pos = l->next;
	return 1;
}

int h1_each_header(const uint8_t *buf, const struct h1_msg *m,
		   int (*fn)(void *ctx, const char *name, size_t nlen, const char *val,
			     size_t vlen),
		   void *ctx)
{
	const uint8_t *name, *val;
	size_t pos = 0, nlen, vlen;
	struct line l;
	int ret;

	while (next_field(buf, m, &pos, &l))
		if (!field(buf, &l, &name, &nlen, &val, &vlen) &&
		    (ret = fn(ctx, (const char *)name, nlen, (const char *)val, vlen)))
			return ret;
	return 0;
}

struct find {
	const char *name;
	const char **val;
	size_t *vlen;
};

static int find_one(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	struct find *f = ctx;

	if (!is((const uint8_t *)name, nlen, f->name))
		return 0;
	*f->val = val;
	*f->vlen = vlen;
	return 1;
}

int h1_header(const uint8_t *buf, const struct h1_msg *m, const char *name, const char **val,
	      size_t *vlen)
{
	struct find f = { name, val, vlen };

	return h1_each_header(buf, m, find_one, &f) ? 0 : -ENOENT;
}

int64_t h1_body(const uint8_t *buf, const struct h1_msg *m, uint8_t *out, size_t size)
{
	uint64_t n;
	size_t end;

	if (m->body_len > size)
		return -EMSGSIZE;
	if (!m->chunked || !m->body_len) { /* a HEAD's, a 204: no chunks */
		if (m->body_len)
			memcpy(out, buf + m->head_len, m->body_len);
		return (int64_t)m->body_len;
	}
	if (chunks(buf, m->len, m->head_len, out, size, &end, &n))
		return -EPROTO; /* not a message h1_request() returned */
	return (int64_t)n;
}
