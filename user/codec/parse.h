/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* JSON input shared by the config file, the state file and the API: every
 * object is checked against the fields it may have, and every error names
 * the field it is about (`where` is the path so far, e.g. "cluster[1]"). */
#ifndef VS_PARSE_H
#define VS_PARSE_H

#include <jansson.h>
#include "core/model.h"

/* -EINVAL unless obj is an object whose keys are all in allowed
 * (NULL-terminated). */
int parse_keys(json_t *obj, const char *const *allowed, const char *where, struct vs_err *err);
/* A service's "protocol": "tcp" or "http" (*http), dflt when absent;
 * -EINVAL for anything else. */
int parse_protocol(json_t *p, bool dflt, bool *http);
/* An address and a port given as two values (either may be NULL:
 * missing), as the fields of a larger object carry them. */
int parse_addr_port(json_t *addr, json_t *port, const char *where, struct vs_endpoint *ep,
		    struct vs_err *err);
/* {"address": "1.2.3.4", "port": 80} or "1.2.3.4:80" */
int parse_endpoint(json_t *j, const char *where, struct vs_endpoint *ep, struct vs_err *err);
/* A service's "sessions": {"ipv6Prefix", "quota", "quotaPrefix4",
 * "quotaPrefix6"}; what it leaves out stays as o has it. */
int parse_sess_opts(json_t *j, const char *where, struct sess_opts *o, struct vs_err *err);
/* An owner (core/owner.h): {"uid": 1000}, {"cgroup": "/system.slice/x"}
 * or both; cgroup "/" is any. */
int parse_owner(json_t *j, const char *where, struct owner *o, struct vs_err *err);
/* A cluster object: version, servers, upgradeTransition, health, owner, and the
 * extra fields named in `extra` (NULL-terminated; e.g. "service", "id").
 * The caller handles the extra fields; out->svc is left as it is. */
int parse_cluster(json_t *j, const char *where, const char *const *extra, struct cluster *out,
		  struct vs_err *err);
/* A list of webhook targets (core/notify.h), as the config file, the
 * state file and request bodies carry it under "notifications":
 *   [{"url": "https://hooks.example.com/x",  http:// or https://
 *     "events": ["auto_rollback", "step"],   kinds; ["*"] or left out: all
 *     "headers": {"Authorization": "Bearer ..."},
 *     "timeoutMs": 5000}]                    one attempt's, 100 to 30000
 * At most NOTIFY_MAX_TARGETS targets. Errors name where[i] and the field
 * (codes bad_notifications, or limit); *out is written only on success. */
int parse_notifications(json_t *v, const char *where, struct notify_list *out, struct vs_err *err);

#endif
