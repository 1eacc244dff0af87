// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: a captured stream reassembled (core/reasm) and framed
 * (core/http1), as the mirror does. Input: a flags byte (bit 0: parse
 * responses, bit 1: to HEAD requests, bit 2: the stream ends, bit 3:
 * some segments copied only in part), a byte k, then 3 * (k % 16) bytes
 * that cut the rest (the stream) into segments and order them (each a
 * cut point, an order key and an overlap), then the stream. The
 * segments, some overlapping, some sent twice, are added in the order of
 * their keys from a sequence number near the wrap (the last with a FIN
 * when the stream ends), and after each, the
 * messages buffered are parsed and consumed as the mirror does.
 * Invariants: the stream comes out whole (the captured bytes as they
 * were, zeros where not captured); a message fits in what is buffered,
 * its head and body in it; a message's every proper prefix wants more
 * bytes and the message alone parses the same; h1_body() gives body_len
 * bytes and its chunked decoding fits; consuming makes progress. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/http1.h"
#include "core/reasm.h"

#define MAX_SEGS 16
#define ISN	 0xffffff00u

struct seg {
	uint32_t at, len, key;
};

static int parse(const uint8_t *b, size_t n, uint8_t flags, bool eof, struct h1_msg *m)
{
	if (flags & 1)
		return h1_response(b, n, flags & 2 ? "HEAD" : "GET", eof, m);
	return h1_request(b, n, m);
}

static void check_msg(const uint8_t *b, size_t n, uint8_t flags, bool eof, const struct h1_msg *m)
{
	static uint8_t out[1 << 16];
	struct h1_msg again;

	if (m->len > n || m->head_len > m->len || m->body_len > m->len - m->head_len || !m->len)
		abort();
	if (!memchr(m->method, '\0', sizeof(m->method)) ||
	    !memchr(m->target, '\0', sizeof(m->target)))
		abort();
	if (m->body_len <= sizeof(out) && h1_body(b, m, out, sizeof(out)) != (int64_t)m->body_len)
		abort();
	if (m->body_len && h1_body(b, m, out, m->body_len - 1) != -EMSGSIZE)
		abort();
	if (m->until_close)
		return;
	if (parse(b, m->len - 1, flags, eof, &again) != -EAGAIN)
		abort();
	if (parse(b, m->len, flags, eof, &again) || again.len != m->len ||
	    again.head_len != m->head_len || again.body_len != m->body_len)
		abort();
}

/* Parse and consume what is buffered; false when the stream cannot be
 * framed any further. */
static bool drain(struct reasm *r, uint8_t flags, bool eof)
{
	struct h1_msg m;
	int err;

	for (;;) {
		err = parse(r->buf, r->len, flags, eof, &m);
		if (err == -EAGAIN)
			return true;
		if (err) {
			if (err != -EPROTO && err != -EMSGSIZE)
				abort();
			return false;
		}
		check_msg(r->buf, r->len, flags, eof, &m);
		if (m.upgrade)
			return false;
		reasm_consume(r, m.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seg segs[2 * MAX_SEGS + 1];
	uint32_t n = 0, cuts, at = 0;
	const uint8_t *stream, *desc;
	size_t len;
	uint8_t flags;
	struct reasm r;
	bool framing = true, partial;

	if (size < 2)
		return 0;
	flags = data[0];
	partial = flags & 8;
	cuts = data[1] % MAX_SEGS;
	if (size < 2 + 3 * (size_t)cuts)
		return 0;
	desc = data + 2;
	stream = desc + 3 * cuts;
	len = size - 2 - 3 * cuts;
	/* segments from the cut points, in ascending order of them */
	for (uint32_t i = 0; i <= cuts; i++) {
		uint32_t end = i < cuts ? at + desc[3 * i] * 4u : (uint32_t)len;
		uint32_t key = i < cuts ? desc[3 * i + 1] : 0x80;

		if (end > len)
			end = (uint32_t)len;
		if (end < at)
			end = at;
		segs[n++] = (struct seg){ at, end - at, key };
		/* an overlap: the segment again, reaching further back */
		if (i < cuts && desc[3 * i + 2] & 0x80) {
			uint32_t back = desc[3 * i + 2] & 0x7f;

			back = back > at ? at : back;
			segs[n++] = (struct seg){ at - back, end - at + back, desc[3 * i + 2] };
		}
		at = end;
	}
	/* in the order of their keys (stable) */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && segs[j - 1].key > segs[j].key; j--) {
			struct seg t = segs[j];

			segs[j] = segs[j - 1];
			segs[j - 1] = t;
		}
	reasm_init(&r, ISN);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t copied = partial && (segs[i].key & 1) ? segs[i].len / 2 : segs[i].len;
		bool fin = (flags & 4) && segs[i].at + segs[i].len == len;
		int err = reasm_add(&r, ISN + segs[i].at, stream + segs[i].at, copied, segs[i].len,
				    fin);

		if (err != 0)
			abort(); /* the inputs stay far below the bounds */
		if (framing)
			framing = drain(&r, flags, false);
	}
	/* The whole stream, each byte once; the buffer holds its tail. */
	if (r.delivered != len || r.ahead_bytes || r.len > len ||
	    (!partial && (r.holes || (r.len && memcmp(r.buf, stream + len - r.len, r.len)))))
		abort();
	for (size_t i = 0; i < r.len; i++)
		if (r.buf[i] != stream[len - r.len + i] && (r.buf[i] || !reasm_has_hole(&r, i + 1)))
			abort();
	if ((flags & 4) && n && !r.fin)
		abort();
	if (framing)
		drain(&r, flags, flags & 4);
	reasm_free(&r);
	return 0;
}
