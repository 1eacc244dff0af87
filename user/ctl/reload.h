/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The config file applied to what runs, by the one precedence rule of
 * core/reconcile.h: at start over the state file, and again on SIGHUP and
 * POST /v1/reload. Each is one transaction: what the config adds, the
 * events saying so and the config_differs notes commit together, or
 * nothing changes.
 */
#ifndef VS_RELOAD_H
#define VS_RELOAD_H

#include <stdbool.h>
#include "core/reconcile.h"

struct config;
struct ctl;
struct dataplane;

/* What a start steers by. The state file (at state_path; NULL: not read)
 * is what the pinned maps were last made to say, and wins for what it
 * has: m is its model when there is one (*from_state), else the config's.
 * cm is the config's (config_path NULL: none), which ctl_reload_start()
 * merges into m once the start is committed. cfg: the config's API
 * settings. */
int ctl_load_models(const char *config_path, const char *state_path, struct config *cfg,
		    struct model *m, struct model *cm, bool *from_state, struct vs_err *err);
/* At start, before anything is attached: what the config cm (parsed from
 * cfg) would add to m (the state file's) is checked as a reload checks it
 * (names, addresses, servers, limits, another process on a new service's
 * address), so that a config that cannot be applied stops the start. */
int ctl_reload_check(struct dataplane *dp, const struct model *m, const struct model *cm,
		     const struct config *cfg, struct vs_err *err);
/* Merge cm into what runs, in one transaction: new services' addresses
 * checked, sockets placed for new clusters, and a `reloaded` event whose
 * sentence says what changed ("config FILE reloaded on SIGHUP: ...": how
 * is "on SIGHUP"). quiet (at start): "read", and no event at all when
 * nothing differs. r (or NULL): what it did. Takes c->lock. */
int ctl_apply_config(struct ctl *c, const struct config *cfg, const struct model *cm,
		     const char *how, bool quiet, struct reconcile_result *r, struct vs_err *err);
/* Once a start is committed: the config (path NULL: none) is what a
 * reload re-reads, and cm (the config's model, NULL when vsteerd started
 * from it: no state file) is applied, quiet. The checks came before
 * (ctl_reload_check()): what can fail here is the host, said in the log,
 * and vsteerd runs on as the state file has it. */
void ctl_reload_start(struct ctl *c, const char *path, const struct config *cfg,
		      const struct model *cm);
/* Re-read c->config_path and apply it (r as above). One that cannot be
 * read, parsed or applied changes nothing, and is a reload_failed event. */
int ctl_reload(struct ctl *c, const char *how, struct reconcile_result *r, struct vs_err *err);

#endif
