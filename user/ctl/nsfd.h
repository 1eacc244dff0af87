/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Opening the network namespace a server's sockets live in (core/netns.h):
 * a path, a process's, or a podman or Docker container's, found through
 * their command line (`podman inspect`, else `docker inspect`), whose pid
 * is remembered: asking takes a tenth of a second or more, so it is asked
 * again only when that process is gone.
 */
#ifndef VS_NSFD_H
#define VS_NSFD_H

#include <stdint.h>
#include "lib/err.h"
#include "core/addr.h"
#include "core/netns.h"

/* An fd of the namespace (O_CLOEXEC; the caller closes it), or -errno
 * with a sentence in err that names what could not be opened. *pid is a
 * container's last known process (0: none yet), updated here. */
int nsfd_open(const struct netns_spec *ns, uint32_t *pid, struct vs_err *err);
/* The namespace's inode, as the tracker and /proc name it. */
int nsfd_ino(int fd, uint64_t *ino);
/* 0 if ep's address is one of namespace fd's own; else -EADDRNOTAVAIL and
 * a sentence in err naming the addresses it has (a container restarted
 * with a new one), or another -errno. what names the namespace. */
int nsfd_has_addr(int fd, const struct vs_endpoint *ep, const char *what, struct vs_err *err);

#endif
