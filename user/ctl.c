// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "log.h"
#include "parse.h"
#include "rollout.h"
#include "state.h"
#include "sockets.h"
#include "judge.h"
#include "stats.h"

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void ports_of(const struct model *m, struct vs_ports *p)
{
	memset(p, 0, sizeof(*p));
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (m->svc[s].used)
			p->w[m->svc[s].addr.port / 64] |= 1ULL << (m->svc[s].addr.port % 64);
}

/* Write service s's value unless the map holds it already. Besides
 * saving syscalls this matters for correctness: svcs is a preallocated
 * hash, and the kernel recycles a replaced element for the next update
 * on the same CPU without waiting for readers, so back-to-back updates
 * of several services could let a lookup in flight read another
 * service's value. Writing only what changed keeps updates far apart. */
static int sync_service(struct ctl *c, const struct model *m, uint32_t s)
{
	struct vs_svc_key k;
	struct vs_svc v, cur;

	model_svc_key(m, s, &k);
	model_svc_value(m, s, c->nsock, &v);
	if (dp_get_svc(c->dp, &k, &cur) == 0 && !memcmp(&v, &cur, sizeof(v)))
		return 0;
	return dp_set_svc(c->dp, &k, &v);
}

/* Make the maps say what `want` says. Services only `other` has are
 * removed, so the same call undoes a failed commit. */
static int write_maps(struct ctl *c, const struct model *want, const struct model *other)
{
	struct vs_svc_key k;
	struct vs_ports ports;
	int ret;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!want->svc[s].used)
			continue;
		ret = sync_service(c, want, s);
		if (ret)
			return ret;
	}
	ports_of(want, &ports);
	ret = dp_set_ports(c->dp, &ports);
	for (uint32_t s = 0; !ret && s < VS_MAX_SERVICES; s++) {
		if (!other->svc[s].used || want->svc[s].used)
			continue;
		model_svc_key(other, s, &k);
		ret = dp_del_svc(c->dp, &k);
	}
	return ret;
}

/* Undo write_maps(c, next, c->m). If even that fails the maps are ahead
 * of the model; every tick re-syncs them (rewrite_services), so it heals. */
static void revert_maps(struct ctl *c, const struct model *next)
{
	int ret = write_maps(c, c->m, next);

	if (ret)
		pr_warn("undoing a failed change: %s; the next tick retries\n", strerror(-ret));
}

/* The new state is durable (a temp file, fsynced) before the kernel
 * steers by it, and becomes the state file only once the maps say the
 * same: a full disk or a failed map write leaves both as they were, and
 * a vsteerd killed in between comes back with the old state, which it
 * writes over the maps. */
static int commit(struct ctl *c, struct model *next, struct vs_err *err)
{
	struct staged_file sf;
	int ret;

	if (c->state_path && (ret = state_stage(next, c->state_path, &sf, err)))
		return ret;
	ret = write_maps(c, next, c->m);
	if (ret) {
		revert_maps(c, next);
		ret = vs_errf(err, ret, 500, "bpf", "map update failed: %s; nothing was changed",
			      strerror(-ret));
		goto abort_state;
	}
	if (c->state_path && (ret = state_commit(&sf, err))) {
		revert_maps(c, next);
		return ret;
	}
	memcpy(c->m, next, sizeof(*next));
	return 0;

abort_state:
	if (c->state_path)
		stage_abort(&sf);
	return ret;
}

/* Bring every service's map value in line with the model and the socket
 * counts; a no-op (one lookup each) when nothing changed. */
static void rewrite_services(struct ctl *c)
{
	int ret;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!c->m->svc[s].used)
			continue;
		ret = sync_service(c, c->m, s);
		if (ret)
			pr_warn("service %s: map update failed: %s; retrying\n", c->m->svc[s].name,
				strerror(-ret));
	}
}

/* A version's measurements since its slot was last reset. */
static int read_window(struct ctl *c, uint32_t slot, struct window *w)
{
	struct vs_ver_stats st;
	int ret;

	ret = dp_ver_stats(c->dp, slot, &st);
	if (!ret)
		ret = dp_hist(c->dp, false, slot, w->lat.b);
	if (!ret)
		ret = dp_hist(c->dp, true, slot, w->size.b);
	w->arrived = st.arrived;
	w->requests = st.requests;
	w->status5xx = st.status[3];
	w->errors = st.resets + st.failover_out;
	return ret;
}

static void window_sub(struct window *out, const struct window *now, const struct window *then)
{
	/* Counters only grow, unless a slot was reset under us: clamp. */
	out->arrived = now->arrived >= then->arrived ? now->arrived - then->arrived : 0;
	out->status5xx = now->status5xx >= then->status5xx ? now->status5xx - then->status5xx : 0;
	out->requests = now->requests >= then->requests ? now->requests - then->requests : 0;
	out->errors = now->errors >= then->errors ? now->errors - then->errors : 0;
	hist_sub(&out->lat, &now->lat, &then->lat);
	hist_sub(&out->size, &now->size, &then->size);
}

static bool all_dead(const struct ctl *c, uint32_t slot)
{
	for (uint32_t b = 0; b < c->m->cl[slot].nbk; b++)
		if (backend_live(c, slot, b))
			return false;
	return true;
}

/* Every analysis interval, compare each analysed rollout's target with
 * its stable version over the window just ended, and record the verdict
 * (a transaction: it may roll back). The stable version's own window is
 * the baseline; when it had too little traffic in it (the target takes
 * most new sessions), its whole history is. */
static void judge_rollouts(struct ctl *c)
{
	struct window *cur = malloc(2 * sizeof(*cur)), *win = malloc(2 * sizeof(*win));
	struct model *next = malloc(sizeof(*next));
	time_t now = mono_now();

	if (!cur || !win || !next)
		goto free_all;
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		const struct rollout *ro = &c->m->svc[s].ro;
		const struct analysis *a = &ro->an;
		enum verdict v;
		struct vs_err err;
		char why[160];
		bool dead, due;

		if (!c->m->svc[s].used || ro->phase != RO_PROGRESSING || !a->on) {
			c->win_start[s] = 0;
			c->dead_ticks[s] = 0;
			continue;
		}
		if (read_window(c, ro->to, &cur[0]) || read_window(c, ro->from, &cur[1]))
			continue;
		/* A target with no live backend is judged at once, not at the
		 * end of its window: kernel failover already sends its
		 * clients to the old version, and there is nothing to wait for. */
		/* A few ticks in a row: a backend being restarted, or a scan
		 * that could not place its socket, is not a dead version. */
		c->dead_ticks[s] = all_dead(c, ro->to) ? c->dead_ticks[s] + 1 : 0;
		dead = c->dead_ticks[s] >= VS_DEAD_TICKS;
		due = !c->win_start[s] || now - c->win_start[s] >= (time_t)a->interval;
		if (!due && !dead)
			continue;
		v = V_INCONCLUSIVE;
		if (c->win_start[s]) {
			window_sub(&win[0], &cur[0], &c->snap[ro->to]);
			window_sub(&win[1], &cur[1], &c->snap[ro->from]);
			c->last[ro->to] = win[0];
			c->last[ro->from] = win[1];
			if (win[1].requests < a->min_requests)
				win[1] = cur[1];
			v = judge(a, &win[0], &win[1], c->m->cl[ro->to].version,
				  c->m->cl[ro->from].version, why, sizeof(why));
		}
		if (dead) {
			v = V_FAIL;
			snprintf(why, sizeof(why), "every backend of %s is dead",
				 c->m->cl[ro->to].version);
		}
		if (c->win_start[s] || dead) {
			memcpy(next, c->m, sizeof(*next));
			/* Nothing left to judge: roll back on this verdict. */
			if (dead)
				next->svc[s].ro.an.failures = a->failure_limit - 1;
			rollout_verdict(next, s, v == V_PASS ? 0 : v == V_FAIL ? 1 : 2, why,
					wall_now());
			if (commit(c, next, &err))
				pr_warn("analysis verdict not recorded: %s\n", err.msg);
			pr_debug("analysis of %s: %s: %s\n", c->m->svc[s].name,
				 verdict_name(v), why);
		}
		c->snap[ro->to] = cur[0];
		c->snap[ro->from] = cur[1];
		c->win_start[s] = now;
	}
free_all:
	free(cur);
	free(win);
	free(next);
}

/* Every VS_STATS_WINDOW seconds, each version's numbers over the window
 * that just ended. The first window after a version appears (or after
 * vsteerd starts) is partial and not shown. */
static void version_windows(struct ctl *c, time_t now)
{
	struct window cur;

	/* ~560 per-CPU lookups per version: not when nothing is measured. */
	if (!dp_watching(c->dp) || (c->vwin_start && now - c->vwin_start < VS_STATS_WINDOW))
		return;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		if (!c->m->cl[s].used || read_window(c, s, &cur)) {
			c->vseen[s] = c->vlast_ok[s] = false;
			continue;
		}
		window_sub(&c->vlast[s], &cur, &c->vsnap[s]);
		c->vlast_ok[s] = c->vseen[s];
		c->vsnap[s] = cur;
		c->vseen[s] = true;
	}
	c->vwin_start = now;
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
	if (rollout_tick(next, wall_now()) && commit(c, next, &err))
		pr_warn("rollout step not applied, retrying: %s\n", err.msg);
	free(next);
}

void ctl_tick(struct ctl *c)
{
	time_t now = mono_now();
	bool scan;

	pthread_mutex_lock(&c->lock);
	/* A full scan every few seconds finds sockets added to a running
	 * backend (a new SO_REUSEPORT worker); a dead backend or a socket we
	 * cannot place triggers one at once, so a restarted backend is
	 * steered to again within a tick. */
	scan = now - c->last_full_scan >= VS_SCAN_FULL_EVERY;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		const struct cluster *cl = &c->m->cl[s];

		if (!cl->used)
			continue;
		/* The data plane only tries the first nsock entries: one
		 * syscall each, every tick, for every version on the host. */
		scan |= read_slot(c, s, c->nsock[s]);
		for (uint32_t b = 0; b < cl->nbk && !scan; b++)
			scan = backend_live(c, s, b) == 0;
	}
	if (scan && reconcile(c, c->m, -1) == 0) {
		drop_strays(c, c->m);
		c->last_full_scan = now;
		dp_watch_interfaces(c->dp);
	}
	judge_rollouts(c);
	version_windows(c, now);
	tick_rollouts(c);
	rewrite_services(c);
	c->ticks++;
	pthread_mutex_unlock(&c->lock);
}

/* Services in the pinned maps that neither the state file nor the config
 * knows: their clusters are unknown, their sockets will be reused by
 * other clusters, so they cannot be steered correctly any more. Remove
 * them, loudly. */
static void drop_unknown_services(struct ctl *c, const struct model *m)
{
	struct vs_svc_key k, next_k, mk;
	bool known;
	int ret;

	ret = dp_next_svc(c->dp, NULL, &next_k);
	while (ret == 0) {
		k = next_k;
		ret = dp_next_svc(c->dp, &k, &next_k);
		known = false;
		for (uint32_t s = 0; s < VS_MAX_SERVICES && !known; s++) {
			if (!m->svc[s].used)
				continue;
			model_svc_key(m, s, &mk);
			known = !memcmp(&mk, &k, sizeof(k));
		}
		if (!known) {
			struct vs_endpoint ep = { .family = k.family, .port = k.port };
			char a[EP_STRLEN];

			memcpy(ep.addr, k.addr, sizeof(ep.addr));
			ep_format(&ep, a, sizeof(a));
			pr_warn("the pinned maps steer %s, which neither the state file nor the config knows: removing it\n",
				a);
			dp_del_svc(c->dp, &k);
		}
	}
}

int ctl_init(struct ctl *c, struct dataplane *dp, const struct model *m,
	     const char *state_path, struct vs_err *err)
{
	struct staged_file sf;
	struct vs_svc_key k;
	struct model *next;
	struct vs_svc v;
	int ret;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->dp = dp;
	c->state_path = state_path;
	c->started = time(NULL);
	c->m = calloc(1, sizeof(*c->m));
	c->snap = calloc(VS_MAX_SLOTS, sizeof(*c->snap));
	c->last = calloc(VS_MAX_SLOTS, sizeof(*c->last));
	c->vsnap = calloc(VS_MAX_SLOTS, sizeof(*c->vsnap));
	c->vlast = calloc(VS_MAX_SLOTS, sizeof(*c->vlast));
	next = malloc(sizeof(*next));
	if (!c->m || !c->snap || !c->last || !c->vsnap || !c->vlast || !next) {
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
		goto free_next;
	}
	memcpy(next, m, sizeof(*next));
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		forget_slot(c, s);

	/* Adopting pinned maps: keep each version's socket slot count as the
	 * data plane has it, so no client's backend hash changes. */
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!next->svc[s].used)
			continue;
		model_svc_key(next, s, &k);
		if (dp_get_svc(dp, &k, &v))
			continue;
		/* Keep the salt the data plane hashes with, so every client
		 * keeps its bucket even when the state file was lost. */
		next->svc[s].salt = v.salt;
		for (uint32_t i = 0; i < v.nver && i < VS_MAX_VERSIONS; i++)
			if (v.ver[i].slot < VS_MAX_SLOTS && next->cl[v.ver[i].slot].used &&
			    next->cl[v.ver[i].slot].svc == s)
				c->nsock[v.ver[i].slot] = v.ver[i].nsock;
	}
	/* Catch up with rollout steps whose hold ended while no vsteerd
	 * ran, before the API shows anything. */
	rollout_tick(next, wall_now());
	/* The state is complete here. Nothing in the kernel has changed
	 * yet: a state file that cannot be written stops us now. */
	if (c->state_path && (ret = state_stage(next, c->state_path, &sf, err)))
		goto free_next;
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		if (!next->cl[s].used) {
			clear_socks(c, s);	/* leftovers of a deleted cluster */
			continue;
		}
		read_slot(c, s, VS_MAX_SOCKS);
		for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
			if (c->cookie[s][i] && i + 1 > c->nsock[s])
				c->nsock[s] = i + 1;
	}
	if (reconcile(c, next, -1) == 0)
		drop_strays(c, next);
	c->last_full_scan = mono_now();
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		for (uint32_t b = 0; next->cl[s].used && b < next->cl[s].nbk; b++) {
			char a[EP_STRLEN];

			if (backend_live(c, s, b))
				continue;
			ep_format(&next->cl[s].bk[b], a, sizeof(a));
			pr_warn("version %s: nothing listens on %s in vsteerd's network namespace yet; it is steered to once it does (a backend in another namespace never is: containers need host networking)\n",
				next->cl[s].version, a);
		}
	}
	drop_unknown_services(c, next);
	/* Not commit(): its undo would write the empty model over steering
	 * that works. If this fails, vsteerd exits; the next start writes
	 * the same state again. */
	ret = write_maps(c, next, next);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "map update failed: %s", strerror(-ret));
		if (c->state_path)
			stage_abort(&sf);
	} else if (c->state_path) {
		ret = state_commit(&sf, err);
	}
	if (!ret)
		memcpy(c->m, next, sizeof(*next));
free_next:
	free(next);
	if (ret)
		ctl_fini(c);	/* a failed start leaves nothing to undo */
	return ret;
}

void ctl_fini(struct ctl *c)
{
	free(c->snap);
	free(c->last);
	free(c->vsnap);
	free(c->vlast);
	free(c->m);
	c->snap = c->last = c->vsnap = c->vlast = NULL;
	c->m = NULL;
	pthread_mutex_destroy(&c->lock);
}

static int no_listener_error(const struct ctl *c, const struct cluster *cl, uint32_t slot,
			     uint32_t b, struct vs_err *err)
{
	int e = c->bk_err[slot][b];
	char a[EP_STRLEN];

	ep_format(&cl->bk[b], a, sizeof(a));
	if (e)
		return vs_errf(err, e, 422, "socket_refused",
			       "servers[%u]: a socket listens on %s but the kernel refused it for the sockmap: %s%s",
			       b, a, strerror(-e),
			       e == -EOPNOTSUPP ? ". An MPTCP listener (Go 1.24+ listens with MPTCP by default; run the backend with GODEBUG=multipathtcp=0) or a socket with another ULP cannot be steered to" : "");
	return vs_errf(err, -ENOENT, 422, "no_listener",
		       "servers[%u]: no TCP socket listens on %s in vsteerd's network namespace. Start the backend first; sk_lookup can only steer to sockets of its own namespace, so a container must use host networking or share this namespace",
		       b, a);
}

int ctl_add_cluster(struct ctl *c, const char *svc, const struct cluster *spec,
		    char id[ID_LEN], struct vs_err *err)
{
	struct model *next = malloc(sizeof(*next));
	uint32_t order[VS_MAX_VERSIONS], n;
	uint64_t avoid[VS_MAX_SLOTS / 64];
	struct cluster cs = *spec;
	int slot, ret, stable;
	bool takes_over;

	if (!next)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	ret = model_find_service(next, svc);
	if (ret < 0) {
		vs_errf(err, ret, 404, "unknown_service", "no service named '%.64s'", svc);
		goto unlock;
	}
	cs.svc = ret;
	n = model_order(next, cs.svc, order);
	stable = model_stable(next, cs.svc);
	takes_over = n > 0 && (cs.mode == CL_SESSION ||
			       (cs.mode == CL_INSTANT &&
				version_cmp(cs.version, next->cl[order[0]].version) > 0));
	if (takes_over && rollout_active(&next->svc[cs.svc].ro)) {
		ret = vs_errf(err, -EBUSY, 409, "rollout_in_progress",
			      "service '%s' has a rollout in progress; abort or finish it before a %s cluster takes over",
			      next->svc[cs.svc].name, mode_name(cs.mode));
		goto unlock;
	}
	/* A deleted version's connections that are still open carry its
	 * slot in their socket storage: another version there would be
	 * charged for them. */
	memset(avoid, 0, sizeof(avoid));
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		__s64 open = 0;

		if (!next->cl[s].used && !dp_open_conns(c->dp, s, &open) && open > 0)
			avoid[s / 64] |= 1ull << (s % 64);
	}
	ret = slot = model_add_cluster_avoiding(next, &cs, avoid, err);
	if (slot < 0)
		goto unlock;

	/* Sockets go in before the version appears in the service, so the
	 * moment it takes traffic it has somewhere to send it. */
	clear_socks(c, slot);
	c->vseen[slot] = c->vlast_ok[slot] = false;
	ret = dp_reset_slot(c->dp, slot);
	if (!ret)
		ret = reconcile(c, next, slot);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "cannot place sockets: %s", strerror(-ret));
		goto drop_socks;
	}
	for (uint32_t b = 0; b < next->cl[slot].nbk; b++) {
		if (!backend_live(c, slot, b)) {
			ret = no_listener_error(c, &next->cl[slot], slot, b, err);
			goto drop_socks;
		}
	}
	if (takes_over && cs.mode == CL_INSTANT) {
		rollout_record_instant(next, cs.svc, stable, slot, wall_now());
	} else if (takes_over) {
		struct ro_request req = { .strategy = RO_SESSION,
					  .session_timeout = cs.session_timeout };

		memcpy(req.to, next->cl[slot].id, ID_LEN);
		ret = rollout_start(next, cs.svc, &req, wall_now(), err);
		if (ret)
			goto drop_socks;
	}
	ret = commit(c, next, err);
	if (ret)
		goto drop_socks;
	memcpy(id, next->cl[slot].id, ID_LEN);
	pr_info("added cluster %s: service %s version %s (%s)\n", id,
		next->svc[next->cl[slot].svc].name, next->cl[slot].version,
		mode_name(next->cl[slot].mode));
	goto unlock;

drop_socks:
	clear_socks(c, slot);
unlock:
	pthread_mutex_unlock(&c->lock);
	free(next);
	return ret < 0 ? ret : 0;
}

typedef int (*txn_fn)(struct model *next, uint32_t svc, const void *arg, struct vs_err *err);
typedef void (*txn_after_fn)(struct ctl *c, const void *arg);

/* Run fn on a copy of the model for service `svc` (by name; NULL for
 * none) and commit the copy if fn succeeds; then `after`, if any, still
 * under the lock, so that no other change comes in between. */
static int txn(struct ctl *c, const char *svc, txn_fn fn, txn_after_fn after, const void *arg,
	       struct vs_err *err)
{
	struct model *next = malloc(sizeof(*next));
	int s = 0, ret;

	if (!next)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	if (svc && (s = model_find_service(next, svc)) < 0)
		ret = vs_errf(err, s, 404, "unknown_service", "no service named '%.64s'", svc);
	else
		ret = fn(next, s, arg, err);
	if (!ret)
		ret = commit(c, next, err);
	if (!ret && after)
		after(c, arg);
	pthread_mutex_unlock(&c->lock);
	free(next);
	return ret;
}

struct del_arg {
	const char *id;
	bool force;
	int slot;
};

static int del_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	struct del_arg *d = (struct del_arg *)arg;
	struct rollout *ro;
	int slot;
	(void)svc;

	slot = d->slot = model_find_cluster(next, d->id);
	if (slot < 0)
		return vs_errf(err, slot, 404, "unknown_cluster", "no cluster with id '%.40s'", d->id);
	ro = &next->svc[next->cl[slot].svc].ro;
	if (ro->phase != RO_NONE && (ro->from == (uint32_t)slot || ro->to == (uint32_t)slot)) {
		if (rollout_active(ro))
			return vs_errf(err, -EBUSY, 409, "rollout_in_progress",
				       "cluster %s is part of the rollout in progress; abort it first",
				       d->id);
		ro->phase = RO_NONE;	/* it cannot be rolled back any more */
	}
	return model_del_cluster(next, slot, d->force, err);
}

/* Only once no service points at the slot any more, and before a new
 * cluster can take the slot. */
static void del_after(struct ctl *c, const void *arg)
{
	clear_socks(c, ((const struct del_arg *)arg)->slot);
}

int ctl_del_cluster(struct ctl *c, const char *id, bool force, struct vs_err *err)
{
	struct del_arg d = { .id = id, .force = force };
	int ret = txn(c, NULL, del_fn, del_after, &d, err);

	if (!ret)
		pr_info("deleted cluster %s\n", id);
	return ret;
}

struct weights_arg {
	const char *const *names;
	const uint16_t *bp;
	uint32_t n;
};

static int weights_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct weights_arg *w = arg;

	if (rollout_active(&next->svc[svc].ro))
		return vs_errf(err, -EBUSY, 409, "rollout_in_progress",
			       "service '%s' has a rollout in progress; pause or abort it to set weights by hand",
			       next->svc[svc].name);
	return model_set_weights(next, svc, w->names, w->bp, w->n, err);
}

int ctl_set_weights(struct ctl *c, const char *svc, const char *const *names,
		    const uint16_t *bp, uint32_t n, struct vs_err *err)
{
	struct weights_arg w = { names, bp, n };

	return txn(c, svc, weights_fn, NULL, &w, err);
}

static int start_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	return rollout_start(next, svc, arg, wall_now(), err);
}

int ctl_rollout_start(struct ctl *c, const char *svc, const struct ro_request *req,
		      struct vs_err *err)
{
	/* Every window would be inconclusive, and after maxInconclusive
	 * of them the steps would advance unjudged: say so now instead. */
	if (req->an.on && !dp_watching(c->dp))
		return vs_errf(err, -EOPNOTSUPP, 409, "not_watching",
			       "body.analysis: requests are not measured here (vsteerd runs with --no-watch, or the kernel lacks the hooks: see GET /v1/features), so there is nothing to judge; start the rollout without analysis");
	return txn(c, svc, start_fn, NULL, req, err);
}

struct control_arg {
	enum ro_op op;
	bool full;
};

static int control_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct control_arg *a = arg;

	return rollout_control(next, svc, a->op, a->full, wall_now(), err);
}

int ctl_rollout_control(struct ctl *c, const char *svc, enum ro_op op, bool full,
			struct vs_err *err)
{
	struct control_arg a = { op, full };

	return txn(c, svc, control_fn, NULL, &a, err);
}
