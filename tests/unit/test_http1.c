// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x framing (core/http1): a table of requests and responses with
 * what each frames to or why it is refused; every proper prefix of each
 * wants more bytes; pipelining, chunked bodies decoded, headers, and
 * hostile input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/http1.h"
#include "lib/compiler.h"

#include "harness.h"
#include "helpers.h"

struct row {
	const char *in;
	size_t n;	    /* 0: strlen(in) */
	const char *method; /* responses: the request's; NULL: a request */
	bool eof;	    /* responses */
	int ret;
	uint64_t body_len;
	/* c chunked, C close, a authorization, k cookie, u upgrade, U until_close */
	const char *flags;
	size_t extra; /* bytes after the message */
};

#define RESP "HTTP/1.1 200 OK\r\n"
#define REQ  "GET / HTTP/1.1\r\nHost: a\r\n"
#define POST "POST /f HTTP/1.1\r\nHost: a\r\n"

/* clang-format off */
static const struct row rows[] = {
	/* requests */
	{ REQ "\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ "GET / HTTP/1.0\r\n\r\n", 0, NULL, 0, 0, 0, "C", 0 },
	{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ REQ "Connection: Keep-Alive, CLOSE\r\n\r\n", 0, NULL, 0, 0, 0, "C", 0 },
	{ REQ "Connection: closed\r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ "GET / HTTP/1.1\nHost: a\n\n", 0, NULL, 0, 0, 0, "", 0 },	/* bare LF */
	{ "\r\n\r\n" REQ "\r\n", 0, NULL, 0, 0, 0, "", 0 },		/* empty lines first */
	{ REQ "Authorization: Bearer x\r\nCookie: a=b\r\n\r\n", 0, NULL, 0, 0, 0, "ak", 0 },
	{ REQ "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, NULL, 0, 0, 0, "u", 0 },
	{ "CONNECT example.com:443 HTTP/1.1\r\n\r\nbinary", 0, NULL, 0, 0, 0, "u", 6 },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ "GET http://h/x?y HTTP/1.1\r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ REQ "X-Empty:\r\nX-Sp:   v  \r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	/* Content-Length */
	{ POST "Content-Length: 5\r\n\r\nhello", 0, NULL, 0, 0, 5, "", 0 },
	{ POST "Content-Length: 5\r\n\r\nhelloGET", 0, NULL, 0, 0, 5, "", 3 },
	{ POST "Content-Length: 5, 5\r\n\r\nhello", 0, NULL, 0, 0, 5, "", 0 },
	{ POST "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 0, NULL, 0, 0, 5, "", 0 },
	{ POST "Content-Length: 0\r\n\r\n", 0, NULL, 0, 0, 0, "", 0 },
	{ POST "Content-Length: 5, 6\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 5a\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: -1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: +5\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 0x5\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length:\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 1 2\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 9223372036854775807\r\n\r\nx", 0, NULL, 0, -EAGAIN, 0, "", 0 },
	{ POST "Content-Length: 9223372036854775808\r\n\r\nx", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 99999999999999999999999\r\n\r\nx", 0, NULL, 0, -EPROTO, 0, "", 0 },
	/* chunked */
	{ POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, NULL, 0, 0, 5, "c", 0 },
	{ POST "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 0, NULL, 0, 0, 0, "c", 0 },
	{ POST "Transfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0, NULL, 0, 0, 1, "c", 0 },
	{ POST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, NULL, 0, 0, 0, "c", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d e\"\r\nhello\r\nA ; x\r\n0123456789\r\n"
	  "0;end\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n", 0, NULL, 0, 0, 15, "c", 0 },
	{ POST "Transfer-Encoding: chunked\n\n5\nhello\n0\n\n", 0, NULL, 0, 0, 5, "c", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\ng\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n", 0, NULL, 0, -EAGAIN, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n folded\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	/* smuggling shapes */
	{ POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: gzip\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding:\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding : chunked\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Transfer-Encoding: chunked\r\n Content-Length: 5\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ POST "Content-Length: 5\rX: y\r\n\r\nhello", 0, NULL, 0, -EPROTO, 0, "", 0 },
	/* start line and fields */
	{ "GET / HTTP/2.0\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET / http/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET / HTTP/1.1 \r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET  / HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ " GET / HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "G(T / HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET /\x7f HTTP/1.1\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET /a\0b HTTP/1.1\r\n\r\n", sizeof("GET /a\0b HTTP/1.1\r\n\r\n") - 1, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "X: a\0b\r\n\r\n", sizeof(REQ "X: a\0b\r\n\r\n") - 1, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "X: a\r\n folded\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "X: a\r\n\tfolded\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "Host : a\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "no colon\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ ": empty name\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ REQ "X: a\rb\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "GET / HTTP/1.1\r\r\n\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	{ "\r\r\n", 0, NULL, 0, -EPROTO, 0, "", 0 },
	/* responses */
	{ RESP "Content-Length: 3\r\n\r\nabc", 0, "GET", 0, 0, 3, "", 0 },
	{ RESP "Content-Length: 3\r\n\r\nabcHTTP/1.1", 0, "GET", 0, 0, 3, "", 8 },
	{ "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, "GET", 0, 0, 0, "", 0 },
	{ "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, "GET", 0, 0, 0, "", 0 },
	{ "HTTP/1.1 404 Not\tFound\r\nContent-Length: 0\r\n\r\n", 0, "GET", 0, 0, 0, "", 0 },
	{ "HTTP/1.1 204 No Content\r\n\r\n", 0, "GET", 0, 0, 0, "", 0 },
	{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, "GET", 0, 0, 0, "", 0 },
	{ RESP "Content-Length: 10\r\n\r\n", 0, "HEAD", 0, 0, 0, "", 0 },
	{ RESP "Transfer-Encoding: chunked\r\n\r\n", 0, "HEAD", 0, 0, 0, "c", 0 },
	{ "HTTP/1.1 100 Continue\r\n\r\n" RESP "Content-Length: 0\r\n\r\n", 0, "POST", 0, 0, 0, "", 38 },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0, "GET", 0, 0, 0, "u", 0 },
	{ RESP "\r\n", 0, "CONNECT", 0, 0, 0, "u", 0 },
	{ "HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno", 0, "CONNECT", 0, 0, 2, "", 0 },
	{ RESP "\r\nabc", 0, "GET", 1, 0, 3, "U", 0 },
	{ RESP "\r\nabc", 0, "GET", 0, -EAGAIN, 0, "", 0 },
	{ RESP "\r\n", 0, "GET", 1, 0, 0, "U", 0 },
	{ "HTTP/1.0 200 OK\r\n\r\nabc", 0, "GET", 1, 0, 3, "UC", 0 },
	{ RESP "Connection: close\r\nContent-Length: 1\r\n\r\nx", 0, "GET", 0, 0, 1, "C", 0 },
	{ RESP "Transfer-Encoding: gzip\r\n\r\nzz", 0, "GET", 1, 0, 2, "U", 0 },
	{ RESP "Transfer-Encoding: chunked, gzip\r\n\r\nzz", 0, "GET", 1, 0, 2, "U", 0 },
	{ RESP "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, "GET", 0, 0, 3, "c", 0 },
	{ RESP "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ RESP "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ RESP "Content-Length: 3, 4\r\n\r\nabc", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ RESP "Content-Length: 5\r\n\r\nabc", 0, "GET", 1, -EAGAIN, 0, "", 0 },
	{ "HTTP/1.1 99 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/1.1 099 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/1.1 2000 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/1.1 2a0 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/1.1  200 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/2 200 X\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "GET / HTTP/1.1\r\n\r\n", 0, "GET", 0, -EPROTO, 0, "", 0 },
	{ "\r\n" RESP "\r\n", 0, "GET", 1, -EPROTO, 0, "", 0 },
};
/* clang-format on */

static size_t in_len(const struct row *r)
{
	return r->n ? r->n : strlen(r->in);
}

static int parse(const struct row *r, size_t n, bool eof, struct h1_msg *m)
{
	const uint8_t *b = (const uint8_t *)r->in;

	return r->method ? h1_response(b, n, r->method, eof, m) : h1_request(b, n, m);
}

/* Where the head ends: after the first empty line that follows a line
 * that is not empty. */
static size_t head_end(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == '\r' || s[i] == '\n'))
		i++;
	for (; i + 1 < n; i++) {
		if (s[i] == '\n' && s[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && s[i] == '\n' && s[i + 1] == '\r' && s[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void check_flags(const struct h1_msg *m, const char *want)
{
	char got[8] = "";
	size_t n = 0;

	if (m->chunked)
		got[n++] = 'c';
	if (m->close)
		got[n++] = 'C';
	if (m->authorization)
		got[n++] = 'a';
	if (m->cookie)
		got[n++] = 'k';
	if (m->upgrade)
		got[n++] = 'u';
	if (m->until_close)
		got[n++] = 'U';
	got[n] = '\0';
	for (const char *c = want; *c; c++)
		CHECK(strchr(got, *c), "flag %c not set (%s)", *c, got);
	CHECK_INT(strlen(got), ==, strlen(want));
}

static void test_h1_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		size_t n = in_len(r);
		struct h1_msg m;
		uint8_t out[64];

		row("%zu: %.60s", i, r->in);
		CHECK_INT(parse(r, n, r->eof, &m), ==, r->ret);
		if (r->ret)
			continue;
		CHECK_INT(m.len, ==, n - r->extra);
		CHECK_INT(m.head_len, ==, head_end(r->in, n));
		CHECK_INT(m.body_len, ==, r->body_len);
		CHECK(m.head_len <= m.len && m.body_len <= m.len - m.head_len, "sizes");
		CHECK_HELPER(check_flags(&m, r->flags));
		CHECK_INT(h1_body((const uint8_t *)r->in, &m, out, sizeof(out)), ==, r->body_len);
		if (!m.chunked)
			CHECK(!memcmp(out, r->in + m.head_len, r->body_len), "body");
		if (r->body_len)
			CHECK_INT(h1_body((const uint8_t *)r->in, &m, out, r->body_len - 1), ==,
				  -EMSGSIZE);
	}
}

/* Every proper prefix of every message of the table wants more bytes
 * (a response's connection still open). */
static void test_h1_every_prefix(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		struct h1_msg m;
		size_t len;

		if (r->ret || parse(r, in_len(r), r->eof, &m))
			continue;
		len = m.len;
		for (size_t k = 0; k < len; k++) {
			row("%zu: %.40s cut at %zu", i, r->in, k);
			CHECK_INT(parse(r, k, false, &m), ==, -EAGAIN);
		}
	}
}

static void test_h1_pipelined(void)
{
	static const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				 "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "3\r\nabc\r\n0\r\n\r\n"
				 "PUT /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy";
	static const char *const want[] = { "GET /a", "POST /b", "PUT /c" };
	const uint8_t *p = (const uint8_t *)in;
	size_t left = sizeof(in) - 1;
	struct h1_msg m;

	for (size_t i = 0; i < 3; i++) {
		char got[64];

		row("request %zu", i);
		CHECK_INT(h1_request(p, left, &m), ==, 0);
		snprintf(got, sizeof(got), "%s %s", m.method, m.target);
		CHECK_STR(got, want[i]);
		CHECK_INT(m.body_len, ==, i == 0 ? 0 : i == 1 ? 3 : 2);
		p += m.len;
		left -= m.len;
	}
	CHECK_INT(left, ==, 0);
	CHECK_INT(h1_request(p, left, &m), ==, -EAGAIN);
}

static int count_headers(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	char *out = ctx;
	size_t len = strlen(out);

	snprintf(out + len, 256 - len, "[%.*s=%.*s]", (int)nlen, name, (int)vlen, val);
	return nlen == 4 && !memcmp(name, "Stop", 4) ? 7 : 0;
}

static void test_h1_headers_and_body(void)
{
	static const char req[] =
		"\r\nPOST /u?x=1 HTTP/1.1\r\nHost:  h \r\ncontent-TYPE:text/plain\r\n"
		"X-Empty:\r\nTransfer-Encoding: chunked\r\nStop: 1\r\nAfter: 2\r\n\r\n"
		"4;x=y\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n"
		"0\r\nTrailer: t\r\n\r\n";
	const uint8_t *b = (const uint8_t *)req;
	char seen[256] = "";
	uint8_t out[64];
	const char *v;
	struct h1_msg m;
	size_t vlen;

	CHECK_INT(h1_request(b, sizeof(req) - 1, &m), ==, 0);
	CHECK_STR(m.method, "POST");
	CHECK_STR(m.target, "/u?x=1");
	CHECK_INT(m.minor, ==, 1);
	CHECK_INT(m.content_length, ==, -1);
	CHECK_INT(m.len, ==, sizeof(req) - 1);
	CHECK_INT(h1_header(b, &m, "CONTENT-type", &v, &vlen), ==, 0);
	CHECK(vlen == 10 && !memcmp(v, "text/plain", 10), "%.*s", (int)vlen, v);
	CHECK_INT(h1_header(b, &m, "host", &v, &vlen), ==, 0);
	CHECK(vlen == 1 && *v == 'h', "host");
	CHECK_INT(h1_header(b, &m, "x-empty", &v, &vlen), ==, 0);
	CHECK_INT(vlen, ==, 0);
	CHECK_INT(h1_header(b, &m, "Trailer", &v, &vlen), ==, -ENOENT); /* not in the head */
	CHECK_INT(h1_header(b, &m, "Hos", &v, &vlen), ==, -ENOENT);
	CHECK_INT(h1_each_header(b, &m, count_headers, seen), ==, 7);
	CHECK_STR(seen, "[Host=h][content-TYPE=text/plain][X-Empty=][Transfer-Encoding=chunked]"
			"[Stop=1]");
	CHECK_INT(m.body_len, ==, 24);
	CHECK_INT(h1_body(b, &m, out, sizeof(out)), ==, 24);
	CHECK(!memcmp(out, "Wikipedia in \r\n\r\nchunks.", 24), "%.24s", out);
	CHECK_INT(h1_body(b, &m, out, 23), ==, -EMSGSIZE);
	CHECK_INT(h1_body(b, &m, out, 24), ==, 24);

	/* a response's headers */
	static const char resp[] = "HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 2\r\n\r\nhi";
	CHECK_INT(h1_response((const uint8_t *)resp, sizeof(resp) - 1, "GET", false, &m), ==, 0);
	CHECK_INT(m.status, ==, 200);
	CHECK_INT(m.content_length, ==, 2);
	CHECK_INT(h1_header((const uint8_t *)resp, &m, "date", &v, &vlen), ==, 0);
	CHECK(vlen == 1 && *v == 'x', "date");
}

static void test_h1_limits(void)
{
	size_t size = H1_HEAD_MAX + 4096;
	char *buf = tcalloc(size + 1);
	struct h1_msg m;
	size_t n;

	/* a target of H1_TARGET_MAX - 1 bytes fits (and its NUL), one more does not */
	for (size_t t = H1_TARGET_MAX - 1; t <= H1_TARGET_MAX; t++) {
		n = (size_t)snprintf(buf, size, "GET /");
		memset(buf + n, 'a', t - 1);
		n += t - 1;
		n += (size_t)snprintf(buf + n, size - n, " HTTP/1.1\r\n\r\n");
		row("target of %zu", t);
		CHECK_INT(h1_request((uint8_t *)buf, n, &m), ==, t < H1_TARGET_MAX ? 0 : -EMSGSIZE);
		if (t < H1_TARGET_MAX)
			CHECK_INT(strlen(m.target), ==, t);
	}
	/* a head of exactly H1_HEAD_MAX bytes, and one byte more */
	for (size_t h = H1_HEAD_MAX; h <= H1_HEAD_MAX + 1; h++) {
		n = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\nX: ");
		memset(buf + n, 'v', h - n - 4);
		memcpy(buf + h - 4, "\r\n\r\n", 4);
		row("head of %zu", h);
		CHECK_INT(h1_request((uint8_t *)buf, h, &m), ==, h == H1_HEAD_MAX ? 0 : -EMSGSIZE);
		/* and without its end: more bytes cannot help past the limit */
		CHECK_INT(h1_request((uint8_t *)buf, h - 1, &m), ==,
			  h == H1_HEAD_MAX ? -EAGAIN : -EMSGSIZE);
	}
	/* 16 KiB of small headers, no end */
	n = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\n");
	while (n + 8 < size)
		n += (size_t)snprintf(buf + n, size - n, "A: b\r\n");
	CHECK_INT(h1_request((uint8_t *)buf, n, &m), ==, -EMSGSIZE);
	/* a chunk line that never ends */
	n = (size_t)snprintf(buf, size, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;");
	memset(buf + n, 'e', size - n);
	CHECK_INT(h1_request((uint8_t *)buf, size, &m), ==, -EMSGSIZE);
}

/* Random bytes, and random mutations of the table's messages: whatever
 * they are, a parse ends in 0 with sizes inside the input, or an error. */
static void test_h1_hostile(void)
{
	uint8_t buf[512], out[512];
	struct h1_msg m;
	int ok = 0;

	rng_seed(1414);
	for (int i = 0; i < 20000; i++) {
		const struct row *r = &rows[rng() % ARRAY_SIZE(rows)];
		size_t n = in_len(r) < sizeof(buf) ? in_len(r) : sizeof(buf);
		int ret;

		memcpy(buf, r->in, n);
		for (int k = rng() % 4; k >= 0 && n; k--)
			buf[rng() % n] = rng() % 3 ? (uint8_t) "\0\r\n :;,\t"[rng() % 8] :
						     (uint8_t)rng();
		if (i % 10 == 0)
			for (size_t k = 0; k < n; k++)
				buf[k] = (uint8_t)rng();
		ret = r->method ? h1_response(buf, n, r->method, i % 2, &m) :
				  h1_request(buf, n, &m);
		row("%d", i);
		CHECK(ret == 0 || ret == -EAGAIN || ret == -EPROTO || ret == -EMSGSIZE, "ret %d",
		      ret);
		if (ret)
			continue;
		ok++;
		CHECK(m.len <= n && m.head_len <= m.len && m.body_len <= m.len - m.head_len,
		      "sizes %zu %zu %llu of %zu", m.head_len, m.len,
		      (unsigned long long)m.body_len, n);
		CHECK(memchr(m.method, '\0', sizeof(m.method)) &&
			      memchr(m.target, '\0', sizeof(m.target)),
		      "strings");
		CHECK_INT(h1_body(buf, &m, out, sizeof(out)), ==, m.body_len);
	}
	CHECK(ok > 500, "only %d parsed", ok); /* 913 when written */
}

const struct unit_case http1_cases[] = { TEST(test_h1_table),	  TEST(test_h1_every_prefix),
					 TEST(test_h1_pipelined), TEST(test_h1_headers_and_body),
					 TEST(test_h1_limits),	  TEST(test_h1_hostile),
					 { NULL, NULL } };
