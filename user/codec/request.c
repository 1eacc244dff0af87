// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/rollout_text.h"
#include "codec/config.h"
#include "codec/parse.h"
#include "codec/parse_mirror.h"
#include "codec/request.h"
#include "lib/str.h"

/* "analysis": false, true or an object of settings (judge.h): over the
 * service's when the rollout starts. */
static int req_analysis(json_t *j, const char *code, struct analysis_req *r, struct vs_err *err)
{
	memset(r, 0, sizeof(*r));
	r->set = true;
	return parse_analysis(j, "body.analysis", code, &r->an, &r->given, err);
}

int req_cluster(json_t *body, char svc[NAME_MAX_LEN], struct cluster *spec, struct analysis_req *an,
		struct vs_err *err)
{
	static const char *const extra[] = { "service", "analysis", NULL };
	json_t *s, *a;
	int ret;

	memset(spec, 0, sizeof(*spec));
	memset(an, 0, sizeof(*an));
	ret = parse_cluster(body, "body", extra, spec, err);
	if (ret)
		return ret;
	if (spec->mode == CL_MIRROR)
		return vs_errf(
			err, -EINVAL, 400, "bad_field",
			"body.upgradeTransition.mode: mirror is the config file's way to start a mirror; over the API, register the version with mode manual and POST /v1/services/{name}/rollout with strategy mirror");
	/* Only a cluster that takes over starts a rollout to judge. */
	a = json_object_get(body, "analysis");
	if (a && spec->mode == CL_MANUAL)
		return vs_errf(
			err, -EINVAL, 400, "bad_field",
			"body.analysis: a manual cluster takes no traffic when registered, so there is no rollout to judge; give analysis to the rollout that moves traffic to it");
	if (a && (ret = req_analysis(a, "bad_field", an, err)))
		return ret;
	s = json_object_get(body, "service");
	if (s && (!json_is_string(s) || str_copy(svc, NAME_MAX_LEN, json_string_value(s))))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "body.service: must be a service name of at most 63 characters");
	if (!s)
		str_copy(svc, NAME_MAX_LEN, VS_DEFAULT_SERVICE);
	return 0;
}

int req_service(json_t *body, struct service *out, bool *takeover, struct vs_err *err)
{
	/* A service's settings as the config's entry has them
	 * (parse_service()), clusters aside. */
	static const char *const keys[] = { "name",	"address",	 "port",
					    "protocol", "sessions",	 "takeover",
					    "analysis", "notifications", "sessionTimeout",
					    NULL };
	json_t *name = json_object_get(body, "name");
	int ret;

	memset(out, 0, sizeof(*out));
	ret = parse_keys(body, keys, "body", err);
	if (ret)
		return ret;
	/* Its characters are the model's to check, as for a config's. */
	if (!json_is_string(name) ||
	    str_copy(out->name, sizeof(out->name), json_string_value(name)))
		return vs_errf(
			err, -EINVAL, 400, "bad_name",
			"body.name: must be a service name of 1-63 characters of [A-Za-z0-9._-]");
	return parse_service(body, "body", out, takeover, err);
}

int req_weights(json_t *body, struct weights_req *w, struct vs_err *err)
{
	const char *key;
	json_t *val;

	w->n = 0;
	if (json_object_size(body) == 0 || json_object_size(body) > VS_MAX_VERSIONS)
		return vs_errf(err, -EINVAL, 400, "bad_weights",
			       "body: give {\"VERSION\": PERCENT, ...} for 1 to 8 versions");
	json_object_foreach (body, key, val) {
		if (!json_is_number(val) ||
		    model_percent_to_bp(json_number_value(val), &w->bp[w->n]))
			return vs_errf(
				err, -EINVAL, 400, "bad_weights",
				"weight of version '%.40s' must be a percentage from 0 to 100 in steps of 0.01",
				key);
		w->names[w->n++] = key;
	}
	return 0;
}

/* {"to": "2.0", "strategy": "gradual", "sessionTimeout": 60,
 *  "steps": [{"weight": 1, "hold": 3600}, {"weight": 50}, {"weight": 100}]} */
/* A rollout's plan: the request's body, or its "then" (where says which;
 * a then has no "to": it is the mirror's target). */
static int parse_plan(json_t *body, const char *where, bool then, struct ro_request *req,
		      struct vs_err *err)
{
	static const char *const keys[] = { "to",     "strategy", "sessionTimeout",
					    "steps",  "analysis", "drainDeadline",
					    "mirror", "then",	  NULL };
	static const char *const then_keys[] = { "strategy", "sessionTimeout", "steps",
						 "analysis", "drainDeadline",  NULL };
	static const char *const step_keys[] = { "weight", "hold", NULL };
	json_t *to, *st, *t, *steps, *item, *w, *h, *mi;
	char wh[160];
	size_t i;
	int ret;

	memset(req, 0, sizeof(*req));
	ret = parse_keys(body, then ? then_keys : keys, where, err);
	if (ret)
		return ret;
	to = json_object_get(body, "to");
	if (!then &&
	    (!json_is_string(to) || str_copy(req->to, sizeof(req->to), json_string_value(to))))
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "%s.to: must name the target version or cluster id", where);
	st = json_object_get(body, "strategy");
	if (st && (!json_is_string(st) || ro_strategy_parse(json_string_value(st), &req->strategy)))
		return vs_errf(
			err, -EINVAL, 400, "bad_rollout",
			"%s.strategy: must be \"instant\", \"session\", \"gradual\" or \"mirror\"",
			where);
	t = json_object_get(body, "sessionTimeout");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 0 ||
		  json_integer_value(t) > VS_MAX_SESSION_TIMEOUT))
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "%s.sessionTimeout: must be whole seconds from 0 (no affinity) to %d",
			       where, VS_MAX_SESSION_TIMEOUT);
	req->session_timeout = t ? json_integer_value(t) : 0;
	req->session_timeout_set = t != NULL;
	/* Without a strategy: gradual if there are steps, else session if
	 * there is a timeout, else instant. */
	steps = json_object_get(body, "steps");
	if (!st)
		req->strategy = steps ? RO_GRADUAL : req->session_timeout ? RO_SESSION : RO_INSTANT;
	if (steps && (!json_is_array(steps) || json_array_size(steps) == 0 ||
		      json_array_size(steps) > RO_MAX_STEPS))
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "%s.steps: must be a list of 1 to %d steps", where, RO_MAX_STEPS);
	json_array_foreach (steps, i, item) {
		snprintf(wh, sizeof(wh), "%s.steps[%zu]", where, i);
		ret = parse_keys(item, step_keys, wh, err);
		if (ret)
			return ret;
		w = json_object_get(item, "weight");
		h = json_object_get(item, "hold");
		if (!json_is_number(w) ||
		    model_percent_to_bp(json_number_value(w), &req->steps[i].weight))
			return vs_errf(
				err, -EINVAL, 400, "bad_rollout",
				"%s.weight: must be a percentage from 0 to 100 in steps of 0.01",
				wh);
		if (h && (!json_is_integer(h) || json_integer_value(h) < 0 ||
			  json_integer_value(h) > INT32_MAX))
			return vs_errf(err, -EINVAL, 400, "bad_rollout",
				       "%s.hold: must be whole seconds, 0 or more", wh);
		req->steps[i].hold = h ? json_integer_value(h) : RO_WAIT;
	}
	req->nsteps = steps ? json_array_size(steps) : 0;
	if (req->strategy == RO_SESSION && t && !req->session_timeout)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "%s.sessionTimeout: a session rollout needs one of 1 second or more",
			       where);
	ret = parse_drain(json_object_get(body, "drainDeadline"), where, "bad_rollout", &req->drain,
			  err);
	if (ret)
		return ret;
	mirror_spec_defaults(&req->mirror);
	mi = json_object_get(body, "mirror");
	if (mi && req->strategy != RO_MIRROR)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "%s.mirror: only the mirror strategy takes it", where);
	snprintf(wh, sizeof(wh), "%s.mirror", where);
	if (mi && (ret = parse_mirror(mi, wh, "bad_rollout", &req->mirror, err)))
		return ret;
	if (json_object_get(body, "analysis")) {
		snprintf(wh, sizeof(wh), "%s.analysis", where);
		memset(&req->an, 0, sizeof(req->an));
		req->an.set = true;
		return parse_analysis(json_object_get(body, "analysis"), wh, "bad_rollout",
				      &req->an.an, &req->an.given, err);
	}
	return 0;
}

int req_transition_plan(json_t *t, const char *where, struct ro_request *req,
			struct ro_request *then, struct vs_err *err)
{
	json_t *mi = json_object_get(t, "mirror"), *th = json_object_get(t, "then");
	char wh[160];
	int ret;

	memset(req, 0, sizeof(*req));
	req->strategy = RO_MIRROR;
	mirror_spec_defaults(&req->mirror);
	snprintf(wh, sizeof(wh), "%s.mirror", where);
	if (mi && (ret = parse_mirror(mi, wh, "bad_field", &req->mirror, err)))
		return ret;
	if (!th)
		return 0;
	snprintf(wh, sizeof(wh), "%s.then", where);
	ret = parse_plan(th, wh, true, then, err);
	if (ret)
		return ret;
	if (then->strategy == RO_MIRROR)
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s.strategy: a mirror cannot follow a mirror", wh);
	req->then = then;
	return 0;
}

int req_rollout(json_t *body, struct ro_request *req, struct ro_request *then, struct vs_err *err)
{
	json_t *th;
	int ret = parse_plan(body, "body", false, req, err);

	if (ret)
		return ret;
	th = json_object_get(body, "then");
	if (!th)
		return 0;
	if (req->strategy != RO_MIRROR || !then)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "body.then: only a mirror is followed by another rollout");
	ret = parse_plan(th, "body.then", true, then, err);
	if (ret)
		return ret;
	if (then->strategy == RO_MIRROR)
		return vs_errf(err, -EINVAL, 400, "bad_rollout",
			       "body.then.strategy: a mirror cannot follow a mirror");
	req->then = then;
	return 0;
}
