// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/model.h"
#include "lib/str.h"

/* clang-format off */
static const char *const mode_names[] = {
	[CL_INSTANT] = "instant",
	[CL_MANUAL] = "manual",
	[CL_SESSION] = "session",
	[CL_MIRROR] = "mirror",
};
/* clang-format on */

const char *model_mode_name(enum cl_mode mode)
{
	return mode_names[mode];
}

int model_mode_parse(const char *s, enum cl_mode *mode)
{
	/* The thesis's name for it. */
	if (!strcasecmp(s, "multiversion") || !strcasecmp(s, "multi-version")) {
		*mode = CL_MIRROR;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (!strcasecmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

int model_find_service(const struct model *m, const char *name)
{
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		if (m->svc[i].used && !strcmp(m->svc[i].name, name))
			return i;
	return -ENOENT;
}

int model_find_cluster(const struct model *m, const char *id)
{
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (m->cl[i].used && !strcmp(m->cl[i].id, id))
			return i;
	return -ENOENT;
}

int model_find_version(const struct model *m, uint32_t svc, const char *version)
{
	if (!version_valid(version))
		return -ENOENT;
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (m->cl[i].used && m->cl[i].svc == svc && !version_cmp(m->cl[i].version, version))
			return i;
	return -ENOENT;
}

uint32_t model_nservices(const struct model *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		n += m->svc[i].used;
	return n;
}

uint32_t model_order(const struct model *m, uint32_t svc, uint32_t out[VS_MAX_VERSIONS])
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		uint32_t j;

		if (!m->cl[i].used || m->cl[i].svc != svc || n == VS_MAX_VERSIONS)
			continue;
		/* insertion sort, newest first */
		for (j = n; j > 0 && version_cmp(m->cl[out[j - 1]].version, m->cl[i].version) < 0;
		     j--)
			out[j] = out[j - 1];
		out[j] = i;
		n++;
	}
	return n;
}

bool model_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Whether a service may be called name at addr: id `self` is skipped. */
static int check_service(const struct model *m, int self, const char *name,
			 const struct vs_endpoint *addr, struct vs_err *err)
{
	char a[EP_STRLEN];

	if (!model_name_valid(name))
		return vs_errf(err, -EINVAL, 400, "bad_name",
			       "service name '%.64s' must be 1-63 characters of [A-Za-z0-9._-]",
			       name);
	ep_format(addr, a, sizeof(a));
	for (int i = 0; i < VS_MAX_SERVICES; i++) {
		if (!m->svc[i].used || i == self)
			continue;
		if (!strcmp(m->svc[i].name, name))
			return vs_errf(err, -EEXIST, 409, "duplicate_service",
				       "service '%s' already exists", name);
		if (ep_equal(&m->svc[i].addr, addr))
			return vs_errf(err, -EEXIST, 409, "duplicate_service",
				       "address %s is already service '%s'", a, m->svc[i].name);
	}
	/* Steering a server's address would take the connections its
	 * cluster's clients are steered to. */
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		for (uint32_t j = 0; m->cl[i].used && j < m->cl[i].nsrv; j++)
			if (ep_equal(&m->cl[i].srv[j], addr))
				return vs_errf(
					err, -EEXIST, 409, "duplicate_server",
					"address %s is a server of version %s of service '%s' (cluster %s)",
					a, m->cl[i].version, m->svc[m->cl[i].svc].name,
					m->cl[i].id);
	return 0;
}

int model_put_service(struct model *m, uint32_t id, const char *name,
		      const struct vs_endpoint *addr, uint32_t salt, struct vs_err *err)
{
	int ret;

	if (id >= VS_MAX_SERVICES || m->svc[id].used)
		return vs_errf(err, -EINVAL, 400, "bad_id",
			       "service id %u is taken or out of range", id);
	ret = check_service(m, id, name, addr, err);
	if (ret)
		return ret;
	m->svc[id] = (struct service){ .used = true, .addr = *addr, .salt = salt };
	model_sess_defaults(&m->svc[id].sess);
	judge_defaults(&m->svc[id].an);
	str_copy(m->svc[id].name, NAME_MAX_LEN, name);
	return id;
}

int model_add_service(struct model *m, const char *name, const struct vs_endpoint *addr,
		      uint32_t salt, struct vs_err *err)
{
	int ret = check_service(m, -1, name, addr, err);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		if (!m->svc[i].used)
			return model_put_service(m, i, name, addr, salt, err);
	return vs_errf(err, -ENOSPC, 409, "limit", "at most %d services", VS_MAX_SERVICES);
}

/* Which service or cluster already uses endpoint e, if any. */
static int endpoint_taken(const struct model *m, const struct vs_endpoint *e, struct vs_err *err)
{
	char a[EP_STRLEN];

	ep_format(e, a, sizeof(a));
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++)
		if (m->svc[i].used && ep_equal(&m->svc[i].addr, e))
			return vs_errf(err, -EINVAL, 400, "bad_server",
				       "server %s is the address of service '%s' itself", a,
				       m->svc[i].name);
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		if (!m->cl[i].used)
			continue;
		for (uint32_t j = 0; j < m->cl[i].nsrv; j++)
			if (ep_equal(&m->cl[i].srv[j], e))
				return vs_errf(
					err, -EEXIST, 409, "duplicate_server",
					"server %s already belongs to cluster %s (version %s)", a,
					m->cl[i].id, m->cl[i].version);
	}
	return 0;
}

/* The lowest free slot that is not to be avoided, else the lowest free. */
static uint32_t free_slot(const struct model *m, const uint64_t *avoid)
{
	uint32_t first = VS_MAX_SLOTS;

	for (uint32_t s = 0; s < VS_MAX_SLOTS; s++) {
		if (m->cl[s].used)
			continue;
		if (!avoid || !(avoid[s / 64] & (1ull << (s % 64))))
			return s;
		if (first == VS_MAX_SLOTS)
			first = s;
	}
	return first;
}

/* Whether spec may join the model: its service, version, id and
 * servers. */
static int check_cluster(const struct model *m, const struct cluster *spec, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS];
	uint32_t i, j;
	int ret;

	if (spec->svc >= VS_MAX_SERVICES || !m->svc[spec->svc].used)
		return vs_errf(err, -ENOENT, 404, "unknown_service", "no such service");
	if (!version_valid(spec->version))
		return vs_errf(err, -EINVAL, 400, "bad_version",
			       "version '%.40s' is not dotted numbers such as 1.0 or 2.10.3",
			       spec->version);
	ret = model_find_version(m, spec->svc, spec->version);
	if (ret >= 0)
		return vs_errf(err, -EEXIST, 409, "duplicate_version",
			       "service '%s' already has version %s (cluster %s)",
			       m->svc[spec->svc].name, m->cl[ret].version, m->cl[ret].id);
	if (spec->id[0] && model_find_cluster(m, spec->id) >= 0)
		return vs_errf(err, -EEXIST, 409, "duplicate_cluster",
			       "cluster id %s already exists", spec->id);
	if (spec->nsrv == 0 || spec->nsrv > VS_MAX_SERVERS)
		return vs_errf(err, -EINVAL, 400, "bad_servers", "a cluster needs 1 to %d servers",
			       VS_MAX_SERVERS);
	for (i = 0; i < spec->nsrv; i++) {
		if ((spec->netns[i].kind == NETNS_OWN) != (spec->netns[0].kind == NETNS_OWN))
			return vs_errf(
				err, -EINVAL, 400, "bad_servers",
				"server %u: a cluster's servers live all in vsteerd's network namespace or all in others (netns, pid, container)",
				i);
		if (spec->srv[i].family != m->svc[spec->svc].addr.family)
			return vs_errf(err, -EINVAL, 400, "bad_server",
				       "server %u is not of the service's address family", i);
		if (spec->netns[i].kind != NETNS_OWN && ep_is_loopback(&spec->srv[i])) {
			char a[EP_STRLEN];

			ep_format(&spec->srv[i], a, sizeof(a));
			return vs_errf(
				err, -EINVAL, 400, "bad_server",
				"server %u: %s is a loopback address in another network namespace, which cannot be reached from this one: name the address it has on its bridge",
				i, a);
		}
		if (ep_addr_is_any(&spec->srv[i]))
			return vs_errf(
				err, -EINVAL, 400, "bad_server",
				"server %u: name the address clients' connections are steered to, not the wildcard",
				i);
		ret = endpoint_taken(m, &spec->srv[i], err);
		if (ret)
			return ret;
		for (j = 0; j < i; j++)
			if (ep_equal(&spec->srv[i], &spec->srv[j]))
				return vs_errf(err, -EEXIST, 409, "duplicate_server",
					       "server %u is listed twice", i);
	}
	if (model_order(m, spec->svc, order) == VS_MAX_VERSIONS)
		return vs_errf(err, -ENOSPC, 409, "limit", "service '%s' already has %d versions",
			       m->svc[spec->svc].name, VS_MAX_VERSIONS);
	return 0;
}

/* Put a checked cluster at a free slot; returns the slot. */
static int place_cluster(struct model *m, uint32_t slot, const struct cluster *spec,
			 struct vs_err *err)
{
	int ret;

	m->cl[slot] = *spec;
	m->cl[slot].used = true;
	if (!m->cl[slot].id[0] && (ret = rand_uuid(m->cl[slot].id))) {
		memset(&m->cl[slot], 0, sizeof(m->cl[slot]));
		return vs_errf(err, ret, 500, "internal", "no random bytes for an id");
	}
	return slot;
}

int model_put_cluster(struct model *m, uint32_t slot, const struct cluster *spec,
		      struct vs_err *err)
{
	int ret;

	if (slot >= VS_MAX_SLOTS || m->cl[slot].used)
		return vs_errf(err, -EINVAL, 400, "bad_slot", "slot %u is taken or out of range",
			       slot);
	ret = check_cluster(m, spec, err);
	return ret ? ret : place_cluster(m, slot, spec, err);
}

int model_add_cluster(struct model *m, const struct cluster *spec, const uint64_t *avoid,
		      struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n, slot, i;
	struct cluster c = *spec;
	bool newest;
	int ret;

	ret = check_cluster(m, spec, err);
	if (ret)
		return ret;
	slot = free_slot(m, avoid);
	if (slot == VS_MAX_SLOTS)
		return vs_errf(err, -ENOSPC, 409, "limit", "at most %d clusters", VS_MAX_SLOTS);
	/* The thesis: the newest version processes requests. An instant
	 * cluster that is the newest takes every new session; the first
	 * cluster of a service takes them whatever its mode. */
	n = model_order(m, spec->svc, order);
	newest = n == 0 || version_cmp(c.version, m->cl[order[0]].version) > 0;
	c.weight = n == 0 || (newest && c.mode == CL_INSTANT) ? VS_BUCKETS : 0;
	/* A rule given with the cluster is every server's owner; without one
	 * each server's is recorded from its first sockets. */
	for (i = 0; i < c.nsrv; i++)
		c.owner[i] = c.rule;
	ret = place_cluster(m, slot, &c, err);
	if (ret < 0 || !c.weight)
		return ret;
	for (i = 0; i < n; i++)
		m->cl[order[i]].weight = 0;
	return ret;
}

int model_del_cluster(struct model *m, uint32_t slot, bool force, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n, i, heir;
	struct cluster *c;

	if (slot >= VS_MAX_SLOTS || !m->cl[slot].used)
		return vs_errf(err, -ENOENT, 404, "unknown_cluster", "no such cluster");
	c = &m->cl[slot];
	n = model_order(m, c->svc, order);
	if (n == 1 && !force)
		return vs_errf(
			err, -EBUSY, 409, "last_cluster",
			"cluster %s is the last one of service '%s'; deleting it refuses every connection (add ?force=true to do it anyway)",
			c->id, m->svc[c->svc].name);
	for (i = 0; i < n && order[i] != slot; i++)
		;
	/* Its sessions go to the next older version, or, for the oldest,
	 * to the next newer one: the thesis's fallback order. */
	if (n > 1) {
		heir = i + 1 < n ? order[i + 1] : order[i - 1];
		m->cl[heir].weight += c->weight;
	}
	memset(c, 0, sizeof(*c));
	return 0;
}

int model_del_service(struct model *m, uint32_t svc, bool force, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n;

	if (svc >= VS_MAX_SERVICES || !m->svc[svc].used)
		return vs_errf(err, -ENOENT, 404, "unknown_service", "no such service");
	n = model_order(m, svc, order);
	if (n && !force)
		return vs_errf(
			err, -EBUSY, 409, "has_clusters",
			"service '%s' has %u cluster%s; deleting it deletes them and stops steering its address (add ?force=true to do it anyway)",
			m->svc[svc].name, n, n == 1 ? "" : "s");
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		if (m->cl[i].used && m->cl[i].svc == svc)
			memset(&m->cl[i], 0, sizeof(m->cl[i]));
	memset(&m->svc[svc], 0, sizeof(m->svc[svc]));
	return 0;
}

int model_percent_to_bp(double pct, uint16_t *bp)
{
	double x = pct * 100.0, r = round(x);

	if (!(pct >= 0.0 && pct <= 100.0) || fabs(x - r) > 1e-6)
		return -EINVAL;
	*bp = (uint16_t)r;
	return 0;
}

int model_set_weights(struct model *m, uint32_t svc, const char *const *names, const uint16_t *bp,
		      uint32_t n, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], nv, i, sum = 0;
	uint16_t w[VS_MAX_SLOTS] = {};
	bool seen[VS_MAX_SLOTS] = {};
	int slot;

	nv = model_order(m, svc, order);
	if (nv == 0)
		return vs_errf(err, -ENOENT, 409, "no_versions", "service '%s' has no clusters",
			       m->svc[svc].name);
	for (i = 0; i < n; i++) {
		slot = model_find_version(m, svc, names[i]);
		if (slot < 0)
			return vs_errf(err, -ENOENT, 404, "unknown_version",
				       "service '%s' has no version '%.40s'", m->svc[svc].name,
				       names[i]);
		if (seen[slot])
			return vs_errf(err, -EEXIST, 400, "bad_weights",
				       "version '%.40s' is named twice", names[i]);
		seen[slot] = true;
		w[slot] = bp[i];
		sum += bp[i];
	}
	if (sum != VS_BUCKETS)
		return vs_errf(err, -EINVAL, 400, "bad_weights",
			       "weights sum to %u.%02u%%, not 100%%", sum / 100, sum % 100);
	for (i = 0; i < nv; i++)
		m->cl[order[i]].weight = w[order[i]];
	return 0;
}

void model_format_weights(const struct model *m, uint32_t svc, char *buf, size_t size)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n && len < size; i++) {
		uint16_t w = m->cl[order[i]].weight;

		len += snprintf(buf + len, size - len, "%s%s %u.%02u%%", i ? ", " : "",
				m->cl[order[i]].version, w / 100, w % 100);
	}
}

int model_stable(const struct model *m, uint32_t svc)
{
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	int best = -ENOENT;

	/* order is newest first, so a strict > keeps the newest on ties */
	for (uint32_t i = 0; i < n; i++)
		if (best < 0 || m->cl[order[i]].weight > m->cl[best].weight)
			best = order[i];
	return best;
}

void model_sess_defaults(struct sess_opts *o)
{
	*o = (struct sess_opts){ .key6 = SESS_KEY6_DEFAULT,
				 .quota4 = SESS_QUOTA4_DEFAULT,
				 .quota6 = SESS_QUOTA6_DEFAULT,
				 .quota = SESS_QUOTA_DEFAULT };
}

void model_svc_opts(const struct model *m, uint32_t svc, struct vs_svc_opts *o)
{
	const struct service *s = &m->svc[svc];
	uint32_t window = s->session_timeout > SESS_WINDOW_MIN ? s->session_timeout :
								 SESS_WINDOW_MIN;

	memset(o, 0, sizeof(*o));
	o->key6 = s->sess.key6 == 128 ? 0 : s->sess.key6;
	o->quota4 = s->sess.quota4;
	o->quota6 = s->sess.quota6;
	o->quota = s->sess.quota;
	o->window_ms = window * 1000;
	o->salt = s->salt;
}

void model_svc_key(const struct model *m, uint32_t svc, struct vs_svc_key *k)
{
	const struct vs_endpoint *a = &m->svc[svc].addr;

	memset(k, 0, sizeof(*k));
	k->family = a->family;
	k->proto = VS_PROTO_TCP;
	k->port = a->port;
	memcpy(k->addr, a->addr, sizeof(k->addr));
}

bool model_by_addr(const struct cluster *cl)
{
	return cl->nsrv && cl->netns[0].kind != NETNS_OWN;
}

bool model_has_by_addr(const struct model *m)
{
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++)
		if (m->cl[sl].used && model_by_addr(&m->cl[sl]))
			return true;
	return false;
}

bool model_has_http(const struct model *m)
{
	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++)
		if (m->svc[s].used && m->svc[s].http)
			return true;
	return false;
}

bool model_has_addr6(const struct model *m)
{
	for (uint32_t sl = 0; sl < VS_MAX_SLOTS; sl++) {
		const struct cluster *cl = &m->cl[sl];

		if (!cl->used || !model_by_addr(cl))
			continue;
		for (uint32_t v = 0; v < cl->nsrv; v++)
			if (cl->srv[v].family == AF_INET6)
				return true;
	}
	return false;
}

void model_svc_value(const struct model *m, uint32_t svc, const uint8_t nsock[VS_MAX_SLOTS],
		     struct vs_svc *v)
{
	uint32_t order[VS_MAX_VERSIONS], n, i, upto = 0;
	bool any_addr = false;

	memset(v, 0, sizeof(*v));
	v->id = svc;
	v->salt = m->svc[svc].salt;
	n = model_order(m, svc, order);
	v->nver = n;
	for (i = 0; i < n; i++) {
		upto += m->cl[order[i]].weight;
		v->ver[i].slot = order[i];
		v->ver[i].upto = upto;
		v->ver[i].nsock = nsock[order[i]];
		/* Past a drain deadline a version's sessions follow the
		 * weights: a client whose idle connection was closed comes
		 * back to the new version, not to the one draining. */
		v->ver[i].flags = m->cl[order[i]].no_affinity || (m->cl[order[i]].drain.due &&
								  !m->cl[order[i]].weight) ?
					  VS_VER_NO_AFFINITY :
					  0;
		if (model_by_addr(&m->cl[order[i]]))
			v->ver[i].flags |= VS_VER_ADDR;
		if (v->ver[i].flags & VS_VER_ADDR)
			any_addr = true;
	}
	v->session_ms = m->svc[svc].session_timeout * 1000;
	v->flags = m->svc[svc].http ? VS_SVC_HTTP : 0;
	if (any_addr)
		v->flags |= VS_SVC_ADDR;
}

void model_event(struct model *m, int64_t now, const char *svc, const char *kind, const char *fmt,
		 ...)
{
	char message[EVENT_MESSAGE_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	event_add(&m->events, now, svc, kind, message);
}

const struct event *model_event_nth(const struct model *m, uint32_t k)
{
	return event_nth(&m->events, k);
}
