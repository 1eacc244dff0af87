/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The dashboard (GET /ui/, docs/dashboard.md): the files of web/, built
 * into vsteerd, served read-only under strict headers. The page itself
 * calls the REST API like any client, so it has no powers of its own. */
#ifndef VS_UI_H
#define VS_UI_H

#include <stdbool.h>
#include <stddef.h>
#include "api/router.h"

/* A file of web/: its path there ("app.js"), Content-Type and bytes. */
struct ui_asset {
	const char *name;
	const char *type;
	const char *data;
	size_t len;
};

/* web/'s files, ending with a NULL name: defined by the C file that
 * scripts/web_assets.sh generates (build/web_assets.c), which only
 * vsteerd links; the unit tests and fuzzers pass tables of their own. */
extern const struct ui_asset ui_web_assets[];

/* Whether path (as sent, query cut off) is the dashboard's: "/ui" or
 * under "/ui/". */
bool ui_path(const char *path);
/* The reply to a GET or HEAD of path, a ui_path(), from assets (NULL:
 * none built in): 0 with the file in resp (its bytes the table's, not to
 * be freed) or, for "/ui", a redirect to "/ui/"; -ENOENT for no such
 * file. The path is compared as sent, byte for byte, with the table's
 * names: nothing is decoded, so "..", "%2e%2e" and "//" name nothing. */
int ui_reply(const struct ui_asset *assets, const char *path, struct api_resp *resp);
/* The headers every reply under /ui carries, errors included, ending with
 * a NULL name: the Content-Security-Policy and the rest. */
extern const struct api_arg ui_headers[];

#endif
