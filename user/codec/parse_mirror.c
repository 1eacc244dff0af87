// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "lib/str.h"
#include "codec/parse.h"
#include "codec/parse_mirror.h"

/* A list of strings of a mirror spec: methods, ignored paths, headers. */
struct strlist {
	const char *key;
	uint32_t min, max;
	size_t width; /* each string and its NUL */
	bool token;   /* an HTTP token; else printable ASCII */
	bool nocase;  /* the same in any case is the same (header names) */
	const char *what;
};

static const struct strlist methods_list = { "methods",
					     1,
					     MIRROR_MAX_METHODS,
					     MIRROR_METHOD_MAX,
					     true,
					     false,
					     "HTTP methods such as \"GET\"" };
static const struct strlist ignore_list = { "ignore",
					    0,
					    MIRROR_MAX_IGNORE,
					    MIRROR_IGNORE_MAX,
					    false,
					    false,
					    "JSON field paths such as \"items[].updatedAt\"" };
static const struct strlist headers_list = { "headers",
					     0,
					     MIRROR_MAX_HEADERS,
					     MIRROR_HEADER_MAX,
					     true,
					     true,
					     "response header names such as \"Content-Type\"" };

static int parse_strlist(json_t *j, const struct strlist *l, const char *where, const char *code,
			 char *out, uint32_t *n, struct vs_err *err)
{
	json_t *v = json_object_get(j, l->key), *e;
	char shown[48];
	size_t i;

	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) < l->min || json_array_size(v) > l->max)
		return vs_errf(err, -EINVAL, 400, code, "%s.%s: must be a list of %u to %u %s",
			       where, l->key, l->min, l->max, l->what);
	json_array_foreach (v, i, e) {
		const char *s = json_string_value(e);
		size_t len = json_string_length(e);

		if (!s || !len || len >= l->width || strlen(s) != len ||
		    (l->token ? !str_is_token(s) : !str_is_printable(s, len, false)))
			return vs_errf(err, -EINVAL, 400, code,
				       "%s.%s[%zu]: '%s' is not one of %s (%s, 1 to %zu bytes)",
				       where, l->key, i,
				       str_printable(shown, sizeof(shown), s ?: "(not a string)"),
				       l->what,
				       l->token ? "letters, digits and !#$%&'*+-.^_`|~" :
						  "printable ASCII",
				       l->width - 1);
		for (size_t k = 0; k < i; k++)
			if (l->nocase ? !strcasecmp(s, out + k * l->width) :
					!strcmp(s, out + k * l->width))
				return vs_errf(err, -EINVAL, 400, code,
					       "%s.%s[%zu]: '%s' is given twice%s", where, l->key,
					       i, s, l->nocase ? " (names are in any case)" : "");
		memcpy(out + i * l->width, s, len + 1);
	}
	/* The rest cleared: a spec compares whole (the state file's check). */
	memset(out + i * l->width, 0, (l->max - i) * l->width);
	*n = i;
	return 0;
}

static int parse_bool(json_t *j, const char *key, const char *where, const char *code, bool *out,
		      struct vs_err *err)
{
	json_t *v = json_object_get(j, key);

	if (v && !json_is_boolean(v))
		return vs_errf(err, -EINVAL, 400, code, "%s.%s: must be true or false", where, key);
	if (v)
		*out = json_is_true(v);
	return 0;
}

static int parse_rate(json_t *j, const char *key, const char *where, const char *code, double *out,
		      struct vs_err *err)
{
	json_t *v = json_object_get(j, key);

	if (v && (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 1)))
		return vs_errf(err, -EINVAL, 400, code,
			       "%s.%s: must be a rate from 0 to 1 (0.01: one in a hundred)", where,
			       key);
	if (v)
		*out = json_number_value(v);
	return 0;
}

static int parse_compare(json_t *j, const char *where, const char *code, struct mirror_spec *s,
			 struct vs_err *err)
{
	static const char *const keys[] = { "body",
					    "ignore",
					    "headers",
					    "noiseSamples",
					    "maxStatusMismatchRate",
					    "maxBodyDiffRate",
					    NULL };
	static const struct parse_int ints[] = { { "noiseSamples", 0, 1000 } };
	json_int_t samples = s->noise_samples;
	char w[128];
	int ret;

	snprintf(w, sizeof(w), "%s.compare", where);
	if (!json_is_object(j))
		return vs_errf(err, -EINVAL, 400, code,
			       "%s: must be an object such as {\"body\": true, \"ignore\": []}", w);
	ret = parse_keys(j, keys, w, err);
	if (!ret)
		ret = parse_bool(j, "body", w, code, &s->body, err);
	if (!ret)
		ret = parse_strlist(j, &ignore_list, w, code, s->ignore[0], &s->nignore, err);
	if (!ret)
		ret = parse_strlist(j, &headers_list, w, code, s->headers[0], &s->nheaders, err);
	if (!ret)
		ret = parse_ints(j, ints, ARRAY_SIZE(ints), &samples, code, w, err);
	if (!ret)
		ret = parse_rate(j, "maxStatusMismatchRate", w, code, &s->max_status_mismatch_rate,
				 err);
	if (!ret)
		ret = parse_rate(j, "maxBodyDiffRate", w, code, &s->max_body_diff_rate, err);
	s->noise_samples = samples;
	return ret;
}

int parse_mirror(json_t *j, const char *where, const char *code, struct mirror_spec *s,
		 struct vs_err *err)
{
	static const char *const keys[] = {
		"percent",   "maxPerSecond",  "maxInFlight", "methods", "duration",
		"timeoutMs", "authorization", "cookies",     "compare", NULL
	};
	static const struct parse_int ints[] = {
		{ "maxPerSecond", 1, 100000 },
		{ "maxInFlight", 1, 1024 },
		{ "duration", 0, MIRROR_MAX_DURATION },
		{ "timeoutMs", 100, 60000 },
	};
	struct mirror_spec next = *s;
	json_int_t val[ARRAY_SIZE(ints)] = { next.max_per_second, next.max_in_flight, next.duration,
					     next.timeout_ms };
	json_t *v;
	int ret;

	if (!json_is_object(j))
		return vs_errf(
			err, -EINVAL, 400, code,
			"%s: must be an object such as {\"percent\": 10, \"methods\": [\"GET\"]}",
			where);
	ret = parse_keys(j, keys, where, err);
	if (ret)
		return ret;
	v = json_object_get(j, "percent");
	if (v &&
	    (!json_is_number(v) || model_percent_to_bp(json_number_value(v), &next.bp) || !next.bp))
		return vs_errf(err, -EINVAL, 400, code,
			       "%s.percent: must be a percentage over 0 up to 100 in steps of 0.01",
			       where);
	ret = parse_ints(j, ints, ARRAY_SIZE(ints), val, code, where, err);
	if (!ret)
		ret = parse_strlist(j, &methods_list, where, code, next.methods[0], &next.nmethods,
				    err);
	if (!ret)
		ret = parse_bool(j, "authorization", where, code, &next.authorization, err);
	if (!ret)
		ret = parse_bool(j, "cookies", where, code, &next.cookies, err);
	if (!ret && (v = json_object_get(j, "compare")))
		ret = parse_compare(v, where, code, &next, err);
	if (ret)
		return ret;
	next.max_per_second = val[0];
	next.max_in_flight = val[1];
	next.duration = val[2];
	next.timeout_ms = val[3];
	*s = next;
	return 0;
}

/* A list of n (at most max) strings of width bytes from base. */
static json_t *strs(const char *base, size_t width, uint32_t n, uint32_t max)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a && i < n && i < max; i++) {
		if (json_array_append_new(a, json_string(base + i * width))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *mirror_spec_json(const struct mirror_spec *s)
{
	/* "o" hands each list over, also when json_pack fails. */
	return json_pack("{sf sI sI so sI sI sb sb s{sb so so sI sf sf}}", "percent", s->bp / 100.0,
			 "maxPerSecond", (json_int_t)s->max_per_second, "maxInFlight",
			 (json_int_t)s->max_in_flight, "methods",
			 strs(s->methods[0], MIRROR_METHOD_MAX, s->nmethods, MIRROR_MAX_METHODS),
			 "duration", (json_int_t)s->duration, "timeoutMs",
			 (json_int_t)s->timeout_ms, "authorization", s->authorization, "cookies",
			 s->cookies, "compare", "body", s->body, "ignore",
			 strs(s->ignore[0], MIRROR_IGNORE_MAX, s->nignore, MIRROR_MAX_IGNORE),
			 "headers",
			 strs(s->headers[0], MIRROR_HEADER_MAX, s->nheaders, MIRROR_MAX_HEADERS),
			 "noiseSamples", (json_int_t)s->noise_samples, "maxStatusMismatchRate",
			 s->max_status_mismatch_rate, "maxBodyDiffRate", s->max_body_diff_rate);
}
