// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * connloop: one HTTP/1.0 request per TCP connection, in a tight loop (or at
 * a set rate), from several threads, recording for every connection when
 * connect() started and when the response ended (CLOCK_MONOTONIC, the clock
 * of Python's time.monotonic_ns()) and what came back: the first word of the
 * body (the backends answer with their version), "http:NNN" for a status
 * other than 200, or "err:ENAME" when the connection failed.
 *
 *   connloop -a 127.0.0.1:8080 [-t THREADS] [-d SECONDS] [-r PER_THREAD_RATE]
 *            [-s | -n] [-o FILE]
 *
 * -s binds a random source address in 127.1.0.0/16 per connection (vsteer
 * splits by client address); -n a new one for every connection, walking
 * 127.2.0.0-127.255.255.255 from a random start (a client vsteer has not
 * seen: its worst case). Stops after -d seconds or at SIGTERM/SIGINT,
 * then writes "start_ns end_ns result" lines to FILE (default stdout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct rec {
	uint64_t start, end;
	char res[24];
};

struct worker {
	pthread_t tid;
	unsigned int seed;
	struct rec *r;
	size_t n, cap;
};

static struct sockaddr_in dst;
static volatile sig_atomic_t stop;
static bool random_src, new_src;
static uint32_t next_src; /* -n: the next address's offset, atomic */
static double rate;
static uint64_t deadline;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *errname(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNRESET:
		return "ECONNRESET";
	case ETIMEDOUT:
	case EAGAIN:
		return "ETIMEDOUT";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EPIPE:
		return "EPIPE";
	default:
		return "EOTHER";
	}
}

/* One connection, one request; the result goes into r->res. */
static void one(struct worker *w, struct rec *r)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
	struct timeval tv = { .tv_sec = 5 };
	char buf[4096], *body;
	size_t len = 0;
	int fd, status;
	ssize_t n;

	r->start = now_ns();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(r->res, sizeof(r->res), "err:%s", errname(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (random_src || new_src) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		uint32_t a = new_src ? 0 : 0x7f010000u + 1 + rand_r(&w->seed) % 65534;
		int one = 1;

		/* -n: 127.2.0.0 on, host bytes 1-254 */
		while (new_src && (a & 0xff) % 255 == 0)
			a = 0x7f020000u + __atomic_fetch_add(&next_src, 1, __ATOMIC_RELAXED) %
						  (0x7f000000u - 0x20000u);
		src.sin_addr.s_addr = htonl(a);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		bind(fd, (struct sockaddr *)&src, sizeof(src));
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
		snprintf(r->res, sizeof(r->res), "err:%s", errname(errno));
		goto close_fd;
	}
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) != 0) {
		if (n < 0) {
			snprintf(r->res, sizeof(r->res), "err:%s", errname(errno));
			goto close_fd;
		}
		len += (size_t)n;
	}
	buf[len] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(r->res, sizeof(r->res), "err:%s", len ? "BADRESPONSE" : "EOF");
		goto close_fd;
	}
	body = strstr(buf, "\r\n\r\n");
	if (status != 200 || !body)
		snprintf(r->res, sizeof(r->res), "http:%d", status);
	else
		snprintf(r->res, sizeof(r->res), "%.*s", (int)strcspn(body + 4, " \r\n"), body + 4);
close_fd:
	close(fd);
out:
	r->end = now_ns();
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t next = now_ns(), gap = rate > 0 ? (uint64_t)(1e9 / rate) : 0;

	while (!stop && now_ns() < deadline) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 65536;
			struct rec *r = realloc(w->r, cap * sizeof(*r));

			if (!r)
				break;
			w->r = r;
			w->cap = cap;
		}
		one(w, &w->r[w->n++]);
		if (gap) {
			uint64_t t = now_ns();

			next += gap;
			if (next > t) {
				struct timespec ts = {
					.tv_sec = (time_t)((next - t) / 1000000000ull),
					.tv_nsec = (long)((next - t) % 1000000000ull)
				};
				nanosleep(&ts, NULL);
			} else {
				next = t;
			}
		}
	}
	return NULL;
}

static int parse_addr(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || colon - s >= (long)sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &dst.sin_addr) == 1 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	int nthreads = 1, opt;
	double secs = 3600;
	const char *out = NULL;
	struct worker *w;
	FILE *f;

	while ((opt = getopt(argc, argv, "a:t:d:r:sno:")) != -1) {
		switch (opt) {
		case 'a':
			if (parse_addr(optarg)) {
				fprintf(stderr, "connloop: -a %s: not IPV4:PORT\n", optarg);
				return 2;
			}
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			random_src = true;
			break;
		case 'n':
			new_src = true;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			fprintf(stderr, "usage: connloop -a ADDR:PORT [-t THREADS] [-d SECONDS] "
					"[-r PER_THREAD_RATE] [-s | -n] [-o FILE]\n");
			return 2;
		}
	}
	if (!dst.sin_family || nthreads < 1 || nthreads > 64 || secs <= 0) {
		fprintf(stderr,
			"connloop: need -a ADDR:PORT, 1..64 threads, a positive duration\n");
		return 2;
	}
	srand(time(NULL) ^ getpid());
	next_src = rand();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/* Opened before the load starts: its existence tells a driver that
	 * SIGTERM is handled from now on. */
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		perror(out);
		return 1;
	}
	deadline = now_ns() + (uint64_t)(secs * 1e9);
	w = calloc((size_t)nthreads, sizeof(*w));
	if (!w)
		return 1;
	for (int i = 0; i < nthreads; i++) {
		w[i].seed = (unsigned int)(now_ns() ^ (uint64_t)i * 7919);
		pthread_create(&w[i].tid, NULL, run, &w[i]);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(w[i].tid, NULL);
	for (int i = 0; i < nthreads; i++) {
		for (size_t j = 0; j < w[i].n; j++)
			fprintf(f, "%llu %llu %s\n", (unsigned long long)w[i].r[j].start,
				(unsigned long long)w[i].r[j].end, w[i].r[j].res);
		free(w[i].r);
	}
	free(w);
	return fclose(f) ? 1 : 0;
}
