/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One direction of a captured TCP connection put back into a byte stream:
 * segments arrive as the kernel saw them (out of order, retransmitted,
 * overlapping, some copied only in part), bytes leave in sequence order,
 * each once. Pure; sequence numbers wrap (RFC 1982 arithmetic).
 *
 * Bytes the capture did not copy (a segment longer than what was copied
 * of it) are delivered as zeros and counted in `holes`: the stream's
 * framing and sizes stay right, its content there is unknown.
 */
#ifndef VS_REASM_H
#define VS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REASM_MAX_AHEAD	  (256 * 1024)	/* bytes held out of order */
#define REASM_MAX_PENDING (1024 * 1024) /* bytes delivered, not consumed */
#define REASM_MAX_RANGES  1024		/* ranges held out of order */

struct reasm_seg;   /* a range held out of order */
struct reasm_holes; /* ranges of buf */

struct reasm {
	uint32_t next;		 /* sequence number of the next byte to deliver */
	uint8_t *buf;		 /* delivered, not yet consumed */
	size_t len, cap;	 /* of buf */
	uint64_t delivered;	 /* bytes delivered since reasm_init() */
	uint64_t holes;		 /* of them, not captured (zeros) */
	uint64_t dups;		 /* bytes received again (retransmitted, overlap) */
	struct reasm_seg *ahead; /* sorted by sequence, not overlapping */
	size_t ahead_bytes;
	/* where buf's bytes were not captured; NULL: nowhere */
	struct reasm_holes *hole_at;
	bool fin;    /* the FIN was reached in order: no more bytes */
	bool broken; /* over a bound: nothing more is delivered */
};

/* The stream's first byte is isn (the initial sequence number + 1). */
void reasm_init(struct reasm *r, uint32_t isn);
void reasm_free(struct reasm *r);
/* A segment: len payload bytes from seq, of which the first `copied` are
 * in data (copied <= len); fin: a FIN follows its last byte. Returns 0;
 * -ENOBUFS when holding it would pass a bound (the stream is broken from
 * then on: it cannot be trusted to be whole); -EPIPE when the stream is
 * broken already. Bytes before `next` or beyond a FIN are ignored. */
int reasm_add(struct reasm *r, uint32_t seq, const uint8_t *data, uint32_t copied, uint32_t len,
	      bool fin);
/* The bytes delivered and not yet consumed: r->buf[0 .. r->len). */
/* Drop the first n of them (n <= r->len). */
void reasm_consume(struct reasm *r, size_t n);
/* Whether any of the first n bytes of r->buf was not captured. */
bool reasm_has_hole(const struct reasm *r, size_t n);

#endif
