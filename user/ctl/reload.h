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
 * nothing differs. r: what it did. Takes c->lock. */
int ctl_apply_config(struct ctl *c, const struct config *cfg, const struct model *cm,
		     const char *how, bool quiet, struct reconcile_result *r, struct vs_err *err);
/* Re-read c->config_path and apply it. One that cannot be read, parsed or
 * applied changes nothing, and is a reload_failed event. */
int ctl_reload(struct ctl *c, const char *how, struct reconcile_result *r, struct vs_err *err);

#endif
