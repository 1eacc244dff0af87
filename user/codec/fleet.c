// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "lib/str.h"
#include "core/model.h"
#include "codec/fleet.h"
#include "codec/parse.h"

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

int fleet_cfg_parse(json_t *obj, struct fleet_cfg *f, struct vs_err *err)
{
	static const char *const keys[] = { "etcd",	    "hostId", "prefix", "user",
					    "passwordFile", "caCert", "cert",	"key",
					    "leaseSeconds", NULL };
	static const struct parse_int lease = { "leaseSeconds", FLEET_LEASE_MIN, FLEET_LEASE_MAX };
	json_int_t secs = f->lease_s;
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
		ret = parse_ints(obj, &lease, 1, &secs, "bad_field", "fleet", err);
	f->lease_s = (uint32_t)secs;
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

int fleet_desired_parse(const char *text, size_t len, struct fleet_desired_doc *out,
			struct vs_err *err)
{
	static const char *const keys[] = { "weights", "salt", "by", "at", NULL };
	static const struct parse_int salt = { "salt", 0, UINT32_MAX };
	json_int_t v = -1;
	const char *b;
	int ret;

	memset(out, 0, sizeof(*out));
	out->doc = len <= FLEET_DOC_MAX ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) :
					  NULL;
	if (!out->doc)
		return vs_errf(err, -EPROTO, 502, "bad_desired_state", "not JSON of at most 1 MiB");
	b = json_string_value(json_object_get(out->doc, "by"));
	if (b && model_name_valid(b))
		snprintf(out->by, sizeof(out->by), "%s", b);
	ret = parse_keys(out->doc, keys, "the fleet's service", err);
	if (!ret && !json_is_object(json_object_get(out->doc, "weights")))
		ret = vs_errf(
			err, -EPROTO, 502, "bad_desired_state",
			"not a service's desired state: {\"weights\": {...}, \"salt\", \"by\", \"at\"}");
	if (!ret)
		ret = parse_ints(out->doc, &salt, 1, &v, "bad_desired_state", "the fleet's service",
				 err);
	if (!ret)
		ret = req_weights(json_object_get(out->doc, "weights"), &out->w, err);
	out->has_salt = v >= 0;
	out->salt = (uint32_t)v;
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
