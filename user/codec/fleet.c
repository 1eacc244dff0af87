// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/str.h"
#include "core/model.h"
#include "core/version.h"
#include "codec/fleet.h"
#include "codec/parse.h"
#include "codec/state.h"
#include "codec/state_parse.h"

void fleet_cfg_init(struct fleet_cfg *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->prefix, sizeof(f->prefix), "%s", FLEET_PREFIX_DEFAULT);
	f->lease_s = FLEET_LEASE_DEFAULT;
}

static int string_field(json_t *obj, const char *key, char *out, size_t size, struct vs_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    str_copy(out, size, json_string_value(v)))
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "fleet.%s: must be a string of 1 to %zu characters", key, size - 1);
	return 0;
}

/* "etcd": one string of URLs separated by commas, or a list of them. */
static int endpoints_field(json_t *obj, struct fleet_cfg *f, struct vs_err *err)
{
	json_t *v = json_object_get(obj, "etcd"), *u;
	size_t i, at = 0;

	if (!v || json_is_string(v))
		return string_field(obj, "etcd", f->endpoints, sizeof(f->endpoints), err);
	if (!json_is_array(v) || !json_array_size(v))
		return vs_errf(
			err, -EINVAL, 400, "bad_field",
			"fleet.etcd: must be a URL, URLs separated by commas, or a list of URLs");
	json_array_foreach (v, i, u) {
		const char *s = json_string_value(u);
		int n;

		if (!s || !*s || strchr(s, ','))
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "fleet.etcd[%zu]: must be one URL", i);
		n = snprintf(f->endpoints + at, sizeof(f->endpoints) - at, "%s%s", i ? "," : "", s);
		if (n < 0 || (size_t)n >= sizeof(f->endpoints) - at)
			return vs_errf(err, -EINVAL, 400, "bad_field",
				       "fleet.etcd: over %zu characters in all",
				       sizeof(f->endpoints) - 1);
		at += (size_t)n;
	}
	return 0;
}

static int min_hosts_pct(const char *s, uint32_t *pct, struct vs_err *err)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (end == s || strcmp(end, "%") || n < 1 || n > 100 || s[0] == '+' || s[0] == ' ')
		return vs_errf(err, -EINVAL, 400, "bad_field",
			       "fleet.minHosts: a number of hosts, or a percentage of the members "
			       "from \"1%%\" to \"100%%\"; not '%.20s'",
			       s);
	*pct = (uint32_t)n;
	return 0;
}

int fleet_cfg_parse(json_t *obj, struct fleet_cfg *f, struct vs_err *err)
{
	static const char *const keys[] = { "etcd",	    "hostId",	"prefix", "user",
					    "passwordFile", "caCert",	"cert",	  "key",
					    "leaseSeconds", "minHosts", NULL };
	static const struct parse_int ints[] = {
		{ "leaseSeconds", FLEET_LEASE_MIN, FLEET_LEASE_MAX },
		{ "minHosts", 0, FLEET_HOSTS_MAX },
	};
	json_t *mh = json_object_get(obj, "minHosts");
	json_int_t v[2] = { f->lease_s, f->min_hosts };
	int ret;

	ret = parse_keys(obj, keys, "fleet", err);
	if (!ret)
		ret = endpoints_field(obj, f, err);
	if (!ret)
		ret = string_field(obj, "hostId", f->host_id, sizeof(f->host_id), err);
	if (!ret)
		ret = string_field(obj, "prefix", f->prefix, sizeof(f->prefix), err);
	if (!ret)
		ret = string_field(obj, "user", f->user, sizeof(f->user), err);
	if (!ret)
		ret = string_field(obj, "passwordFile", f->password_file, sizeof(f->password_file),
				   err);
	if (!ret)
		ret = string_field(obj, "caCert", f->cacert, sizeof(f->cacert), err);
	if (!ret)
		ret = string_field(obj, "cert", f->cert, sizeof(f->cert), err);
	if (!ret)
		ret = string_field(obj, "key", f->key, sizeof(f->key), err);
	if (!ret)
		ret = parse_ints(obj, &ints[0], 1, &v[0], "bad_field", "fleet", err);
	/* minHosts: a number of hosts, or "N%" of the members. */
	if (!ret && json_is_string(mh))
		ret = min_hosts_pct(json_string_value(mh), &f->min_hosts_pct, err);
	else if (!ret)
		ret = parse_ints(obj, &ints[1], 1, &v[1], "bad_field", "fleet", err);
	f->lease_s = (uint32_t)v[0];
	f->min_hosts = f->min_hosts_pct ? 0 : (uint32_t)v[1];
	return ret;
}

/* "/vsteer", "/a/b-c": absolute, no empty or dot segment, no trailing
 * slash, the characters of a name: keys stay printable, and no prefix is
 * another's with a slash more. */
static bool prefix_valid(const char *p)
{
	const char *seg;

	if (p[0] != '/')
		return false;
	for (seg = p + 1;; seg++) {
		size_t n = strcspn(seg, "/");
		char part[NAME_MAX_LEN];

		if (!n || n >= sizeof(part) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && !strncmp(seg, "..", 2)))
			return false;
		memcpy(part, seg, n);
		part[n] = '\0';
		if (!model_name_valid(part))
			return false;
		seg += n;
		if (!*seg)
			return true;
	}
}

int fleet_cfg_check(const struct fleet_cfg *f, struct vs_err *err)
{
	char shown[NAME_MAX_LEN + 8];

	if (!f->endpoints[0]) {
		if (f->host_id[0])
			return vs_errf(
				err, -EINVAL, 400, "bad_fleet",
				"a host id is for a fleet: give etcd's endpoints too (--etcd, fleet.etcd)");
		return 0;
	}
	if (!f->host_id[0])
		return vs_errf(
			err, -EINVAL, 400, "bad_fleet",
			"a fleet needs this host's id, unique in the fleet: --host-id NAME (fleet.hostId)");
	if (!model_name_valid(f->host_id))
		return vs_errf(err, -EINVAL, 400, "bad_fleet",
			       "host id '%s' must be 1-63 characters of [A-Za-z0-9._-]",
			       str_printable(shown, sizeof(shown), f->host_id));
	if (!prefix_valid(f->prefix))
		return vs_errf(
			err, -EINVAL, 400, "bad_fleet",
			"etcd prefix '%s' must be a path like /vsteer: segments of [A-Za-z0-9._-], no trailing slash",
			str_printable(shown, sizeof(shown), f->prefix));
	if (!f->user[0] != !f->password_file[0])
		return vs_errf(err, -EINVAL, 400, "bad_fleet",
			       "fleet: user and passwordFile go together");
	if (!f->cert[0] != !f->key[0])
		return vs_errf(err, -EINVAL, 400, "bad_fleet", "fleet: cert and key go together");
	if (f->lease_s < FLEET_LEASE_MIN || f->lease_s > FLEET_LEASE_MAX)
		return vs_errf(err, -EINVAL, 400, "bad_fleet",
			       "fleet.leaseSeconds: must be from %d to %d", FLEET_LEASE_MIN,
			       FLEET_LEASE_MAX);
	return 0;
}

int fleet_key(const struct fleet_cfg *f, const char *kind, const char *id, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s/%s", f->prefix, kind, id ? id : "");

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

const char *fleet_key_id(const struct fleet_cfg *f, const char *kind, const char *key)
{
	size_t p = strlen(f->prefix), k = strlen(kind);

	if (strncmp(key, f->prefix, p) || key[p] != '/' || strncmp(key + p + 1, kind, k) ||
	    key[p + 1 + k] != '/')
		return NULL;
	key += p + k + 2;
	return model_name_valid(key) ? key : NULL;
}

static int bad_doc(struct vs_err *err, const char *id, const char *what)
{
	return vs_errf(err, -EPROTO, 502, "bad_host_status",
		       "host %s's status in etcd is not vsteer's: %s", id, what);
}

/* services[i]: {"name": NAME, "versions": [...], ...} */
static bool services_valid(json_t *list)
{
	json_t *s;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) > VS_MAX_SERVICES * 4)
		return false;
	json_array_foreach (list, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));

		if (!json_is_object(s) || !name || !model_name_valid(name) ||
		    !json_is_array(json_object_get(s, "versions")))
			return false;
	}
	return true;
}

int fleet_host_parse(const char *id, const char *text, size_t len, json_t **out, struct vs_err *err)
{
	json_t *doc, *problems, *p, *rev;
	json_error_t jerr;
	size_t i;

	*out = NULL;
	if (len > FLEET_DOC_MAX)
		return bad_doc(err, id, "over 1 MiB");
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return bad_doc(err, id, "not JSON");
	problems = json_object_get(doc, "problems");
	rev = json_object_get(doc, "appliedRevision");
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "host")) ||
	    strcmp(json_string_value(json_object_get(doc, "host")), id))
		goto bad_host;
	if (!json_is_string(json_object_get(doc, "at")) ||
	    (rev && (!json_is_integer(rev) || json_integer_value(rev) < 0)))
		goto bad_fields;
	if (!services_valid(json_object_get(doc, "services")))
		goto bad_services;
	if (!json_is_array(problems) || json_array_size(problems) > FLEET_PROBLEMS_MAX)
		goto bad_problems;
	json_array_foreach (problems, i, p)
		if (!json_is_string(p))
			goto bad_problems;
	*out = doc;
	return 0;
bad_host:
	json_decref(doc);
	return bad_doc(err, id, "its \"host\" is not its id");
bad_fields:
	json_decref(doc);
	return bad_doc(err, id, "\"at\" or \"appliedRevision\" missing or wrong");
bad_services:
	json_decref(doc);
	return bad_doc(err, id, "\"services\" is not a list of services with versions");
bad_problems:
	json_decref(doc);
	return bad_doc(err, id, "\"problems\" is not a list of at most 32 strings");
}

/* A document of the fleet's desired state: JSON of at most FLEET_DOC_MAX
 * bytes (else *doc NULL), its keys among `keys`, "by" a host id (else
 * ""). -EPROTO if it is not all that. */
static int load_doc(const char *text, size_t len, const char *const *keys, const char *what,
		    json_t **doc, char by[NAME_MAX_LEN], struct vs_err *err)
{
	const char *b;

	*doc = len <= FLEET_DOC_MAX ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!*doc)
		return vs_errf(err, -EPROTO, 502, "bad_desired_state", "not JSON of at most 1 MiB");
	b = json_string_value(json_object_get(*doc, "by"));
	if (b && model_name_valid(b))
		snprintf(by, NAME_MAX_LEN, "%s", b);
	return parse_keys(*doc, keys, what, err) ? -EPROTO : 0;
}

int fleet_desired_parse(const char *text, size_t len, struct fleet_desired_doc *out,
			struct vs_err *err)
{
	static const char *const keys[] = { "weights", "salt",		 "by", "at",
					    "rollout", "sessionTimeout", NULL };
	static const struct parse_int ints[] = {
		{ "salt", 0, UINT32_MAX },
		{ "sessionTimeout", 0, VS_MAX_SESSION_TIMEOUT },
	};
	json_int_t v[2] = { -1, -1 };
	json_t *ro;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = load_doc(text, len, keys, "the fleet's service", &out->doc, out->by, err);
	if (!out->doc)
		return ret;
	if (!ret && !json_is_object(json_object_get(out->doc, "weights")))
		ret = vs_errf(
			err, -EPROTO, 502, "bad_desired_state",
			"not a service's desired state: {\"weights\": {...}, \"salt\", \"by\", \"at\"}");
	if (!ret)
		ret = parse_ints(out->doc, ints, 2, v, "bad_desired_state", "the fleet's service",
				 err);
	if (!ret)
		ret = req_weights(json_object_get(out->doc, "weights"), &out->w, err);
	ro = json_object_get(out->doc, "rollout");
	if (!ret && ro && !json_is_null(ro) && !json_is_object(ro))
		ret = vs_errf(err, -EPROTO, 502, "bad_desired_state",
			      "the fleet's service: rollout: not an object");
	out->rollout = json_is_object(ro) ? ro : NULL;
	out->has_salt = v[0] >= 0;
	out->salt = (uint32_t)v[0];
	out->has_session_timeout = v[1] >= 0;
	out->session_timeout = (uint32_t)v[1];
	return ret ? -EPROTO : 0;
}

void fleet_desired_free(struct fleet_desired_doc *d)
{
	json_decref(d->doc);
	d->doc = NULL;
}

bool fleet_host_behind(json_t *doc, int64_t rev)
{
	return json_integer_value(json_object_get(doc, "appliedRevision")) < rev;
}

json_t *fleet_member_parse(const char *text, size_t len)
{
	json_t *doc = len <= 4096 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *k;
	json_t *v;

	if (!json_is_object(doc) || json_object_size(doc) > 1)
		goto empty;
	json_object_foreach (doc, k, v)
		if (strcmp(k, "joined") || !json_is_string(v))
			goto empty;
	return doc;
empty:
	json_decref(doc);
	return json_object();
}

json_t *fleet_rollout_json(const struct model *m, uint32_t svc)
{
	const struct rollout *ro = &m->svc[svc].ro;
	json_t *j = state_rollout_json(ro);

	if (!json_is_object(j))
		return j;
	json_object_set_new(j, "from",
			    m->cl[ro->from].used && m->cl[ro->from].svc == svc ?
				    json_string(m->cl[ro->from].version) :
				    json_null());
	json_object_set_new(j, "to", json_string(m->cl[ro->to].version));
	json_object_set_new(j, "fleet", json_true());
	/* A running rollout's why is the writer's own failure, not the
	 * fleet's: each host keeps its own. */
	if (rollout_active(ro))
		json_object_set_new(j, "why", json_string(""));
	return j;
}

/* A version of the fleet's rollout as a slot of this host's model. */
static int version_slot(json_t *j, const char *key, const struct model *m, uint32_t svc,
			int fallback, struct vs_err *err)
{
	json_t *v = json_object_get(j, key);
	int slot;

	/* An ended rollout's old version may be gone: the target stands in. */
	if (fallback >= 0 &&
	    (json_is_null(v) || (json_is_string(v) && version_valid(json_string_value(v)) &&
				 model_find_version(m, svc, json_string_value(v)) < 0)))
		return fallback;
	if (!json_is_string(v) || !version_valid(json_string_value(v)))
		return vs_errf(err, -EPROTO, 502, "bad_desired_state",
			       "the fleet's rollout: %s: not a version", key);
	slot = model_find_version(m, svc, json_string_value(v));
	if (slot < 0)
		return vs_errf(
			err, -ENOENT, 409, "unknown_version",
			"the fleet's rollout moves service %s %s version %s, which this host does not have",
			m->svc[svc].name, !strcmp(key, "to") ? "to" : "from", json_string_value(v));
	return slot;
}

int fleet_rollout_load(json_t *j, struct model *m, uint32_t svc, struct vs_err *err)
{
	json_t *copy;
	int to, from, ret;

	if (!json_is_object(j))
		return vs_errf(err, -EPROTO, 502, "bad_desired_state",
			       "the fleet's rollout: not an object");
	const char *phase = json_string_value(json_object_get(j, "phase")) ?: "";
	bool ended = strcmp(phase, "progressing") && strcmp(phase, "paused");

	to = version_slot(j, "to", m, svc, -1, err);
	if (to == -ENOENT && ended)
		return 1; /* its target deleted here since: nothing to take */
	/* A running rollout needs the version it moves from. */
	from = to < 0 ? to : version_slot(j, "from", m, svc, ended ? to : -1, err);
	if (from < 0)
		return from;
	copy = json_deep_copy(j);
	if (!copy)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	json_object_set_new(copy, "to", json_integer(to));
	json_object_set_new(copy, "from", json_integer(from));
	ret = state_rollout_load(copy, "the fleet's rollout", m, svc, err);
	json_decref(copy);
	if (ret)
		return ret == -ENOMEM ? ret : -EPROTO;
	m->svc[svc].ro.fleet = true;
	return 0;
}

/* Service r's rollout in a host's status, if it is the same rollout. */
static json_t *host_rollout(json_t *doc, const struct fleet_ro_ref *r)
{
	json_t *svc, *ro;
	size_t i;

	json_array_foreach (json_object_get(doc, "services"), i, svc) {
		if (strcmp(json_string_value(json_object_get(svc, "name")) ?: "", r->service))
			continue;
		ro = json_object_get(svc, "rollout");
		return json_integer_value(json_object_get(ro, "started")) == r->started ? ro : NULL;
	}
	return NULL;
}

static int64_t int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A host that does not run the step, named in out->lagging while it fits. */
static void lagging(struct fleet_judged *out, const char *id, const char *why)
{
	size_t n = strlen(out->lagging);
	int k = snprintf(out->lagging + n, sizeof(out->lagging) - n, "%s%s (%s)", n ? ", " : "", id,
			 why);

	if (k < 0 || (size_t)k >= sizeof(out->lagging) - n)
		out->lagging[n] = '\0'; /* the ones that fit */
}

void fleet_rollout_judge(json_t *hosts, json_t *members, uint32_t min_hosts, uint32_t min_pct,
			 const struct fleet_ro_ref *r, struct fleet_judged *out)
{
	uint32_t passed = 0, stuck = 0;
	const char *id;
	json_t *m, *ro, *an, *failed;

	memset(out, 0, sizeof(*out));
	json_object_foreach (members, id, m) {
		if (out->members == FLEET_HOSTS_MAX)
			break;
		out->members++;
		ro = host_rollout(json_object_get(hosts, id), r);
		an = json_object_get(ro, "analysis");
		failed = json_object_get(ro, "failed");
		if (json_is_string(failed) && !out->failed[0]) {
			snprintf(out->failed, sizeof(out->failed), "%s", id);
			snprintf(out->why, sizeof(out->why), "%s", json_string_value(failed));
		}
		if (!ro || int_of(ro, "step") != (int64_t)r->step ||
		    strcmp(json_string_value(json_object_get(ro, "phase")) ?: "", r->phase)) {
			lagging(out, id, json_object_get(hosts, id) ? "behind" : "missing");
			continue;
		}
		out->applied++;
		if (int_of(an, "lastPass") >= r->since)
			passed++;
		else if (int_of(an, "inconclusive") >= (int64_t)r->max_inconclusive)
			stuck++;
	}
	out->required = min_pct ? (out->members * min_pct + 99) / 100 :
			min_hosts && min_hosts < out->members ? min_hosts :
								out->members;
	out->ready = out->required && out->applied >= out->required;
	/* As one host's engine reads its own: a pass since the step's hold
	 * on every required host opens it; a host without a verdict for
	 * maxInconclusive windows counts as one when the rest passed. */
	if (out->ready && passed >= out->required)
		out->last_pass = r->since;
	else if (out->ready && stuck && passed + stuck >= out->required)
		out->inconclusive = r->max_inconclusive;
}

int fleet_version_key(const struct fleet_cfg *f, const char *svc, const char *version, char *out,
		      size_t size)
{
	int n = snprintf(out, size, "%s/services/%s/versions/%s", f->prefix, svc, version);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool fleet_version_key_parse(const struct fleet_cfg *f, const char *key, char svc[NAME_MAX_LEN],
			     char version[VERSION_MAX_LEN])
{
	size_t p = strlen(f->prefix);
	const char *name, *v;

	if (strncmp(key, f->prefix, p) || strncmp(key + p, "/services/", strlen("/services/")))
		return false;
	name = key + p + strlen("/services/");
	v = strstr(name, "/versions/");
	if (!v || (size_t)(v - name) >= NAME_MAX_LEN)
		return false;
	memcpy(svc, name, v - name);
	svc[v - name] = '\0';
	v += strlen("/versions/");
	if (!model_name_valid(svc) || !version_valid(v) || strlen(v) >= VERSION_MAX_LEN)
		return false;
	snprintf(version, VERSION_MAX_LEN, "%s", v);
	return true;
}

int fleet_version_parse(const char *text, size_t len, struct fleet_version_doc *out,
			struct vs_err *err)
{
	static const char *const keys[] = { "servers", "by", "at", NULL };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = load_doc(text, len, keys, "the fleet's version", &out->doc, out->by, err);
	if (!out->doc)
		return ret;
	out->servers = json_object_get(out->doc, "servers");
	if (!ret && (!json_is_array(out->servers) || !json_array_size(out->servers) ||
		     json_array_size(out->servers) > VS_MAX_SERVERS))
		ret = vs_errf(err, -EPROTO, 502, "bad_desired_state",
			      "the fleet's version: servers: not a list of 1 to %d servers",
			      VS_MAX_SERVERS);
	return ret ? -EPROTO : 0;
}

void fleet_version_free(struct fleet_version_doc *d)
{
	json_decref(d->doc);
	d->doc = NULL;
}
