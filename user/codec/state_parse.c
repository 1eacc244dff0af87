// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reading the state file back: every field checked, every entry placed at
 * the id or slot the maps know it by. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rollout_text.h"
#include "codec/parse.h"
#include "codec/parse_notify.h"
#include "codec/state.h"
#include "codec/state_mirror.h"
#include "codec/state_parse.h"
#include "lib/file.h"
#include "lib/str.h"

static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -EINVAL;
	*out = json_integer_value(v);
	return 0;
}

static int load_service(json_t *j, const char *w, struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "name",	"id",	    "address",	      "port",
					    "protocol", "salt",	    "sessionTimeout", "sessions",
					    "rollout",	"analysis", "notifications",  NULL };
	json_t *proto = json_object_get(j, "protocol");
	json_t *name = json_object_get(j, "name"), *id = json_object_get(j, "id");
	json_t *salt = json_object_get(j, "salt");
	struct vs_endpoint ep;
	int64_t timeout = 0;
	char where[96];
	json_int_t sid;
	int ret;

	ret = parse_keys(j, keys, w, err);
	if (ret)
		return ret;
	if (!json_is_string(name) || !json_is_integer(id) || !json_is_integer(salt) ||
	    json_integer_value(salt) < 0 || json_integer_value(salt) > UINT32_MAX)
		return vs_errf(err, -EINVAL, 400, "bad_state",
			       "%s: needs name, id and a 32-bit salt", w);
	sid = json_integer_value(id);
	if (sid < 0 || sid >= VS_MAX_SERVICES || m->svc[sid].used)
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.id: bad or repeated", w);
	if (!json_object_get(j, "address") || !json_object_get(j, "port"))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: needs address and port", w);
	ret = parse_addr_port(json_object_get(j, "address"), json_object_get(j, "port"), w, &ep,
			      err);
	if (ret)
		return ret;
	/* At the id the maps know it by; the model checks name and address. */
	ret = model_put_service(m, sid, json_string_value(name), &ep,
				(uint32_t)json_integer_value(salt), err);
	if (ret < 0)
		return ret;
	/* Absent or null: none. A value out of range would overflow the data
	 * plane's milliseconds. */
	if (!json_is_null(json_object_get(j, "sessionTimeout")) &&
	    json_object_get(j, "sessionTimeout") &&
	    get_int(j, "sessionTimeout", 0, VS_MAX_SESSION_TIMEOUT, &timeout))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.sessionTimeout: malformed", w);
	m->svc[sid].session_timeout = timeout;
	/* Absent in state files written before services had a protocol,
	 * when every service's status lines were read: keep doing so. */
	if (parse_protocol(proto, true, &m->svc[sid].http))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.protocol: \"tcp\" or \"http\"",
			       w);
	/* Absent in state files from before: the built-in settings. */
	if (json_object_get(j, "analysis")) {
		uint32_t given;

		snprintf(where, sizeof(where), "%s.analysis", w);
		ret = parse_analysis(json_object_get(j, "analysis"), where, "bad_state",
				     &m->svc[sid].an, &given, err);
		if (ret)
			return ret;
	}
	/* Absent in state files from before webhooks: none. */
	if (json_object_get(j, "notifications")) {
		snprintf(where, sizeof(where), "%s.notifications", w);
		ret = parse_notifications(json_object_get(j, "notifications"), where,
					  &m->svc[sid].notify, err);
		if (ret)
			return ret;
	}
	/* Absent in state files from before: whole addresses and no quota, as
	 * then, so that no active session changes its key on the upgrade. */
	if (!json_object_get(j, "sessions")) {
		m->svc[sid].sess = (struct sess_opts){ .key6 = 128,
						       .quota4 = SESS_QUOTA4_DEFAULT,
						       .quota6 = SESS_QUOTA6_DEFAULT };
		return 0;
	}
	snprintf(where, sizeof(where), "%s.sessions", w);
	return parse_sess_opts(json_object_get(j, "sessions"), where, &m->svc[sid].sess, err);
}

static int load_window(json_t *j, const char *w, struct window_sum *out, struct vs_err *err)
{
	static const char *const keys[] = {
		"seconds",	"arrived",	     "requests",  "errors", "latencyP50Ms",
		"latencyP99Ms", "meanResponseBytes", "errorRate", NULL
	};
	static const char *const nums[] = { "latencyP50Ms", "latencyP99Ms", "meanResponseBytes" };
	double d[ARRAY_SIZE(nums)];
	int64_t sec, arr, req, errs;

	if (parse_keys(j, keys, w, err))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++) {
		json_t *v = json_object_get(j, nums[i]);

		if (!json_is_number(v) || json_number_value(v) < 0)
			return vs_errf(err, -EINVAL, 400, "bad_state", "%s.%s: malformed", w,
				       nums[i]);
		d[i] = json_number_value(v);
	}
	if (get_int(j, "seconds", 1, UINT32_MAX, &sec) ||
	    get_int(j, "arrived", 0, INT64_MAX, &arr) ||
	    get_int(j, "requests", 0, INT64_MAX, &req) || get_int(j, "errors", 0, INT64_MAX, &errs))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed counts", w);
	*out = (struct window_sum){ .seconds = sec,
				    .arrived = arr,
				    .requests = req,
				    .errors = errs,
				    .p50_ms = d[0],
				    .p99_ms = d[1],
				    .mean_bytes = d[2] };
	return 0;
}

/* A rollout's analysis: its settings as the API takes them, and its
 * status. Absent in state files from before them: no absolute limits, no
 * baseline, and steps that advance without a verdict, as such a rollout
 * started with. */
static int load_analysis(json_t *j, const char *w, struct analysis *a, struct vs_err *err)
{
	static const char *const status[] = { "failures", "inconclusive", "windows", "lastPass" };
	int64_t v[ARRAY_SIZE(status)];
	json_t *settings, *lv, *base;
	char where[96];
	uint32_t given;
	int ret;

	memset(a, 0, sizeof(*a));
	if (!j || json_is_null(j))
		return 0;
	snprintf(where, sizeof(where), "%s.analysis", w);
	if (!json_is_object(j))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed", where);
	for (size_t i = 0; i < ARRAY_SIZE(status); i++)
		if (get_int(j, status[i], 0, i < 3 ? UINT32_MAX : INT64_MAX, &v[i]))
			return vs_errf(err, -EINVAL, 400, "bad_state", "%s.%s: malformed", where,
				       status[i]);
	lv = json_object_get(j, "lastVerdict");
	base = json_object_get(j, "baseline");
	settings = json_copy(j);
	for (size_t i = 0; i < ARRAY_SIZE(status); i++)
		json_object_del(settings, status[i]);
	json_object_del(settings, "lastVerdict");
	json_object_del(settings, "baseline");
	judge_defaults(a);
	a->max_error_rate = a->max_latency_p99_ms = JUDGE_NO_LIMIT;
	a->on_inconclusive = JUDGE_ADVANCE;
	ret = parse_analysis(settings, where, "bad_state", a, &given, err);
	json_decref(settings);
	if (ret)
		return ret;
	for (size_t i = 0; i < JUDGE_NFIELDS; i++)
		if (judge_fields[i].kind != JUDGE_LIMIT && !(given & (1u << i)))
			return vs_errf(err, -EINVAL, 400, "bad_state", "%s.%s: missing", where,
				       judge_fields[i].name);
	a->failures = v[0];
	a->inconclusive = v[1];
	a->windows = v[2];
	a->last_pass = v[3];
	snprintf(a->last_verdict, sizeof(a->last_verdict), "%s",
		 json_is_string(lv) ? json_string_value(lv) : "");
	snprintf(where + strlen(where), sizeof(where) - strlen(where), ".baseline");
	return base && !json_is_null(base) ? load_window(base, where, &a->base, err) : 0;
}

/* An optional string field that must fit out. */
static int load_text(json_t *j, const char *key, char *out, size_t size, const char *w,
		     struct vs_err *err)
{
	json_t *v = json_object_get(j, key);

	if (v && (!json_is_string(v) || str_copy(out, size, json_string_value(v))))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.%s: malformed", w, key);
	return 0;
}

/* After the clusters: a rollout refers to them by slot. */
static int load_history(json_t *list, const char *w, struct rollout *ro, struct vs_err *err)
{
	json_t *item;
	int64_t t, st, wt;
	size_t i;
	int type;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > RO_MAX_HISTORY)
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.history: malformed", w);
	json_array_foreach (list, i, item) {
		const char *name = json_string_value(json_object_get(item, "type"));

		type = !name			      ? -EINVAL :
		       !strcmp(name, "promoted_full") ? ROM_PROMOTED_FULL :
							ro_mark_type(name);
		if (type < 0 || get_int(item, "time", 0, INT64_MAX, &t) ||
		    get_int(item, "step", 0, RO_MAX_STEPS - 1, &st) ||
		    get_int(item, "weight", 0, VS_BUCKETS, &wt))
			return vs_errf(err, -EINVAL, 400, "bad_state", "%s.history[%zu]: malformed",
				       w, i);
		ro->hist[i] = (struct ro_mark){ .time = t, .weight = wt, .type = type, .step = st };
	}
	ro->nhist = json_array_size(list);
	return 0;
}

int state_rollout_load(json_t *j, const char *w, struct model *m, uint32_t svc, struct vs_err *err)
{
	static const char *const keys[] = {
		"phase",	 "strategy", "from",	"to",	       "sessionTimeout",
		"step",		 "steps",    "started", "stepStarted", "pausedLeft",
		"ended",	 "analysis", "history", "why",	       "pauseWhy",
		"drainDeadline", "mirror",   "fleet",	"marks",       NULL
	};
	struct rollout *ro = &m->svc[svc].ro;
	int64_t from, to, st, n, v, hold;
	json_t *steps, *item;
	size_t i;
	int p;

	memset(ro, 0, sizeof(*ro));
	if (!j || json_is_null(j))
		return 0;
	if (parse_keys(j, keys, w, err))
		return -EINVAL;
	for (p = RO_PROGRESSING; p <= RO_ROLLED_BACK; p++)
		if (!strcmp(json_string_value(json_object_get(j, "phase")) ?: "", ro_phase_name(p)))
			break;
	steps = json_object_get(j, "steps");
	if (p > RO_ROLLED_BACK || !json_is_string(json_object_get(j, "strategy")) ||
	    ro_strategy_parse(json_string_value(json_object_get(j, "strategy")), &ro->strategy) ||
	    get_int(j, "from", 0, VS_MAX_SLOTS - 1, &from) ||
	    get_int(j, "to", 0, VS_MAX_SLOTS - 1, &to) || !m->cl[to].used || m->cl[to].svc != svc ||
	    !json_is_array(steps) || json_array_size(steps) < 1 ||
	    json_array_size(steps) > RO_MAX_STEPS ||
	    get_int(j, "step", 0, (int64_t)json_array_size(steps) - 1, &st) ||
	    get_int(j, "sessionTimeout", 0, VS_MAX_SESSION_TIMEOUT, &n))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed rollout", w);
	ro->phase = p;
	ro->from = from;
	ro->to = to;
	ro->step = st;
	ro->session_timeout = n;
	ro->fleet = json_is_true(json_object_get(j, "fleet"));
	/* A rollout in progress must still have both its versions. */
	if ((p == RO_PROGRESSING || p == RO_PAUSED) &&
	    (!m->cl[from].used || m->cl[from].svc != svc))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: rollout from a missing cluster",
			       w);
	json_array_foreach (steps, i, item) {
		if (get_int(item, "weight", 0, VS_BUCKETS, &v) ||
		    get_int(item, "hold", RO_WAIT, INT32_MAX, &hold))
			return vs_errf(err, -EINVAL, 400, "bad_state", "%s.steps[%zu]: malformed",
				       w, i);
		ro->steps[i] = (struct ro_step){ .weight = v, .hold = hold };
	}
	ro->nsteps = json_array_size(steps);
	if (get_int(j, "started", 0, INT64_MAX, &ro->started) ||
	    get_int(j, "stepStarted", 0, INT64_MAX, &ro->step_started) ||
	    get_int(j, "pausedLeft", RO_WAIT, INT64_MAX, &ro->paused_left) ||
	    get_int(j, "ended", 0, INT64_MAX, &ro->ended))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed rollout times", w);
	/* All absent in state files from before rollouts kept a history. */
	if (load_text(j, "why", ro->why, sizeof(ro->why), w, err) ||
	    load_text(j, "pauseWhy", ro->pause_why, sizeof(ro->pause_why), w, err) ||
	    load_history(json_object_get(j, "history"), w, ro, err))
		return -EINVAL;
	/* Absent in state files from before: as many as it has. */
	if (!json_object_get(j, "marks"))
		n = ro->nhist;
	else if (get_int(j, "marks", ro->nhist, UINT32_MAX, &n))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: malformed rollout marks", w);
	ro->nmarks = (uint32_t)n;
	/* Absent in state files from before drain deadlines: none. */
	if (parse_drain(json_object_get(j, "drainDeadline"), w, "bad_state", &ro->drain, err) ||
	    state_mirror_load(json_object_get(j, "mirror"), w, ro, err))
		return -EINVAL;
	return load_analysis(json_object_get(j, "analysis"), w, &ro->an, err);
}

/* Events as state.c writes them: {id, time, service, kind, message}, oldest
 * first. A file from before ids and kinds has "type" and "detail" and no
 * id: each is numbered after the one before it. */
static int load_events(json_t *list, struct model *m, struct vs_err *err)
{
	json_t *j;
	size_t i;

	json_array_foreach (list, i, j) {
		json_t *id = json_object_get(j, "id"), *t = json_object_get(j, "time");
		json_t *kind = json_object_get(j, "kind") ?: json_object_get(j, "type");
		json_t *msg = json_object_get(j, "message") ?: json_object_get(j, "detail");
		json_t *svc = json_object_get(j, "service");
		struct event e = {};

		if (!json_is_integer(t) || !json_is_string(kind) || (msg && !json_is_string(msg)) ||
		    (svc && !json_is_string(svc)) ||
		    (id && (!json_is_integer(id) || json_integer_value(id) < 1)))
			return vs_errf(err, -EINVAL, 400, "bad_state", "events[%zu]: malformed", i);
		e.id = id ? (uint64_t)json_integer_value(id) : m->events.last_id + 1;
		e.time = json_integer_value(t);
		snprintf(e.service, sizeof(e.service), "%s", svc ? json_string_value(svc) : "");
		snprintf(e.kind, sizeof(e.kind), "%s", json_string_value(kind));
		snprintf(e.message, sizeof(e.message), "%s", msg ? json_string_value(msg) : "");
		if (event_restore(&m->events, &e))
			return vs_errf(err, -EINVAL, 400, "bad_state",
				       "events[%zu]: id %llu is not above the one before it (%llu)",
				       i, (unsigned long long)e.id,
				       (unsigned long long)m->events.last_id);
	}
	return 0;
}

/* Each server's owner, null while not known. Absent in state files from
 * before owners: each is recorded again from its sockets. */
static int load_owners(json_t *list, const char *w, struct cluster *c, struct vs_err *err)
{
	char where[96];
	json_t *o;
	size_t i;
	int ret;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) != c->nsrv)
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.owners: one per server", w);
	json_array_foreach (list, i, o) {
		snprintf(where, sizeof(where), "%s.owners[%zu]", w, i);
		if (json_is_null(o))
			continue;
		ret = parse_owner(o, where, &c->owner[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

/* A version's drain and its count; both absent in state files from
 * before drain deadlines. */
static int load_drain(json_t *j, json_t *closed, const char *w, struct drain *d, struct vs_err *err)
{
	static const char *const keys[] = { "deadline", "started", "due", "drained", NULL };
	int64_t secs, started, n = 0;

	if (closed && (!json_is_integer(closed) || (n = json_integer_value(closed)) < 0))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.drainClosed: malformed", w);
	*d = (struct drain){ .closed = n };
	if (!j)
		return 0;
	if (parse_keys(j, keys, w, err) || get_int(j, "deadline", 0, DRAIN_MAX_DEADLINE, &secs) ||
	    get_int(j, "started", 0, INT64_MAX, &started) ||
	    !json_is_boolean(json_object_get(j, "due")) ||
	    !json_is_boolean(json_object_get(j, "drained")))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.drain: malformed", w);
	*d = (struct drain){ .on = true,
			     .due = json_is_true(json_object_get(j, "due")),
			     .drained = json_is_true(json_object_get(j, "drained")),
			     .secs = secs,
			     .started = started,
			     .closed = n };
	return 0;
}

static int load_cluster(json_t *j, const char *w, struct model *m, struct vs_err *err)
{
	static const char *const extra[] = { "id",	"slot",	       "weight",
					     "service", "noAffinity",  "owners",
					     "drain",	"drainClosed", NULL };
	json_t *id = json_object_get(j, "id"), *slot = json_object_get(j, "slot");
	json_t *weight = json_object_get(j, "weight"), *svc = json_object_get(j, "service");
	struct cluster spec = {};
	json_int_t sl, wt;
	int ret;

	ret = parse_cluster(j, w, extra, &spec, err);
	if (ret)
		return ret;
	if (!json_is_string(id) || !json_is_integer(slot) || !json_is_integer(weight) ||
	    !json_is_string(svc) || str_copy(spec.id, sizeof(spec.id), json_string_value(id)))
		return vs_errf(err, -EINVAL, 400, "bad_state",
			       "%s: needs id, slot, weight and service", w);
	sl = json_integer_value(slot);
	wt = json_integer_value(weight);
	ret = model_find_service(m, json_string_value(svc));
	if (ret < 0 || sl < 0 || sl >= VS_MAX_SLOTS || m->cl[sl].used || wt < 0 || wt > VS_BUCKETS)
		return vs_errf(err, -EINVAL, 400, "bad_state",
			       "%s: unknown service, or slot or weight out of range", w);
	spec.svc = ret;
	spec.weight = wt;
	spec.no_affinity = json_is_true(json_object_get(j, "noAffinity"));
	ret = load_owners(json_object_get(j, "owners"), w, &spec, err);
	if (!ret)
		ret = load_drain(json_object_get(j, "drain"), json_object_get(j, "drainClosed"), w,
				 &spec.drain, err);
	if (ret)
		return ret;
	ret = model_put_cluster(m, sl, &spec, err);
	return ret < 0 ? ret : 0;
}

static int check_weights(const struct model *m, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n, sum;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!m->svc[s].used)
			continue;
		n = model_order(m, s, order);
		sum = 0;
		for (uint32_t i = 0; i < n; i++)
			sum += m->cl[order[i]].weight;
		if (n && sum != VS_BUCKETS)
			return vs_errf(err, -EINVAL, 400, "bad_state",
				       "service '%s': weights sum to %u, not %u", m->svc[s].name,
				       sum, VS_BUCKETS);
	}
	return 0;
}

int state_parse(const char *text, size_t len, const char *name, struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "vsteerState", "services", "clusters", "events", NULL };
	json_t *root, *list, *item;
	json_error_t jerr;
	char w[64], prefix[128];
	size_t i;
	int ret;

	memset(m, 0, sizeof(*m));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vs_errf(err, -EINVAL, 400, "bad_state", "state %s: line %d: %s", name,
			       jerr.line, jerr.text);
	ret = parse_keys(root, keys, "top level", err);
	if (!ret && json_integer_value(json_object_get(root, "vsteerState")) != STATE_FORMAT)
		ret = vs_errf(err, -EINVAL, 400, "bad_state", "vsteerState: format %d expected",
			      STATE_FORMAT);
	/* A missing or mistyped list must not read as "no services". */
	if (!ret &&
	    (!json_is_array(json_object_get(root, "services")) ||
	     !json_is_array(json_object_get(root, "clusters")) ||
	     (json_object_get(root, "events") && !json_is_array(json_object_get(root, "events")))))
		ret = vs_errf(err, -EINVAL, 400, "bad_state",
			      "services and clusters must be lists (and events, if present)");
	list = json_object_get(root, "services");
	json_array_foreach (list, i, item) {
		if (ret)
			break;
		snprintf(w, sizeof(w), "services[%zu]", i);
		ret = load_service(item, w, m, err);
	}
	/* Each cluster at its recorded slot: the maps know it by that. */
	list = json_object_get(root, "clusters");
	json_array_foreach (list, i, item) {
		if (ret)
			break;
		snprintf(w, sizeof(w), "clusters[%zu]", i);
		ret = load_cluster(item, w, m, err);
	}
	list = json_object_get(root, "services");
	json_array_foreach (list, i, item) {
		if (ret)
			break;
		snprintf(w, sizeof(w), "services[%zu].rollout", i);
		ret = state_rollout_load(json_object_get(item, "rollout"), w, m,
					 json_integer_value(json_object_get(item, "id")), err);
	}
	if (!ret)
		ret = load_events(json_object_get(root, "events"), m, err);
	json_decref(root);
	if (!ret)
		ret = check_weights(m, err);
	if (ret < 0) {
		snprintf(prefix, sizeof(prefix), "state %s", name);
		vs_err_prefix(err, prefix);
	}
	return ret < 0 ? ret : 0;
}

int state_load(const char *path, struct model *m, struct vs_err *err)
{
	size_t len;
	char *buf;
	int ret;

	/* Read through a link, it would be read once and never written. */
	ret = file_read(path, O_NOFOLLOW, STATE_MAX_SIZE, &buf, &len);
	if (ret == -ENOENT)
		return ret;
	if (ret == -ELOOP)
		return vs_errf(
			err, ret, 500, "bad_state",
			"state %s: a symbolic link; each change renames a new state file over it, which replaces the link rather than writing to its target: give --state the file itself",
			path);
	if (ret == -EFBIG)
		return vs_errf(err, ret, 500, "bad_state", "state %s: over %d KiB", path,
			       STATE_MAX_SIZE >> 10);
	if (ret)
		return vs_errf(err, ret, 500, "bad_state", "state %s: %s", path,
			       file_strerror(ret));
	ret = state_parse(buf, len, path, m, err);
	free(buf);
	return ret;
}
