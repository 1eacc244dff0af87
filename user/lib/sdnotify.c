// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* systemd's notify protocol, without libsystemd: the images ship only the
 * runtime libraries vsteerd links, and the protocol is one datagram. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sdnotify.h"

#define SDNOTIFY_MAX 4096

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int sdnotify_open(struct sdnotify *n, const char *socket_name, const char *watchdog_usec,
		  const char *watchdog_pid)
{
	size_t len = socket_name ? strlen(socket_name) : 0;
	uint64_t usec = 0, pid;

	*n = (struct sdnotify){ .fd = -1 };
	if (!len)
		return 0;
	if ((socket_name[0] != '/' && socket_name[0] != '@') || len < 2 ||
	    len >= sizeof(n->addr.sun_path))
		return -EINVAL;
	if (watchdog_usec && *watchdog_usec && parse_u64(watchdog_usec, &usec))
		return -EINVAL;
	if (watchdog_pid && *watchdog_pid) {
		if (parse_u64(watchdog_pid, &pid))
			return -EINVAL;
		if (pid != (uint64_t)getpid())
			usec = 0;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, socket_name, len);
	/* An abstract name starts with a NUL and is not NUL-terminated: its
	 * length is the address's. */
	if (socket_name[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addr_len =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (socket_name[0] == '/'));
	/* Half the interval, as sd_watchdog_enabled(3) advises: a ping late
	 * by a tick still arrives in time. */
	n->watchdog_ms = usec ? (int64_t)(usec / 2000) : 0;
	if (usec && !n->watchdog_ms)
		n->watchdog_ms = 1;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return -errno;
	return 0;
}

int sdnotify_open_env(struct sdnotify *n)
{
	int ret = sdnotify_open(n, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"),
				getenv("WATCHDOG_PID"));

	if (ret)
		pr_warn("$NOTIFY_SOCKET: %s; systemd is not told when vsteerd is ready\n",
			strerror(-ret));
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return ret;
}

bool sdnotify_enabled(const struct sdnotify *n)
{
	return n->fd >= 0;
}

int sdnotify_send(struct sdnotify *n, const char *fmt, ...)
{
	char buf[SDNOTIFY_MAX];
	va_list ap;
	ssize_t sent;
	int len;

	if (n->fd < 0)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(buf))
		return -EMSGSIZE;
	/* systemd reads the sender's pid from the credentials the kernel
	 * attaches (its socket has SO_PASSCRED): any thread may send. */
	do
		sent = sendto(n->fd, buf, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
			      n->addr_len);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return sent == len ? 0 : -EMSGSIZE;
}

int sdnotify_reloading(struct sdnotify *n)
{
	return sdnotify_send(n, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the config",
			     (unsigned long long)(clock_mono_ns() / 1000));
}

int sdnotify_watchdog(struct sdnotify *n, int64_t now_ms)
{
	int ret;

	if (n->fd < 0 || !n->watchdog_ms ||
	    (n->last_ping_ms && now_ms - n->last_ping_ms < n->watchdog_ms))
		return 0;
	ret = sdnotify_send(n, "WATCHDOG=1");
	if (!ret)
		n->last_ping_ms = now_ms;
	return ret;
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
