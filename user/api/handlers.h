/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One function per route (the table is in router.c). A handler returns
 * the JSON reply (json_null() when it set text instead) with status set,
 * or NULL with err filled. */
#ifndef VS_HANDLERS_H
#define VS_HANDLERS_H

#include <jansson.h>
#include "lib/err.h"
#include "api/router.h"

struct route;

/* A request on its way through the router to its handler. */
struct api_call {
	struct ctl *c;
	const struct api_req *req;
	const struct route *route;
	char caps[ROUTE_MAX_CAPS][ROUTE_CAP_LEN]; /* the {} path segments, decoded */
	struct api_arg args[API_MAX_ARGS];	  /* the query, decoded */
	size_t nargs;
	char *qbuf;   /* what args point into */
	json_t *body; /* the parsed request body, for routes that take one */
	struct vs_err err;
	int status;	    /* on success */
	char *text;	    /* a reply that is not JSON (malloc'ed) */
	int64_t wait_until; /* see struct api_resp */
	uint64_t wait_seen;
};

json_t *handle_healthz(struct api_call *k);
json_t *handle_services(struct api_call *k);
json_t *handle_service(struct api_call *k);
/* GET /v1/services/{name}/history?since=T */
json_t *handle_history(struct api_call *k);
json_t *handle_service_post(struct api_call *k);
json_t *handle_service_delete(struct api_call *k);
json_t *handle_reload(struct api_call *k);
json_t *handle_weights(struct api_call *k);
json_t *handle_clusters(struct api_call *k);
json_t *handle_cluster(struct api_call *k);
json_t *handle_cluster_put(struct api_call *k);
json_t *handle_cluster_delete(struct api_call *k);
json_t *handle_rollout_start(struct api_call *k);
json_t *handle_rollout_control(struct api_call *k);
#define EVENTS_MAX_WAIT_S 60 /* GET /v1/events?wait= */
json_t *handle_events(struct api_call *k);
json_t *handle_metrics(struct api_call *k);
json_t *handle_features(struct api_call *k);
json_t *handle_fleet(struct api_call *k);
json_t *handle_fleet_host_delete(struct api_call *k);

#endif
