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
/* POST /v1/services/{name}/rollout */
int req_rollout(json_t *body, struct ro_request *req, struct vs_err *err);

#endif
