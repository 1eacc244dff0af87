// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/str.h"
#include "core/rollout_text.h"
#include "codec/request.h"
#include "ctl/ctl.h"
#include "ctl/fleet_sync.h"
#include "ctl/fleet_versions.h"
#include "ctl/ops.h"
#include "ctl/reload.h"
#include "ctl/services.h"
#include "ctl/snap.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "api/views.h"
#include "api/views_fleet.h"
#include "api/views_history.h"

static json_t *fail(struct api_call *k, int status, const char *code, const char *fmt,
		    const char *arg)
{
	vs_errf(&k->err, -EINVAL, status, code, fmt, arg);
	return NULL;
}

/* A query parameter the router let through, or NULL if not given. */
static const char *arg(const struct api_call *k, const char *name)
{
	for (size_t i = 0; i < k->nargs; i++)
		if (!strcmp(k->args[i].name, name))
			return k->args[i].value;
	return NULL;
}

static bool arg_true(const struct api_call *k, const char *name)
{
	const char *v = arg(k, name);

	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* Render a snapshot of `what` with view. */
static json_t *show(struct api_call *k, enum snap_what what, const char *service,
		    const char *cluster, json_t *(*view)(const struct snap *s))
{
	struct snap *s;
	json_t *j;

	if (snap_take(k->c, what, service, cluster, &s, &k->err))
		return NULL;
	j = view(s);
	snap_free(s);
	return j;
}

json_t *handle_healthz(struct api_call *k)
{
	/* clang-format off */
	return json_pack("{sssIsI}", "status", "ok", "ticks", (json_int_t)snap_ticks(k->c), "time",
			 (json_int_t)clock_wall());
	/* clang-format on */
}

json_t *handle_features(struct api_call *k)
{
	struct snap *s;
	json_t *j = NULL;

	if (snap_take(k->c, SNAP_MODEL, NULL, NULL, &s, &k->err))
		return NULL;
	if (s->features)
		j = views_features(s);
	else
		fail(k, 503, "unavailable", "the kernel's features were not probed%s", "");
	snap_free(s);
	return j;
}

json_t *handle_fleet(struct api_call *k)
{
	struct fleet_view v;
	json_t *j;

	fleet_view_take(&k->c->fleet, &v);
	if (!v.on)
		return fail(k, 503, "no_fleet",
			    "this vsteerd is not in a fleet: start it with --etcd and --host-id%s",
			    "");
	j = views_fleet_view(&v);
	fleet_view_free(&v);
	return j;
}

json_t *handle_fleet_host_delete(struct api_call *k)
{
	if (fleet_forget(&k->c->fleet, k->caps[0], &k->err))
		return NULL;
	return json_pack("{ssss}", "deleted", k->caps[0], "status", "ok");
}

json_t *handle_services(struct api_call *k)
{
	return show(k, SNAP_VERSIONS, NULL, NULL, views_services);
}

json_t *handle_service(struct api_call *k)
{
	return show(k, SNAP_VERSIONS, k->caps[0], NULL, views_service);
}

json_t *handle_history(struct api_call *k)
{
	const char *since = arg(k, "since");
	struct history *h = malloc(sizeof(*h));
	json_t *j = NULL;

	/* ~93 KiB: not on an API thread's stack. */
	if (!h) {
		vs_errf(&k->err, -ENOMEM, 500, "internal", "out of memory");
		return NULL;
	}
	/* The router let only digits through, at most 15 of them. */
	if (!snap_history(k->c, k->caps[0], h, &k->err))
		j = views_history_json(h, since ? strtoll(since, NULL, 10) : -1);
	free(h);
	return j;
}

json_t *handle_service_post(struct api_call *k)
{
	struct service spec;
	bool takeover;

	if (req_service(k->body, &spec, &takeover, &k->err) ||
	    ctl_add_service(k->c, &spec, takeover, &k->err))
		return NULL;
	k->status = 201;
	return show(k, SNAP_VERSIONS, spec.name, NULL, views_service);
}

json_t *handle_service_delete(struct api_call *k)
{
	if (ctl_del_service(k->c, k->caps[0], arg_true(k, "force"), &k->err))
		return NULL;
	return json_pack("{ssss}", "deleted", k->caps[0], "status", "ok");
}

json_t *handle_reload(struct api_call *k)
{
	struct reconcile_result *r = malloc(sizeof(*r));
	json_t *j = NULL;

	if (!r)
		return fail(k, 500, "internal", "out of memory%s", "");
	if (!ctl_reload(k->c, "by POST /v1/reload", r, &k->err))
		j = views_reload(r);
	free(r);
	return j;
}

json_t *handle_clusters(struct api_call *k)
{
	return show(k, SNAP_VERSIONS, NULL, NULL, views_clusters);
}

json_t *handle_cluster(struct api_call *k)
{
	return show(k, SNAP_VERSIONS, NULL, k->caps[0], views_cluster);
}

json_t *handle_weights(struct api_call *k)
{
	struct weights_req w;

	const char *rev = arg(k, "revision");

	if (req_weights(k->body, &w, &k->err))
		return NULL;
	/* In a fleet, through etcd: every host applies it, this one too. */
	if (k->c->fleet.client) {
		if (fleet_sync_set_weights(k->c, k->caps[0], k->body, &w,
					   rev ? strtoll(rev, NULL, 10) : -1, &k->err))
			return NULL;
	} else if (rev) {
		return fail(k, 400, "unknown_field",
			    "query parameter 'revision' is for a host in a fleet%s", "");
	} else if (ctl_set_weights(k->c, k->caps[0], w.names, w.bp, w.n, NULL, &k->err)) {
		return NULL;
	}
	return handle_service(k);
}

json_t *handle_cluster_put(struct api_call *k)
{
	char svc[NAME_MAX_LEN], id[ID_LEN];
	struct analysis_req an;
	struct cluster spec;

	if (req_cluster(k->body, svc, &spec, &an, &k->err))
		return NULL;
	/* In a fleet, the version is the fleet's: every host takes it. */
	if (k->c->fleet.client ? fleet_versions_add(k->c, svc, k->body, &spec, &an, id, &k->err) :
				 ctl_add_cluster(k->c, svc, &spec, &an, id, &k->err))
		return NULL;
	k->status = 201;
	return show(k, SNAP_VERSIONS, NULL, id, views_cluster);
}

json_t *handle_cluster_delete(struct api_call *k)
{
	if (k->c->fleet.client ?
		    fleet_versions_delete(k->c, k->caps[0], arg_true(k, "force"), &k->err) :
		    ctl_del_cluster(k->c, k->caps[0], arg_true(k, "force"), &k->err))
		return NULL;
	return json_pack("{ssss}", "deleted", k->caps[0], "status", "ok");
}

json_t *handle_rollout_start(struct api_call *k)
{
	struct ro_request req, then;

	if (req_rollout(k->body, &req, &then, &k->err) ||
	    ctl_rollout_start(k->c, k->caps[0], &req, &k->err))
		return NULL;
	k->status = 201;
	return handle_service(k);
}

json_t *handle_rollout_control(struct api_call *k)
{
	enum ro_op op;

	if (ro_op_parse(k->caps[1], &op))
		return fail(k, 404, "not_found",
			    "no rollout action '%.40s' (promote, pause, resume, abort, rollback)",
			    k->caps[1]);
	if (op != RO_OP_PROMOTE && arg(k, "full"))
		return fail(k, 400, "unknown_field",
			    "query parameter 'full' is for promote, not %s", k->caps[1]);
	if (ctl_rollout_control(k->c, k->caps[0], op, arg_true(k, "full"), &k->err))
		return NULL;
	return handle_service(k);
}

/* Prometheus scrapes this; the reply is text, not JSON. */
json_t *handle_metrics(struct api_call *k)
{
	struct snap *s;

	if (snap_take(k->c, SNAP_VERSIONS, NULL, NULL, &s, &k->err))
		return NULL;
	k->text = metrics_text(s);
	snap_free(s);
	if (!k->text)
		vs_errf(&k->err, -ENOMEM, 500, "internal", "out of memory");
	return k->text ? json_null() : NULL;
}

/* ?since=ID: the events after ID, oldest first; &wait=S: if there are
 * none yet, the reply waits up to S seconds for one (http.c holds it and
 * calls again: req->wait_deadline). */
json_t *handle_events(struct api_call *k)
{
	const char *svc = arg(k, "service"), *since_s = arg(k, "since"), *wait_s = arg(k, "wait");
	int64_t since = since_s ? strtoll(since_s, NULL, 10) : -1;
	int64_t wait = wait_s ? strtoll(wait_s, NULL, 10) : 0, now = clock_mono_ms();
	/* +1: clock_mono_ms() truncates, and a wait must never be shorter
	 * than asked (CI saw 0.999 s for wait=1). */
	int64_t deadline = k->req->wait_deadline ?: now + wait * 1000 + 1;
	struct event_ring *r;
	json_t *j;

	if (wait > EVENTS_MAX_WAIT_S) {
		vs_errf(&k->err, -EINVAL, 400, "bad_field",
			"query parameter 'wait': %lld is over %d seconds", (long long)wait,
			EVENTS_MAX_WAIT_S);
		return NULL;
	}
	if (wait && since < 0) {
		vs_errf(&k->err, -EINVAL, 400, "bad_field",
			"query parameter 'wait' needs 'since': the id of the last event seen (0 for none)");
		return NULL;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		vs_errf(&k->err, -ENOMEM, 500, "internal", "out of memory");
		return NULL;
	}
	if (snap_events(k->c, svc, r, &k->err))
		j = NULL;
	else if (since > (int64_t)r->last_id)
		/* Not a wait for the future: the events were numbered afresh
		 * (the state file was lost), and this follower must start over. */
		j = NULL,
		vs_errf(&k->err, -EINVAL, 400, "bad_field",
			"query parameter 'since': %lld is after the newest event, %llu; follow from since=%llu",
			(long long)since, (unsigned long long)r->last_id,
			(unsigned long long)r->last_id);
	else
		j = views_events(r, svc, since);
	if (j && wait && !json_array_size(json_object_get(j, "events")) && now < deadline) {
		k->wait_until = deadline;
		k->wait_seen = r->last_id;
	}
	free(r);
	return j;
}
