// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/rollout_text.h"
#include "kernel/features.h"
#include "api/metrics_fmt.h"
#include "api/metrics.h"

/* The versions shown, in the order every per-version family lists them:
 * by service, then by slot. */
struct vrow {
	const char *svc;
	const struct cluster *cl;
	const struct snap_version *v;
};

/* The data plane's per-version counters, one sample each. A family of
 * several rows (a label each) has its HELP on the first. */
static const struct ver_counter {
	const char *name, *help, *label;
	size_t off;
} ver_counters[] = {
	{ "vsteer_connections_total", "Connections steered to the version (failovers in included).",
	  NULL, offsetof(struct vs_ver_stats, steered) },
	{ "vsteer_failovers_total",
	  "Connections steered to the version because the chosen one had no live socket "
	  "(in), or chosen for it and passed on for that reason (out).",
	  "direction=\"in\"", offsetof(struct vs_ver_stats, failover_in) },
	{ "vsteer_failovers_total", NULL, "direction=\"out\"",
	  offsetof(struct vs_ver_stats, failover_out) },
	{ "vsteer_requests_arrived_total",
	  "Requests that arrived, answered or not: more than vsteer_requests_total while "
	  "requests wait (a hang).",
	  NULL, offsetof(struct vs_ver_stats, arrived) },
	{ "vsteer_requests_total", "Requests answered (the first byte of a response sent).", NULL,
	  offsetof(struct vs_ver_stats, requests) },
	{ "vsteer_responses_total",
	  "HTTP responses by status class (services with \"protocol\": \"http\").", "code=\"2xx\"",
	  offsetof(struct vs_ver_stats, status[0]) },
	{ "vsteer_responses_total", NULL, "code=\"3xx\"",
	  offsetof(struct vs_ver_stats, status[1]) },
	{ "vsteer_responses_total", NULL, "code=\"4xx\"",
	  offsetof(struct vs_ver_stats, status[2]) },
	{ "vsteer_responses_total", NULL, "code=\"5xx\"",
	  offsetof(struct vs_ver_stats, status[3]) },
	{ "vsteer_response_bytes_total", "Bytes of responses sent, the one under way included.",
	  NULL, offsetof(struct vs_ver_stats, resp_bytes) },
	{ "vsteer_connection_resets_total",
	  "Resets sent by the version's servers on its connections.", NULL,
	  offsetof(struct vs_ver_stats, resets) },
};

static const double lat_les[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				  0.1,	  0.25,	 0.5,	 1,	2.5,  5,     10 };
static const double size_les[] = { 100, 1000, 10000, 100000, 1e6, 1e7 };
static const struct metrics_fmt_hist lat_hist = { "vsteer_request_duration_seconds", lat_les,
						  ARRAY_SIZE(lat_les), 1e-9 };
static const struct metrics_fmt_hist size_hist = { "vsteer_response_size_bytes", size_les,
						   ARRAY_SIZE(size_les), 1 };

static void ver_counter_families(FILE *f, const struct vrow *rows, size_t n)
{
	for (size_t c = 0; c < ARRAY_SIZE(ver_counters); c++) {
		const struct ver_counter *vc = &ver_counters[c];

		if (vc->help)
			metrics_fmt_family(f, vc->name, "counter", vc->help);
		for (size_t i = 0; i < n; i++)
			metrics_fmt_sample(f, vc->name, rows[i].svc, rows[i].cl->version, vc->label,
					   *(const __u64 *)((const char *)&rows[i].v->st +
							    vc->off));
	}
}

/* Per server of each version: up, accept backlog, refused sockets. */
static void backend_families(FILE *f, const struct vrow *rows, size_t n)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "vsteer_backend_up", "gauge",
		  "1 if the server has a live listening socket and passes its health checks." },
		{ "vsteer_accept_backlog", "gauge",
		  "Connections the kernel accepted that the server has not, at the last full scan." },
		{ "vsteer_sockets_refused_total", "counter",
		  "Sockets on the server's address refused because the wrong owner made them." },
	};
	char a[EP_STRLEN], extra[EP_STRLEN + 16];

	for (size_t k = 0; k < ARRAY_SIZE(fams); k++) {
		metrics_fmt_family(f, fams[k].name, fams[k].type, fams[k].help);
		for (size_t i = 0; i < n; i++) {
			const struct cluster *cl = rows[i].cl;

			for (uint32_t s = 0; s < cl->nsrv; s++) {
				const struct snap_server *sv = &rows[i].v->srv[s];
				unsigned long long val = k == 0 ? sv->live > 0 && sv->healthy :
							 k == 1 ? sv->backlog :
								  sv->refused;

				ep_format(&cl->srv[s], a, sizeof(a));
				snprintf(extra, sizeof(extra), "backend=\"%s\"", a);
				metrics_fmt_sample(f, fams[k].name, rows[i].svc, cl->version, extra,
						   val);
			}
		}
	}
}

static void version_families(FILE *f, const struct vrow *rows, size_t n)
{
	ver_counter_families(f, rows, n);
	metrics_fmt_family(f, "vsteer_open_connections", "gauge",
			   "Established connections steered to the version, not yet closed.");
	for (size_t i = 0; i < n; i++)
		metrics_fmt_sample(f, "vsteer_open_connections", rows[i].svc, rows[i].cl->version,
				   NULL, rows[i].v->open);
	metrics_fmt_family(f, "vsteer_drain_closed_total", "counter",
			   "Connections a drain deadline closed.");
	for (size_t i = 0; i < n; i++)
		metrics_fmt_sample(f, "vsteer_drain_closed_total", rows[i].svc, rows[i].cl->version,
				   NULL, rows[i].cl->drain.closed);
	metrics_fmt_family(f, "vsteer_version_weight", "gauge",
			   "Share of new clients steered to the version, 0 to 1.");
	for (size_t i = 0; i < n; i++)
		metrics_fmt_sample_f(f, "vsteer_version_weight", rows[i].svc, rows[i].cl->version,
				     NULL, rows[i].cl->weight / 10000.0);
	backend_families(f, rows, n);
	metrics_fmt_family(f, lat_hist.name, "histogram",
			   "Time from a request's arrival to the first byte of its response.");
	for (size_t i = 0; i < n; i++)
		metrics_fmt_hist(f, &lat_hist, rows[i].svc, rows[i].cl->version, &rows[i].v->lat,
				 rows[i].v->sums.lat_ns);
	metrics_fmt_family(f, size_hist.name, "histogram",
			   "Bytes of each response, counted when the next request or the close "
			   "ends it.");
	for (size_t i = 0; i < n; i++)
		metrics_fmt_hist(f, &size_hist, rows[i].svc, rows[i].cl->version, &rows[i].v->size,
				 rows[i].v->sums.resp_bytes);
}

#define FOR_SERVICES(snap, s)                          \
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) \
		if ((snap)->m.svc[s].used)

/* A family is shown only when it has a sample: the rollout's without a
 * rollout, the mirror's without a mirror report, are left out. */
static bool any_rollout(const struct snap *snap)
{
	FOR_SERVICES (snap, s)
		if (snap->m.svc[s].ro.phase != RO_NONE)
			return true;
	return false;
}

static void rollout_families(FILE *f, const struct snap *snap)
{
	metrics_fmt_family(f, "vsteer_rollout_step", "gauge",
			   "The rollout's current step, from 1; version is its target.");
	FOR_SERVICES (snap, s) {
		const struct rollout *ro = &snap->m.svc[s].ro;

		if (ro->phase != RO_NONE)
			metrics_fmt_sample(f, "vsteer_rollout_step", snap->m.svc[s].name,
					   snap->m.cl[ro->to].version, NULL, ro->step + 1);
	}
	metrics_fmt_family(f, "vsteer_rollout_target_weight", "gauge",
			   "The weight the rollout gives its target version now, 0 to 1.");
	FOR_SERVICES (snap, s) {
		const struct rollout *ro = &snap->m.svc[s].ro;

		if (ro->phase != RO_NONE)
			metrics_fmt_sample_f(f, "vsteer_rollout_target_weight", snap->m.svc[s].name,
					     snap->m.cl[ro->to].version, NULL,
					     rollout_weight(&snap->m, ro) / 10000.0);
	}
}

static void service_families(FILE *f, const struct snap *snap)
{
	static const char *const results[] = { "pass", "fail", "inconclusive" };
	char label[48];

	metrics_fmt_family(f, "vsteer_refused_total", "counter",
			   "Connections refused (reset) because no version had a live socket.");
	FOR_SERVICES (snap, s)
		metrics_fmt_sample(f, "vsteer_refused_total", snap->m.svc[s].name, NULL, NULL,
				   snap->svc[s].refused);
	metrics_fmt_family(f, "vsteer_sessions_unrecorded_total", "counter",
			   "New sessions the data plane did not record: the client's network was "
			   "over its quota, or the table of open sessions was full.");
	FOR_SERVICES (snap, s) {
		metrics_fmt_sample(f, "vsteer_sessions_unrecorded_total", snap->m.svc[s].name, NULL,
				   "reason=\"quota\"", snap->guard[s].quota_refused);
		metrics_fmt_sample(f, "vsteer_sessions_unrecorded_total", snap->m.svc[s].name, NULL,
				   "reason=\"hold_full\"", snap->guard[s].hold_full);
	}
	metrics_fmt_family(f, "vsteer_rollout_phase", "gauge",
			   "1 for the phase the service's current or last rollout is in.");
	FOR_SERVICES (snap, s)
		for (enum ro_phase p = RO_PROGRESSING; p <= RO_ROLLED_BACK; p++) {
			snprintf(label, sizeof(label), "phase=\"%s\"", ro_phase_name(p));
			metrics_fmt_sample(f, "vsteer_rollout_phase", snap->m.svc[s].name, NULL,
					   label, snap->m.svc[s].ro.phase == p);
		}
	if (any_rollout(snap))
		rollout_families(f, snap);
	metrics_fmt_family(f, "vsteer_rollbacks_total", "counter",
			   "Rollbacks since vsteerd started: by the analysis (auto) or asked for.");
	FOR_SERVICES (snap, s) {
		const struct service *sv = &snap->m.svc[s];

		metrics_fmt_sample(f, "vsteer_rollbacks_total", sv->name, NULL, "reason=\"auto\"",
				   sv->auto_rollbacks);
		metrics_fmt_sample(f, "vsteer_rollbacks_total", sv->name, NULL, "reason=\"manual\"",
				   sv->rollbacks - sv->auto_rollbacks);
	}
	metrics_fmt_family(f, "vsteer_analysis_windows_total", "counter",
			   "Analysis windows judged since vsteerd started, by verdict.");
	FOR_SERVICES (snap, s)
		for (size_t r = 0; r < ARRAY_SIZE(results); r++) {
			snprintf(label, sizeof(label), "result=\"%s\"", results[r]);
			metrics_fmt_sample(f, "vsteer_analysis_windows_total", snap->m.svc[s].name,
					   NULL, label, snap->m.svc[s].windows[r]);
		}
}

#define FOR_MIRRORS(snap, s)   \
	FOR_SERVICES (snap, s) \
		if ((snap)->mirror[s])

/* A route as a label value: route_of() keeps '"' and control characters
 * out, the escape the backslashes. */
static void route_family(FILE *f, const struct snap *snap, const char *name, const char *help,
			 size_t off)
{
	char route[ROUTE_MAX * 2], label[ROUTE_MAX * 2 + 16];
	bool any = false;

	FOR_MIRRORS (snap, s)
		any |= snap->mirror[s]->nroutes > 0;
	if (!any)
		return;
	metrics_fmt_family(f, name, "counter", help);
	FOR_MIRRORS (snap, s) {
		const struct mirror_report *rep = snap->mirror[s];

		for (uint32_t r = 0; r < rep->nroutes; r++) {
			metrics_fmt_escape(route, sizeof(route), rep->route[r].route);
			snprintf(label, sizeof(label), "route=\"%s\"", route);
			metrics_fmt_sample(f, name, snap->m.svc[s].name, NULL, label,
					   *(const uint64_t *)((const char *)&rep->route[r].fig +
							       off));
		}
	}
}

/* The verdict of a mirror rollout that is the service's current one. */
static bool verdict_shown(const struct snap *snap, uint32_t s)
{
	const struct rollout *ro = &snap->m.svc[s].ro;

	return ro->strategy == RO_MIRROR && ro->started == snap->mirror[s]->started;
}

static void mirror_families(FILE *f, const struct snap *snap)
{
	static const char *const outcomes[] = {
		"mirrored",	  "failed",	     "skipped_method", "skipped_authorization",
		"skipped_cookie", "skipped_upgrade", "dropped_rate",   "dropped_in_flight",
		"dropped_stream",
	};
	static const char *const verdicts[] = { "pass", "fail", "inconclusive" };
	char label[48];
	bool any = false;

	FOR_MIRRORS (snap, s)
		any = true;
	if (!any)
		return;
	metrics_fmt_family(
		f, "vsteer_mirror_requests_total", "counter",
		"Requests of the stable version seen for mirroring, by what became of them.");
	FOR_MIRRORS (snap, s) {
		const struct mirror_counts *n = &snap->mirror[s]->n;
		const uint64_t v[] = { n->mirrored,	  n->failed,
				       n->skipped_method, n->skipped_authorization,
				       n->skipped_cookie, n->skipped_upgrade,
				       n->dropped_rate,	  n->dropped_in_flight,
				       n->dropped_stream };

		_Static_assert(ARRAY_SIZE(v) == ARRAY_SIZE(outcomes), "an outcome each");
		for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
			snprintf(label, sizeof(label), "outcome=\"%s\"", outcomes[i]);
			metrics_fmt_sample(f, "vsteer_mirror_requests_total", snap->m.svc[s].name,
					   NULL, label, v[i]);
		}
	}
	metrics_fmt_family(f, "vsteer_mirror_capture_lost_total", "counter",
			   "Sampled connections whose capture the kernel stopped, by why.");
	FOR_MIRRORS (snap, s) {
		metrics_fmt_sample(f, "vsteer_mirror_capture_lost_total", snap->m.svc[s].name, NULL,
				   "reason=\"over_budget\"", snap->capture[s].over_budget);
		metrics_fmt_sample(f, "vsteer_mirror_capture_lost_total", snap->m.svc[s].name, NULL,
				   "reason=\"buffer_full\"", snap->capture[s].buffer_full);
	}
	route_family(f, snap, "vsteer_mirror_compared_total",
		     "Mirrored requests whose two answers were compared.",
		     offsetof(struct mirror_fig, compared));
	route_family(f, snap, "vsteer_mirror_status_differs_total",
		     "Compared answers whose statuses differ.",
		     offsetof(struct mirror_fig, status_diff));
	route_family(f, snap, "vsteer_mirror_bodies_differ_total",
		     "Compared answers whose bodies differ beyond the noise.",
		     offsetof(struct mirror_fig, body_diff));
	any = false;
	FOR_MIRRORS (snap, s)
		any |= verdict_shown(snap, s);
	if (!any)
		return;
	metrics_fmt_family(
		f, "vsteer_mirror_verdict", "gauge",
		"1 for the current mirror rollout's verdict over every request compared.");
	FOR_MIRRORS (snap, s) {
		const struct service *sv = &snap->m.svc[s];

		if (!verdict_shown(snap, s))
			continue;
		for (size_t v = 0; v < ARRAY_SIZE(verdicts); v++) {
			snprintf(label, sizeof(label), "verdict=\"%s\"", verdicts[v]);
			metrics_fmt_sample(f, "vsteer_mirror_verdict", sv->name, NULL, label,
					   sv->ro.mirror_verdict == v);
		}
	}
}

static void global_families(FILE *f, const struct snap *snap)
{
	char label[160], ver[64], kernel[80];

	metrics_fmt_escape(ver, sizeof(ver), snap->version ? snap->version : "unknown");
	metrics_fmt_escape(kernel, sizeof(kernel), snap->features ? snap->features->kernel : "");
	snprintf(label, sizeof(label), "version=\"%s\",kernel=\"%s\"", ver, kernel);
	metrics_fmt_family(f, "vsteer_build_info", "gauge",
			   "Always 1: vsteerd's version and the kernel it runs on.");
	metrics_fmt_sample(f, "vsteer_build_info", NULL, NULL, label, 1);
	metrics_fmt_family(f, "vsteer_notifications_sent_total", "counter",
			   "Webhook notifications delivered.");
	metrics_fmt_sample(f, "vsteer_notifications_sent_total", NULL, NULL, NULL,
			   snap->notify_sent);
	metrics_fmt_family(f, "vsteer_notifications_failed_total", "counter",
			   "Webhook notifications given up: every attempt failed, the queue was "
			   "full, or vsteerd stopped first.");
	metrics_fmt_sample(f, "vsteer_notifications_failed_total", NULL, NULL, NULL,
			   snap->notify_failed);
	metrics_fmt_family(f, "vsteer_notifications_queued", "gauge",
			   "Webhook notifications waiting to be sent.");
	metrics_fmt_sample(f, "vsteer_notifications_queued", NULL, NULL, NULL, snap->notify_queued);
	if (!snap->fleet.on)
		return;
	metrics_fmt_family(f, "vsteer_fleet_stale", "gauge",
			   "1 while etcd has not answered for a lease's time: this host steers "
			   "with what it last applied and the others see it missing.");
	metrics_fmt_sample(f, "vsteer_fleet_stale", NULL, NULL, NULL, snap->fleet.stale);
	metrics_fmt_family(f, "vsteer_fleet_hosts", "gauge",
			   "The fleet's hosts by state, as this host last read them: ok, behind (it "
			   "has not applied the newest desired state), failing (it reports "
			   "problems), missing (its status lapsed with its lease).");
	metrics_fmt_sample(f, "vsteer_fleet_hosts", NULL, NULL, "state=\"ok\"", snap->fleet.nok);
	metrics_fmt_sample(f, "vsteer_fleet_hosts", NULL, NULL, "state=\"behind\"",
			   snap->fleet.nbehind);
	metrics_fmt_sample(f, "vsteer_fleet_hosts", NULL, NULL, "state=\"failing\"",
			   snap->fleet.nfailing);
	metrics_fmt_sample(f, "vsteer_fleet_hosts", NULL, NULL, "state=\"missing\"",
			   snap->fleet.nmissing);
	metrics_fmt_family(f, "vsteer_fleet_driver", "gauge",
			   "Who drives the fleet's rollouts, as this host last read etcd: 2 this "
			   "host, 1 another, 0 none (no rollout of the fleet moves on).");
	metrics_fmt_sample(f, "vsteer_fleet_driver", NULL, NULL, NULL,
			   snap->fleet.driving ? 2 :
			   snap->fleet.driver  ? 1 :
						 0);
}

char *metrics_text(const struct snap *snap)
{
	struct vrow *rows = calloc(VS_MAX_SLOTS, sizeof(*rows));
	size_t len = 0, n = 0;
	char *text = NULL;
	FILE *f;

	if (!rows)
		return NULL;
	FOR_SERVICES (snap, s)
		for (uint32_t slot = 0; slot < VS_MAX_SLOTS; slot++) {
			const struct cluster *cl = &snap->m.cl[slot];

			if (cl->used && cl->svc == s && snap->ver[slot])
				rows[n++] =
					(struct vrow){ snap->m.svc[s].name, cl, snap->ver[slot] };
		}
	f = open_memstream(&text, &len);
	if (f) {
		global_families(f, snap);
		version_families(f, rows, n);
		service_families(f, snap);
		mirror_families(f, snap);
		fclose(f);
	}
	free(rows);
	return text;
}
