/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Services added and deleted through the API (POST /v1/services, DELETE
 * /v1/services/{name}), each a transaction (txn.h): 0, or a -errno with
 * err filled and nothing changed. */
#ifndef VS_SERVICES_H
#define VS_SERVICES_H

#include <stdbool.h>
#include "core/model.h"

struct ctl;

/* spec as req_service() leaves it (a fresh salt is drawn); refused like a
 * config's service (name, address, limits), and if another process
 * listens on its address, unless takeover. */
int ctl_add_service(struct ctl *c, const struct service *spec, bool takeover, struct vs_err *err);
/* One with clusters only with force: they go with it, and its address is
 * no longer steered. */
int ctl_del_service(struct ctl *c, const char *name, bool force, struct vs_err *err);

#endif
