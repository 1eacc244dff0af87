/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x message framing (RFC 9112) over bytes already reassembled:
 * where a request or a response starts and ends, its start line, a few
 * headers, and its body decoded. Pure, no allocation. The bytes come from
 * clients and backends vsteer does not control: whatever they are, a
 * parse ends in 0, -EAGAIN or an error, never reads outside buf.
 */
#ifndef VS_HTTP1_H
#define VS_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H1_HEAD_MAX   16384 /* start line and headers */
#define H1_METHOD_MAX 16
#define H1_TARGET_MAX 1024

struct h1_msg {
	size_t head_len;	    /* start line, headers and the empty line */
	size_t len;		    /* the whole message as sent: head, body, chunk framing */
	uint64_t body_len;	    /* the body decoded (chunked: the chunks' data) */
	int64_t content_length;	    /* -1: none */
	char method[H1_METHOD_MAX]; /* requests */
	char target[H1_TARGET_MAX]; /* requests: as sent ("/a/b?c=1") */
	int status;		    /* responses: 100..999 */
	uint8_t minor;		    /* HTTP/1.minor */
	bool chunked;		    /* Transfer-Encoding ends in chunked */
	bool close;		    /* the connection ends after it (Connection:
				  * close, or HTTP/1.0 without keep-alive) */
	bool authorization;	    /* requests: an Authorization header */
	bool cookie;		    /* requests: a Cookie header */
	bool upgrade;		    /* an Upgrade header or CONNECT: not HTTP after it */
	bool until_close;	    /* responses: body delimited by the connection's end */
};

/* One request at the start of buf[0..n): 0 and *m when it is all there;
 * -EAGAIN when more bytes are needed; -EMSGSIZE when the head exceeds
 * H1_HEAD_MAX or the target H1_TARGET_MAX; -EPROTO when it is not HTTP/1.x
 * or its framing is ambiguous (both Content-Length and chunked, two
 * different Content-Lengths, a bad chunk size, ...). */
int h1_request(const uint8_t *buf, size_t n, struct h1_msg *m);
/* One response, to a request of method req_method (a HEAD's has no body;
 * so has a 1xx, 204 or 304); eof: the stream has ended, which ends a body
 * delimited by the connection's close. Returns as h1_request(). */
int h1_response(const uint8_t *buf, size_t n, const char *req_method, bool eof, struct h1_msg *m);
/* The first header called name (any case) in the head of message m at
 * buf: 0 with *val (not NUL-terminated, trimmed) and *vlen, or -ENOENT. */
int h1_header(const uint8_t *buf, const struct h1_msg *m, const char *name, const char **val,
	      size_t *vlen);
/* Calls fn for each header of m's head in order (name and value trimmed,
 * not NUL-terminated); stops at a nonzero return and returns it. */
int h1_each_header(const uint8_t *buf, const struct h1_msg *m,
		   int (*fn)(void *ctx, const char *name, size_t nlen, const char *val,
			     size_t vlen),
		   void *ctx);
/* m's body decoded into out (at most size bytes): the number of bytes,
 * or -EMSGSIZE when it is longer than size. */
int64_t h1_body(const uint8_t *buf, const struct h1_msg *m, uint8_t *out, size_t size);

#endif
