// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/events.h"
#include "cli/get.h"
#include "cli/json.h"
#include "cli/watch.h"
#include "lib/str.h"

#define CSI	"\033["
#define BAR_MAX 50

static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

/* The cursor comes back whatever ends the watch: only write() here. */
static void on_stop(int sig)
{
	static const char show[] = CSI "?25h\n";

	/* if it fails there is nothing left to do but exit */
	ssize_t n = write(STDOUT_FILENO, show, sizeof(show) - 1);

	(void)n;
	_exit(128 + sig);
}

void cli_watch_init(struct cli_watch *w, bool tty)
{
	memset(w, 0, sizeof(*w));
	w->tty = tty;
	w->recent = json_array();
	if (!tty)
		return;
	signal(SIGWINCH, on_winch);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	fputs(CSI "?25l" CSI "H" CSI "2J", stdout);
	fflush(stdout);
}

void cli_watch_event(struct cli_watch *w, const json_t *e)
{
	char line[1100];

	if (!w->tty) {
		printf("  %s\n", cli_event_line(e, false, line, sizeof(line)));
		fflush(stdout);
		return;
	}
	json_array_append(w->recent, (json_t *)e);
	while (json_array_size(w->recent) > CLI_WATCH_EVENTS)
		json_array_remove(w->recent, 0);
}

/* A frame: its lines in the order shown, each cut at the width. */
#define FRAME_LINES 80
#define LINE_MAX    256

struct frame {
	char line[FRAME_LINES][LINE_MAX];
	int n, cols;
};

/* Cuts at the width with "..." at the end: a line longer than the
 * terminal would wrap and scroll the redraw away, and one cut silently
 * hides that something is missing. ASCII only: str_printable() makes
 * every byte of the API's text ASCII, so a byte is a column. */
static void cut(char *s, int cols)
{
	if (cols <= 0 || (int)strlen(s) <= cols)
		return;
	if (cols > 3)
		memcpy(s + cols - 3, "...", 3);
	s[cols] = '\0';
}

static char *add(struct frame *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *add(struct frame *f, const char *fmt, ...)
{
	char line[1024], *out;
	va_list ap;

	if (f->n == FRAME_LINES)
		return NULL;
	out = f->line[f->n++];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	str_printable(out, LINE_MAX, line);
	cut(out, f->cols);
	return out;
}

/* Every version's row as the columns say, then the widths that fit them:
 * the full headers two spaces apart, or short ones one apart on a narrow
 * terminal, so P50/P99/ERRORS are not cut off first. */
#define NCOL 7
static const char *const HDR_LONG[NCOL] = { "VERSION", "WEIGHT", "SHARE", "REQ/S",
					    "P50MS",   "P99MS",	 "ERRORS" };
static const char *const HDR_SHORT[NCOL] = { "VER", "W%", "SH%", "RPS", "P50", "P99", "ERR" };

struct vrow {
	char cell[NCOL][24];
	bool target;
};

static int table_rows(const json_t *svc, const char *to, struct vrow *rows, int max)
{
	json_t *vs = cli_jarr(svc, "versions"), *v;
	double total = 0, rps, p50, p99, err;
	size_t i;
	int n = 0;

	json_array_foreach (vs, i, v)
		if (cli_version_window(v, &rps, &p50, &p99, &err))
			total += rps;
	json_array_foreach (vs, i, v) {
		struct vrow *r = &rows[n];
		char w[32], name[24], win[4][16];

		if (n == max)
			break;
		str_printable(name, sizeof(name), cli_jstr(v, "version", "?"));
		snprintf(r->cell[0], 24, "%s", name);
		snprintf(r->cell[1], 24, "%s%%",
			 cli_jfmt_num(cli_jnum(v, "weight", 0), w, sizeof(w)));
		r->target = !strcmp(cli_jstr(v, "version", ""), to);
		/* the same cells as get service's table */
		cli_window_cells(v, win);
		for (int c = 3; c < NCOL; c++)
			snprintf(r->cell[c], 24, "%s", win[c - 3]);
		if (cli_version_window(v, &rps, &p50, &p99, &err) && total > 0)
			snprintf(r->cell[2], 24, "%.0f%%", 100 * rps / total);
		else
			snprintf(r->cell[2], 24, "-");
		n++;
	}
	return n;
}

static void table_line(char *out, size_t size, const char *const cells[NCOL], const int width[NCOL],
		       int gap)
{
	size_t n = snprintf(out, size, "%-*s", width[0], cells[0]);

	for (int c = 1; c < NCOL && n < size; c++)
		n += snprintf(out + n, size - n, "%*s%*s", gap, "", width[c], cells[c]);
}

/* Takes n of the rows left, if there are n. */
static bool take(int *avail, int n)
{
	if (*avail < n)
		return false;
	*avail -= n;
	return true;
}

static void header(struct frame *f, const json_t *svc, const json_t *ro, bool *wrapped,
		   char *second, size_t size)
{
	char line[512], full[1024];

	snprintf(full, sizeof(full), "%s: rollout %s", cli_jstr(svc, "name", "?"),
		 cli_rollout_line(ro, line, sizeof(line)));
	*wrapped = f->cols > 0 && (int)strlen(full) > f->cols && json_is_object(ro);
	if (!*wrapped) {
		add(f, "%s", full);
		return;
	}
	/* too wide: what the rollout is at first, what it is of after */
	snprintf(full, sizeof(full), "%s: %s, step %lld of %lld", cli_jstr(svc, "name", "?"),
		 cli_jstr(ro, "phase", "?"), cli_jint(ro, "step", 0),
		 cli_jint(ro, "stepsTotal", 0));
	if ((int)strlen(full) > f->cols)
		snprintf(full, sizeof(full), "%s: %s %lld/%lld", cli_jstr(svc, "name", "?"),
			 cli_jstr(ro, "phase", "?"), cli_jint(ro, "step", 0),
			 cli_jint(ro, "stepsTotal", 0));
	add(f, "%s", full);
	snprintf(second, size, "%s -> %s (%s)", cli_jstr(ro, "from", "?"), cli_jstr(ro, "to", "?"),
		 cli_jstr(ro, "strategy", "?"));
}

static void bar_line(struct frame *f, const json_t *ro)
{
	char bar[BAR_MAX + 1], w[32], when[64] = "", brief[64] = "", to[32];
	double weight = cli_jnum(ro, "weight", 0), next;
	int width, fill;

	if (weight < 0 || weight > 100)
		weight = 0;
	if (cli_jhas_num(ro, "nextStepAt", &next)) {
		/* compared as doubles: the API's number may be anything */
		double left = next - (double)time(NULL);

		left = left > 0 ? (left < 1e9 ? left : 1e9) : 0;
		snprintf(when, sizeof(when), "  next step in %.0f s", left);
		snprintf(brief, sizeof(brief), " next %.0fs", left);
	} else if (!strcmp(cli_jstr(ro, "phase", ""), "progressing") && weight < 100) {
		snprintf(when, sizeof(when), "  waits for promote");
		snprintf(brief, sizeof(brief), " promote?");
	}
	str_printable(to, sizeof(to), cli_jstr(ro, "to", "?"));
	/* "TO [bar] WEIGHT%WHEN": the bar takes the width left, BAR_MAX at
	 * most; below 10 the shorter WHEN, below 5 none */
	width = (f->cols > 0 ? f->cols : 80) - (int)(strlen(to) < 8 ? 8 : strlen(to)) - 11;
	if (width - (int)strlen(when) < 10)
		snprintf(when, sizeof(when), "%s", width - (int)strlen(brief) < 5 ? "" : brief);
	width -= strlen(when);
	width = width < 5 ? 5 : width > BAR_MAX ? BAR_MAX : width;
	fill = (int)(weight * width / 100 + 0.5);
	memset(bar, '#', fill);
	memset(bar + fill, '.', width - fill);
	bar[width] = '\0';
	add(f, "%-8s [%s] %6s%%%s", to, bar, cli_jfmt_num(weight, w, sizeof(w)), when);
}

static void build(struct frame *f, const json_t *svc, const json_t *recent, int rows)
{
	const json_t *ro = cli_jobj(svc, "rollout");
	struct vrow *vr = calloc(FRAME_LINES, sizeof(*vr));
	int width[NCOL], nv, more, nev = 0, gap = 2, total, first;
	const char *const *hdr = HDR_LONG;
	int avail = rows > 2 ? rows - 2 : rows > 0 ? 0 : FRAME_LINES;
	bool wrapped, tbl, h2, gap1, label;
	char second[512], line[LINE_MAX];

	if (!vr)
		return;
	header(f, svc, ro, &wrapped, second, sizeof(second));
	nv = table_rows(svc, cli_jstr(ro, "to", ""), vr, FRAME_LINES - 16);
	/* what fits, in the order given up last to first: the table's header
	 * and the target's row, the rest of the header, the blank line, the
	 * other versions, the events (newest kept) */
	tbl = nv && take(&avail, 2);
	h2 = wrapped && take(&avail, 1);
	gap1 = tbl && take(&avail, 1);
	more = tbl ? (nv - 1 < avail ? nv - 1 : avail) : 0;
	avail -= more;
	label = take(&avail, 2);
	if (label)
		nev = (int)json_array_size(recent) < avail ? (int)json_array_size(recent) : avail;
	if (h2)
		add(f, "%s", second);
	bar_line(f, ro);
	if (gap1)
		add(f, "%s", "");
	for (int pass = 0; tbl && pass < 2; pass++) {
		total = 0;
		for (int c = 0; c < NCOL; c++) {
			width[c] = strlen(hdr[c]);
			for (int i = 0; i < nv; i++)
				if ((int)strlen(vr[i].cell[c]) > width[c])
					width[c] = strlen(vr[i].cell[c]);
			total += width[c] + (c ? gap : 0);
		}
		if (f->cols <= 0 || total <= f->cols)
			break;
		hdr = HDR_SHORT;
		gap = 1;
	}
	if (tbl) {
		table_line(line, sizeof(line), hdr, width, gap);
		add(f, "%s", line);
	}
	/* the target's row is kept; the others in their order while they fit */
	first = -1;
	for (int i = 0; i < nv; i++)
		if (vr[i].target)
			first = i;
	if (first < 0)
		first = 0;
	for (int i = 0, shown = 0; tbl && i < nv; i++) {
		const char *cells[NCOL];

		if (i != first && shown++ >= more)
			continue;
		for (int c = 0; c < NCOL; c++)
			cells[c] = vr[i].cell[c];
		table_line(line, sizeof(line), cells, width, gap);
		add(f, "%s", line);
	}
	free(vr);
	if (!label)
		return;
	add(f, "%s", "");
	add(f, "%s", "last events:");
	for (size_t i = json_array_size(recent) - nev; i < json_array_size(recent); i++) {
		char ev[1100];

		add(f, "  %s", cli_event_line(json_array_get(recent, i), false, ev, sizeof(ev)));
	}
}

void cli_watch_frame(const json_t *svc, const json_t *recent, int cols, int rows, char *buf,
		     size_t size)
{
	struct frame *f = calloc(1, sizeof(*f));
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return;
	f->cols = cols > LINE_MAX - 1 ? LINE_MAX - 1 : cols;
	build(f, svc, recent, rows);
	for (int i = 0; i < f->n && n < size; i++)
		n += snprintf(buf + n, size - n, "%s\n", f->line[i]);
	free(f);
}

/* The terminal's size, 80x24 if it does not say. */
static void term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

void cli_watch_show(struct cli_watch *w, const json_t *svc)
{
	char frame[16384], line[512];
	int cols, rows;

	if (!w->tty) {
		cli_rollout_line(cli_jobj(svc, "rollout"), line, sizeof(line));
		if (strcmp(line, w->last)) {
			printf("%s: rollout %s\n", cli_jstr(svc, "name", "?"), line);
			fflush(stdout);
			snprintf(w->last, sizeof(w->last), "%s", line);
		}
		return;
	}
	term_size(&cols, &rows);
	/* a column short of the width: a full line would leave the cursor
	 * waiting to wrap; every row, the last without its newline, which
	 * would scroll the frame up by one */
	cli_watch_frame(svc, w->recent, cols - 1, rows, frame, sizeof(frame));
	/* a resize leaves pieces of the old frame where lines wrapped */
	if (resized) {
		resized = 0;
		fputs(CSI "2J", stdout);
	}
	fputs(CSI "H", stdout);
	for (char *p = frame, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		printf("%.*s" CSI "K%s", (int)(nl - p), p, nl[1] ? "\n" : "");
	fputs(CSI "J", stdout);
	fflush(stdout);
	w->drawn = true;
}

void cli_watch_end(struct cli_watch *w)
{
	if (w->tty) {
		/* below the frame, whose last line has no newline */
		fputs(w->drawn ? "\n" CSI "?25h" : CSI "?25h", stdout);
		fflush(stdout);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	json_decref(w->recent);
	w->recent = NULL;
}
