// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "kernel/dp_tc.h"
#include "ctl/ctl.h"
#include "ctl/tick.h"
#include "ctl/txn.h"

/* A full scan every few seconds finds sockets added to a running server
 * (a new SO_REUSEPORT worker); a dead server or a socket we cannot place
 * triggers one at once, so a restarted backend is steered to again
 * within a tick. */
static void scan_sockets(struct ctl *c, int64_t now)
{
	bool scan = c->sock.rescan || now - c->sock.last_scan >= TICK_SCAN_EVERY;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		if (!cl->used)
			continue;
		/* The data plane only tries the first nsock entries: one
		 * syscall each, every tick, for every version on the host. */
		scan |= sock_refresh(&c->sock, c->dp, s, c->sock.nsock[s]);
		for (uint32_t v = 0; v < cl->nsrv && !scan; v++)
			scan = !(c->sock.out[s] & (1U << v)) && !sock_live(&c->sock, s, v);
	}
	if (scan && sock_reconcile(&c->sock, c->dp, c->m, -1) == 0) {
		sock_drop_strays(&c->sock, c->dp, c->m);
		c->sock.last_scan = now;
		c->sock.rescan = false;
		dp_tc_attach_new(c->dp);
	}
}

/* Rollout steps whose hold has ended advance here, as a transaction like
 * any other change. If the state file cannot be written the step is
 * retried next tick, so maps and state never disagree. */
static void tick_rollouts(struct ctl *c)
{
	struct model *next = malloc(sizeof(*next));
	struct vs_err err = {};

	if (!next)
		return;
	memcpy(next, c->m, sizeof(*next));
	if (rollout_tick(next, clock_wall()) && txn_commit(c, next, &err))
		pr_warn("rollout step not applied, retrying: %s\n", err.msg);
	free(next);
}

void ctl_tick(struct ctl *c)
{
	int64_t now = clock_mono_s();

	pthread_mutex_lock(&c->lock);
	scan_sockets(c, now);
	analysis_tick(c, now);
	recent_tick(&c->recent, c->dp, c->m, now);
	tick_rollouts(c);
	txn_sync_services(c);
	c->ticks++;
	pthread_mutex_unlock(&c->lock);
}
