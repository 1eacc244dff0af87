/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a replay got back, and its comparison with the response the
 * client got: status, body size, latency, the body (codec/jdiff: beyond
 * the route's noise and the fields ignored) and the headers the rollout
 * names, added to the service's report by route. The stable version's
 * answer to the same request, when there is one, teaches the route's
 * noise first.
 */
#ifndef VS_MIRROR_COMPARE_H
#define VS_MIRROR_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/http1.h"
#include "ctl/mirror_flow.h"

struct mirror_state;

struct mirror_answer {
	uint8_t *buf; /* the response as it came, interim (1xx) ones dropped */
	size_t len, cap;
	uint64_t first_ns; /* its first byte in: the kernel's receive time, CLOCK_REALTIME */
	uint64_t lat_ns;   /* from the request's last byte sent */
	bool ok;	   /* a whole HTTP/1.x response */
	bool close;	   /* the connection cannot carry another request */
	const char *why;   /* !ok: what happened instead */
	struct h1_msg m;   /* ok: the response */
};

/* Room to receive into a->buf + a->len; -E2BIG past MIRROR_RESP_MAX. */
int mirror_answer_room(struct mirror_answer *a);
/* Whether a->buf holds a whole response to a request of method (eof: the
 * server closed): 0 (a->m, a->close set), -EAGAIN, or -EPROTO. */
int mirror_answer_parse(struct mirror_answer *a, const char *method, bool eof);
void mirror_answer_free(struct mirror_answer *a);

/* Job j's primary against the target's answer t (stable: the stable
 * version's to the same request, or NULL), into its service's report if
 * its mirror still runs. */
void mirror_compare(struct mirror_state *ms, const struct mirror_job *j,
		    const struct mirror_answer *t, const struct mirror_answer *stable);

#endif
