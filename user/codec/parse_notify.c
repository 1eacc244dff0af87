// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "lib/str.h"
#include "codec/parse.h"
#include "codec/parse_notify.h"

/* http:// or https://, a host, an optional port and path: no spaces, no
 * credentials (they would show in views and logs: use a header), no
 * fragment. libcurl parses it again; this is what we promise to send. */
static const char *url_problem(const char *u, size_t len)
{
	const char *host, *end, *colon;

	if (len >= NOTIFY_URL_LEN)
		return "must be under 256 bytes";
	if (!str_is_printable(u, len, false) || strchr(u, ' '))
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

		/* Stops at the first wrong character, or once too big: a
		 * port of a thousand digits must not overflow. */
		for (const char *p = colon + 1; p < end && port >= 0; p++)
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
		if (!str_is_token(name) || strlen(name) >= NOTIFY_HEADER_NAME)
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
		if (!val || !str_is_printable(val, json_string_length(v), true))
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
	json_t *url = json_object_get(j, "url"), *tmo = json_object_get(j, "timeoutMs");
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
	t->timeout_ms = tmo ? json_integer_value(tmo) : NOTIFY_TIMEOUT_DFLT;
	if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < NOTIFY_TIMEOUT_MIN ||
		    json_integer_value(tmo) > NOTIFY_TIMEOUT_MAX))
		return vs_errf(err, -EINVAL, 400, "bad_notifications",
			       "%s.timeoutMs: must be a whole number from %d to %d", w,
			       NOTIFY_TIMEOUT_MIN, NOTIFY_TIMEOUT_MAX);
	return 0;
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
