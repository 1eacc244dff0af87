// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/log.h"
#include "kernel/dp_cgroup.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_tc.h"
#include "ctl/nsfd.h"
#include "ctl/sock.h"

bool sock_serves(const struct vs_listener *l, const struct vs_endpoint *srv)
{
	bool any = !(l->addr[0] | l->addr[1] | l->addr[2] | l->addr[3]);

	if (l->port != srv->port)
		return false;
	if (l->family == srv->family)
		return any || !memcmp(l->addr, srv->addr, sizeof(l->addr));
	/* A dual-stack [::] socket (Go's default) takes IPv4 too, and
	 * bpf_sk_assign() accepts it for an IPv4 connection. */
	return srv->family == AF_INET && l->family == AF_INET6 && any && !l->v6only;
}

void sock_forget(struct sock_state *s, uint32_t slot)
{
	s->nsock[slot] = 0;
	s->out[slot] = 0;
	memset(s->cookie[slot], 0, sizeof(s->cookie[slot]));
	memset(s->serves[slot], 0, sizeof(s->serves[slot]));
	memset(s->backlog[slot], 0, sizeof(s->backlog[slot]));
	memset(s->err[slot], 0, sizeof(s->err[slot]));
	memset(s->refused[slot], 0, sizeof(s->refused[slot]));
	memset(s->refused_cookie[slot], 0, sizeof(s->refused_cookie[slot]));
	memset(s->refused_new[slot], 0, sizeof(s->refused_new[slot]));
	s->reported[slot] = 0;
	s->reported_set[slot] = false;
	s->ever_live[slot] = 0;
	memset(s->ctr_pid[slot], 0, sizeof(s->ctr_pid[slot]));
	memset(s->ns_err[slot], 0, sizeof(s->ns_err[slot]));
	memset(s->ns_said[slot], 0, sizeof(s->ns_said[slot]));
}

void sock_clear(struct sock_state *s, struct dataplane *dp, uint32_t slot)
{
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
		dp_sock_del(dp, slot * VS_MAX_SOCKS + i);
	sock_forget(s, slot);
}

void sock_read(struct dataplane *dp, uint32_t slot, uint32_t n, __u64 now[VS_MAX_SOCKS])
{
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
		if (i >= n || dp_sock_cookie(dp, slot * VS_MAX_SOCKS + i, &now[i]))
			now[i] = 0;
}

unsigned sock_lstate_moved(struct sock_state *s, struct dataplane *dp)
{
	__u64 n[VS_LSTATE_N];
	unsigned moved = 0;

	if (dp_lstate(dp, n))
		return (1U << VS_LSTATE_N) - 1;
	for (uint32_t i = 0; i < VS_LSTATE_N; i++) {
		bool m = n[i] != s->lstate[i];

		if (m || s->lstate_moved[i])
			moved |= 1U << i;
		s->lstate_moved[i] = m;
		s->lstate[i] = n[i];
	}
	return moved;
}

/* Returns true if a socket appeared that we did not put there (after a
 * restart: all of them). */
bool sock_refresh(struct sock_state *s, struct dataplane *dp, uint32_t slot, uint32_t n)
{
	__u64 now[VS_MAX_SOCKS];
	bool unknown = false;

	sock_read(dp, slot, n, now);
	for (uint32_t i = 0; i < n && i < VS_MAX_SOCKS; i++) {
		if (now[i] != s->cookie[slot][i]) {
			s->cookie[slot][i] = now[i];
			s->serves[slot][i] = 0;
		}
		if (now[i] && !s->serves[slot][i])
			unknown = true;
	}
	return unknown;
}

uint32_t sock_live_now(const struct sock_state *s, uint32_t slot, uint32_t srv,
		       const __u64 now[VS_MAX_SOCKS])
{
	uint32_t n = 0;

	/* A socket whose cookie changed since the last refresh is not
	 * attributed yet: not counted, as sock_refresh() would have it. */
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
		n += now[i] && now[i] == s->cookie[slot][i] && (s->serves[slot][i] & (1U << srv));
	return n;
}

uint32_t sock_live(const struct sock_state *s, uint32_t slot, uint32_t srv)
{
	return sock_live_now(s, slot, srv, s->cookie[slot]);
}

uint16_t sock_live_mask(const struct sock_state *s, uint32_t slot, uint32_t nsrv)
{
	uint16_t live = 0;

	for (uint32_t v = 0; v < nsrv; v++)
		if (sock_live(s, slot, v))
			live |= 1U << v;
	return live;
}

void sock_baseline(struct sock_state *s, uint32_t slot, uint32_t nsrv)
{
	s->reported[slot] = sock_live_mask(s, slot, nsrv);
	s->reported_set[slot] = true;
	s->ever_live[slot] |= s->reported[slot];
}

struct picks {
	__u64 cookie[VS_PICK_MAX];
	__u32 idx[VS_PICK_MAX];
	int err[VS_PICK_MAX];
	uint32_t slot[VS_PICK_MAX];
	uint32_t srv[VS_PICK_MAX];
	size_t n;
};

/* nsfd: the namespace the sockets are in (-1: vsteerd's). */
static void insert_picks(struct sock_state *s, struct dataplane *dp, int nsfd, struct picks *p)
{
	int ret;

	if (!p->n)
		return;
	ret = dp_insert_in(dp, nsfd, p->cookie, p->idx, p->err, p->n);
	if (ret < 0)
		pr_warn("inserting %zu sockets failed: %s\n", p->n, strerror(-ret));
	for (size_t i = 0; i < p->n; i++) {
		uint32_t sl = p->slot[i], j = p->idx[i] % VS_MAX_SOCKS;
		int *last = &s->err[sl][p->srv[i]];

		if (p->err[i]) {
			/* Once per server and error, not every tick. */
			if (p->err[i] != -ENOENT && p->err[i] != *last)
				pr_warn("socket %llu into slot %u: %s\n",
					(unsigned long long)p->cookie[i], p->idx[i],
					strerror(-p->err[i]));
			if (p->err[i] != -ENOENT)
				*last = p->err[i];
			s->cookie[sl][j] = 0;
			s->serves[sl][j] = 0;
			continue;
		}
		*last = 0;
		if (j + 1 > s->nsock[sl])
			s->nsock[sl] = j + 1;
		pr_debug("socket %llu now at slot %u\n", (unsigned long long)p->cookie[i],
			 p->idx[i]);
	}
	p->n = 0;
}

static int by_port(const void *a, const void *b)
{
	const struct vs_listener *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

/* Index of the first listener on port in ls sorted by port (nl if none):
 * a host may have thousands of listeners and a scan runs every tick. */
static size_t first_on_port(const struct vs_listener *ls, size_t nl, uint16_t port)
{
	size_t lo = 0, hi = nl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ls[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Attribute the sockets a cluster already has to its servers, and plan
 * an insert for every listening socket of theirs it does not have yet. */
/* Whether listener l may serve server v of cl: it belongs to the
 * server's owner, who is recorded from it if not known yet. A refusal is
 * counted, and is news once per socket. */
static bool owner_accepts(struct sock_state *s, struct dataplane *dp, struct cluster *cl,
			  uint32_t slot, uint32_t v, const struct vs_listener *l)
{
	char path[OWNER_CGROUP_LEN];

	/* Not found (no cgroup2 mount, or a cgroup just removed): unknown,
	 * which only an owner that names no cgroup, or "/", allows. */
	if (!l->cgroup || dp_cgroup_path(dp, l->cgroup, path, sizeof(path)))
		path[0] = '\0';
	if (!cl->owner[v].set) {
		owner_of(&cl->owner[v], l->uid, path);
		s->learned = true;
		return true;
	}
	if (owner_allows(&cl->owner[v], l->uid, path))
		return true;
	if (s->refused_cookie[slot][v] != l->cookie) {
		s->refused_cookie[slot][v] = l->cookie;
		s->refused_uid[slot][v] = l->uid;
		s->refused_cgroup[slot][v] = l->cgroup;
		s->refused[slot][v]++;
		s->refused_new[slot][v] = true;
	}
	return false;
}

/* Where a connection steered by address to sockmap index idx goes: the
 * address of the server whose socket is there. Written before the socket
 * goes in, so the connect hook never finds a live socket without it. */
static int set_back(struct dataplane *dp, uint32_t idx, const struct vs_endpoint *srv)
{
	struct vs_addr b = { .port = srv->port, .family = srv->family };

	memcpy(b.addr, srv->addr, sizeof(b.addr));
	return dp_set_back(dp, idx, &b);
}

/* Plan the servers in mask `only` of cluster cl (nsfd: the namespace
 * whose listeners ls are; -1: vsteerd's). */
static void plan_cluster(struct sock_state *s, struct dataplane *dp, struct cluster *cl,
			 uint32_t slot, uint16_t only, int nsfd, const struct vs_listener *ls,
			 size_t nl, struct picks *p)
{
	char a[EP_STRLEN];

	for (uint32_t v = 0; v < cl->nsrv; v++) {
		if (!(only & (1U << v)) || (s->out[slot] & (1U << v)))
			continue; /* failing its health checks: kept out */
		s->backlog[slot][v] = 0;
		for (size_t k = first_on_port(ls, nl, cl->srv[v].port);
		     k < nl && ls[k].port == cl->srv[v].port; k++) {
			uint32_t i, free_i = VS_MAX_SOCKS;

			if (!sock_serves(&ls[k], &cl->srv[v]) ||
			    !owner_accepts(s, dp, cl, slot, v, &ls[k]))
				continue;
			s->backlog[slot][v] += ls[k].backlog;
			for (i = 0; i < VS_MAX_SOCKS; i++) {
				if (s->cookie[slot][i] == ls[k].cookie)
					break;
				if (!s->cookie[slot][i] && free_i == VS_MAX_SOCKS)
					free_i = i;
			}
			if (i < VS_MAX_SOCKS) {
				s->serves[slot][i] |= 1U << v;
				continue;
			}
			if (free_i == VS_MAX_SOCKS) {
				/* Once per server, not every tick. */
				if (s->err[slot][v] != -ENOSPC) {
					ep_format(&cl->srv[v], a, sizeof(a));
					pr_warn("cluster %s: no room for another socket of %s (at most %d per version)\n",
						cl->id, a, VS_MAX_SOCKS);
					s->err[slot][v] = -ENOSPC;
				}
				continue;
			}
			/* One iterator run inserts at most VS_PICK_MAX. */
			if (p->n == VS_PICK_MAX)
				insert_picks(s, dp, nsfd, p);
			if (model_by_addr(cl) &&
			    set_back(dp, slot * VS_MAX_SOCKS + free_i, &cl->srv[v]))
				continue;
			s->cookie[slot][free_i] = ls[k].cookie;
			s->serves[slot][free_i] = 1U << v;
			p->cookie[p->n] = ls[k].cookie;
			p->idx[p->n] = slot * VS_MAX_SOCKS + free_i;
			p->slot[p->n] = slot;
			p->srv[p->n] = v;
			p->n++;
		}
	}
}

/* Server v's sockets leave the sockmap (its address is gone). */
static void drop_server(struct sock_state *s, struct dataplane *dp, uint32_t slot, uint32_t v)
{
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++) {
		if (!s->cookie[slot][i] || !(s->serves[slot][i] & (1U << v)))
			continue;
		s->serves[slot][i] &= ~(1U << v);
		/* A socket that also serves another server stays. */
		if (s->serves[slot][i])
			continue;
		dp_sock_del(dp, slot * VS_MAX_SOCKS + i);
		s->cookie[slot][i] = 0;
	}
}

int sock_netns_open(const struct cluster *cl, uint32_t v, uint32_t *pid, struct vs_err *err)
{
	char what[NETNS_STRLEN];
	int fd, ret;

	fd = nsfd_open(&cl->netns[v], pid, err);
	if (fd < 0)
		return fd;
	/* A listener on the wildcard would pass for any address: a
	 * container restarted with another one, a server named with
	 * another container's. */
	netns_format(&cl->netns[v], what, sizeof(what));
	ret = nsfd_has_addr(fd, &cl->srv[v], what, err);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A version steered by address: each server's sockets, found in its own
 * network namespace, opened afresh each scan (a container restarted has
 * a new one). quiet: placing a cluster not registered yet (the API says
 * why it is refused); nothing logged, no meter put in its namespace. */
static void plan_by_addr(struct sock_state *s, struct dataplane *dp, const struct model *m,
			 struct cluster *cl, uint32_t slot, bool quiet, struct picks *p)
{
	char a[EP_STRLEN];
	struct vs_listener *ls;
	struct vs_err err;
	uint64_t ino;
	size_t nl;
	int fd, ret;

	for (uint32_t v = 0; v < cl->nsrv; v++) {
		if (s->out[slot] & (1U << v))
			continue;
		err = (struct vs_err){};
		fd = sock_netns_open(cl, v, &s->ctr_pid[slot][v], &err);
		s->ns_err[slot][v] = fd < 0 ? fd : 0;
		if (fd < 0)
			drop_server(s, dp, slot, v);
		/* Once per server and reason, not every tick. */
		if (!quiet && s->ns_said[slot][v] != s->ns_err[slot][v] && fd < 0) {
			ep_format(&cl->srv[v], a, sizeof(a));
			pr_warn("service %s: version %s: server %s: %s\n", m->svc[cl->svc].name,
				cl->version, a, err.msg);
		}
		if (!quiet)
			s->ns_said[slot][v] = s->ns_err[slot][v];
		if (fd < 0)
			continue;
		/* Its responses leave by its own interfaces: the status meter
		 * goes there. */
		if (!quiet && !nsfd_ino(fd, &ino))
			dp_tc_attach_netns(dp, fd, ino);
		ls = NULL;
		nl = 0;
		ret = dp_list_listeners_in(dp, fd, &ls, &nl);
		if (ret) {
			pr_warn("cluster %s: listing the listening sockets of server %u: %s\n",
				cl->id, v, strerror(-ret));
		} else {
			qsort(ls, nl, sizeof(*ls), by_port);
			plan_cluster(s, dp, cl, slot, 1U << v, fd, ls, nl, p);
			insert_picks(s, dp, fd, p);
		}
		free(ls);
		close(fd);
	}
}

int sock_reconcile(struct sock_state *s, struct dataplane *dp, struct model *m, int only_slot)
{
	struct vs_listener *ls = NULL;
	struct picks *p;
	size_t nl = 0;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = dp_list_listeners(dp, &ls, &nl);
	if (ret) {
		pr_warn("listing listening sockets: %s\n", strerror(-ret));
		free(p);
		return ret;
	}
	qsort(ls, nl, sizeof(*ls), by_port);
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++)
		if (m->cl[sl].used && !model_by_addr(&m->cl[sl]) &&
		    (only_slot < 0 || (uint32_t)only_slot == sl))
			plan_cluster(s, dp, &m->cl[sl], sl, 0xffff, -1, ls, nl, p);
	insert_picks(s, dp, -1, p);
	free(ls);
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++)
		if (m->cl[sl].used && model_by_addr(&m->cl[sl]) &&
		    (only_slot < 0 || (uint32_t)only_slot == sl))
			plan_by_addr(s, dp, m, &m->cl[sl], sl, only_slot >= 0, p);
	free(p);
	return 0;
}

/* Sockets a scan could not attribute to any server of their cluster: left
 * over from a cluster that had the slot before (after a lost state file).
 * They would steer clients to a version that is gone. */
void sock_drop_strays(struct sock_state *s, struct dataplane *dp, const struct model *m)
{
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++) {
		for (uint32_t i = 0; m->cl[sl].used && i < VS_MAX_SOCKS; i++) {
			if (!s->cookie[sl][i] || s->serves[sl][i])
				continue;
			pr_warn("cluster %s: removing socket %llu, which serves none of its servers\n",
				m->cl[sl].id, (unsigned long long)s->cookie[sl][i]);
			dp_sock_del(dp, sl * VS_MAX_SOCKS + i);
			s->cookie[sl][i] = 0;
		}
	}
}

void sock_take_out(struct sock_state *s, struct dataplane *dp, uint32_t slot, uint32_t srv)
{
	s->out[slot] |= 1U << srv;
	drop_server(s, dp, slot, srv);
}

void sock_put_back(struct sock_state *s, uint32_t slot, uint32_t srv)
{
	s->out[slot] &= ~(1U << srv);
	s->rescan = true;
}
