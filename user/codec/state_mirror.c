// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/rollout_text.h"
#include "codec/parse.h"
#include "codec/parse_mirror.h"
#include "codec/state.h"
#include "codec/state_mirror.h"

static const char *const verdict_names[] = {
	[V_PASS] = "pass", [V_FAIL] = "fail", [V_INCONCLUSIVE] = "inconclusive"
};

/* A then's analysis as its request gave it: the fields given, over the
 * service's settings when it starts (null: none given, false: off). */
static json_t *then_analysis_json(const struct analysis_req *r)
{
	json_t *j;

	if (!r->set)
		return json_null();
	if (!r->an.on)
		return json_false();
	j = json_object();
	for (size_t i = 0; i < JUDGE_NFIELDS; i++) {
		const struct judge_field *f = &judge_fields[i];
		double v = judge_get(&r->an, f);

		if (!(r->given & (1U << i)))
			continue;
		json_object_set_new(j, f->name,
				    f->kind == JUDGE_COUNT	    ? json_integer((json_int_t)v) :
				    f->kind == JUDGE_LIMIT && v < 0 ? json_null() :
								      json_real(v));
	}
	if (r->given & JUDGE_GIVEN_INCONCLUSIVE)
		json_object_set_new(j, "onInconclusive",
				    json_string(judge_inconclusive_name(r->an.on_inconclusive)));
	return j;
}

json_t *state_then_json(const struct ro_request *then)
{
	json_t *steps = json_array();

	for (uint32_t i = 0; i < then->nsteps; i++)
		json_array_append_new(steps, json_pack("{sfso}", "weight",
						       then->steps[i].weight / 100.0, "hold",
						       then->steps[i].hold == RO_WAIT ?
							       json_null() :
							       json_integer(then->steps[i].hold)));
	/* clang-format off */
	return json_pack("{sssosososo}",
			 "strategy", ro_strategy_name(then->strategy),
			 "steps", steps,
			 "sessionTimeout", then->session_timeout_set ?
				json_integer(then->session_timeout) : json_null(),
			 "drainDeadline", then->drain.on ? json_integer(then->drain.secs) :
				json_null(),
			 "analysis", then_analysis_json(&then->an));
	/* clang-format on */
}

json_t *state_mirror_json(const struct rollout *ro)
{
	if (ro->strategy != RO_MIRROR)
		return json_null();
	/* clang-format off */
	return json_pack("{sossssso}",
			 "settings", mirror_spec_json(&ro->mirror),
			 "verdict", verdict_names[ro->mirror_verdict],
			 "why", ro->mirror_why,
			 "then", ro->has_then ? state_then_json(&ro->then) : json_null());
	/* clang-format on */
}

/* A then back: the fields the API's "then" has, in the same words. */
static int load_then(json_t *j, const char *w, struct ro_request *then, struct vs_err *err)
{
	json_t *st = json_object_get(j, "strategy"), *steps = json_object_get(j, "steps");
	json_t *t = json_object_get(j, "sessionTimeout"), *an = json_object_get(j, "analysis");
	json_t *item;
	size_t i;

	memset(then, 0, sizeof(*then));
	mirror_spec_defaults(&then->mirror);
	if (!json_is_string(st) || ro_strategy_parse(json_string_value(st), &then->strategy) ||
	    then->strategy == RO_MIRROR || !json_is_array(steps) ||
	    json_array_size(steps) > RO_MAX_STEPS || (t && !json_is_null(t) && !json_is_integer(t)))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.then: malformed", w);
	json_array_foreach (steps, i, item) {
		json_t *wt = json_object_get(item, "weight"), *h = json_object_get(item, "hold");

		if (!json_is_number(wt) ||
		    model_percent_to_bp(json_number_value(wt), &then->steps[i].weight) ||
		    (h && !json_is_null(h) && (!json_is_integer(h) || json_integer_value(h) < 0)))
			return vs_errf(err, -EINVAL, 400, "bad_state",
				       "%s.then.steps[%zu]: malformed", w, i);
		then->steps[i].hold = h && !json_is_null(h) ? json_integer_value(h) : RO_WAIT;
	}
	then->nsteps = json_array_size(steps);
	then->session_timeout_set = t && !json_is_null(t);
	then->session_timeout = then->session_timeout_set ? json_integer_value(t) : 0;
	if (parse_drain(json_is_null(json_object_get(j, "drainDeadline")) ?
				NULL :
				json_object_get(j, "drainDeadline"),
			w, "bad_state", &then->drain, err))
		return -EINVAL;
	/* As req_rollout() reads it: the fields given, over nothing. */
	then->an.set = an && !json_is_null(an);
	if (then->an.set && parse_analysis(an, w, "bad_state", &then->an.an, &then->an.given, err))
		return -EINVAL;
	return 0;
}

int state_mirror_load(json_t *j, const char *w, struct rollout *ro, struct vs_err *err)
{
	json_t *v, *th;
	char where[96];
	size_t i;

	mirror_spec_defaults(&ro->mirror);
	ro->mirror_verdict = V_INCONCLUSIVE;
	if (!j || json_is_null(j))
		return 0;
	snprintf(where, sizeof(where), "%s.mirror", w);
	if (parse_mirror(json_object_get(j, "settings"), where, "bad_state", &ro->mirror, err))
		return -EINVAL;
	v = json_object_get(j, "verdict");
	for (i = 0; i < 3; i++)
		if (json_is_string(v) && !strcmp(json_string_value(v), verdict_names[i]))
			break;
	if (i == 3 || !json_is_string(json_object_get(j, "why")))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed verdict", where);
	ro->mirror_verdict = i;
	snprintf(ro->mirror_why, sizeof(ro->mirror_why), "%s",
		 json_string_value(json_object_get(j, "why")));
	th = json_object_get(j, "then");
	ro->has_then = th && !json_is_null(th);
	return ro->has_then ? load_then(th, where, &ro->then, err) : 0;
}
