/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the maps do not hold (names, ids, versions, servers, salts, which
 * slot is whose, rollouts, events) lives in a JSON state file, written
 * atomically on every change so a restarted vsteerd adopts the pinned maps
 * as they are. */
#ifndef VS_STATE_H
#define VS_STATE_H

#include <jansson.h>
#include "lib/file.h"
#include "core/model.h"

#define VS_DEFAULT_STATE "/var/lib/vsteer/state.json"
#define STATE_MAX_SIZE	 (4 << 20)
#define STATE_FORMAT	 1 /* "vsteerState": what this build writes and reads */

/* A window's figures: the API's lastWindow and analysisWindow, and a
 * rollout's baseline in the state file and the API. */
/* A server as the API takes it: "ADDRESS:PORT", or an object naming the
 * network namespace its sockets live in. */
json_t *state_server_json(const struct vs_endpoint *ep, const struct netns_spec *ns);
json_t *state_window_json(const struct window_sum *w);
/* Analysis settings (false when off): a service's, in the state file and
 * the API. */
json_t *state_settings_json(const struct analysis *a);
/* A rollout's analysis settings and status as JSON (null when off); the
 * state file and the API show the same object. */
json_t *state_analysis_json(const struct analysis *a);

/* A service's session options as the state file and the API show them. */
json_t *state_sess_json(const struct sess_opts *o);
/* An owner as the state file and the API show it: {"uid", "cgroup"}, each
 * only if checked; null while not known. */
json_t *state_owner_json(const struct owner *o);

/* A list of webhook targets as parse_notifications() reads it; with
 * secrets false, header values are shown as "(hidden)": the API's
 * reads need no token, and the values are often one. */
json_t *state_notify_json(const struct notify_list *l, bool secrets);
/* An event as GET /v1/events shows it and webhooks receive it: id,
 * time (RFC 3339), service, kind, level, message. */
json_t *state_event_json(const struct event *e);
/* A rollout as the state file holds it (null when there is none): its
 * versions by slot. The fleet's desired state carries it too, with the
 * slots replaced by version names (codec/fleet.h). */
json_t *state_rollout_json(const struct rollout *ro);

/* Returns a malloc'ed JSON text. */
char *state_dump(const struct model *m);
/* The state file written in two steps (lib/file.h): the new state is
 * durable in a temp file before the maps change, and becomes the state
 * file after; or is dropped. */
int state_stage(const struct model *m, const char *path, struct file_staged *f, struct vs_err *err);
int state_commit(struct file_staged *f, struct vs_err *err);
void state_abort(struct file_staged *f);
/* The state file's directory, created 0700 if missing (the default
 * /var/lib/vsteer does not exist on a fresh host) when make is set, and
 * then *made says so; without make, a missing one passes if it can be
 * made (its parent is a directory). Whoever else
 * can write in it can put a state file there before vsteerd writes one,
 * which the next start would steer by: so it is refused unless root or
 * vsteerd's user owns it and nobody else may write in it. A sticky bit
 * (/tmp) is not enough: it stops others removing our files, not making
 * new ones. */
int state_check_dir(const char *state, bool make, bool *made, struct vs_err *err);
#endif
