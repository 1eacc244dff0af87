// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/lib/sdnotify.c against a real AF_UNIX datagram socket, as systemd
 * binds it: a path and an abstract "@" name each receive the message as
 * sent, the watchdog pings at half its interval and not for another
 * process, and what systemd would never set is refused.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/sdnotify.h"

#include "harness.h"

struct listener {
	int fd;
	char name[64]; /* as $NOTIFY_SOCKET gives it */
};

static void listener_free(void *arg)
{
	struct listener *l = arg;

	close(l->fd);
	if (l->name[0] == '/')
		unlink(l->name);
}

/* A datagram socket bound where $NOTIFY_SOCKET would say: a path in /tmp,
 * or an abstract name ("@..."). */
static struct listener *listen_at(bool abstract)
{
	struct listener *l = tcalloc(sizeof(*l));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;

	snprintf(l->name, sizeof(l->name), "%svsteer-unit-notify-%d", abstract ? "@" : "/tmp/",
		 (int)getpid());
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return NULL;
	memcpy(a.sun_path, l->name, strlen(l->name));
	if (abstract)
		a.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(l->name) + !abstract);
	if (!abstract)
		unlink(l->name);
	if (bind(l->fd, (struct sockaddr *)&a, len) < 0) {
		close(l->fd);
		return NULL;
	}
	defer(listener_free, l);
	return l;
}

/* The next datagram, or "" if none comes within 200 ms (the sends are
 * synchronous: one sent is already queued). */
static const char *next_msg(struct listener *l)
{
	static char buf[8192];
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 200) != 1)
		return "";
	n = recv(l->fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void sdn_free(void *arg)
{
	sdnotify_close(arg);
}

static struct sdnotify *sdn(void)
{
	struct sdnotify *n = tcalloc(sizeof(*n));

	n->fd = -1;
	defer(sdn_free, n);
	return n;
}

static void test_sdnotify_path_and_abstract(void)
{
	for (int abstract = 0; abstract <= 1; abstract++) {
		struct listener *l = listen_at(abstract);
		struct sdnotify *n = sdn();

		CHECK(l, "cannot bind %s socket: %s", abstract ? "an abstract" : "a path",
		      strerror(errno));
		CHECK_INT(sdnotify_open(n, l->name, NULL, NULL), ==, 0);
		CHECK(sdnotify_enabled(n), "%s: not enabled", l->name);
		CHECK_INT(sdnotify_send(n, "READY=1\nSTATUS=%s", "serving 2 services"), ==, 0);
		CHECK_STR(next_msg(l), "READY=1\nSTATUS=serving 2 services");
		/* No watchdog asked for: no ping. */
		CHECK_INT(sdnotify_watchdog(n, 1000), ==, 0);
		CHECK_STR(next_msg(l), "");
	}
}

static void test_sdnotify_watchdog_half_interval(void)
{
	struct listener *l = listen_at(true);
	struct sdnotify *n = sdn(), *other = sdn();
	char pid[16], notpid[16];

	CHECK(l, "cannot bind: %s", strerror(errno));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(notpid, sizeof(notpid), "%d", (int)getpid() + 1);
	/* WatchdogSec=4s: a ping every 2 s of the caller's clock. */
	CHECK_INT(sdnotify_open(n, l->name, "4000000", pid), ==, 0);
	CHECK_INT(n->watchdog_ms, ==, 2000);
	CHECK_INT(sdnotify_watchdog(n, 10000), ==, 0);
	CHECK_STR(next_msg(l), "WATCHDOG=1");
	CHECK_INT(sdnotify_watchdog(n, 11999), ==, 0);
	CHECK_STR(next_msg(l), "");
	CHECK_INT(sdnotify_watchdog(n, 12000), ==, 0);
	CHECK_STR(next_msg(l), "WATCHDOG=1");
	/* The environment of a parent, inherited: the watchdog is not ours. */
	CHECK_INT(sdnotify_open(other, l->name, "4000000", notpid), ==, 0);
	CHECK_INT(other->watchdog_ms, ==, 0);
	CHECK_INT(sdnotify_watchdog(other, 10000), ==, 0);
	CHECK_STR(next_msg(l), "");
}

static void test_sdnotify_refuses(void)
{
	struct sdnotify *n = sdn();
	char longname[200];

	/* No systemd: nothing to do, and nothing fails. */
	CHECK_INT(sdnotify_open(n, NULL, NULL, NULL), ==, 0);
	CHECK(!sdnotify_enabled(n), "enabled without a socket");
	CHECK_INT(sdnotify_send(n, "READY=1"), ==, 0);
	CHECK_INT(sdnotify_open(n, "", "1000", NULL), ==, 0);
	CHECK(!sdnotify_enabled(n), "enabled by an empty socket");

	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	CHECK_INT(sdnotify_open(n, "relative/sock", NULL, NULL), ==, -EINVAL);
	CHECK_INT(sdnotify_open(n, "@", NULL, NULL), ==, -EINVAL);
	CHECK_INT(sdnotify_open(n, longname, NULL, NULL), ==, -EINVAL);
	CHECK_INT(sdnotify_open(n, "@x", "12s", NULL), ==, -EINVAL);
	CHECK_INT(sdnotify_open(n, "@x", "-5", NULL), ==, -EINVAL);
	CHECK_INT(sdnotify_open(n, "@x", NULL, "me"), ==, -EINVAL);

	/* A socket nobody listens on: the error, not silence. */
	CHECK_INT(sdnotify_open(n, "/nonexistent/notify", NULL, NULL), ==, 0);
	CHECK_INT(sdnotify_send(n, "READY=1"), ==, -ENOENT);
	sdnotify_close(n);
	CHECK_INT(sdnotify_open(n, "@vsteer-unit-nobody-listens", NULL, NULL), ==, 0);
	CHECK_INT(sdnotify_send(n, "READY=1"), ==, -ECONNREFUSED);
	/* Over the 4 KiB a message may be. */
	CHECK_INT(sdnotify_send(n, "STATUS=%5000s", "x"), ==, -EMSGSIZE);
}

const struct unit_case sdnotify_cases[] = { TEST(test_sdnotify_path_and_abstract),
					    TEST(test_sdnotify_watchdog_half_interval),
					    TEST(test_sdnotify_refuses),
					    { NULL, NULL } };
