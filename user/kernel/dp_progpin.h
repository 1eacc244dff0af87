/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A link's program pinned beside the link: a restart reads the program a
 * pinned link runs from there, since opening a program by id
 * (BPF_PROG_GET_FD_BY_ID) needs CAP_SYS_ADMIN, which vsteerd runs
 * without. */
#ifndef VS_DP_PROGPIN_H
#define VS_DP_PROGPIN_H

#include <linux/bpf.h>

/* The name a new pin is made under before it is renamed into place (a
 * crash can leave it; --cleanup removes it). bpffs refuses dots. */
#define DP_PROGPIN_TMP "prog_new"

/* The program with id prog_id (a link's), with its info: the one pinned at
 * path if it is that one, else by id (CAP_SYS_ADMIN). An fd or -errno. */
int dp_progpin_get(const char *path, __u32 prog_id, struct bpf_prog_info *pinfo);
/* Pin prog_fd at path, in place of what is there, by a rename: a pin is
 * always there. 0 or -errno. */
int dp_progpin_set(int prog_fd, const char *path);

#endif
