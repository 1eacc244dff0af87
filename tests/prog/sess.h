/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The session table (map sessions) as the tests see it: sessions put and
 * found where the data plane puts and finds them (vs_sess_place()). */
#ifndef TEST_SESS_H
#define TEST_SESS_H

#include <stdbool.h>
#include "vsteer_hash.h"

/* The table's fd, its sets, and the salt of each service id. */
struct tsess {
	int fd;
	__u32 nsets;
	__u32 (*salt)(__u32 svc);
};

/* Every set free. 0 or -errno. */
int tsess_clear(const struct tsess *t);
/* Client k's session, put in a free place of its emptier set. */
int tsess_put(const struct tsess *t, const struct vs_sess_key *k, const struct vs_sess *e);
/* Client k's session into *e: 0, -ENOENT if it has none. */
int tsess_get(const struct tsess *t, const struct vs_sess_key *k, struct vs_sess *e);
/* Sessions in the table, or -errno. */
int tsess_count(const struct tsess *t);

#endif
