/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl get fleet: GET /v1/fleet as a line on this host's link to
 * etcd and a table of the fleet's hosts. */
#ifndef VS_CLI_FLEET_H
#define VS_CLI_FLEET_H
#include <jansson.h>

/* 0, or CLI_EXIT_USAGE once it said the reply is not a fleet's view. */
int cli_print_fleet(const json_t *reply);

#endif
