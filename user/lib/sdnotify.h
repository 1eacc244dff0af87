/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* systemd's readiness protocol (sd_notify(3)) spoken directly, without
 * libsystemd: one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace),
 * and the watchdog's keep-alive at half of $WATCHDOG_USEC. With no
 * $NOTIFY_SOCKET every call does nothing and returns 0. */
#ifndef VS_SDNOTIFY_H
#define VS_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	int fd; /* -1: no systemd to tell */
	struct sockaddr_un addr;
	socklen_t addr_len;
	int64_t watchdog_ms; /* 0: no watchdog; else how often to ping */
	int64_t last_ping_ms;
};

/* From the values of $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID
 * (each may be NULL). 0, with n->fd -1 if socket is NULL or empty;
 * -EINVAL for a socket that is neither an absolute path nor "@name" or
 * is too long, or a watchdog value that is not a number; -errno if no
 * socket can be made. A $WATCHDOG_PID of another process (a child that
 * inherited the environment) turns the watchdog off. */
int sdnotify_open(struct sdnotify *n, const char *socket, const char *watchdog_usec,
		  const char *watchdog_pid);
/* sdnotify_open() with this process's environment, which it then clears
 * of the three so nothing vsteerd starts pretends to be it; a bad value
 * is also a warning in the log (and systemd then times the start out). */
int sdnotify_open_env(struct sdnotify *n);
bool sdnotify_enabled(const struct sdnotify *n);
/* Send one message, printf-style ("READY=1\nSTATUS=..."); 0 or -errno
 * (-EMSGSIZE over 4 KiB). */
int sdnotify_send(struct sdnotify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RELOADING=1 with the MONOTONIC_USEC= that systemd 253's
 * Type=notify-reload wants too (252 ignores it); READY=1 ends it. */
int sdnotify_reloading(struct sdnotify *n);
/* WATCHDOG=1 if half the watchdog interval has passed since the last one
 * at now_ms (clock_mono_ms()); 0 or -errno. Called from the control loop,
 * so a loop that stops stops the pings and systemd restarts vsteerd. */
int sdnotify_watchdog(struct sdnotify *n, int64_t now_ms);
void sdnotify_close(struct sdnotify *n);

#endif
