/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What status shows while it follows a rollout: on a terminal with
 * --watch, a frame redrawn in place (the step, a bar of the target's
 * weight, each version's share of the traffic, latency and errors, the
 * last events); otherwise one plain line per change. */
#ifndef VS_CLI_WATCH_H
#define VS_CLI_WATCH_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_WATCH_EVENTS 5

struct cli_watch {
	bool tty;	/* redraw in place */
	bool drawn;	/* a frame is on the screen */
	char last[512]; /* plain: the rollout line printed last */
	json_t *recent; /* the service's last events, oldest first */
};

/* tty: draw frames (hides the cursor, and puts it back at exit, SIGINT
 * and SIGTERM). */
void cli_watch_init(struct cli_watch *w, bool tty);
/* An event of the service: kept for the frame, or printed as a line. */
void cli_watch_event(struct cli_watch *w, const json_t *e);
/* The service's view now: a frame, or a line if the rollout changed. */
void cli_watch_show(struct cli_watch *w, const json_t *svc);
/* The frame's text for a terminal cols wide and rows high (0: no limit):
 * each line cut at cols, ending "..." if it was; never more than rows
 * lines, the last given up first (events, then versions but the
 * target's), the header and the target's bar always there. */
void cli_watch_frame(const json_t *svc, const json_t *recent, int cols, int rows, char *buf,
		     size_t size);
void cli_watch_end(struct cli_watch *w);

#endif
