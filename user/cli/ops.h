/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl add-cluster, delete-cluster and weights: a service's
 * versions and how new sessions are shared among them. */
#ifndef VS_CLI_OPS_H
#define VS_CLI_OPS_H
#include <jansson.h>

struct cli_opts;

int cli_add_cluster(struct cli_opts *o);
int cli_delete_cluster(struct cli_opts *o);
int cli_weights(struct cli_opts *o);
/* The id of service's cluster of version in a service's view, or NULL. */
const char *cli_cluster_id(const json_t *svc, const char *version);

#endif
