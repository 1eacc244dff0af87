// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
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

/* Appends one line, cut at cols (a frame longer than the terminal's
 * width would wrap and scroll the redraw away). */
static void add(char *buf, size_t size, int cols, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t size, int cols, const char *fmt, ...)
{
	size_t n = strlen(buf);
	char line[1024], safe[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	str_printable(safe, sizeof(safe), line);
	if (cols > 0 && (int)strlen(safe) > cols)
		safe[cols] = '\0';
	snprintf(buf + n, size - n, "%s\n", safe);
}

static void versions_table(const json_t *svc, int cols, char *buf, size_t size)
{
	json_t *vs = cli_jarr(svc, "versions"), *v;
	double total = 0;
	size_t i;

	json_array_foreach (vs, i, v) {
		double rps, p50, p99, err;

		if (cli_version_window(v, &rps, &p50, &p99, &err))
			total += rps;
	}
	add(buf, size, cols, "%-10s %7s %7s %8s %8s %8s %7s", "VERSION", "WEIGHT", "SHARE", "REQ/S",
	    "P50MS", "P99MS", "ERRORS");
	json_array_foreach (vs, i, v) {
		double rps, p50, p99, err;
		char w[32], share[16] = "-";

		cli_jfmt_num(cli_jnum(v, "weight", 0), w, sizeof(w));
		if (!cli_version_window(v, &rps, &p50, &p99, &err)) {
			add(buf, size, cols, "%-10.40s %6s%% %7s %8s %8s %8s %7s",
			    cli_jstr(v, "version", "?"), w, "-", "-", "-", "-", "-");
			continue;
		}
		if (total > 0)
			snprintf(share, sizeof(share), "%.0f%%", 100 * rps / total);
		add(buf, size, cols, "%-10.40s %6s%% %7s %8.1f %8.2f %8.2f %6.1f%%",
		    cli_jstr(v, "version", "?"), w, share, rps, p50, p99, err * 100);
	}
}

void cli_watch_frame(const json_t *svc, const json_t *recent, int cols, char *buf, size_t size)
{
	const json_t *ro = cli_jobj(svc, "rollout");
	char line[512], bar[BAR_MAX + 1], w[32], when[64] = "";
	double weight = cli_jnum(ro, "weight", 0), next;
	int width = cols > 30 ? cols - 30 : 10, fill;
	json_t *e;
	size_t i;

	buf[0] = '\0';
	if (width > BAR_MAX)
		width = BAR_MAX;
	add(buf, size, cols, "%s: rollout %.400s", cli_jstr(svc, "name", "?"),
	    cli_rollout_line(ro, line, sizeof(line)));
	if (weight < 0 || weight > 100)
		weight = 0;
	fill = (int)(weight * width / 100 + 0.5);
	memset(bar, '#', fill);
	memset(bar + fill, '.', width - fill);
	bar[width] = '\0';
	if (cli_jhas_num(ro, "nextStepAt", &next)) {
		/* compared as doubles: the API's number may be anything */
		double left = next - (double)time(NULL);

		snprintf(when, sizeof(when), "  next step in %.0f s",
			 left > 0 ? (left < 1e9 ? left : 1e9) : 0);
	} else if (!strcmp(cli_jstr(ro, "phase", ""), "progressing") && weight < 100) {
		snprintf(when, sizeof(when), "  waits for promote");
	}
	add(buf, size, cols, "%-8.20s [%s] %6s%%%s", cli_jstr(ro, "to", "?"), bar,
	    cli_jfmt_num(weight, w, sizeof(w)), when);
	add(buf, size, cols, "%s", "");
	versions_table(svc, cols, buf, size);
	add(buf, size, cols, "%s", "");
	add(buf, size, cols, "%s", "last events:");
	json_array_foreach (recent, i, e) {
		char ev[1100];

		add(buf, size, cols, "  %s", cli_event_line(e, false, ev, sizeof(ev)));
	}
}

static int term_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void cli_watch_show(struct cli_watch *w, const json_t *svc)
{
	char frame[16384], line[512];

	if (!w->tty) {
		cli_rollout_line(cli_jobj(svc, "rollout"), line, sizeof(line));
		if (strcmp(line, w->last)) {
			printf("%s: rollout %s\n", cli_jstr(svc, "name", "?"), line);
			fflush(stdout);
			snprintf(w->last, sizeof(w->last), "%s", line);
		}
		return;
	}
	cli_watch_frame(svc, w->recent, term_cols() - 1, frame, sizeof(frame));
	/* a resize leaves pieces of the old frame where lines wrapped */
	if (resized) {
		resized = 0;
		fputs(CSI "2J", stdout);
	}
	fputs(CSI "H", stdout);
	for (char *p = frame, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		printf("%.*s" CSI "K\n", (int)(nl - p), p);
	fputs(CSI "J", stdout);
	fflush(stdout);
	w->drawn = true;
}

void cli_watch_end(struct cli_watch *w)
{
	if (w->tty) {
		fputs(CSI "?25h", stdout);
		fflush(stdout);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	json_decref(w->recent);
	w->recent = NULL;
}
