/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The sk_lookup link of the network namespace, pinned as `link` with its
 * program beside it as `lookup`: a restart reads the program the link
 * runs from there, since opening a program by id needs CAP_SYS_ADMIN. */
#ifndef VS_DP_LOOKUP_H
#define VS_DP_LOOKUP_H

#include "lib/err.h"

struct dataplane;

/* Attach steer's program to this network namespace and pin the link and
 * the program in dir. */
int dp_lookup_attach(struct dataplane *dp, const char *dir, struct vs_err *err);
/* Take over dir's pinned link: it must be an sk_lookup link of this
 * network namespace running our program (checked by name, as a tag
 * changes with every build), and then gets the freshly loaded program
 * atomically; the old one is held in old_prog_fd until dp_commit(). */
int dp_lookup_adopt(struct dataplane *dp, const char *dir, struct vs_err *err);
/* The adopted link runs this build's program now: pin it in place of the
 * old one, by a rename, so that there is always one. A failure is logged:
 * it only costs the next start without CAP_SYS_ADMIN its adoption. */
void dp_lookup_repin(struct dataplane *dp);

#endif
