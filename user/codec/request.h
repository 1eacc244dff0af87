/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The JSON bodies of the mutating endpoints, parsed into the requests the
 * controller executes. Pure: no controller, no kernel; the API handlers
 * and the fuzzers both use them. */
#ifndef VS_REQUEST_H
#define VS_REQUEST_H

#include <jansson.h>
#include "core/model.h"

struct weights_req {
	uint32_t n;
	const char *names[VS_MAX_VERSIONS]; /* point into the JSON body */
	uint16_t bp[VS_MAX_VERSIONS];
};

/* PUT /v1/clusters: {"service"?, "version", "servers", "upgradeTransition"?,
 * "analysis"?}; the analysis of the rollout its taking over starts. */
int req_cluster(json_t *body, char svc[NAME_MAX_LEN], struct cluster *spec, struct analysis_req *an,
		struct vs_err *err);
/* POST /v1/services: {"name", "address", "port", "protocol"?, "sessions"?,
 * "sessionTimeout"?, "analysis"?, "notifications"?, "takeover"?} into out
 * (salt unset) and *takeover. */
int req_service(json_t *body, struct service *out, bool *takeover, struct vs_err *err);
/* PUT /v1/services/{name}/weights: {"VERSION": PERCENT, ...} */
int req_weights(json_t *body, struct weights_req *w, struct vs_err *err);
/* POST /v1/services/{name}/rollout: {"to", "strategy"?, "sessionTimeout"?,
 * "steps"?, "analysis"?, "drainDeadline"?, "mirror"?, "then"?}. A mirror's
 * "then" (the same fields but "to", "mirror" and "then") is parsed into
 * *then, and req->then points to it; then NULL: none is taken. */
int req_rollout(json_t *body, struct ro_request *req, struct ro_request *then, struct vs_err *err);
/* The mirror a cluster's upgradeTransition {"mode": "mirror", "mirror"?,
 * "then"?} asks for, as req_rollout() would read it (req->to unset);
 * errors name where. */
int req_transition_plan(json_t *t, const char *where, struct ro_request *req,
			struct ro_request *then, struct vs_err *err);

#endif
