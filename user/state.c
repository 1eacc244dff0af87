// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "parse.h"
#include "state.h"

#define STATE_FORMAT 1

char *state_dump(const struct model *m)
{
	json_t *root, *svcs, *cls, *servers;
	char a[EP_STRLEN];
	char *text;

	svcs = json_array();
	cls = json_array();
	for (uint32_t i = 0; i < VS_MAX_SERVICES; i++) {
		const struct service *s = &m->svc[i];

		if (!s->used)
			continue;
		ep_format_addr(&s->addr, a, sizeof(a));
		json_array_append_new(svcs, json_pack("{sssIsssisI}", "name", s->name,
						       "id", (json_int_t)i, "address", a,
						       "port", s->addr.port,
						       "salt", (json_int_t)s->salt));
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		const struct cluster *c = &m->cl[i];

		if (!c->used)
			continue;
		servers = json_array();
		for (uint32_t j = 0; j < c->nbk; j++) {
			ep_format(&c->bk[j], a, sizeof(a));
			json_array_append_new(servers, json_string(a));
		}
		json_array_append_new(cls, json_pack("{sssssIsosIs{ss}ss}", "id", c->id,
						     "version", c->version,
						     "slot", (json_int_t)i, "servers", servers,
						     "weight", (json_int_t)c->weight,
						     "upgradeTransition", "mode", mode_name(c->mode),
						     "service", m->svc[c->svc].name));
	}
	root = json_pack("{sisoso}", "vsteerState", STATE_FORMAT, "services", svcs,
			 "clusters", cls);
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

int state_save(const struct model *m, const char *path, struct vs_err *err)
{
	char *text = state_dump(m);
	int ret;

	if (!text)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	ret = write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	if (ret)
		return vs_errf(err, ret, 500, "state_write",
			       "cannot write state file %s: %s; nothing was changed",
			       path, strerror(-ret));
	return 0;
}

static int load_service(json_t *j, const char *w, struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "name", "id", "address", "port", "salt", NULL };
	json_t *name = json_object_get(j, "name"), *id = json_object_get(j, "id");
	json_t *salt = json_object_get(j, "salt"), *addr;
	struct vs_endpoint ep;
	struct service *s;
	json_int_t sid;
	int ret;

	ret = json_check_keys(j, keys, w, err);
	if (ret)
		return ret;
	if (!json_is_string(name) || !json_is_integer(id) || !json_is_integer(salt))
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s: needs name, id and salt", w);
	sid = json_integer_value(id);
	if (sid < 0 || sid >= VS_MAX_SERVICES || m->svc[sid].used)
		return vs_errf(err, -EINVAL, 400, "bad_state", "%s.id: bad or repeated", w);
	addr = json_pack("{sOsO}", "address", json_object_get(j, "address"),
			 "port", json_object_get(j, "port"));
	ret = addr ? parse_endpoint(addr, w, &ep, err) :
		     vs_errf(err, -EINVAL, 400, "bad_state", "%s: needs address and port", w);
	json_decref(addr);
	if (ret)
		return ret;
	/* Add through the model so names and addresses are checked, then
	 * move the service to the id the maps know it by. */
	ret = model_add_service(m, json_string_value(name), &ep,
				(uint32_t)json_integer_value(salt), err);
	if (ret < 0)
		return ret;
	s = &m->svc[ret];
	if (ret != sid) {
		m->svc[sid] = *s;
		memset(s, 0, sizeof(*s));
	}
	return 0;
}

static int load_cluster(json_t *j, const char *w, struct model *m, struct vs_err *err)
{
	static const char *const extra[] = { "id", "slot", "weight", "service", NULL };
	json_t *id = json_object_get(j, "id"), *slot = json_object_get(j, "slot");
	json_t *weight = json_object_get(j, "weight"), *svc = json_object_get(j, "service");
	struct cluster spec = {};
	json_int_t sl, wt;
	enum cl_mode mode;
	int ret;

	ret = parse_cluster(j, w, extra, &spec, err);
	if (ret)
		return ret;
	if (!json_is_string(id) || !json_is_integer(slot) || !json_is_integer(weight) ||
	    !json_is_string(svc) || str_copy(spec.id, sizeof(spec.id), json_string_value(id)))
		return vs_errf(err, -EINVAL, 400, "bad_state",
			       "%s: needs id, slot, weight and service", w);
	sl = json_integer_value(slot);
	wt = json_integer_value(weight);
	ret = model_find_service(m, json_string_value(svc));
	if (ret < 0 || sl < 0 || sl >= VS_MAX_SLOTS || m->cl[sl].used ||
	    wt < 0 || wt > VS_BUCKETS)
		return vs_errf(err, -EINVAL, 400, "bad_state",
			       "%s: unknown service, or slot or weight out of range", w);
	spec.svc = ret;
	mode = spec.mode;
	/* Added as manual so no other cluster's recorded weight changes. */
	spec.mode = CL_MANUAL;
	ret = model_add_cluster(m, &spec, err);
	if (ret < 0)
		return ret;
	if (ret != sl) {
		m->cl[sl] = m->cl[ret];
		memset(&m->cl[ret], 0, sizeof(m->cl[ret]));
	}
	m->cl[sl].weight = wt;
	m->cl[sl].mode = mode;
	return 0;
}

static int check_weights(const struct model *m, struct vs_err *err)
{
	uint32_t order[VS_MAX_VERSIONS], n, sum;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		if (!m->svc[s].used)
			continue;
		n = model_order(m, s, order);
		sum = 0;
		for (uint32_t i = 0; i < n; i++)
			sum += m->cl[order[i]].weight;
		if (n && sum != VS_BUCKETS)
			return vs_errf(err, -EINVAL, 400, "bad_state",
				       "service '%s': weights sum to %u, not %u",
				       m->svc[s].name, sum, VS_BUCKETS);
	}
	return 0;
}

int state_parse(const char *text, size_t len, const char *name,
		struct model *m, struct vs_err *err)
{
	static const char *const keys[] = { "vsteerState", "services", "clusters", NULL };
	json_t *root, *list, *item;
	json_error_t jerr;
	char w[64], prefix[128];
	size_t i;
	int ret;

	memset(m, 0, sizeof(*m));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vs_errf(err, -EINVAL, 400, "bad_state", "state %s: line %d: %s",
			       name, jerr.line, jerr.text);
	ret = json_check_keys(root, keys, "top level", err);
	if (!ret && json_integer_value(json_object_get(root, "vsteerState")) != STATE_FORMAT)
		ret = vs_errf(err, -EINVAL, 400, "bad_state",
			      "vsteerState: format %d expected", STATE_FORMAT);
	list = json_object_get(root, "services");
	json_array_foreach(list, i, item) {
		if (ret)
			break;
		snprintf(w, sizeof(w), "services[%zu]", i);
		ret = load_service(item, w, m, err);
	}
	/* Slots first come, first served would reorder them: place each
	 * cluster at its recorded slot (load_cluster moves it there), in an
	 * order that cannot collide by loading into an empty model. */
	list = json_object_get(root, "clusters");
	json_array_foreach(list, i, item) {
		if (ret)
			break;
		snprintf(w, sizeof(w), "clusters[%zu]", i);
		ret = load_cluster(item, w, m, err);
	}
	json_decref(root);
	if (!ret)
		ret = check_weights(m, err);
	if (ret < 0) {
		snprintf(prefix, sizeof(prefix), "state %s", name);
		vs_err_prefix(err, prefix);
	}
	return ret < 0 ? ret : 0;
}

int state_load(const char *path, struct model *m, struct vs_err *err)
{
	char *buf;
	size_t len;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT :
		       vs_errf(err, -errno, 500, "bad_state", "state %s: %s", path, strerror(errno));
	buf = malloc(4 << 20);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, 4 << 20, f);
	ret = ferror(f) ? vs_errf(err, -EIO, 500, "bad_state", "state %s: read error", path) : 0;
	fclose(f);
	if (!ret)
		ret = state_parse(buf, len, path, m, err);
	free(buf);
	return ret;
}
