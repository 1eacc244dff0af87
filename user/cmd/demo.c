// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vsteer-demo: a tiny HTTP backend that answers with its version, for the
 * README demo, the tests and the benchmarks. It can be told, at start or
 * at run time (POST /control?delay_ms=&status=&size=&hang=&reset_every=
 * &exit_after=), to add latency, return errors, change its response size,
 * hang, reset every Nth request's connection, or exit after N requests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <microhttpd.h>

struct settings {
	atomic_int delay_ms;
	atomic_int status;
	atomic_int size;
	atomic_int hang;
	atomic_int reset_every; /* 0: never */
	atomic_long exit_after; /* 0: never */
	atomic_long served;
	atomic_long seen; /* requests, for reset_every */
};

/* Shared by the forked workers (MAP_SHARED before fork): a control request
 * reaches one worker, and must change what every worker does. */
static struct settings *cur;
static const char *version = "0.0";
/* With --workers, the process that forked them; 0 with one process. */
static pid_t parent_pid;

static int listen_on(const char *spec, bool reuseport)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, one = 1, port;

	if (!colon || colon - spec >= (int)sizeof(host))
		return -EINVAL;
	port = atoi(colon + 1);
	if (spec[0] == '[') {
		struct sockaddr_in6 *s6 = (void *)&ss;

		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec - 2), spec + 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int arg_int(struct MHD_Connection *c, const char *name, int *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	if (!v)
		return 0;
	*out = atoi(v);
	return 1;
}

static enum MHD_Result respond(struct MHD_Connection *c, int status, const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "X-Version", version);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result control(struct MHD_Connection *c)
{
	char buf[256];
	int v;

	if (arg_int(c, "delay_ms", &v))
		cur->delay_ms = v;
	if (arg_int(c, "status", &v))
		cur->status = v;
	if (arg_int(c, "size", &v))
		cur->size = v;
	if (arg_int(c, "hang", &v))
		cur->hang = v;
	if (arg_int(c, "reset_every", &v))
		cur->reset_every = v;
	if (arg_int(c, "exit_after", &v))
		cur->exit_after = v ? cur->served + v : 0;
	snprintf(buf, sizeof(buf),
		 "{\"version\":\"%s\",\"pid\":%d,\"delay_ms\":%d,\"status\":%d,\"size\":%d,\"hang\":%d,\"reset_every\":%d,\"served\":%ld,\"exit_after\":%ld}\n",
		 version, getpid(), cur->delay_ms, cur->status, cur->size, cur->hang,
		 cur->reset_every, (long)cur->served, (long)cur->exit_after);
	return respond(c, 200, buf, strlen(buf));
}

/* A backend that crashes mid-request: the client gets a reset, not an
 * answer. Closing with SO_LINGER 0 sends it, but libmicrohttpd would
 * shut the socket down (a FIN) before closing it, and a client that
 * answers the FIN fast turns the close into a quiet one. So the socket
 * is closed here, under libmicrohttpd, by putting /dev/null on its fd
 * number; libmicrohttpd closes that later. */
static int devnull = -1;

static enum MHD_Result reset(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (ci && !setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		dup2(devnull, ci->connect_fd);
	return MHD_NO;
}

/* What a connection's current request is, for on_done: control requests
 * are not requests to the service and must not count towards exit_after. */
static int kind_request, kind_control;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *ver, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	char *body;
	size_t len;
	int size;
	enum MHD_Result ret;
	(void)cls, (void)ver, (void)upload;

	if (*con_cls == NULL) {
		*con_cls = !strcmp(method, "POST") && !strcmp(url, "/control") ? &kind_control :
										 &kind_request;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*con_cls == &kind_control)
		return control(c);
	while (cur->hang)
		usleep(100 * 1000);
	if (cur->reset_every > 0 && ++cur->seen % cur->reset_every == 0)
		return reset(c);
	if (cur->delay_ms)
		usleep(cur->delay_ms * 1000);
	size = cur->size;
	len = strlen(version) + 1;
	if ((size_t)size > len)
		len = size;
	body = malloc(len);
	if (!body)
		return MHD_NO;
	memset(body, 'x', len);
	memcpy(body, version, strlen(version));
	body[strlen(version)] = '\n';
	body[len - 1] = '\n';
	ret = respond(c, cur->status, body, len);
	free(body);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	long n, limit = cur->exit_after;
	(void)cls, (void)c, (void)toe;

	if (!con_cls || *con_cls != &kind_request)
		return;
	n = ++cur->served;
	if (limit && n >= limit) {
		fprintf(stderr, "vsteer-demo %s: exiting after %ld requests\n", version, n);
		/* A version that exits after N requests must be gone, not one
		 * worker of it: the parent takes the other workers down. */
		if (parent_pid && getppid() == parent_pid)
			kill(parent_pid, SIGUSR1);
		_exit(0);
	}
}

static int serve(int fd)
{
	struct MHD_Daemon *d;
	sigset_t s;
	int sig;

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
			     NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END);
	if (!d)
		return 1;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigwait(&s, &sig);
	/* Exit without draining: a demo backend dies like a crashed one. */
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: vsteer-demo --listen ADDR:PORT [--version V] [--workers N]\n"
		   "       [--reuseport] [--delay-ms N] [--status N] [--size N] [--hang]\n"
		   "       [--reset-every N] [--exit-after N] [-h | --help]\n"
		   "Answers every request with its version; POST /control?delay_ms=&status=\n"
		   "&size=&hang=&reset_every=&exit_after= changes behaviour at run time.\n");
}

int main(int argc, char **argv)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "version", required_argument, NULL, 'v' },
		{ "workers", required_argument, NULL, 'w' },
		{ "reuseport", no_argument, NULL, 'r' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "hang", no_argument, NULL, 'H' },
		{ "reset-every", required_argument, NULL, 'R' },
		{ "exit-after", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	/* clang-format on */
	const char *listen_spec = NULL;
	int opt, workers = 1, fd;
	pid_t kids[64] = {};
	bool reuseport = false;
	sigset_t s;

	cur = mmap(NULL, sizeof(*cur), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cur == MAP_FAILED) {
		perror("vsteer-demo: mmap");
		return 1;
	}
	cur->status = 200;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		perror("vsteer-demo: /dev/null");
		return 1;
	}
	while ((opt = getopt_long(argc, argv, "l:v:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'v':
			version = optarg;
			break;
		case 'w':
			workers = atoi(optarg);
			reuseport = true;
			break;
		case 'r':
			reuseport = true;
			break;
		case 'd':
			cur->delay_ms = atoi(optarg);
			break;
		case 's':
			cur->status = atoi(optarg);
			break;
		case 'z':
			cur->size = atoi(optarg);
			break;
		case 'H':
			cur->hang = 1;
			break;
		case 'R':
			cur->reset_every = atoi(optarg);
			break;
		case 'x':
			cur->exit_after = atol(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!listen_spec || workers < 1 || workers > 64) {
		usage(stderr);
		return 2;
	}
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	if (workers > 1)
		parent_pid = getpid();

	/* Each worker binds its own SO_REUSEPORT socket, as nginx does with
	 * `reuseport`: vsteerd must register the whole group. */
	for (int i = 0; i < workers; i++) {
		fd = listen_on(listen_spec, reuseport);
		if (fd < 0) {
			fprintf(stderr, "vsteer-demo: cannot listen on %s: %s\n", listen_spec,
				strerror(-fd));
			return 1;
		}
		if (workers == 1)
			break;
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("vsteer-demo: fork");
			for (int k = 0; k < i; k++)
				kill(kids[k], SIGTERM);
			return 1;
		}
		if (kids[i] == 0) {
			/* Workers go with the parent however it dies (a kill -9
			 * of the demo's pid must not leave a live version). */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent_pid)
				_exit(0);
			return serve(fd);
		}
		close(fd);
	}
	printf("vsteer-demo %s listening on %s pid %d workers %d\n", version, listen_spec, getpid(),
	       workers);
	fflush(stdout);
	if (workers == 1)
		return serve(fd);
	{
		int sig;

		/* SIGTERM, SIGINT, or SIGUSR1 from a worker that reached
		 * exit_after: every worker goes. Not kill(0): the demo may
		 * share its process group with the shell script that ran it.
		 * A worker killed on its own does not end the others (the
		 * rest of a reuseport group keeps serving). */
		sigwait(&s, &sig);
		for (int i = 0; i < workers; i++)
			if (kids[i] > 0)
				kill(kids[i], SIGTERM);
		while (wait(NULL) > 0)
			;
	}
	return 0;
}
