// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include "api/router.h"
#include "api/ui.h"

#define UI_PREFIX "/ui/"

/* Everything the page needs comes from vsteerd itself: scripts, styles
 * and the API it calls ('self'). No inline script or style, so an event
 * message or service name that slipped into the markup could not run;
 * no framing, so no other page can overlay the buttons (clickjacking);
 * no forms, plugins or <base>. uPlot draws on a canvas and sizes it
 * through the CSSOM (element.style), which a policy does not govern. */
#define UI_CSP                                                                            \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "    \
	"frame-ancestors 'none'"

const struct api_arg ui_headers[] = {
	{ "Content-Security-Policy", UI_CSP },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	/* frame-ancestors' older twin, for browsers without CSP level 2 */
	{ "X-Frame-Options", "DENY" },
	/* The files change with the binary, which a cache cannot know:
	 * revalidate each time (they are small, and come from loopback
	 * or a LAN). */
	{ "Cache-Control", "no-cache" },
	{ NULL, NULL },
};

bool ui_path(const char *path)
{
	return !strcmp(path, "/ui") || !strncmp(path, UI_PREFIX, strlen(UI_PREFIX));
}

static const struct ui_asset *find(const struct ui_asset *assets, const char *name)
{
	for (; assets && assets->name; assets++)
		if (!strcmp(assets->name, name))
			return assets;
	return NULL;
}

int ui_reply(const struct ui_asset *assets, const char *path, struct api_resp *resp)
{
	const struct ui_asset *f;
	const char *name;

	resp->headers = ui_headers;
	/* Relative URLs in the page (app.js, ...) resolve under /ui/ only
	 * with the slash: send the browser there. */
	if (!strcmp(path, "/ui")) {
		resp->status = 301;
		resp->location = UI_PREFIX;
		resp->content_type = "text/plain; charset=utf-8";
		resp->file = "moved to " UI_PREFIX "\n";
		resp->file_len = strlen(resp->file);
		return 0;
	}
	name = path + strlen(UI_PREFIX);
	f = find(assets, name[0] ? name : "index.html");
	if (!f)
		return -ENOENT;
	resp->status = 200;
	resp->content_type = f->type;
	resp->file = f->data;
	resp->file_len = f->len;
	return 0;
}
