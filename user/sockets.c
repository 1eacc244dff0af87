// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Which listening sockets serve which cluster: finding a backend's sockets
 * with the TCP iterator, placing them in the sockmap, and keeping the
 * controller's picture of the sockmap (cookie and owner per slot) true.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "log.h"
#include "sockets.h"

bool listener_serves(const struct vs_listener *l, const struct vs_endpoint *bk)
{
	bool any = !(l->addr[0] | l->addr[1] | l->addr[2] | l->addr[3]);

	if (l->port != bk->port)
		return false;
	if (l->family == bk->family)
		return any || !memcmp(l->addr, bk->addr, sizeof(l->addr));
	/* A dual-stack [::] socket (Go's default) takes IPv4 too, and
	 * bpf_sk_assign() accepts it for an IPv4 connection. */
	return bk->family == AF_INET && l->family == AF_INET6 && any && !l->v6only;
}

void forget_slot(struct ctl *c, uint32_t slot)
{
	memset(c->bk_down[slot], 0, sizeof(c->bk_down[slot]));
	memset(c->hc_fail[slot], 0, sizeof(c->hc_fail[slot]));
	memset(c->hc_ok[slot], 0, sizeof(c->hc_ok[slot]));
	c->nsock[slot] = 0;
	memset(c->cookie[slot], 0, sizeof(c->cookie[slot]));
	memset(c->owner[slot], 0, sizeof(c->owner[slot]));
	memset(c->bk_err[slot], 0, sizeof(c->bk_err[slot]));
}

void clear_socks(struct ctl *c, uint32_t slot)
{
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
		dp_sock_del(c->dp, slot * VS_MAX_SOCKS + i);
	forget_slot(c, slot);
}

/* Refresh what the sockmap holds for a cluster. Returns true if a socket
 * appeared that we did not put there (after a restart: all of them). */
bool read_slot(struct ctl *c, uint32_t slot, uint32_t n)
{
	bool unknown = false;
	__u64 ck;

	for (uint32_t i = 0; i < n && i < VS_MAX_SOCKS; i++) {
		if (dp_sock_cookie(c->dp, slot * VS_MAX_SOCKS + i, &ck))
			ck = 0;
		if (ck != c->cookie[slot][i]) {
			c->cookie[slot][i] = ck;
			c->owner[slot][i] = 0;
		}
		if (ck && !c->owner[slot][i])
			unknown = true;
	}
	return unknown;
}

uint32_t backend_live(const struct ctl *c, uint32_t slot, uint32_t b)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++)
		n += c->cookie[slot][i] && (c->owner[slot][i] & (1U << b));
	return n;
}

struct picks {
	__u64 cookie[VS_PICK_MAX];
	__u32 idx[VS_PICK_MAX];
	int err[VS_PICK_MAX];
	uint32_t slot[VS_PICK_MAX];
	uint32_t bk[VS_PICK_MAX];
	size_t n;
};

static void insert_picks(struct ctl *c, struct picks *p)
{
	int ret;

	if (!p->n)
		return;
	ret = dp_insert(c->dp, p->cookie, p->idx, p->err, p->n);
	if (ret < 0)
		pr_warn("inserting %zu sockets failed: %s\n", p->n, strerror(-ret));
	for (size_t i = 0; i < p->n; i++) {
		uint32_t s = p->slot[i], j = p->idx[i] % VS_MAX_SOCKS;

		if (p->err[i]) {
			/* Once per backend and error, not every tick. */
			if (p->err[i] != -ENOENT && p->err[i] != c->bk_err[s][p->bk[i]])
				pr_warn("socket %llu into slot %u: %s\n",
					(unsigned long long)p->cookie[i], p->idx[i],
					strerror(-p->err[i]));
			if (p->err[i] != -ENOENT)
				c->bk_err[s][p->bk[i]] = p->err[i];
			c->cookie[s][j] = 0;
			c->owner[s][j] = 0;
			continue;
		}
		c->bk_err[s][p->bk[i]] = 0;
		if (j + 1 > c->nsock[s])
			c->nsock[s] = j + 1;
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

/* Attribute the sockets a cluster already has to its backends, and plan
 * an insert for every listening socket of theirs it does not have yet. */
static void plan_cluster(struct ctl *c, const struct cluster *cl, uint32_t slot,
			 const struct vs_listener *ls, size_t nl, struct picks *p)
{
	char a[EP_STRLEN];

	for (uint32_t b = 0; b < cl->nbk; b++) {
		if (c->bk_down[slot][b])
			continue;	/* failing its health checks: kept out */
		c->backlog[slot][b] = 0;
		for (size_t k = first_on_port(ls, nl, cl->bk[b].port);
		     k < nl && ls[k].port == cl->bk[b].port; k++) {
			uint32_t i, free_i = VS_MAX_SOCKS;

			if (!listener_serves(&ls[k], &cl->bk[b]))
				continue;
			c->backlog[slot][b] += ls[k].backlog;
			for (i = 0; i < VS_MAX_SOCKS; i++) {
				if (c->cookie[slot][i] == ls[k].cookie)
					break;
				if (!c->cookie[slot][i] && free_i == VS_MAX_SOCKS)
					free_i = i;
			}
			if (i < VS_MAX_SOCKS) {
				c->owner[slot][i] |= 1U << b;
				continue;
			}
			if (free_i == VS_MAX_SOCKS) {
				/* Once per backend, not every tick. */
				if (c->bk_err[slot][b] != -ENOSPC) {
					ep_format(&cl->bk[b], a, sizeof(a));
					pr_warn("cluster %s: no room for another socket of %s (at most %d per version)\n",
						cl->id, a, VS_MAX_SOCKS);
					c->bk_err[slot][b] = -ENOSPC;
				}
				continue;
			}
			/* One iterator run inserts at most VS_PICK_MAX. */
			if (p->n == VS_PICK_MAX)
				insert_picks(c, p);
			c->cookie[slot][free_i] = ls[k].cookie;
			c->owner[slot][free_i] = 1U << b;
			p->cookie[p->n] = ls[k].cookie;
			p->idx[p->n] = slot * VS_MAX_SOCKS + free_i;
			p->slot[p->n] = slot;
			p->bk[p->n] = b;
			p->n++;
		}
	}
}

/* Scan for listeners and place any socket a cluster should have but does
 * not. With only_slot >= 0, just that cluster (a new one). */
int reconcile(struct ctl *c, const struct model *m, int only_slot)
{
	struct vs_listener *ls = NULL;
	struct picks *p;
	size_t nl = 0;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = dp_list_listeners(c->dp, &ls, &nl);
	if (ret) {
		pr_warn("listing listening sockets: %s\n", strerror(-ret));
		free(p);
		return ret;
	}
	qsort(ls, nl, sizeof(*ls), by_port);
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++)
		if (m->cl[s].used && (only_slot < 0 || (uint32_t)only_slot == s))
			plan_cluster(c, &m->cl[s], s, ls, nl, p);
	insert_picks(c, p);
	free(ls);
	free(p);
	return 0;
}

/* Sockets a scan could not attribute to any backend of their cluster:
 * left over from a cluster that had the slot before (after a lost state
 * file). They would steer clients to a version that is gone. */
void drop_strays(struct ctl *c, const struct model *m)
{
	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		for (uint32_t i = 0; m->cl[s].used && i < VS_MAX_SOCKS; i++) {
			if (!c->cookie[s][i] || c->owner[s][i])
				continue;
			pr_warn("cluster %s: removing socket %llu, which serves none of its servers\n",
				m->cl[s].id, (unsigned long long)c->cookie[s][i]);
			dp_sock_del(c->dp, s * VS_MAX_SOCKS + i);
			c->cookie[s][i] = 0;
		}
	}
}

void take_out(struct ctl *c, uint32_t slot, uint32_t b)
{
	for (uint32_t i = 0; i < VS_MAX_SOCKS; i++) {
		if (!c->cookie[slot][i] || !(c->owner[slot][i] & (1U << b)))
			continue;
		c->owner[slot][i] &= ~(1U << b);
		/* A socket that also serves a healthy server stays. */
		if (c->owner[slot][i])
			continue;
		dp_sock_del(c->dp, slot * VS_MAX_SOCKS + i);
		c->cookie[slot][i] = 0;
	}
}
