// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "codec/parse.h"
#include "codec/request.h"
#include "codec/parse_notify.h"
#include "lib/str.h"

static bool name_in(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(key, *list))
			return true;
	return false;
}

int parse_keys(json_t *obj, const char *const *allowed, const char *where, struct vs_err *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(obj))
		return vs_errf(err, -EINVAL, 400, "bad_field", "%s: must be an object", where);
	json_object_foreach (obj, key, val) {
		if (!name_in(key, allowed))
			return vs_errf(err, -EINVAL, 400, "unknown_field",
				       "%s: unknown field '%.40s'", where, key);
	}
	return 0;
}

int parse_protocol(json_t *p, bool dflt, bool *http)
{
	const char *s = json_string_value(p);

	*http = p ? s && !strcmp(s, "http") : dflt;
	return !p || (s && (!strcmp(s, "http") || !strcmp(s, "tcp"))) ? 0 : -EINVAL;
}

int parse_addr_port(json_t *a, json_t *p, const char *where, struct vs_endpoint *ep,
		    struct vs_err *err)
{
	if (!json_is_string(a))
		return vs_errf(err, -EINVAL, 400, "bad_address",
			       "%s.address: must be a string such as \"127.0.0.1\"", where);
	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535)
		return vs_errf(err, -EINVAL, 400, "bad_port",
			       "%s.port: must be an integer from 1 to 65535", where);
	if (ep_from_parts(json_string_value(a), json_integer_value(p), ep))
		return vs_errf(err, -EINVAL, 400, "bad_address",
			       "%s.address: '%.60s' is not an IPv4 or IPv6 address", where,
			       json_string_value(a));
	return 0;
}

int parse_endpoint(json_t *j, const char *where, struct vs_endpoint *ep, struct vs_err *err)
{
	static const char *const keys[] = { "address", "port", NULL };
	int ret;

	if (json_is_string(j)) {
		if (ep_parse(json_string_value(j), ep))
			return vs_errf(
				err, -EINVAL, 400, "bad_address",
				"%s: '%.60s' is not ADDRESS:PORT (e.g. 127.0.0.1:9001, [::1]:9001)",
				where, json_string_value(j));
		return 0;
	}
	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	return parse_addr_port(json_object_get(j, "address"), json_object_get(j, "port"), where, ep,
			       err);
}

/* Where a server object says its sockets live: "netns" (a path), "pid"
 * or "container", at most one; none: vsteerd's own namespace. */
static int parse_netns(json_t *j, const char *where, struct netns_spec *ns, struct vs_err *err)
{
	json_t *path = json_object_get(j, "netns"), *pid = json_object_get(j, "pid"),
	       *ctr = json_object_get(j, "container");

	*ns = (struct netns_spec){};
	if (!!path + !!pid + !!ctr > 1)
		return vs_errf(err, -EINVAL, 400, "bad_servers",
			       "%s: give one of netns, pid and container", where);
	if (path) {
		if (!json_is_string(path) || !netns_path_valid(json_string_value(path)))
			return vs_errf(
				err, -EINVAL, 400, "bad_servers",
				"%s.netns: must be the absolute path of a network namespace, such as \"/run/netns/web\" (under %d bytes)",
				where, NETNS_NAME_LEN);
		ns->kind = NETNS_PATH;
		snprintf(ns->name, sizeof(ns->name), "%s", json_string_value(path));
	} else if (pid) {
		if (!json_is_integer(pid) || json_integer_value(pid) < 1 ||
		    json_integer_value(pid) > INT32_MAX)
			return vs_errf(err, -EINVAL, 400, "bad_servers",
				       "%s.pid: must be a process id (1 to 2147483647)", where);
		ns->kind = NETNS_PID;
		ns->pid = json_integer_value(pid);
	} else if (ctr) {
		if (!json_is_string(ctr) || !netns_container_valid(json_string_value(ctr)))
			return vs_errf(
				err, -EINVAL, 400, "bad_servers",
				"%s.container: must be a podman or Docker container name or id (letters, digits, _ . -; under %d bytes)",
				where, NETNS_NAME_LEN);
		ns->kind = NETNS_CONTAINER;
		snprintf(ns->name, sizeof(ns->name), "%s", json_string_value(ctr));
	}
	return 0;
}

/* "ADDRESS:PORT", or {"address", "port"} with where its sockets live. */
static int parse_server(json_t *j, const char *where, struct vs_endpoint *ep, struct netns_spec *ns,
			struct vs_err *err)
{
	static const char *const keys[] = { "address", "port", "netns", "pid", "container", NULL };
	json_t *port;
	int ret;

	*ns = (struct netns_spec){};
	if (!json_is_object(j))
		return parse_endpoint(j, where, ep, err);
	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	/* "address": "10.88.0.5:80" alone is a whole endpoint too. */
	port = json_object_get(j, "port");
	if (!port && json_is_string(json_object_get(j, "address")))
		ret = parse_endpoint(json_object_get(j, "address"), where, ep, err);
	else
		ret = parse_addr_port(json_object_get(j, "address"), port, where, ep, err);
	return ret ? ret : parse_netns(j, where, ns, err);
}

int parse_drain(json_t *v, const char *where, const char *code, struct drain_spec *out,
		struct vs_err *err)
{
	*out = (struct drain_spec){};
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > DRAIN_MAX_DEADLINE)
		return vs_errf(err, -EINVAL, 400, code,
			       "%s.drainDeadline: must be whole seconds from 0 to %d", where,
			       DRAIN_MAX_DEADLINE);
	*out = (struct drain_spec){ .on = true, .secs = json_integer_value(v) };
	return 0;
}

static int parse_transition(json_t *j, const char *where, struct cluster *out, struct vs_err *err)
{
	static const char *const keys[] = { "mode",   "sessionTimeout", "drainDeadline",
					    "mirror", "then",		NULL };
	struct ro_request *plan;
	json_t *m, *t, *d;
	char w[128];
	int ret;

	snprintf(w, sizeof(w), "%s.upgradeTransition", where);
	ret = parse_keys(j, keys, w, err);
	if (ret)
		return ret;
	m = json_object_get(j, "mode");
	if (!json_is_string(m) || model_mode_parse(json_string_value(m), &out->mode))
		return vs_errf(
			err, -EINVAL, 400, "bad_mode",
			"%s.mode: must be \"instant\", \"session\", \"manual\" or \"mirror\" (any case)",
			w);
	if (out->mode != CL_MIRROR && (json_object_get(j, "mirror") || json_object_get(j, "then")))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s: mirror and then are for the mirror mode", w);
	if (out->mode == CL_MIRROR) {
		/* Checked here; the config starts the mirror (codec/config.c). */
		plan = malloc(2 * sizeof(*plan));
		if (!plan)
			return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
		ret = req_transition_plan(j, w, &plan[0], &plan[1], err);
		free(plan);
		if (ret)
			return ret;
	}
	d = json_object_get(j, "drainDeadline");
	if (d && out->mode == CL_MANUAL)
		return vs_errf(
			err, -EINVAL, 400, "bad_field",
			"%s.drainDeadline: a manual cluster starts no rollout to drain after; give drainDeadline to POST /v1/services/{name}/rollout",
			w);
	ret = parse_drain(d, w, "bad_field", &out->drain_deadline, err);
	if (ret)
		return ret;
	t = json_object_get(j, "sessionTimeout");
	if (out->mode != CL_SESSION) {
		if (t)
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "%s.sessionTimeout: only the session mode takes a timeout",
				       w);
		return 0;
	}
	if (!json_is_integer(t) || json_integer_value(t) < 1 ||
	    json_integer_value(t) > VS_MAX_SESSION_TIMEOUT)
		return vs_errf(
			err, -EINVAL, 400, "bad_field",
			"%s.sessionTimeout: the session mode needs it, in seconds from 1 to %d", w,
			VS_MAX_SESSION_TIMEOUT);
	out->session_timeout = json_integer_value(t);
	return 0;
}

static int parse_health(json_t *j, const char *where, struct health_check *h, struct vs_err *err);

/* An absolute path of plain segments: no "..", ".", empty segment or
 * trailing slash, printable ASCII, so it compares as the kernel names it. */
static bool cgroup_path_valid(const char *p)
{
	if (p[0] != '/')
		return false;
	if (!strcmp(p, "/"))
		return true;
	for (const char *seg = p; *seg;) {
		size_t n;

		seg++;
		n = strcspn(seg, "/");
		if (!n || (n == 1 && seg[0] == '.') || (n == 2 && !strncmp(seg, "..", 2)))
			return false;
		for (size_t i = 0; i < n; i++)
			if (seg[i] <= ' ' || seg[i] > '~')
				return false;
		seg += n;
	}
	return true;
}

int parse_ints(json_t *j, const struct parse_int *f, size_t n, json_int_t *val, const char *code,
	       const char *where, struct vs_err *err)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(j, f[i].key);

		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < f[i].lo ||
		    json_integer_value(v) > f[i].hi)
			return vs_errf(err, -EINVAL, 400, code,
				       "%s.%s: must be a whole number from %lld to %lld", where,
				       f[i].key, (long long)f[i].lo, (long long)f[i].hi);
		val[i] = json_integer_value(v);
	}
	return 0;
}

int parse_sess_opts(json_t *j, const char *where, struct sess_opts *o, struct vs_err *err)
{
	static const char *const keys[] = { "ipv6Prefix", "quota", "quotaPrefix4", "quotaPrefix6",
					    NULL };
	/* clang-format off */
	static const struct parse_int ints[] = {
		{ "ipv6Prefix", 1, 128 }, { "quota", 0, SESS_QUOTA_MAX },
		{ "quotaPrefix4", 1, 32 }, { "quotaPrefix6", 1, 128 },
	};
	/* clang-format on */
	json_int_t val[ARRAY_SIZE(ints)] = { o->key6, o->quota, o->quota4, o->quota6 };
	int ret;

	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	ret = parse_ints(j, ints, ARRAY_SIZE(ints), val, "bad_field", where, err);
	if (ret)
		return ret;
	*o = (struct sess_opts){
		.key6 = val[0], .quota = val[1], .quota4 = val[2], .quota6 = val[3]
	};
	return 0;
}

int parse_service(json_t *obj, const char *where, struct service *out, bool *takeover,
		  struct vs_err *err)
{
	json_t *t = json_object_get(obj, "takeover"), *st;
	char w[96];
	int ret;

	if (parse_protocol(json_object_get(obj, "protocol"), false, &out->http))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s.protocol: must be \"tcp\" or \"http\"", where);
	if (t && !json_is_boolean(t))
		return vs_errf(err, -EINVAL, 400, "bad_field", "%s.takeover: must be true or false",
			       where);
	*takeover = json_is_true(t);
	ret = parse_addr_port(json_object_get(obj, "address"), json_object_get(obj, "port"), where,
			      &out->addr, err);
	if (ret)
		return ret;
	model_sess_defaults(&out->sess);
	if (json_object_get(obj, "sessions")) {
		snprintf(w, sizeof(w), "%s.sessions", where);
		ret = parse_sess_opts(json_object_get(obj, "sessions"), w, &out->sess, err);
		if (ret)
			return ret;
	}
	st = json_object_get(obj, "sessionTimeout");
	if (st && (!json_is_integer(st) || json_integer_value(st) < 0 ||
		   json_integer_value(st) > VS_MAX_SESSION_TIMEOUT))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s.sessionTimeout: must be seconds from 0 (no affinity) to %d",
			       where, VS_MAX_SESSION_TIMEOUT);
	out->session_timeout = st ? json_integer_value(st) : 0;
	judge_defaults(&out->an);
	if (json_object_get(obj, "analysis")) {
		uint32_t given;

		snprintf(w, sizeof(w), "%s.analysis", where);
		ret = parse_analysis(json_object_get(obj, "analysis"), w, "bad_field", &out->an,
				     &given, err);
		if (ret)
			return ret;
	}
	memset(&out->notify, 0, sizeof(out->notify));
	if (json_object_get(obj, "notifications")) {
		snprintf(w, sizeof(w), "%s.notifications", where);
		ret = parse_notifications(json_object_get(obj, "notifications"), w, &out->notify,
					  err);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_judge_field(json_t *v, const struct judge_field *f, const char *where,
			     const char *code, double *out, struct vs_err *err)
{
	if (f->kind == JUDGE_LIMIT && json_is_null(v)) {
		*out = JUDGE_NO_LIMIT;
		return 0;
	}
	/* Counts and seconds: whole numbers, not silently truncated fractions. */
	if ((f->kind == JUDGE_COUNT ? !json_is_integer(v) : !json_is_number(v)) ||
	    json_number_value(v) < f->lo || json_number_value(v) > f->hi)
		return vs_errf(err, -EINVAL, 400, code, "%s.%s: must be %s from %g to %g%s", where,
			       f->name, f->kind == JUDGE_COUNT ? "a whole number" : "a number",
			       f->lo, f->hi, f->kind == JUDGE_LIMIT ? ", or null for none" : "");
	*out = json_number_value(v);
	return 0;
}

int parse_analysis(json_t *j, const char *where, const char *code, struct analysis *a,
		   uint32_t *given, struct vs_err *err)
{
	const char *keys[JUDGE_NFIELDS + 2];
	struct analysis next = *a;
	uint32_t got = 0;
	json_t *v;
	double d = 0;
	int ret;

	if (json_is_boolean(j)) {
		a->on = json_is_true(j);
		*given = 0;
		return 0;
	}
	for (size_t i = 0; i < JUDGE_NFIELDS; i++)
		keys[i] = judge_fields[i].name;
	keys[JUDGE_NFIELDS] = "onInconclusive";
	keys[JUDGE_NFIELDS + 1] = NULL;
	if (!json_is_object(j))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "%s: must be false (not judged), true or an object of settings",
			       where);
	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	/* Into a copy: a bad field leaves a as it was. */
	for (size_t i = 0; i < JUDGE_NFIELDS; i++) {
		v = json_object_get(j, judge_fields[i].name);
		if (!v)
			continue;
		ret = parse_judge_field(v, &judge_fields[i], where, code, &d, err);
		if (ret)
			return ret;
		judge_set(&next, &judge_fields[i], d);
		got |= 1u << i;
	}
	v = json_object_get(j, "onInconclusive");
	if (v && (!json_is_string(v) ||
		  judge_inconclusive_parse(json_string_value(v), &next.on_inconclusive)))
		return vs_errf(err, -EINVAL, 400, code,
			       "%s.onInconclusive: must be \"pause\" or \"advance\"", where);
	if (v)
		got |= JUDGE_GIVEN_INCONCLUSIVE;
	next.on = true;
	*a = next;
	*given = got;
	return 0;
}

int parse_owner(json_t *j, const char *where, struct owner *o, struct vs_err *err)
{
	static const char *const keys[] = { "uid", "cgroup", NULL };
	json_t *uid, *cg;
	int ret;

	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	uid = json_object_get(j, "uid");
	cg = json_object_get(j, "cgroup");
	if (!uid && !cg)
		return vs_errf(err, -EINVAL, 400, "bad_owner",
			       "%s: give uid, cgroup or both (e.g. {\"uid\": 1000})", where);
	memset(o, 0, sizeof(*o));
	o->set = true;
	o->any_uid = !uid;
	/* (uid_t)-1 is no one's: the kernel's "no uid". */
	if (uid && (!json_is_integer(uid) || json_integer_value(uid) < 0 ||
		    json_integer_value(uid) >= UINT32_MAX))
		return vs_errf(err, -EINVAL, 400, "bad_owner",
			       "%s.uid: must be a uid from 0 to 4294967294", where);
	o->uid = uid ? json_integer_value(uid) : 0;
	if (cg && (!json_is_string(cg) || !cgroup_path_valid(json_string_value(cg)) ||
		   str_copy(o->cgroup, sizeof(o->cgroup), json_string_value(cg))))
		return vs_errf(
			err, -EINVAL, 400, "bad_owner",
			"%s.cgroup: must be a cgroup v2 path such as \"/system.slice/app.service\" (under %d bytes, no . or .. segments)",
			where, OWNER_CGROUP_LEN);
	return 0;
}

int parse_cluster(json_t *j, const char *where, const char *const *extra, struct cluster *out,
		  struct vs_err *err)
{
	const char *keys[16] = { "version", "servers", "upgradeTransition", "health", "owner" };
	json_t *v, *servers, *t, *s;
	size_t nkeys = 5, i;
	char w[128];
	int ret;

	for (; extra && *extra && nkeys < ARRAY_SIZE(keys) - 1; extra++)
		keys[nkeys++] = *extra;
	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;

	/* The thesis: a cluster without a version is version 0.0. */
	v = json_object_get(j, "version");
	if (v && !json_is_string(v))
		return vs_errf(err, -EINVAL, 400, "bad_version",
			       "%s.version: must be a string such as \"2.0\"", where);
	if (str_copy(out->version, sizeof(out->version), v ? json_string_value(v) : "0.0") ||
	    !version_valid(out->version))
		return vs_errf(err, -EINVAL, 400, "bad_version",
			       "%s.version: '%.40s' is not dotted numbers such as 1.0 or 2.10.3",
			       where, json_string_value(v));

	servers = json_object_get(j, "servers");
	if (!json_is_array(servers) || json_array_size(servers) == 0)
		return vs_errf(
			err, -EINVAL, 400, "bad_servers",
			"%s.servers: must be a non-empty list of \"ADDRESS:PORT\" or {\"address\", \"port\"}",
			where);
	if (json_array_size(servers) > VS_MAX_SERVERS)
		return vs_errf(err, -E2BIG, 400, "limit",
			       "%s.servers: at most %d servers per cluster", where, VS_MAX_SERVERS);
	out->nsrv = 0;
	json_array_foreach (servers, i, s) {
		snprintf(w, sizeof(w), "%s.servers[%zu]", where, i);
		ret = parse_server(s, w, &out->srv[out->nsrv], &out->netns[out->nsrv], err);
		out->nsrv++;
		if (ret)
			return ret;
	}

	if (json_object_get(j, "health")) {
		ret = parse_health(json_object_get(j, "health"), where, &out->health, err);
		if (ret)
			return ret;
	}
	if (json_object_get(j, "owner")) {
		snprintf(w, sizeof(w), "%s.owner", where);
		ret = parse_owner(json_object_get(j, "owner"), w, &out->rule, err);
		if (ret)
			return ret;
	}
	out->mode = CL_INSTANT; /* the thesis: the newest version serves */
	t = json_object_get(j, "upgradeTransition");
	if (t)
		return parse_transition(t, where, out, err);
	return 0;
}

/* {"path": "/healthz", "intervalMs": 500, "timeoutMs": 200,
 *  "unhealthyAfter": 3, "healthyAfter": 2}; all but path optional. */
static int parse_health(json_t *j, const char *where, struct health_check *h, struct vs_err *err)
{
	static const char *const keys[] = { "path",	      "intervalMs",   "timeoutMs",
					    "unhealthyAfter", "healthyAfter", NULL };
	static const struct parse_int ints[] = {
		{ "intervalMs", 100, 3600000 },
		{ "timeoutMs", 10, 60000 },
		{ "unhealthyAfter", 1, 100 },
		{ "healthyAfter", 1, 100 },
	};
	json_int_t val[ARRAY_SIZE(ints)] = { 1000, 500, 3, 2 }; /* the defaults */
	json_t *p;
	char w[128];
	int ret;

	snprintf(w, sizeof(w), "%s.health", where);
	ret = parse_keys(j, keys, w, err);
	if (ret)
		return ret;
	*h = (struct health_check){ .on = true };
	p = json_object_get(j, "path");
	if (!json_is_string(p) || json_string_value(p)[0] != '/' ||
	    strpbrk(json_string_value(p), " \r\n") ||
	    str_copy(h->path, sizeof(h->path), json_string_value(p)))
		return vs_errf(
			err, -EINVAL, 400, "bad_health",
			"%s.path: must be a URL path such as \"/healthz\" (no spaces, under 128 bytes)",
			w);
	ret = parse_ints(j, ints, ARRAY_SIZE(ints), val, "bad_health", w, err);
	if (ret)
		return ret;
	h->interval_ms = val[0];
	h->timeout_ms = val[1];
	h->unhealthy_after = val[2];
	h->healthy_after = val[3];
	if (h->timeout_ms >= h->interval_ms)
		return vs_errf(err, -EINVAL, 400, "bad_health",
			       "%s: timeoutMs must be below intervalMs", w);
	return 0;
}
