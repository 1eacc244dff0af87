/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Closing a TCP socket from user space by its addresses and cookie, with
 * netlink's SOCK_DESTROY (inet_diag, CONFIG_INET_DIAG_DESTROY; what
 * `ss -K` uses): the drain's way on kernels without bpf_sock_destroy. The
 * kernel looks the socket up by its addresses and refuses one whose
 * cookie differs, so a newer connection that took over the same
 * addresses is never closed by mistake. Needs CAP_NET_ADMIN in the
 * socket's network namespace.
 */
#ifndef VS_SOCK_DIAG_H
#define VS_SOCK_DIAG_H

#include "vsteer.h"

/* A NETLINK_SOCK_DIAG socket, or -errno. */
int sock_diag_open(void);
/* Close the connection r names (local end, remote end, family, cookie):
 * 0, or -errno (-ENOENT: gone already; -ESTALE: another socket has its
 * addresses now; -EOPNOTSUPP: a kernel without CONFIG_INET_DIAG_DESTROY). */
int sock_diag_destroy(int fd, const struct vs_drain_rec *r);
/* 0 if SOCK_DESTROY works here: it closes a listening socket made for
 * the purpose on 127.0.0.1 (no traffic); else the -errno that says why. */
int sock_diag_probe(void);

#endif
