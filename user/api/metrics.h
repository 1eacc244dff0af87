/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* GET /metrics: the Prometheus text format (0.0.4), rendered from a
 * snapshot of every version. */
#ifndef VS_METRICS_H
#define VS_METRICS_H

#include "ctl/snap.h"

/* malloc'ed; NULL when out of memory. */
char *metrics_text(const struct snap *s);

#endif
