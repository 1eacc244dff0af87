// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "kernel/dp.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "ctl/ctl.h"
#include "ctl/fleet_sync.h"
#include "ctl/ops.h"
#include "ctl/txn.h"

static int no_listener_error(const struct ctl *c, const struct cluster *cl, uint32_t slot,
			     uint32_t v, struct vs_err *err)
{
	int e = c->sock.err[slot][v];
	char a[EP_STRLEN], ns[NETNS_STRLEN];
	uint32_t pid = c->sock.ctr_pid[slot][v];
	struct vs_err why = {};
	int fd;

	ep_format(&cl->srv[v], a, sizeof(a));
	if (model_by_addr(cl)) {
		/* Opened again for the sentence that says why not. */
		fd = c->sock.ns_err[slot][v] ? sock_netns_open(cl, v, &pid, &why) : 0;
		if (fd > 0)
			close(fd);
		if (fd < 0)
			return vs_errf(err, fd, 422,
				       fd == -EADDRNOTAVAIL ? "not_its_address" : "no_netns",
				       "servers[%u]: %s", v, why.msg);
		netns_format(&cl->netns[v], ns, sizeof(ns));
		return vs_errf(
			err, -ENOENT, 422, "no_listener",
			"servers[%u]: no TCP socket listens on %s in %s. Start the backend first",
			v, a, ns);
	}
	if (e)
		return vs_errf(
			err, e, 422, "socket_refused",
			"servers[%u]: a socket listens on %s but the kernel refused it for the sockmap: %s%s",
			v, a, strerror(-e),
			e == -EOPNOTSUPP ?
				". An MPTCP listener (Go 1.24+ listens with MPTCP by default; run the backend with GODEBUG=multipathtcp=0) or a socket with another ULP cannot be steered to" :
				"");
	return vs_errf(
		err, -ENOENT, 422, "no_listener",
		"servers[%u]: no TCP socket listens on %s in vsteerd's network namespace. Start the backend first; a server in another namespace (a container with a network of its own) is named with netns, pid or container",
		v, a);
}

/* A server's address has a socket of an owner it may not have: with no
 * owner given, sockets of two owners (which one is the backend?); with
 * one, none of its sockets. */
static int owner_error(const struct ctl *c, const struct cluster *cl, uint32_t slot, uint32_t v,
		       struct vs_err *err)
{
	char a[EP_STRLEN], o[OWNER_CGROUP_LEN + 32];

	ep_format(&cl->srv[v], a, sizeof(a));
	owner_format(&cl->owner[v], o, sizeof(o));
	if (!cl->rule.set)
		return vs_errf(
			err, -EEXIST, 409, "several_owners",
			"servers[%u]: sockets of more than one owner listen on %s (%s, and uid %u): say whose it is with \"owner\": {\"uid\": N} or {\"cgroup\": \"/...\"}",
			v, a, o, c->sock.refused_uid[slot][v]);
	return vs_errf(
		err, -EPERM, 422, "socket_owner",
		"servers[%u]: the socket listening on %s belongs to uid %u, not to the owner given (%s); it is not steered to",
		v, a, c->sock.refused_uid[slot][v], o);
}

void ctl_avoid_slots(struct ctl *c, const struct model *next, uint64_t avoid[VS_MAX_SLOTS / 64])
{
	/* A deleted version's connections that are still open carry its
	 * slot in their socket storage: another version there would be
	 * charged for them. */
	memset(avoid, 0, VS_MAX_SLOTS / 8);
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		__s64 open = 0;

		if (!next->cl[s].used && !dp_open_conns(c->dp, s, &open) && open > 0)
			avoid[s / 64] |= 1ull << (s % 64);
	}
}

/* A drain deadline needs the request meters, which tell an idle
 * connection from one whose request is being served, and a way to close
 * sockets; without either it would close nothing, or the wrong thing. */
static int check_drain(const struct ctl *c, const char *field, struct vs_err *err)
{
	if (!dp_metering(c->dp))
		return vs_errf(
			err, -EOPNOTSUPP, 409, "not_watching",
			"%s: requests are not measured here (vsteerd runs with --no-watch, or the kernel lacks the hooks: see GET /v1/features), so an idle connection cannot be told from one whose request is being served; leave drainDeadline out",
			field);
	if (dp_drain_how(c->dp) == DP_DRAIN_NONE)
		return vs_errf(
			err, -EOPNOTSUPP, 409, "drain_unsupported",
			"%s: this kernel lets vsteerd close no socket (no bpf_sock_destroy, Linux 6.5, nor netlink SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY: see GET /v1/features); leave drainDeadline out",
			field);
	return 0;
}

/* Where requests are not measured every window would be inconclusive:
 * a rollout that asks for analysis is refused, one that would have it
 * by default is not judged. */
static int watchable(const struct ctl *c, struct analysis_req *an, struct vs_err *err)
{
	if (dp_metering(c->dp))
		return 0;
	if (an->set && an->an.on)
		return vs_errf(
			err, -EOPNOTSUPP, 409, "not_watching",
			"body.analysis: requests are not measured here (vsteerd runs with --no-watch, or the kernel lacks the hooks: see GET /v1/features), so there is nothing to judge; start the rollout without analysis");
	*an = (struct analysis_req){ .set = true };
	return 0;
}

/* The rollout to stable (if any) of service svc of next is about to
 * start: what stable did just before is its baseline. */
static void take_baseline(struct ctl *c, int stable, struct ro_request *req)
{
	if (stable >= 0)
		recent_baseline(&c->recent, c->dp, stable, clock_mono_s(), &req->base);
}

int ctl_add_cluster(struct ctl *c, const char *svc, const struct cluster *spec,
		    const struct analysis_req *an, char id[ID_LEN], struct vs_err *err)
{
	struct ro_request req = { .strategy = RO_SESSION,
				  .session_timeout = spec->session_timeout,
				  .drain = spec->drain_deadline };
	struct model *next = malloc(sizeof(*next));
	uint32_t order[VS_MAX_VERSIONS], n;
	uint64_t avoid[VS_MAX_SLOTS / 64];
	struct cluster cs = *spec;
	int slot, ret, stable;
	bool takes_over;

	if (spec->drain_deadline.on &&
	    (ret = check_drain(c, "body.upgradeTransition.drainDeadline", err))) {
		free(next);
		return ret;
	}
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
	if (takes_over && rollout_settle(next, cs.svc, clock_wall())) {
		ret = vs_errf(
			err, -EBUSY, 409, "rollout_in_progress",
			"service '%s' has a rollout in progress; abort or finish it before a %s cluster takes over",
			next->svc[cs.svc].name, model_mode_name(cs.mode));
		goto unlock;
	}
	if (an->set && !takes_over) {
		ret = vs_errf(
			err, -EINVAL, 409, "no_takeover",
			"body.analysis: %s takes no traffic when registered (%s), so there is no rollout to judge",
			cs.version,
			n ? "an instant cluster takes over only when it is the newest version" :
			    "the first cluster of a service is not a rollout");
		goto unlock;
	}
	req.an = *an;
	ret = watchable(c, &req.an, err);
	if (ret)
		goto unlock;
	ctl_avoid_slots(c, next, avoid);
	ret = slot = model_add_cluster(next, &cs, avoid, err);
	if (slot < 0)
		goto unlock;
	model_event(next, clock_wall(), next->svc[cs.svc].name, "cluster_added",
		    "version %s added as cluster %s (%s, %u server%s)", next->cl[slot].version,
		    next->cl[slot].id, model_mode_name(cs.mode), next->cl[slot].nsrv,
		    next->cl[slot].nsrv == 1 ? "" : "s");

	/* Sockets go in before the version appears in the service, so the
	 * moment it takes traffic it has somewhere to send it. */
	ctl_clear_slot(c, slot);
	ret = dp_reset_slot(c->dp, slot);
	if (!ret)
		ret = sock_reconcile(&c->sock, c->dp, next, slot);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "cannot place sockets: %s", strerror(-ret));
		goto drop_socks;
	}
	for (uint32_t v = 0; v < next->cl[slot].nsrv; v++) {
		if (c->sock.refused_new[slot][v] &&
		    (!next->cl[slot].rule.set || !sock_live(&c->sock, slot, v))) {
			ret = owner_error(c, &next->cl[slot], slot, v, err);
			goto drop_socks;
		}
		if (!sock_live(&c->sock, slot, v)) {
			ret = no_listener_error(c, &next->cl[slot], slot, v, err);
			goto drop_socks;
		}
	}
	/* A kill before the next tick is a change, not the first look. */
	sock_baseline(&c->sock, slot, next->cl[slot].nsrv);
	if (takes_over)
		take_baseline(c, stable, &req);
	if (takes_over && cs.mode == CL_INSTANT) {
		rollout_record_instant(next, cs.svc, stable, slot, &req, clock_wall());
	} else if (takes_over) {
		memcpy(req.to, next->cl[slot].id, ID_LEN);
		ret = rollout_start(next, cs.svc, &req, clock_wall(), err);
		if (ret)
			goto drop_socks;
	}
	ret = txn_commit(c, next, err);
	if (ret)
		goto drop_socks;
	memcpy(id, next->cl[slot].id, ID_LEN);
	goto unlock;

drop_socks:
	sock_clear(&c->sock, c->dp, slot);
unlock:
	pthread_mutex_unlock(&c->lock);
	free(next);
	return ret < 0 ? ret : 0;
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
		return vs_errf(err, slot, 404, "unknown_cluster", "no cluster with id '%.40s'",
			       d->id);
	ro = &next->svc[next->cl[slot].svc].ro;
	if (ro->phase != RO_NONE && (ro->from == (uint32_t)slot || ro->to == (uint32_t)slot)) {
		if (rollout_settle(next, next->cl[slot].svc, clock_wall()))
			return vs_errf(
				err, -EBUSY, 409, "rollout_in_progress",
				"cluster %s is part of the rollout in progress; abort it first",
				d->id);
		ro->phase = RO_NONE; /* it cannot be rolled back any more */
	}
	model_event(next, clock_wall(), next->svc[next->cl[slot].svc].name, "cluster_deleted",
		    "version %s deleted (cluster %s)%s", next->cl[slot].version, d->id,
		    d->force ? ", forced" : "");
	return model_del_cluster(next, slot, d->force, err);
}

/* Only once no service points at the slot any more, and before a new
 * cluster can take the slot. */
static void del_after(struct ctl *c, const void *arg)
{
	uint32_t slot = ((const struct del_arg *)arg)->slot;

	ctl_clear_slot(c, slot);
}

int ctl_del_cluster(struct ctl *c, const char *id, bool force, struct vs_err *err)
{
	struct del_arg d = { .id = id, .force = force };

	return txn_run(c, NULL, del_fn, del_after, &d, err);
}

struct weights_arg {
	const char *const *names;
	const uint16_t *bp;
	uint32_t n;
	const struct ctl_fleet_weights *fleet; /* NULL: made here */
};

static int weights_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct weights_arg *w = arg;
	char text[EVENT_MESSAGE_LEN - 16];
	int ret;

	if (rollout_settle(next, svc, clock_wall()))
		return vs_errf(
			err, -EBUSY, 409, "rollout_in_progress",
			"service '%s' has a rollout in progress (paused or not); abort it, or let it finish, to set weights by hand",
			next->svc[svc].name);
	ret = model_set_weights(next, svc, w->names, w->bp, w->n, err);
	if (ret)
		return ret;
	if (w->fleet && w->fleet->has_salt)
		next->svc[svc].salt = w->fleet->salt;
	model_format_weights(next, svc, text, sizeof(text));
	model_event(next, clock_wall(), next->svc[svc].name, "weights_set", "weights set: %s%s%s%s",
		    text, w->fleet && w->fleet->by[0] ? " (in the fleet, by host " : "",
		    w->fleet ? w->fleet->by : "", w->fleet && w->fleet->by[0] ? ")" : "");
	return 0;
}

int ctl_check_weights(struct ctl *c, const char *svc, const char *const *names, const uint16_t *bp,
		      uint32_t n, struct vs_err *err)
{
	struct weights_arg w = { names, bp, n, NULL };
	struct model *next = malloc(sizeof(*next));
	int ret, id;

	if (!next)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	pthread_mutex_lock(&c->lock);
	memcpy(next, c->m, sizeof(*next));
	pthread_mutex_unlock(&c->lock);
	id = model_find_service(next, svc);
	ret = id < 0 ? vs_errf(err, -ENOENT, 404, "unknown_service", "no service named '%.64s'",
			       svc) :
		       weights_fn(next, (uint32_t)id, &w, err);
	free(next);
	return ret;
}

int ctl_set_weights(struct ctl *c, const char *svc, const char *const *names, const uint16_t *bp,
		    uint32_t n, const struct ctl_fleet_weights *fleet, struct vs_err *err)
{
	struct weights_arg w = { names, bp, n, fleet };

	return txn_run(c, svc, weights_fn, NULL, &w, err);
}

struct start_arg {
	struct ctl *c;
	struct ro_request req;
};

/* After a rollout started or changed: a mirror's sampling as it says. */
static void sync_mirror(struct ctl *c, const void *arg)
{
	(void)arg;
	mirror_sync(c);
}

static int start_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	struct start_arg *a = (struct start_arg *)arg;

	if (a->c->fleet.client && (a->req.strategy == RO_MIRROR || a->req.then))
		return vs_errf(
			err, -EOPNOTSUPP, 409, "not_in_fleet",
			"the mirror strategy compares on one host: a host in a fleet does not run it yet (docs/fleet.md)");
	if (a->req.strategy == RO_MIRROR && !a->c->mirror.running)
		return vs_errf(
			err, -EOPNOTSUPP, 409, "not_watching",
			"the mirror strategy needs the kernel's capture, which runs while requests are watched (not with --no-watch): see GET /v1/features");
	if (a->req.strategy == RO_MIRROR && !next->svc[svc].http)
		return vs_errf(
			err, -EINVAL, 409, "not_http",
			"the mirror strategy replays and compares HTTP/1.x requests: service '%s' has protocol tcp",
			next->svc[svc].name);
	take_baseline(a->c, model_stable(next, svc), &a->req);
	return rollout_start(next, svc, &a->req, clock_wall(), err);
}

int ctl_rollout_start(struct ctl *c, const char *svc, const struct ro_request *req,
		      struct vs_err *err)
{
	struct start_arg *a;
	int ret;

	if (req->drain.on && (ret = check_drain(c, "body.drainDeadline", err)))
		return ret;
	if (req->then && req->then->drain.on &&
	    (ret = check_drain(c, "body.then.drainDeadline", err)))
		return ret;
	a = malloc(sizeof(*a));
	if (!a)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	a->c = c;
	a->req = *req;
	ret = watchable(c, &a->req.an, err);
	/* In a fleet, through etcd: every host applies it, this one too. */
	if (!ret && c->fleet.client)
		ret = fleet_sync_change(c, svc, start_fn, a, 0, err);
	else if (!ret)
		ret = txn_run(c, svc, start_fn, sync_mirror, a, err);
	free(a);
	return ret;
}

struct control_arg {
	struct ctl *c;
	enum ro_op op;
	bool full;
};

static int control_fn(struct model *next, uint32_t svc, const void *arg, struct vs_err *err)
{
	const struct control_arg *a = arg;

	/* A promote ends a mirror: on everything compared until now. */
	if (a->op == RO_OP_PROMOTE)
		mirror_refresh(a->c, next, svc);
	return rollout_control(next, svc, a->op, a->full, clock_wall(), err);
}

int ctl_rollout_control(struct ctl *c, const char *svc, enum ro_op op, bool full,
			struct vs_err *err)
{
	struct control_arg a = { c, op, full };

	if (c->fleet.client)
		return fleet_sync_change(c, svc, control_fn, &a, 0, err);
	return txn_run(c, svc, control_fn, sync_mirror, &a, err);
}
