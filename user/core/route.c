// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What counts as an id is a guess that must not collapse words: a short
 * hex-looking word ("add", "cafe", "2fa") stays, as does a long word
 * without digits ("configuration"); a version ("v1", "v2") stays, being
 * short and not all digits.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include "core/route.h"

struct out {
	char *p;
	size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o->len + 1 < o->size; i++) {
		unsigned char c = (unsigned char)s[i];

		o->p[o->len++] = c < 0x20 || c == 0x7f || c == '"' ? '_' : (char)c;
	}
	if (o->size)
		o->p[o->len] = '\0';
}

static bool all(const char *s, size_t n, int (*is)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!is((unsigned char)s[i]))
			return false;
	return true;
}

static bool any(const char *s, size_t n, int (*is)(int))
{
	for (size_t i = 0; i < n; i++)
		if (is((unsigned char)s[i]))
			return true;
	return false;
}

static int id_char(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* 8-4-4-4-12 hex digits */
static bool uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' :
								!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_id(const char *s, size_t n)
{
	if (!n)
		return false;
	return all(s, n, isdigit) || uuid(s, n) ||
	       (n >= 8 && all(s, n, isxdigit) && any(s, n, isdigit)) ||
	       (n >= 16 && all(s, n, id_char) && any(s, n, isalpha) && any(s, n, isdigit));
}

/* The path of an absolute-form target ("http://h:80/a?q"): after the
 * authority, "/" when it has none; NULL when target is not one. */
static const char *path_of_absolute(const char *target)
{
	const char *sep = strstr(target, "://"), *path;

	if (!sep || sep == target)
		return NULL;
	for (const char *c = target; c < sep; c++)
		if (!isalnum((unsigned char)*c) && !strchr("+-.", *c))
			return NULL;
	path = sep + 3 + strcspn(sep + 3, "/?#");
	return *path == '/' ? path : "/";
}

void route_of(const char *method, const char *target, char *out, size_t size)
{
	struct out o = { out, size, 0 };
	const char *path = target;
	size_t end;

	put(&o, method, strlen(method));
	put(&o, " ", 1);
	if (!*target) {
		put(&o, "/", 1);
		return;
	}
	if (*target != '/') {
		path = path_of_absolute(target);
		if (!path) {
			put(&o, target, strlen(target)); /* "*", "host:443" */
			return;
		}
	}
	end = strcspn(path, "?#");
	/* Each '/' and the segment after it. */
	for (size_t i = 0; i < end;) {
		size_t n = strcspn(path + i + 1, "/?#");

		if (n > end - i - 1)
			n = end - i - 1;
		put(&o, "/", 1);
		if (is_id(path + i + 1, n))
			put(&o, "{id}", 4);
		else
			put(&o, path + i + 1, n);
		i += n + 1;
	}
}
