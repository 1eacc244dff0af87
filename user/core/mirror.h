/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Multi-Version strategy's pure part (thesis section 6.1): what a
 * mirror rollout asks for, the figures of the requests it compared, per
 * route and in all, and the verdict over a window of them. The capture,
 * the replay and the comparison of each request are the controller's
 * (ctl/mirror); the body comparison is codec/jdiff's.
 *
 * Words: the primary is the stable version's response that the client
 * got (captured in the kernel); the target's is the replay's; noise is
 * what differs between two responses of the stable version to the same
 * request.
 */
#ifndef VS_MIRROR_H
#define VS_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/hist.h"
#include "core/judge.h"
#include "core/route.h"

#define MIRROR_MAX_METHODS  8
#define MIRROR_METHOD_MAX   16 /* a method and its NUL (http1.h's H1_METHOD_MAX) */
#define MIRROR_MAX_IGNORE   16
#define MIRROR_IGNORE_MAX   96 /* a JSON field path or a header name, and its NUL */
#define MIRROR_MAX_HEADERS  8
#define MIRROR_HEADER_MAX   64
#define MIRROR_MAX_ROUTES   64 /* routes reported; the rest count as ROUTE_OTHER */
#define MIRROR_MAX_DURATION (7 * 24 * 3600)
#define MIRROR_ROUTE_OTHER  "(other routes)"

/* What POST .../rollout's "mirror" (or the config's upgradeTransition)
 * asks for; every field has a default (mirror_spec_defaults()). */
struct mirror_spec {
	uint16_t bp;		 /* "percent" of the stable version's new connections sampled */
	uint32_t max_per_second; /* requests replayed a second, at most */
	uint32_t max_in_flight;	 /* replayed and not yet answered, at most */
	uint32_t nmethods;	 /* mirrored methods (default GET, HEAD) */
	char methods[MIRROR_MAX_METHODS][MIRROR_METHOD_MAX];
	uint32_t duration;   /* seconds; 0: until promoted or aborted */
	uint32_t timeout_ms; /* a replay not answered by then is dropped */
	bool authorization;  /* mirror requests with an Authorization header */
	bool cookies;	     /* ... with a Cookie header */
	/* "compare" */
	bool body;	  /* compare bodies (JSON: field by field) */
	uint32_t nignore; /* JSON fields ("a.b", "items[].id") left out */
	char ignore[MIRROR_MAX_IGNORE][MIRROR_IGNORE_MAX];
	uint32_t nheaders; /* response headers compared as well (default Content-Type) */
	char headers[MIRROR_MAX_HEADERS][MIRROR_HEADER_MAX];
	uint32_t noise_samples; /* requests per route also replayed to the stable
				 * version, to learn its noise; 0: none */
	/* Thresholds beside the analysis' (latency ratio and increase, size
	 * deviation, minRequests, failureLimit, interval): */
	double max_status_mismatch_rate; /* statuses that differ, per compared request */
	double max_body_diff_rate;	 /* bodies (or compared headers) that differ beyond noise */
};

/* The figures of the requests compared, of one route or of all. */
struct mirror_fig {
	uint64_t compared;		    /* requests whose two responses were compared */
	uint64_t status_diff;		    /* ... whose statuses differ */
	uint64_t body_compared;		    /* ... whose bodies were compared */
	uint64_t body_diff;		    /* ... and differ beyond noise and the ignored fields */
	uint64_t size_primary, size_target; /* body bytes, summed */
	struct hist lat_primary, lat_target;	/* ns: request to first response byte */
	uint16_t status_primary, status_target; /* the last compared pair's */
	char diff_where[MIRROR_IGNORE_MAX];	/* the last body difference: a field path,
					     * "header NAME", or "" (whole body) */
};

struct mirror_route {
	char route[ROUTE_MAX]; /* route_of()'s, or MIRROR_ROUTE_OTHER */
	struct mirror_fig fig;
};

/* One compared request, as the controller measured it. */
struct mirror_pair {
	uint16_t status_primary, status_target;
	uint64_t size_primary, size_target; /* body bytes */
	uint64_t lat_primary, lat_target;   /* ns */
	bool body_compared, body_differs;
	const char *diff_where; /* body_differs: where */
};

void mirror_spec_defaults(struct mirror_spec *s);
/* Whether requests of method are mirrored (exact, case-sensitive, as
 * HTTP methods are). */
bool mirror_method_on(const struct mirror_spec *s, const char *method);

/* Add a compared request to f. */
void mirror_fig_add(struct mirror_fig *f, const struct mirror_pair *p);
/* out = now - then, field by field (the last pair's fields: now's). */
void mirror_fig_sub(struct mirror_fig *out, const struct mirror_fig *now,
		    const struct mirror_fig *then);

/* The route entry for route in r[0..*n): found, or added while there is
 * room, else the MIRROR_ROUTE_OTHER entry (added last, in the room kept
 * for it). Never NULL. */
struct mirror_route *mirror_route_get(struct mirror_route r[MIRROR_MAX_ROUTES + 1], uint32_t *n,
				      const char *route);

/* Judge the target's figures f over a window with the analysis' latency
 * and size thresholds and the spec's rates: inconclusive below
 * an->min_requests compared requests; why names the metric, the values
 * and, when routes are given, the route that differs most. tv and sv
 * name the target and the stable version ("2.0", "1.0"). */
enum verdict mirror_judge(const struct analysis *an, const struct mirror_spec *s,
			  const struct mirror_fig *f, const struct mirror_route *r, uint32_t nr,
			  const char *tv, const char *sv, char *why, size_t size);
/* A route's line of the report: "GET /api/items/{id}: 2.0 size 512 vs 1.0
 * 498 bytes (+3%), p99 14 vs 9 ms, status 200 vs 200, 31 of 400 bodies
 * differ beyond noise". */
void mirror_route_line(const struct mirror_route *r, const char *tv, const char *sv, char *buf,
		       size_t size);

#endif
