// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "core/rollout.h"
#include "codec/config.h"
#include "codec/state.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_tc.h"
#include "ctl/ctl.h"
#include "ctl/txn.h"

/* Would l take connections that service address a now takes? sock_serves()
 * says for an address; a wildcard service also takes the connections of
 * every socket of its family on its port. */
static bool takes(const struct vs_listener *l, const struct vs_endpoint *a)
{
	if (l->port != a->port)
		return false;
	return sock_serves(l, a) || (ep_addr_is_any(a) && l->family == a->family);
}

static bool own_server(const struct model *m, uint32_t s, const struct vs_listener *l)
{
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++)
		for (uint32_t v = 0; m->cl[sl].used && m->cl[sl].svc == s && v < m->cl[sl].nsrv;
		     v++)
			if (sock_serves(l, &m->cl[sl].srv[v]))
				return true;
	return false;
}

static const struct config_svc *config_entry(const struct config *cfg, const struct service *svc)
{
	for (uint32_t i = 0; cfg && i < cfg->nsvc; i++)
		if (!strcmp(cfg->svc[i].name, svc->name))
			return &cfg->svc[i];
	return NULL;
}

static int refuse_taken(const struct service *svc, const struct config_svc *cs,
			const struct vs_listener *l, struct vs_err *err)
{
	struct vs_endpoint ep = { .family = l->family, .port = l->port };
	char a[EP_STRLEN], b[EP_STRLEN], how[96];

	memcpy(ep.addr, l->addr, sizeof(ep.addr));
	ep_format(&svc->addr, a, sizeof(a));
	ep_format(&ep, b, sizeof(b));
	if (cs && !strcmp(cs->where, "body"))
		snprintf(how, sizeof(how),
			 "give \"takeover\": true in the request (body.takeover)");
	else if (cs)
		snprintf(how, sizeof(how), "set \"takeover\": true in the config (%s.takeover)",
			 cs->where);
	else
		snprintf(how, sizeof(how), "give the service \"takeover\": true in the config");
	return vs_errf(
		err, -EADDRINUSE, 409, "address_in_use",
		"service %s: another process listens on %s in this network namespace, and steering %s would take its new connections. Stop it, or %s to take them on purpose",
		svc->name, b, a, how);
}

int ctl_check_addresses(struct dataplane *dp, const struct model *m, const struct config *cfg,
			struct vs_err *err)
{
	struct vs_listener *ls = NULL;
	const struct config_svc *cs;
	struct vs_svc_key k;
	struct vs_svc v;
	size_t nl = 0;
	int ret;

	ret = dp_list_listeners(dp, &ls, &nl);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot list listening sockets: %s",
			       strerror(-ret));
	for (uint32_t s = 0; !ret && s < VS_MAX_SERVICES; s++) {
		const struct service *svc = &m->svc[s];

		if (!svc->used)
			continue;
		/* Steered already: taken when it was first steered. */
		model_svc_key(m, s, &k);
		if (dp_get_svc(dp, &k, &v) == 0)
			continue;
		cs = config_entry(cfg, svc);
		if (cs && cs->takeover && ep_equal(&cs->addr, &svc->addr))
			continue;
		for (size_t i = 0; !ret && i < nl; i++)
			if (takes(&ls[i], &svc->addr) && !own_server(m, s, &ls[i]))
				ret = refuse_taken(svc, cs, &ls[i], err);
	}
	free(ls);
	return ret;
}

void ctl_clear_slot(struct ctl *c, uint32_t slot)
{
	sock_clear(&c->sock, c->dp, slot);
	health_forget(&c->health, slot);
	recent_forget(&c->recent, slot);
	drainer_forget(&c->drain, slot);
}

/* What ctl_open() prepared and ctl_start() writes, with what the pinned
 * maps held before, to put back if the start fails. */
struct ctl_pending {
	struct model next;
	struct file_staged sf;
	bool staged;
	bool placed; /* sockets reconciled: strays can be told apart */
	struct {
		bool used, existed;
		struct vs_svc_key k;
		struct vs_svc v;
		struct vs_svc_opts o;
	} svc[VS_MAX_SERVICES];
	struct vs_ports ports;
	__u64 cookie[VS_MAX_SLOTS][VS_MAX_SOCKS]; /* the sockmap before sockets were placed */
};

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

/* "2.0 100.00%, 1.0 0.00%": a service's versions as the pinned maps
 * have them, named as next names their slots. */
static void format_pinned(const struct model *next, uint32_t s, const struct vs_svc *v, char *buf,
			  size_t size)
{
	size_t len = 0;
	uint32_t prev = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < v->nver && i < VS_MAX_VERSIONS && len < size; i++) {
		uint32_t sl = v->ver[i].slot, w = v->ver[i].upto - prev;

		prev = v->ver[i].upto;
		if (sl < VS_MAX_SLOTS && next->cl[sl].used && next->cl[sl].svc == s)
			len += snprintf(buf + len, size - len, "%s%s %u.%02u%%", i ? ", " : "",
					next->cl[sl].version, w / 100, w % 100);
		else
			len += snprintf(buf + len, size - len, "%sslot %u %u.%02u%%", i ? ", " : "",
					sl, w / 100, w % 100);
	}
}

/* A start that steers a service otherwise than its pinned maps did (a
 * lost or older state file: the config's weights) moves clients: say so. */
static void note_replaced(struct ctl *c, struct model *next, uint32_t s, const struct vs_svc *v)
{
	char was[160], now[160];
	struct vs_svc w;
	bool same;

	model_svc_value(next, s, c->sock.nsock, &w);
	same = w.nver == v->nver;
	for (uint32_t i = 0; same && i < w.nver && i < VS_MAX_VERSIONS; i++)
		same = w.ver[i].slot == v->ver[i].slot && w.ver[i].upto == v->ver[i].upto;
	if (same)
		return;
	format_pinned(next, s, v, was, sizeof(was));
	model_format_weights(next, s, now, sizeof(now));
	model_event(
		next, clock_wall(), next->svc[s].name, "steering_replaced",
		"the pinned maps steered %s; the state vsteerd starts from says %s: clients may change version",
		was[0] ? was : "no version", now[0] ? now : "no version");
}

/* Adopting pinned maps: keep each version's socket slot count as the
 * data plane has it, so no client's backend hash changes; and the salt
 * each service hashes with, so every client keeps its bucket even when
 * the state file was lost. */
static void adopt_services(struct ctl *c, struct model *next)
{
	struct vs_svc_key k;
	struct vs_svc v;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!next->svc[s].used)
			continue;
		model_svc_key(next, s, &k);
		if (dp_get_svc(c->dp, &k, &v))
			continue;
		next->svc[s].salt = v.salt;
		for (uint32_t i = 0; i < v.nver && i < VS_MAX_VERSIONS; i++)
			if (v.ver[i].slot < VS_MAX_SLOTS && next->cl[v.ver[i].slot].used &&
			    next->cl[v.ver[i].slot].svc == s)
				c->sock.nsock[v.ver[i].slot] = v.ver[i].nsock;
		note_replaced(c, next, s, &v);
	}
}

/* Take over the sockets the sockmap holds, place those missing, and say
 * which servers have none yet. Only adds to the sockmap: what it holds
 * that no cluster serves goes once the start is committed (drop_leftovers). */
static void adopt_sockets(struct ctl *c, struct ctl_pending *p)
{
	struct sock_state *ss = &c->sock;
	struct model *next = &p->next;
	char a[EP_STRLEN], ns[NETNS_STRLEN];

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		if (!next->cl[s].used)
			continue;
		sock_refresh(ss, c->dp, s, VS_MAX_SOCKS);
		for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
			if (ss->cookie[s][i] && i + 1 > ss->nsock[s])
				ss->nsock[s] = i + 1;
	}
	memcpy(p->cookie, ss->cookie, sizeof(p->cookie));
	p->placed = sock_reconcile(ss, c->dp, next, -1) == 0;
	ss->last_scan = clock_mono_s();
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		if (next->cl[s].used)
			sock_baseline(ss, s, next->cl[s].nsrv);
		for (uint32_t v = 0; next->cl[s].used && v < next->cl[s].nsrv; v++) {
			if (sock_live(ss, s, v))
				continue;
			ep_format(&next->cl[s].srv[v], a, sizeof(a));
			netns_format(&next->cl[s].netns[v], ns, sizeof(ns));
			if (ns[0])
				pr_warn("version %s: nothing listens on %s in %s yet; it is steered to once it does\n",
					next->cl[s].version, a, ns);
			else
				pr_warn("version %s: nothing listens on %s in vsteerd's network namespace yet; it is steered to once it does (a server in another namespace is named with netns, pid or container)\n",
					next->cl[s].version, a);
		}
	}
}

/* Sockets of slots no cluster has (a deleted cluster's), sockets no server
 * of their cluster has (a lost state file's), services nobody knows. */
static void drop_leftovers(struct ctl *c, struct ctl_pending *p)
{
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		if (!p->next.cl[s].used)
			sock_clear(&c->sock, c->dp, s);
	if (p->placed)
		sock_drop_strays(&c->sock, c->dp, &p->next);
	drop_unknown_services(c, &p->next);
}

/* What the maps ctl_start() writes hold now. */
static int save_maps(struct ctl *c, struct ctl_pending *p)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!p->next.svc[s].used)
			continue;
		p->svc[s].used = true;
		model_svc_key(&p->next, s, &p->svc[s].k);
		p->svc[s].existed = !dp_get_svc(c->dp, &p->svc[s].k, &p->svc[s].v);
		if (dp_get_opts(c->dp, s, &p->svc[s].o))
			return -EIO;
	}
	return dp_get_ports(c->dp, &p->ports);
}

/* A start that failed after it wrote the maps: what they held goes back
 * (written only where it differs), and the sockets it placed come out. */
static void put_back_maps(struct ctl *c, struct ctl_pending *p)
{
	struct vs_svc_opts o;
	struct vs_ports ports;
	struct vs_svc v;
	int ret = 0;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		for (uint32_t i = 0; p->next.cl[s].used && i < VS_MAX_SOCKS; i++)
			if (!p->cookie[s][i] && c->sock.cookie[s][i])
				ret = dp_sock_del(c->dp, s * VS_MAX_SOCKS + i) ?: ret;
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!p->svc[s].used)
			continue;
		if (!p->svc[s].existed)
			ret = dp_del_svc(c->dp, &p->svc[s].k) ?: ret;
		else if (dp_get_svc(c->dp, &p->svc[s].k, &v) || memcmp(&v, &p->svc[s].v, sizeof(v)))
			ret = dp_set_svc(c->dp, &p->svc[s].k, &p->svc[s].v) ?: ret;
		if (dp_get_opts(c->dp, s, &o) || memcmp(&o, &p->svc[s].o, sizeof(o)))
			ret = dp_set_opts(c->dp, s, &p->svc[s].o) ?: ret;
	}
	if (dp_get_ports(c->dp, &ports) || memcmp(&ports, &p->ports, sizeof(ports)))
		ret = dp_set_ports(c->dp, &p->ports) ?: ret;
	if (ret)
		pr_warn("undoing the failed start's map writes: %s\n", strerror(-ret));
}

int ctl_open(struct ctl **out, struct dataplane *dp, const struct model *m, const char *state_path,
	     struct vs_err *err)
{
	struct ctl_pending *p;
	struct ctl *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	notifier_init(&c->notify);
	mirror_init(&c->mirror);
	pthread_mutex_init(&c->fleet.lock, NULL);
	pthread_mutex_init(&c->fleet.apply_lock, NULL);
	c->m = calloc(1, sizeof(*c->m));
	c->pending = calloc(1, sizeof(*c->pending));
	if (!c->m || !c->pending) {
		ret = vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
		goto free_all;
	}
	c->dp = dp;
	c->state_path = state_path;
	publish_init(&c->publish, m);
	p = c->pending;
	memcpy(&p->next, m, sizeof(p->next));
	adopt_services(c, &p->next);
	/* Catch up with rollout steps whose hold ended while no vsteerd
	 * ran, before the API shows anything. */
	rollout_tick(&p->next, clock_wall());
	/* The state is complete here, and nothing in the kernel has changed
	 * yet: a state file that cannot be written stops us now. */
	if (state_path && (ret = state_stage(&p->next, state_path, &p->sf, err)))
		goto free_all;
	p->staged = state_path != NULL;
	*out = c;
	return 0;

free_all:
	ctl_close(c);
	return ret;
}

void ctl_commit(struct ctl *c)
{
	pthread_mutex_lock(&c->lock);
	dp_commit(c->dp);
	pthread_mutex_unlock(&c->lock);
}

/* A rollout of the fleet in the state file of a vsteerd that runs without
 * one now: nobody would drive it; this host does, alone. c->lock held. */
static void local_rollouts(struct ctl *c)
{
	struct model *next;
	struct vs_err err = {};
	bool any = false;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		any |= c->m->svc[s].used && c->m->svc[s].ro.fleet;
	if (c->fleet.client || !any || !(next = malloc(sizeof(*next))))
		return;
	memcpy(next, c->m, sizeof(*next));
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!next->svc[s].used || !next->svc[s].ro.fleet)
			continue;
		next->svc[s].ro.fleet = false;
		if (rollout_active(&next->svc[s].ro))
			model_event(
				next, clock_wall(), next->svc[s].name, "fleet_rollout_local",
				"the fleet's rollout goes on here alone: vsteerd runs without --etcd");
	}
	if (txn_commit(c, next, &err))
		pr_warn("the fleet's rollouts are not taken over here: %s\n", err.msg);
	free(next);
}

int ctl_start(struct ctl *c, struct vs_err *err)
{
	struct ctl_pending *p = c->pending;
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = save_maps(c, p);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "cannot read the pinned maps: %s", strerror(-ret));
		goto unlock;
	}
	/* Known to the scan, which puts the TC meter in servers' namespaces. */
	dp_tc_want(c->dp, model_has_http(&p->next));
	adopt_sockets(c, p);
	/* Not txn_commit(): its undo would write the empty model over
	 * steering that works. */
	ret = txn_write_maps(c, &p->next, &p->next);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "map update failed: %s", strerror(-ret));
		if (p->staged)
			state_abort(&p->sf);
	} else if (p->staged) {
		ret = state_commit(&p->sf, err); /* which removes it if it fails */
	}
	p->staged = false;
	if (ret) {
		put_back_maps(c, p);
		goto unlock;
	}
	memcpy(c->m, &p->next, sizeof(*c->m));
	drop_leftovers(c, p);
	/* Temp files of a vsteerd killed before its rename. None is still
	 * being written: one vsteerd runs per pin directory (the flock
	 * dp_open() took), and two pin directories sharing a state file
	 * would overwrite each other's state anyway. */
	if (c->state_path && (ret = file_remove_stale(c->state_path)) > 0)
		pr_info("removed %d temporary state file%s that a stopped vsteerd left next to %s\n",
			ret, ret > 1 ? "s" : "", c->state_path);
	publish_events(c); /* the events the start itself made */
	ret = 0;
	/* Owners recorded from the sockets found (after the state file was
	 * staged): into the file now; if that fails, the tick retries. */
	if (c->sock.learned && txn_commit(c, &p->next, err))
		pr_warn("recording servers' owners in the state file, retrying: %s\n", err->msg);
	local_rollouts(c);
	free(p);
	c->pending = NULL;
unlock:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int ctl_threads_start(struct ctl *c, const struct notify_list *notify, const char *version,
		      struct vs_err *err)
{
	int ret = health_start(c);

	c->version = version;
	if (ret)
		return vs_errf(err, ret, 500, "internal", "cannot start the health checker: %s",
			       strerror(-ret));
	ret = notifier_start(c, notify, version);
	if (ret) {
		health_stop(c);
		return vs_errf(err, ret, 500, "internal", "cannot start the notifier: %s",
			       strerror(-ret));
	}
	/* Without the capture (--no-watch) mirror rollouts are refused. */
	ret = mirror_start(c);
	if (ret && ret != -EOPNOTSUPP)
		pr_warn("mirror rollouts cannot run: %s\n", strerror(-ret));
	return 0;
}

void ctl_threads_stop(struct ctl *c)
{
	fleet_stop(c);	/* first: it takes snapshots and makes events */
	health_stop(c); /* first: its results are events for the notifier */
	mirror_stop(c);
	notifier_stop(c);
}

void ctl_close(struct ctl *c)
{
	if (!c)
		return;
	if (c->pending && c->pending->staged)
		state_abort(&c->pending->sf);
	notifier_release(&c->notify);
	pthread_mutex_destroy(&c->notify.lock);
	mirror_fini(&c->mirror);
	fleet_close(&c->fleet);
	pthread_mutex_destroy(&c->fleet.lock);
	pthread_mutex_destroy(&c->fleet.apply_lock);
	recent_free(&c->recent);
	pthread_mutex_destroy(&c->lock);
	free(c->pending);
	free(c->m);
	free(c);
}
