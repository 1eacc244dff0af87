// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "codec/parse.h"
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

static int parse_transition(json_t *j, const char *where, struct cluster *out, struct vs_err *err)
{
	static const char *const keys[] = { "mode", "sessionTimeout", NULL };
	json_t *m, *t;
	char w[128];
	int ret;

	snprintf(w, sizeof(w), "%s.upgradeTransition", where);
	ret = parse_keys(j, keys, w, err);
	if (ret)
		return ret;
	m = json_object_get(j, "mode");
	if (!json_is_string(m) || model_mode_parse(json_string_value(m), &out->mode))
		return vs_errf(err, -EINVAL, 400, "bad_mode",
			       "%s.mode: must be \"instant\", \"session\" or \"manual\" (any case)",
			       w);
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

/* A whole-number field of an object: its key and the range it must be in. */
struct parse_int {
	const char *key;
	json_int_t lo, hi;
};

/* Reads each of f[] that j has into val[] (the ones it lacks keep theirs);
 * one out of range is refused with code, naming where.key. */
static int parse_ints(json_t *j, const struct parse_int *f, size_t n, json_int_t *val,
		      const char *code, const char *where, struct vs_err *err)
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
		ret = parse_endpoint(s, w, &out->srv[out->nsrv++], err);
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

/* An HTTP token (RFC 9110 tchar): what a header name may be. */
static bool http_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* Printable ASCII (and tabs, if tab): no CR or LF to end a header early
 * and start another, no NUL, nothing a log line would mangle. */
static bool printable(const char *s, size_t len, bool tab)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= ' ' && s[i] <= '~') || (tab && s[i] == '\t')))
			return false;
	return true;
}

/* http:// or https://, a host, an optional port and path: no spaces, no
 * credentials (they would show in views and logs: use a header), no
 * fragment. libcurl parses it again; this is what we promise to send. */
static const char *url_problem(const char *u, size_t len)
{
	const char *host, *end, *colon;

	if (len >= NOTIFY_URL_LEN)
		return "must be under 256 bytes";
	if (!printable(u, len, false) || strchr(u, ' '))
		return "must be printable ASCII without spaces (percent-encode the rest)";
	if (!strncasecmp(u, "http://", 7))
		host = u + 7;
	else if (!strncasecmp(u, "https://", 8))
		host = u + 8;
	else
		return "must start with http:// or https://";
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', end - host))
		return "must not carry credentials (user:password@): send them in a header";
	if (strchr(u, '#'))
		return "must not have a fragment (#)";
	colon = host[0] == '[' ? memchr(host, ']', end - host) : host;
	if (!colon || end == host || (host[0] == '[' && colon == host + 1))
		return "needs a host";
	colon = memchr(colon, ':', end - colon);
	if (colon == host)
		return "needs a host";
	if (colon) {
		long port = 0;

		for (const char *p = colon + 1; p < end; p++)
			port = *p >= '0' && *p <= '9' && port < 65536 ? port * 10 + *p - '0' : -1;
		if (port < 1 || port > 65535)
			return "has a port that is not 1 to 65535";
	}
	return NULL;
}

/* Set by vsteerd, or meaningless on a POST it frames itself. */
static bool header_reserved(const char *name)
{
	static const char *const names[] = { "Content-Type", "Content-Length",
					     "Host",	     "Transfer-Encoding",
					     "Connection",   "Expect",
					     "User-Agent",   "TE",
					     "Upgrade" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

static int parse_headers(json_t *h, const char *w, struct notify_target *t, struct vs_err *err)
{
	const char *name;
	json_t *v;

	if (!json_is_object(h))
		return vs_errf(err, -EINVAL, 400, "bad_notifications",
			       "%s.headers: must be an object of names and string values", w);
	if (json_object_size(h) > NOTIFY_MAX_HEADERS)
		return vs_errf(err, -E2BIG, 400, "limit", "%s.headers: at most %d headers", w,
			       NOTIFY_MAX_HEADERS);
	json_object_foreach (h, name, v) {
		const char *val = json_string_value(v);
		char shown[48];

		str_printable(shown, sizeof(shown), name);
		if (!http_token(name) || strlen(name) >= NOTIFY_HEADER_NAME)
			return vs_errf(
				err, -EINVAL, 400, "bad_notifications",
				"%s.headers: '%s' is not a header name (letters, digits and !#$%%&'*+-.^_`|~, under %d bytes)",
				w, shown, NOTIFY_HEADER_NAME);
		if (header_reserved(name))
			return vs_errf(err, -EINVAL, 400, "bad_notifications",
				       "%s.headers.%s: set by vsteerd, not by a target", w, shown);
		for (uint32_t i = 0; i < t->nheaders; i++) {
			const char *line = notify_header(t, i);

			if (!strncasecmp(line, name, strlen(name)) && line[strlen(name)] == ':')
				return vs_errf(err, -EINVAL, 400, "bad_notifications",
					       "%s.headers.%s: given twice (names are in any case)",
					       w, shown);
		}
		if (!val || !printable(val, json_string_length(v), true))
			return vs_errf(
				err, -EINVAL, 400, "bad_notifications",
				"%s.headers.%s: must be a string of printable ASCII (no CR, LF or other control characters)",
				w, shown);
		if (notify_add_header(t, name, val))
			return vs_errf(err, -E2BIG, 400, "limit",
				       "%s.headers: over %d bytes in all", w, NOTIFY_HEADERS_LEN);
	}
	return 0;
}

static int parse_kinds(json_t *list, const char *w, struct notify_target *t, struct vs_err *err)
{
	json_t *k;
	size_t i;

	if (!json_is_array(list) || !json_array_size(list))
		return vs_errf(
			err, -EINVAL, 400, "bad_notifications",
			"%s.events: must be a non-empty list of event kinds, or [\"*\"] for all (or left out)",
			w);
	json_array_foreach (list, i, k) {
		const char *s = json_string_value(k);
		char shown[48];
		int bit;

		if (s && !strcmp(s, "*") && json_array_size(list) == 1) {
			t->all = true;
			return 0;
		}
		bit = s ? notify_kind_bit(s) : -ENOENT;
		if (bit < 0)
			return vs_errf(
				err, -EINVAL, 400, "bad_notifications",
				"%s.events[%zu]: '%s' is not an event kind (docs/api.md#events lists them; \"*\" alone: all)",
				w, i, str_printable(shown, sizeof(shown), s ?: "(not a string)"));
		t->kinds |= 1ULL << bit;
	}
	return 0;
}

static int parse_target(json_t *j, const char *w, struct notify_target *t, struct vs_err *err)
{
	static const char *const keys[] = { "url", "events", "headers", "timeoutMs", NULL };
	static const struct parse_int ints[] = {
		{ "timeoutMs", NOTIFY_TIMEOUT_MIN, NOTIFY_TIMEOUT_MAX },
	};
	json_int_t timeout = NOTIFY_TIMEOUT_DFLT;
	json_t *url = json_object_get(j, "url");
	const char *why;
	int ret;

	ret = parse_keys(j, keys, w, err);
	if (ret)
		return ret;
	if (!json_is_string(url))
		return vs_errf(err, -EINVAL, 400, "bad_notifications",
			       "%s.url: must be a string such as \"http://127.0.0.1:9500/hook\"",
			       w);
	why = url_problem(json_string_value(url), json_string_length(url));
	if (why)
		return vs_errf(err, -EINVAL, 400, "bad_notifications", "%s.url: %s", w, why);
	memset(t, 0, sizeof(*t));
	memcpy(t->url, json_string_value(url), json_string_length(url));
	t->all = !json_object_get(j, "events");
	if (!t->all && (ret = parse_kinds(json_object_get(j, "events"), w, t, err)))
		return ret;
	if (json_object_get(j, "headers") &&
	    (ret = parse_headers(json_object_get(j, "headers"), w, t, err)))
		return ret;
	ret = parse_ints(j, ints, ARRAY_SIZE(ints), &timeout, "bad_notifications", w, err);
	t->timeout_ms = timeout;
	return ret;
}

int parse_notifications(json_t *v, const char *where, struct notify_list *out, struct vs_err *err)
{
	struct notify_list l = {};
	char w[128];
	json_t *t;
	size_t i;
	int ret;

	if (!json_is_array(v))
		return vs_errf(err, -EINVAL, 400, "bad_notifications",
			       "%s: must be a list of {\"url\", \"events\", \"headers\"}", where);
	if (json_array_size(v) > NOTIFY_MAX_TARGETS)
		return vs_errf(err, -E2BIG, 400, "limit", "%s: at most %d targets", where,
			       NOTIFY_MAX_TARGETS);
	json_array_foreach (v, i, t) {
		snprintf(w, sizeof(w), "%s[%zu]", where, i);
		ret = parse_target(t, w, &l.t[l.n++], err);
		if (ret)
			return ret;
	}
	*out = l;
	return 0;
}
