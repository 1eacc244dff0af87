// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "ctl/recent.h"
#include "api/views_history.h"

/* A version's arrays, from index first on. */
static json_t *column_json(const struct history *h, uint32_t col, uint32_t first)
{
	json_t *w = json_array(), *rps = json_array(), *p50 = json_array(), *p99 = json_array();
	json_t *er = json_array(), *open = json_array();

	for (uint32_t i = first; i < history_len(h); i++) {
		const struct history_point *p = history_at(h, col, i);
		bool here = p->weight != HISTORY_ABSENT, measured = history_measured(p);
		/* No request answered: no latency and no rate of errors,
		 * rather than a 0 that would chart as fast and flawless. */
		bool answered = measured && p->requests;

		json_array_append_new(w, here ? json_real(p->weight / 100.0) : json_null());
		json_array_append_new(rps, measured ? json_real((double)p->requests / p->seconds) :
						      json_null());
		json_array_append_new(p50, answered && p->p50_ms >= 0 ? json_real(p->p50_ms) :
									json_null());
		json_array_append_new(p99, answered && p->p99_ms >= 0 ? json_real(p->p99_ms) :
									json_null());
		json_array_append_new(er, answered ? json_real((double)p->errors / p->requests) :
						     json_null());
		json_array_append_new(open, here && p->open != HISTORY_UNKNOWN ?
						    json_integer(p->open) :
						    json_null());
	}
	/* clang-format off */
	return json_pack("{sosososososo}", "weight", w, "requestsPerSecond", rps,
			 "latencyP50Ms", p50, "latencyP99Ms", p99, "errorRate", er,
			 "openConnections", open);
	/* clang-format on */
}

json_t *views_history_json(const struct history *h, int64_t since)
{
	uint32_t first = since >= 0 ? history_after(h, since) : 0, order[HISTORY_COLS], n = 0;
	json_t *times = json_array(), *vers = json_object();

	for (uint32_t i = first; i < history_len(h); i++)
		json_array_append_new(times, json_integer(history_time(h, i)));
	/* Newest version first, as the service view lists them. */
	for (uint32_t c = 0; c < HISTORY_COLS; c++) {
		uint32_t at;

		if (!h->col[c].version[0])
			continue;
		for (at = n++;
		     at && version_cmp(h->col[order[at - 1]].version, h->col[c].version) < 0; at--)
			order[at] = order[at - 1];
		order[at] = c;
	}
	for (uint32_t i = 0; i < n; i++)
		json_object_set_new(vers, h->col[order[i]].version,
				    column_json(h, order[i], first));
	/* clang-format off */
	return json_pack("{sssisisoso}", "service", h->service, "interval", RECENT_SECONDS,
			 "keep", HISTORY_KEEP, "time", times, "versions", vers);
	/* clang-format on */
}
