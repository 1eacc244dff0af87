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
/* A whole-number field of an object: its key and the range it must be in. */
struct parse_int {
	const char *key;
	json_int_t lo, hi;
};
/* Reads each of f[0..n) that j has into val[] (the ones it lacks keep
 * theirs); one out of range is refused with code, naming where.key. */
int parse_ints(json_t *j, const struct parse_int *f, size_t n, json_int_t *val, const char *code,
	       const char *where, struct vs_err *err);
/* An address and a port given as two values (either may be NULL:
 * missing), as the fields of a larger object carry them. */
int parse_addr_port(json_t *addr, json_t *port, const char *where, struct vs_endpoint *ep,
		    struct vs_err *err);
/* {"address": "1.2.3.4", "port": 80} or "1.2.3.4:80" */
int parse_endpoint(json_t *j, const char *where, struct vs_endpoint *ep, struct vs_err *err);
/* A service's "sessions": {"ipv6Prefix", "quota", "quotaPrefix4",
 * "quotaPrefix6"}; what it leaves out stays as o has it. */
int parse_sess_opts(json_t *j, const char *where, struct sess_opts *o, struct vs_err *err);
/* A service's fields, as the config's entry and POST /v1/services' body
 * have them: address and port (both needed), protocol, sessions,
 * sessionTimeout (seconds a client keeps its version; 0: none),
 * analysis (what its rollouts are judged by) and notifications (its
 * webhooks) into out, and takeover; out's name, salt and the rest are left as they are. The
 * caller checks the keys. */
int parse_service(json_t *obj, const char *where, struct service *out, bool *takeover,
		  struct vs_err *err);
/* An owner (core/owner.h): {"uid": 1000}, {"cgroup": "/system.slice/x"}
 * or both; cgroup "/" is any. */
int parse_owner(json_t *j, const char *where, struct owner *o, struct vs_err *err);
/* "analysis": false (a->on false), true, or an object of judge_fields
 * and "onInconclusive" (a->on true) read over what a holds; each one
 * given sets its bit in *given (core/judge.h). A bad value is refused with
 * code, naming where.field. */
int parse_analysis(json_t *j, const char *where, const char *code, struct analysis *a,
		   uint32_t *given, struct vs_err *err);
/* A "drainDeadline" (v, which may be NULL: none): whole seconds from 0
 * to DRAIN_MAX_DEADLINE; an error names where and has code. */
int parse_drain(json_t *v, const char *where, const char *code, struct drain_spec *out,
		struct vs_err *err);
/* A cluster object: version, servers, upgradeTransition, health, owner, and the
 * extra fields named in `extra` (NULL-terminated; e.g. "service", "id").
 * The caller handles the extra fields; out->svc is left as it is. */
int parse_cluster(json_t *j, const char *where, const char *const *extra, struct cluster *out,
		  struct vs_err *err);

#endif
