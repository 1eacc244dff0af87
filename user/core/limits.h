/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The model's limits, each named once. The data plane's own (services,
 * versions, slots, sockets) are in include/vsteer.h. */
#ifndef VS_LIMITS_H
#define VS_LIMITS_H

#include "vsteer.h"
#include "lib/rand.h"

#define VS_MAX_SERVERS	       16	       /* servers named per cluster */
#define NAME_MAX_LEN	       64	       /* a service name and its NUL */
#define ID_LEN		       RAND_UUID_LEN   /* cluster ids are UUIDs */
#define VS_MAX_SESSION_TIMEOUT (7 * 24 * 3600) /* seconds */

#endif
