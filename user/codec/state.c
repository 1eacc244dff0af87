// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/rollout_text.h"
#include "codec/parse.h"
#include "codec/state.h"
#include "codec/state_mirror.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/str.h"

json_t *state_server_json(const struct vs_endpoint *ep, const struct netns_spec *ns)
{
	char a[EP_STRLEN];

	ep_format(ep, a, sizeof(a));
	switch (ns->kind) {
	case NETNS_PATH:
		return json_pack("{ssss}", "address", a, "netns", ns->name);
	case NETNS_PID:
		return json_pack("{sssI}", "address", a, "pid", (json_int_t)ns->pid);
	case NETNS_CONTAINER:
		return json_pack("{ssss}", "address", a, "container", ns->name);
	default:
		return json_string(a);
	}
}

json_t *state_window_json(const struct window_sum *w)
{
	/* clang-format off */
	return json_pack("{sisIsIsIsfsfsfsf}", "seconds", (int)w->seconds,
			 "arrived", (json_int_t)w->arrived, "requests", (json_int_t)w->requests,
			 "errors", (json_int_t)w->errors,
			 "latencyP50Ms", w->p50_ms, "latencyP99Ms", w->p99_ms,
			 "meanResponseBytes", w->mean_bytes, "errorRate", window_error_rate(w));
	/* clang-format on */
}

json_t *state_settings_json(const struct analysis *a)
{
	json_t *j;

	if (!a->on)
		return json_false();
	j = json_object();
	for (size_t i = 0; i < JUDGE_NFIELDS; i++) {
		const struct judge_field *f = &judge_fields[i];
		double v = judge_get(a, f);

		json_object_set_new(j, f->name,
				    f->kind == JUDGE_COUNT	    ? json_integer((json_int_t)v) :
				    f->kind == JUDGE_LIMIT && v < 0 ? json_null() :
								      json_real(v));
	}
	json_object_set_new(j, "onInconclusive",
			    json_string(judge_inconclusive_name(a->on_inconclusive)));
	return j;
}

json_t *state_analysis_json(const struct analysis *a)
{
	json_t *j;

	if (!a->on)
		return json_null();
	j = state_settings_json(a);
	/* clang-format off */
	json_object_update_new(j, json_pack("{sIsIsIsIssso}", "failures", (json_int_t)a->failures,
					    "inconclusive", (json_int_t)a->inconclusive,
					    "windows", (json_int_t)a->windows,
					    "lastPass", (json_int_t)a->last_pass,
					    "lastVerdict", a->last_verdict,
					    "baseline", a->base.seconds ? state_window_json(&a->base) :
									  json_null()));
	/* clang-format on */
	return j;
}

json_t *state_sess_json(const struct sess_opts *o)
{
	/* clang-format off */
	return json_pack("{sisisisi}", "ipv6Prefix", (int)o->key6, "quota", (int)o->quota,
			 "quotaPrefix4", (int)o->quota4, "quotaPrefix6", (int)o->quota6);
	/* clang-format on */
}

json_t *state_owner_json(const struct owner *o)
{
	json_t *j;

	if (!o->set)
		return json_null();
	j = json_object();
	if (!o->any_uid)
		json_object_set_new(j, "uid", json_integer(o->uid));
	if (o->cgroup[0])
		json_object_set_new(j, "cgroup", json_string(o->cgroup));
	return j;
}

json_t *state_notify_json(const struct notify_list *l, bool secrets)
{
	json_t *list = json_array();

	for (uint32_t i = 0; i < l->n; i++) {
		const struct notify_target *t = &l->t[i];
		json_t *kinds = json_array(), *hdrs = json_object();

		if (t->all)
			json_array_append_new(kinds, json_string("*"));
		for (int k = 0; !t->all && event_kinds[k].kind && k < NOTIFY_MAX_KINDS; k++)
			if (t->kinds & (1ULL << k))
				json_array_append_new(kinds, json_string(event_kinds[k].kind));
		for (uint32_t h = 0; h < t->nheaders; h++) {
			const char *line = notify_header(t, h);
			const char *colon = strchr(line, ':');
			char name[NOTIFY_HEADER_NAME];

			snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
			json_object_set_new(hdrs, name,
					    json_string(secrets ? colon + 2 : "(hidden)"));
		}
		/* clang-format off */
		json_array_append_new(list, json_pack("{sssososi}", "url", t->url, "events", kinds,
						      "headers", hdrs,
						      "timeoutMs", (int)t->timeout_ms));
		/* clang-format on */
	}
	return list;
}

json_t *state_event_json(const struct event *e)
{
	char when[CLOCK_RFC3339_LEN];

	clock_rfc3339(e->time, -1, when);
	/* clang-format off */
	return json_pack("{sIssssssssss}", "id", (json_int_t)e->id, "time", when,
			 "service", e->service, "kind", e->kind,
			 "level", log_level_name(event_level(e->kind)), "message", e->message);
	/* clang-format on */
}

/* A history mark's name in the state file: "promoted" comes in two. */
static const char *mark_state_name(unsigned int type)
{
	return type == ROM_PROMOTED_FULL ? "promoted_full" : ro_mark_name(type);
}

static json_t *rollout_fields(const struct rollout *ro)
{
	json_t *steps, *hist;

	if (ro->phase == RO_NONE)
		return json_null();
	steps = json_array();
	/* clang-format off */
	for (uint32_t i = 0; i < ro->nsteps; i++)
		json_array_append_new(steps, json_pack("{sisI}", "weight", ro->steps[i].weight,
						       "hold", (json_int_t)ro->steps[i].hold));
	/* clang-format on */
	hist = json_array();
	/* clang-format off */
	for (uint32_t i = 0; i < ro->nhist; i++)
		json_array_append_new(hist, json_pack("{sIsssisi}", "time", (json_int_t)ro->hist[i].time,
						      "type", mark_state_name(ro->hist[i].type),
						      "step", ro->hist[i].step,
						      "weight", ro->hist[i].weight));
	return json_pack("{sosssssssssIsIsIsIsosIsIsIsIso}", "history", hist, "why", ro->why,
			 "pauseWhy", ro->pause_why,
			 "phase", ro_phase_name(ro->phase),
			 "strategy", ro_strategy_name(ro->strategy),
			 "from", (json_int_t)ro->from, "to", (json_int_t)ro->to,
			 "sessionTimeout", (json_int_t)ro->session_timeout,
			 "step", (json_int_t)ro->step, "steps", steps,
			 "started", (json_int_t)ro->started,
			 "stepStarted", (json_int_t)ro->step_started,
			 "pausedLeft", (json_int_t)ro->paused_left,
			 "ended", (json_int_t)ro->ended,
			 "analysis", state_analysis_json(&ro->an));
	/* clang-format on */
}

json_t *state_rollout_json(const struct rollout *ro)
{
	json_t *j = rollout_fields(ro);

	if (j && ro->fleet)
		json_object_set_new(j, "fleet", json_true());
	if (j)
		json_object_set_new(j, "marks", json_integer(ro->nmarks));
	if (j && ro->drain.on)
		json_object_set_new(j, "drainDeadline", json_integer(ro->drain.secs));
	if (j && ro->strategy == RO_MIRROR)
		json_object_set_new(j, "mirror", state_mirror_json(ro));
	return j;
}

static json_t *events_dump(const struct model *m)
{
	json_t *list = json_array();

	for (uint32_t k = m->events.n; k-- > 0;) {
		const struct event *e = model_event_nth(m, k);

		/* clang-format off */
		json_array_append_new(list, json_pack("{sIsIssssss}", "id", (json_int_t)e->id,
						      "time", (json_int_t)e->time,
						      "service", e->service, "kind", e->kind,
						      "message", e->message));
		/* clang-format on */
	}
	return list;
}

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
		/* clang-format off */
		json_array_append_new(svcs, json_pack("{sssIsssisssIsIsosososo}", "name", s->name,
						       "id", (json_int_t)i, "address", a,
						       "port", s->addr.port,
						       "protocol", s->http ? "http" : "tcp",
						       "salt", (json_int_t)s->salt,
						       "sessionTimeout", (json_int_t)s->session_timeout,
						       "sessions", state_sess_json(&s->sess),
						       "analysis", state_settings_json(&s->an),
						       "rollout", state_rollout_json(&s->ro),
						       "notifications",
						       state_notify_json(&s->notify, true)));
		/* clang-format on */
	}
	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		const struct cluster *c = &m->cl[i];

		if (!c->used)
			continue;
		servers = json_array();
		for (uint32_t j = 0; j < c->nsrv; j++)
			json_array_append_new(servers, state_server_json(&c->srv[j], &c->netns[j]));
		json_t *t = json_pack("{ss}", "mode", model_mode_name(c->mode));

		if (c->mode == CL_SESSION)
			json_object_set_new(t, "sessionTimeout", json_integer(c->session_timeout));
		if (c->drain_deadline.on)
			json_object_set_new(t, "drainDeadline",
					    json_integer(c->drain_deadline.secs));
		/* clang-format off */
		json_t *h = c->health.on ?
			json_pack("{sssisisisi}", "path", c->health.path,
				  "intervalMs", (int)c->health.interval_ms,
				  "timeoutMs", (int)c->health.timeout_ms,
				  "unhealthyAfter", (int)c->health.unhealthy_after,
				  "healthyAfter", (int)c->health.healthy_after) : NULL;
		json_array_append_new(cls, json_pack("{sssssIsosIsosssb}", "id", c->id,
						     "version", c->version,
						     "slot", (json_int_t)i, "servers", servers,
						     "weight", (json_int_t)c->weight,
						     "upgradeTransition", t,
						     "service", m->svc[c->svc].name,
						     "noAffinity", c->no_affinity));
		/* clang-format on */
		json_t *cj = json_array_get(cls, json_array_size(cls) - 1), *owners = json_array();

		if (h)
			json_object_set_new(cj, "health", h);
		/* clang-format off */
		if (c->drain.on)
			json_object_set_new(cj, "drain", json_pack("{sIsIsbsb}",
					    "deadline", (json_int_t)c->drain.secs,
					    "started", (json_int_t)c->drain.started,
					    "due", c->drain.due, "drained", c->drain.drained));
		/* clang-format on */
		json_object_set_new(cj, "drainClosed", json_integer((json_int_t)c->drain.closed));
		if (c->rule.set)
			json_object_set_new(cj, "owner", state_owner_json(&c->rule));
		for (uint32_t j = 0; j < c->nsrv; j++)
			json_array_append_new(owners, state_owner_json(&c->owner[j]));
		json_object_set_new(cj, "owners", owners);
	}
	/* clang-format off */
	root = json_pack("{sisososo}", "vsteerState", STATE_FORMAT, "services", svcs,
			 "clusters", cls, "events", events_dump(m));
	/* clang-format on */
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

int state_stage(const struct model *m, const char *path, struct file_staged *f, struct vs_err *err)
{
	char *text = state_dump(m);
	int ret;

	if (!text)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	ret = file_stage(f, path, text, strlen(text), 0600);
	free(text);
	if (ret)
		return vs_errf(err, ret, 500, "state_write",
			       "cannot write state file %s: %s; nothing was changed", path,
			       strerror(-ret));
	return 0;
}

int state_commit(struct file_staged *f, struct vs_err *err)
{
	int ret = file_commit(f);

	if (ret)
		return vs_errf(err, ret, 500, "state_write",
			       "cannot rename the new state file into %s: %s; nothing was changed",
			       f->path, strerror(-ret));
	return 0;
}

void state_abort(struct file_staged *f)
{
	file_abort(f);
}

/* Where a missing state directory would be made: mkdir needs a directory
 * there. */
static int parent_dir(const char *dir, struct vs_err *err)
{
	char buf[PATH_MAX];
	struct stat st;
	int ret = 0;

	snprintf(buf, sizeof(buf), "%s", dir);
	if (stat(dirname(buf), &st) < 0)
		ret = -errno;
	else if (!S_ISDIR(st.st_mode))
		ret = -ENOTDIR;
	if (ret)
		return vs_errf(err, ret, 500, "state_dir", "cannot create %s: %s", dir,
			       strerror(-ret));
	return 0;
}

int state_check_dir(const char *state, bool make, bool *made, struct vs_err *err)
{
	char buf[PATH_MAX];
	const char *dir;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", state);
	dir = dirname(buf);
	if (make && mkdir(dir, 0700) == 0)
		*made = true;
	else if (make && errno != EEXIST)
		return vs_errf(err, -errno, 500, "state_dir", "cannot create %s: %s", dir,
			       strerror(errno));
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT && !make)
			return parent_dir(dir, err);
		return vs_errf(err, -errno, 500, "state_dir", "state directory %s: %s", dir,
			       strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return vs_errf(err, -ENOTDIR, 500, "state_dir",
			       "state directory %s: not a directory", dir);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return vs_errf(
			err, -EPERM, 500, "state_dir",
			"state directory %s is owned by uid %u, not by root or vsteerd's user (uid %u), and its owner could replace the state file: chown it, or give --state a directory of its own",
			dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return vs_errf(
			err, -EPERM, 500, "state_dir",
			"state directory %s is writable by %s (mode %04o), who could replace the state file: chmod go-w it, or give --state a directory of its own",
			dir, st.st_mode & S_IWOTH ? "others" : "its group",
			(unsigned int)(st.st_mode & 07777));
	return 0;
}
