// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What counts as JSON, and as equal:
 * - a body is JSON when jansson decodes all of it as one value of any
 *   kind (JSON_DECODE_ANY: "42" and "\"ok\"" too); an empty body is not;
 * - a body with a key twice in one object is not JSON (which of the two
 *   a client sees is up to its parser), nor is one with "\u0000" in a
 *   string or an integer beyond 64 bits: such bodies are compared byte
 *   for byte;
 * - numbers are compared as numbers: 1 and 1.0 are equal; two integers
 *   exactly, an integer and a fraction as doubles;
 * - values deeper than JDIFF_MAX_DEPTH, and those whose path would not
 *   fit JDIFF_PATH_MAX, are compared whole (json_equal: key order still
 *   does not count, 1 and 1.0 do) and a difference is reported at the
 *   deepest path that fits. Deeper than jansson's own 2048 levels, a body
 *   is not JSON.
 * A path is made of the keys as they are, bytes that are not printable
 * ASCII and '"' and '\' replaced by '_' (paths are shown in JSON, logs
 * and events).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "codec/jdiff.h"

/* One comparison: learning (every difference goes into learn) or judging
 * (the first difference neither noise nor ignored stops it). */
struct walk {
	const struct jdiff_noise *noise;
	const char (*ignore)[JDIFF_PATH_MAX];
	uint32_t nignore;
	struct jdiff_noise *learn;
	char path[JDIFF_PATH_MAX];
	bool differs;
	char *where;
	size_t size;
};

/* Whether q covers path: q itself, or anything below it. */
static bool below(const char *path, const char *q)
{
	size_t n = strlen(q);

	return !n || (!strncmp(path, q, n) && (!path[n] || path[n] == '.' || path[n] == '['));
}

static bool in_noise(const struct jdiff_noise *nz, const char *path)
{
	if (!nz)
		return false;
	if (nz->whole)
		return true;
	for (uint32_t i = 0; i < nz->n && i < JDIFF_MAX_PATHS; i++)
		if (below(path, nz->path[i]))
			return true;
	return false;
}

static bool covered(const struct walk *w)
{
	if (w->learn)
		return in_noise(w->learn, w->path);
	if (in_noise(w->noise, w->path))
		return true;
	for (uint32_t i = 0; i < w->nignore; i++)
		if (below(w->path, w->ignore[i]))
			return true;
	return false;
}

/* A difference at w->path; true: stop walking. */
static bool diff_at(struct walk *w)
{
	struct jdiff_noise *nz = w->learn;

	if (covered(w))
		return nz && nz->whole;
	if (!nz) {
		w->differs = true;
		if (w->where && w->size)
			snprintf(w->where, w->size, "%s", w->path);
		return true;
	}
	if (!w->path[0] || nz->n >= JDIFF_MAX_PATHS) {
		nz->whole = true;
		return true;
	}
	memcpy(nz->path[nz->n++], w->path, sizeof(w->path));
	return false;
}

/* Append ".key" (or "key" at the top, or "[]" if !key) to w->path at
 * len; false, the path as it was, if it does not fit. */
static bool push(struct walk *w, size_t len, const char *key)
{
	const char *add = key ?: "[]";
	size_t i = len;

	if (len + (key && len) + strlen(add) >= JDIFF_PATH_MAX)
		return false;
	if (key && len)
		w->path[i++] = '.';
	for (; *add; add++) {
		unsigned char c = *add;

		w->path[i++] = c >= ' ' && c <= '~' && c != '"' && c != '\\' ? c : '_';
	}
	w->path[i] = '\0';
	return true;
}

static bool scalar_equal(json_t *a, json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_string(a))
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	return true; /* true, false, null */
}

static bool walk(struct walk *w, json_t *a, json_t *b, int depth);

/* The child a key (or an element, key NULL) leads to, at depth. */
static bool walk_child(struct walk *w, size_t len, const char *key, json_t *a, json_t *b, int depth)
{
	bool stop;

	if (!push(w, len, key))
		return (!a || !b || !json_equal(a, b)) && diff_at(w);
	stop = a && b ? walk(w, a, b, depth) : diff_at(w);
	w->path[len] = '\0';
	return stop;
}

static bool walk_object(struct walk *w, json_t *a, json_t *b, int depth)
{
	size_t len = strlen(w->path);
	const char *key;
	json_t *v;

	json_object_foreach (a, key, v)
		if (walk_child(w, len, key, v, json_object_get(b, key), depth))
			return true;
	json_object_foreach (b, key, v)
		if (!json_object_get(a, key) && walk_child(w, len, key, NULL, v, depth))
			return true;
	return false;
}

/* Element by element; a length that differs is a difference at "a[]". */
static bool walk_array(struct walk *w, json_t *a, json_t *b, int depth)
{
	size_t len = strlen(w->path), na = json_array_size(a), nb = json_array_size(b);

	for (size_t i = 0; i < na && i < nb; i++)
		if (walk_child(w, len, NULL, json_array_get(a, i), json_array_get(b, i), depth))
			return true;
	return na != nb && walk_child(w, len, NULL, NULL, NULL, depth);
}

/* Recursion is bounded by JDIFF_MAX_DEPTH, whatever the bodies' depth. */
static bool walk(struct walk *w, json_t *a, json_t *b, int depth)
{
	if (covered(w))
		return false;
	if (depth >= JDIFF_MAX_DEPTH)
		return !json_equal(a, b) && diff_at(w);
	if (json_is_object(a) && json_is_object(b))
		return walk_object(w, a, b, depth + 1);
	if (json_is_array(a) && json_is_array(b))
		return walk_array(w, a, b, depth + 1);
	return !scalar_equal(a, b) && diff_at(w);
}

static json_t *load(const uint8_t *p, size_t n)
{
	json_error_t e;

	if (!n)
		return NULL;
	return json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
}

static void compare(struct walk *w, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	json_t *ja = load(a, an), *jb = ja ? load(b, bn) : NULL;

	if (ja && jb)
		walk(w, ja, jb, 0);
	else if (ja || an != bn || (an && memcmp(a, b, an)))
		diff_at(w); /* at "": the whole body */
	json_decref(ja);
	json_decref(jb);
}

void jdiff_learn(struct jdiff_noise *noise, const uint8_t *a, size_t an, const uint8_t *b,
		 size_t bn)
{
	struct walk w = { .learn = noise };

	noise->samples++;
	if (!noise->whole)
		compare(&w, a, an, b, bn);
}

bool jdiff_differ(const struct jdiff_noise *noise, const char (*ignore)[JDIFF_PATH_MAX],
		  uint32_t nignore, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		  char *where, size_t size)
{
	struct walk w = {
		.noise = noise, .ignore = ignore, .nignore = nignore, .where = where, .size = size
	};

	if (where && size)
		where[0] = '\0';
	if (noise && noise->whole)
		return false;
	/* The same bytes are the same document, whatever is ignored: most
	 * answers of a version that works, and no JSON to parse. */
	if (an == bn && (!an || !memcmp(a, b, an)))
		return false;
	compare(&w, a, an, b, bn);
	return w.differs;
}
