/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A request's route: its method and the pattern of its path, the ids in
 * it collapsed, so that a mirror's report can say where two versions
 * differ ("GET /api/items/{id}") rather than list every URL. Pure.
 */
#ifndef VS_ROUTE_H
#define VS_ROUTE_H

#include <stddef.h>

#define ROUTE_MAX 160 /* a route and its NUL; longer paths are cut */

/* "METHOD /pattern" from a method and a request target (origin form
 * "/a/b?q", or absolute form "http://h/a/b"): the query and fragment
 * dropped, a segment that looks like an id replaced by {id}: all digits;
 * a UUID; 8 or more hex digits with a digit among them; 16 or more
 * characters of letters, digits, '-' and '_' with both letters and
 * digits. Anything else, and a target that is no path ("*"), kept as
 * given, control characters and '"' replaced by '_' (a route is shown in
 * JSON, logs and metrics labels). */
void route_of(const char *method, const char *target, char *out, size_t size);

#endif
