// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <linux/nsfs.h>
#include "lib/log.h"
#include "kernel/dp.h"
#include "ctl/nsfd.h"

#define INSPECT_TIMEOUT_MS 5000 /* a podman that hangs must not hang vsteerd */

extern char **environ;

/* The fd of a network namespace file, checked to be one, and another
 * than vsteerd's: a server of vsteerd's own is named as ADDRESS:PORT
 * alone, and steered by socket. */
static int open_ns(const char *path, const char *what, struct vs_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), type;
	struct stat own, st;

	if (fd < 0)
		return vs_errf(err, -errno, 400, "bad_servers", "%s: cannot open %s: %s", what,
			       path, strerror(errno));
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return vs_errf(err, -EINVAL, 400, "bad_servers",
			       "%s: %s is not a network namespace", what, path);
	}
	if (!stat("/proc/thread-self/ns/net", &own) && !fstat(fd, &st) && own.st_ino == st.st_ino) {
		close(fd);
		return vs_errf(
			err, -EINVAL, 400, "bad_servers",
			"%s is vsteerd's own network namespace: name the server as \"ADDRESS:PORT\" alone",
			what);
	}
	return fd;
}

static int open_pid(uint32_t pid, const char *what, struct vs_err *err)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	return open_ns(path, what, err);
}

/* `tool inspect --format {{.State.Pid}} name`: the container's process,
 * or -errno (-ENOENT: no such tool or container). */
static int inspect(const char *tool, const char *name, uint32_t *pid)
{
	char *argv[] = { (char *)tool, "inspect", "--format", "{{.State.Pid}}", (char *)name, NULL };
	posix_spawn_file_actions_t fa;
	char out[64] = "";
	int p[2], st, ret = 0;
	size_t len = 0;
	pid_t child;
	long v;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ret = posix_spawnp(&child, tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (ret) {
		close(p[0]);
		return -ret;
	}
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, INSPECT_TIMEOUT_MS) <= 0) {
			kill(child, SIGKILL);
			ret = -ETIMEDOUT;
			break;
		}
		n = read(p[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		if (len == sizeof(out) - 1)
			break;
	}
	close(p[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (ret)
		return ret;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -ENOENT;
	v = strtol(out, NULL, 10);
	/* A container that is not running has pid 0. */
	if (v <= 0 || v > INT32_MAX)
		return -ESRCH;
	*pid = v;
	return 0;
}

static int open_container(const char *name, uint32_t *pid, const char *what, struct vs_err *err)
{
	int fd, ret;

	if (*pid) {
		fd = open_pid(*pid, what, err);
		if (fd >= 0)
			return fd;
		*pid = 0; /* restarted, or gone: ask again */
	}
	ret = inspect("podman", name, pid);
	if (ret == -ENOENT)
		ret = inspect("docker", name, pid);
	if (ret == -ESRCH)
		return vs_errf(err, ret, 400, "bad_servers", "%s: container %s is not running",
			       what, name);
	if (ret)
		return vs_errf(err, ret, 400, "bad_servers",
			       "%s: neither podman nor docker knows a container %s", what, name);
	return open_pid(*pid, what, err);
}

int nsfd_open(const struct netns_spec *ns, uint32_t *pid, struct vs_err *err)
{
	char what[NETNS_STRLEN];

	netns_format(ns, what, sizeof(what));
	switch (ns->kind) {
	case NETNS_PATH:
		return open_ns(ns->name, what, err);
	case NETNS_PID:
		return open_pid(ns->pid, what, err);
	case NETNS_CONTAINER:
		return open_container(ns->name, pid, what, err);
	default: /* vsteerd's own: a server of it is steered by socket */
		return vs_errf(err, -EINVAL, 500, "internal", "no other network namespace named");
	}
}

int nsfd_ino(int fd, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* The namespace's addresses of ep's family, for the sentence. */
static void list_addrs(int family, char *buf, size_t size)
{
	struct ifaddrs *ifs, *i;
	char a[INET6_ADDRSTRLEN];
	size_t len = 0;

	buf[0] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		const void *p;

		if (!i->ifa_addr || i->ifa_addr->sa_family != family || !strcmp(i->ifa_name, "lo"))
			continue;
		p = family == AF_INET ?
			    (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
			    (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		if (!inet_ntop(family, p, a, sizeof(a)) || len >= size)
			continue;
		len += snprintf(buf + len, size - len, "%s%s", len ? ", " : "", a);
	}
	freeifaddrs(ifs);
}

int nsfd_has_addr(int fd, const struct vs_endpoint *ep, const char *what, struct vs_err *err)
{
	struct vs_endpoint any = *ep;
	struct sockaddr_storage ss;
	char a[EP_STRLEN], have[256];
	int own, s, ret;
	socklen_t len;

	ret = dp_netns_enter(fd, &own);
	if (ret)
		return vs_errf(err, ret, 500, "netns", "%s: cannot enter it: %s", what,
			       strerror(-ret));
	/* Binding to it, port 0, says whether it is local there. */
	any.port = 0;
	len = ep_to_sockaddr(&any, &ss);
	s = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		ret = -errno;
	else if (bind(s, (struct sockaddr *)&ss, len) < 0)
		ret = -errno;
	if (s >= 0)
		close(s);
	if (ret == -EADDRNOTAVAIL)
		list_addrs(ep->family, have, sizeof(have));
	dp_netns_leave(own);
	ep_format_addr(ep, a, sizeof(a));
	if (ret == -EADDRNOTAVAIL)
		return vs_errf(
			err, ret, 422, "not_its_address",
			"%s is not an address in %s (it has %s): a restarted container may have a new one (podman run --ip keeps it); register the server with the address it has",
			a, what, have[0] ? have : "none");
	if (ret)
		return vs_errf(err, ret, 500, "netns", "%s: cannot check %s there: %s", what, a,
			       strerror(-ret));
	return 0;
}
