// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "kernel/dp_cgroup.h"
#include "kernel/dp_nat.h"
#include "kernel/dp_pins.h"
#include "kernel/dp_tc.h"
#include "ctl/ctl.h"
#include "ctl/drainer.h"
#include "ctl/mirror.h"
#include "ctl/tick.h"
#include "ctl/txn.h"

/* A listener that opens anywhere (a restarted backend, a new
 * SO_REUSEPORT worker) brings a full scan at the next tick, at most one a
 * second; a dead server or a socket we cannot place one at once. One runs
 * every TICK_SCAN_EVERY seconds anyway (the accept backlogs), every
 * TICK_IFACE_EVERY while a version is steered by address (its server's
 * address is checked at a scan). The sockmap is read when a listener of it
 * closed, and every TXN_VERIFY_EVERY seconds. */
static void scan_sockets(struct ctl *c, int64_t now)
{
	/* The counts before the sockmap and the scan, so that what moves
	 * after them is seen next tick. */
	unsigned moved = sock_lstate_moved(&c->sock, c->dp);
	bool read = (moved & 1U << VS_LSTATE_CLOSED) || c->sock.rescan ||
		    now - c->sock.last_read >= TXN_VERIFY_EVERY;
	int64_t every = model_has_by_addr(c->m) ? TICK_IFACE_EVERY : TICK_SCAN_EVERY;
	bool scan;

	c->sock.scan_wanted |= moved & 1U << VS_LSTATE_OPENED;
	scan = c->sock.rescan || (c->sock.scan_wanted && now > c->sock.last_scan) ||
	       now - c->sock.last_scan >= every;
	if (read)
		c->sock.last_read = now;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		if (!cl->used)
			continue;
		/* The data plane only tries the first nsock entries. */
		if (read)
			scan |= sock_refresh(&c->sock, c->dp, s, c->sock.nsock[s]);
		for (uint32_t v = 0; v < cl->nsrv && !scan; v++)
			scan = !(c->sock.out[s] & (1U << v)) && !sock_live(&c->sock, s, v);
	}
	if (scan && sock_reconcile(&c->sock, c->dp, c->m, -1) == 0) {
		sock_drop_strays(&c->sock, c->dp, c->m);
		c->sock.last_scan = now;
		c->sock.rescan = false;
		c->sock.scan_wanted = false;
		c->ifaces_at = now - TICK_IFACE_EVERY; /* and new interfaces now */
	}
	/* New interfaces get the TC meter and packet steering at every
	 * scan, and within TICK_IFACE_EVERY whether one runs or not. */
	if (now - c->ifaces_at >= TICK_IFACE_EVERY) {
		dp_tc_attach_new(c->dp);
		dp_nat_attach_new(c->dp, model_has_addr6(c->m));
		c->ifaces_at = now;
	}
}

/* What a scan found that the model and the events must hear of: owners
 * recorded (a scan writes them into c->m, which the state file has only
 * once committed: retried each tick until it is), and sockets refused
 * for their owner, an event each. */
static void report_scan(struct ctl *c)
{
	struct sock_state *ss = &c->sock;
	char a[EP_STRLEN], o[OWNER_CGROUP_LEN + 32], cg[OWNER_CGROUP_LEN];
	struct model *next;
	struct vs_err err = {};

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		for (uint32_t v = 0; cl->used && v < cl->nsrv; v++) {
			if (!ss->refused_new[s][v])
				continue;
			ss->refused_new[s][v] = false;
			ep_format(&cl->srv[v], a, sizeof(a));
			owner_format(&cl->owner[v], o, sizeof(o));
			if (!ss->refused_cgroup[s][v] ||
			    dp_cgroup_path(c->dp, ss->refused_cgroup[s][v], cg, sizeof(cg)))
				snprintf(cg, sizeof(cg), "unknown");
			txn_event(
				c, c->m->svc[cl->svc].name, "socket_refused",
				"a socket of uid %u (cgroup %s) listens on %s of %s, which belongs to %s: not steered to",
				ss->refused_uid[s][v], cg, a, cl->version, o);
		}
	}
	if (!ss->learned || !(next = malloc(sizeof(*next))))
		return;
	memcpy(next, c->m, sizeof(*next));
	if (txn_commit(c, next, &err))
		pr_warn("recording a server's owner in the state file, retrying: %s\n", err.msg);
	free(next);
}

/* A server whose sockets all went (its process died, or stopped
 * listening), or came back, as the sockmap shows it: an event each. One
 * that health checks keep out is theirs to report. */
static void report_liveness(struct ctl *c)
{
	struct sock_state *ss = &c->sock;
	char a[EP_STRLEN];

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];
		uint16_t live, changed;

		if (!cl->used)
			continue;
		live = sock_live_mask(ss, s, cl->nsrv);
		changed = (live ^ ss->reported[s]) & ~ss->out[s];
		if (!ss->reported_set[s])
			changed = 0; /* nothing to compare with (a slot reused) */
		for (uint32_t v = 0; v < cl->nsrv; v++) {
			if (!(changed & (1U << v)))
				continue;
			ep_format(&cl->srv[v], a, sizeof(a));
			if (live & (1U << v))
				txn_event(c, c->m->svc[cl->svc].name, "backend_up",
					  "%s of %s listens%s: steered to", a, cl->version,
					  ss->ever_live[s] & (1U << v) ? " again" : "");
			else
				txn_event(
					c, c->m->svc[cl->svc].name, "backend_down",
					"nothing listens on %s of %s any more: its new connections go to the version's other servers, or another version's",
					a, cl->version);
		}
		ss->reported[s] = (live & ~ss->out[s]) | (ss->reported[s] & ss->out[s]);
		ss->reported_set[s] = true;
		ss->ever_live[s] |= live;
	}
}

/* Whether a rollout can step (rollout_tick() and mirror_refresh_due()
 * act on progressing ones only): else the tick copies no model. */
static bool any_progressing(const struct model *m)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (m->svc[s].used && m->svc[s].ro.phase == RO_PROGRESSING)
			return true;
	return false;
}

/* Rollout steps whose hold has ended advance here, as a transaction like
 * any other change. If the state file cannot be written the step is
 * retried next tick, so maps and state never disagree. */
static void tick_rollouts(struct ctl *c)
{
	struct vs_err err = {};
	int64_t now = clock_wall();
	struct model *next;

	if (!any_progressing(c->m) || !(next = malloc(sizeof(*next))))
		return;
	memcpy(next, c->m, sizeof(*next));
	mirror_refresh_due(c, next, now);
	if (rollout_tick(next, now) && txn_commit(c, next, &err))
		pr_warn("rollout step not applied, retrying: %s\n", err.msg);
	free(next);
}

/* A pin removed by hand (or the whole directory) is put back from the fd
 * vsteerd holds: otherwise steering would stop with vsteerd's exit while
 * its log says it stays. A stat per pin when nothing changed. A failure is
 * said once, not every tick, until it changes. */
static int tick_pins(struct ctl *c, struct dp_pins_report *r)
{
	const char *dir = dp_pins_dir(c->dp);
	int ret = dp_pins_check(c->dp, r);

	if (r->dir_made)
		txn_event(
			c, "", "repinned",
			"pin directory %s was gone: made it again and pinned everything in it again (%s)",
			dir, r->repinned);
	else if (r->repinned[0])
		txn_event(c, "", "repinned", "pinned again in %s: %s", dir, r->repinned);
	if (r->replaced[0])
		txn_event(
			c, "", "pin_replaced",
			"%s in %s held another BPF object, not vsteerd's: unpinned it and pinned vsteerd's again",
			r->replaced, dir);
	if (ret && strcmp(c->pins_missing, r->missing))
		txn_event(c, "", "pins_lost", "%s not pinned in %s: %s; %s", r->missing, dir,
			  r->why,
			  strstr(r->missing, "link") ? "steering stops when vsteerd exits" :
						       "they go when vsteerd exits");
	snprintf(c->pins_missing, sizeof(c->pins_missing), "%s", r->missing);
	return ret;
}

int ctl_check_pins(struct ctl *c, struct dp_pins_report *r)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = tick_pins(c, r);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void ctl_tick(struct ctl *c)
{
	int64_t now = clock_mono_s();
	struct dp_pins_report pins;

	pthread_mutex_lock(&c->lock);
	tick_pins(c, &pins);
	scan_sockets(c, now);
	report_scan(c);
	report_liveness(c);
	analysis_tick(c, now);
	mirror_tick(c, now);
	recent_tick(&c->recent, c->dp, c->m, now, clock_wall());
	tick_rollouts(c);
	/* A mirror that ended now stops here: its report is what its
	 * verdict judged. */
	mirror_sync(c);
	drainer_tick(c, clock_wall());
	txn_sync_services(c);
	c->ticks++;
	pthread_mutex_unlock(&c->lock);
}
