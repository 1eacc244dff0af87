// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * LD_PRELOAD shim for the benchmark's load generators (wrk): every TCP
 * connect to a loopback address first binds a random source address in
 * 127.1.0.0/16. vsteer splits by client address, so load from the single
 * address 127.0.0.1 would all land on one version; real clients come from
 * many addresses. Every configuration in a run, direct included, gets the
 * same shim, so its cost (one bind per connection) is in the baseline too.
 *
 *   VSTEER_SRC_ADDRS=N   how many addresses (default 65534)
 *   VSTEER_SRC_BASE=A    bind BASE + 1..N instead, for every IPv4
 *                        destination: clients of containers, which a
 *                        loopback source cannot reach (the kernel drops
 *                        127/8 off the host); the range must be local
 *                        (`ip route add local A/16 dev lo`)
 *   VSTEER_DST_SPAN=N    also move each connection's destination port p to
 *                        p + a random 0..N-1: load spread over N backends
 *                        directly, the baseline of a service that has N
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread uint64_t rng_state;

static uint32_t rng(void)
{
	if (!rng_state) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng_state = ((uint64_t)syscall(SYS_gettid) << 32) ^ (uint64_t)ts.tv_nsec ^ 1;
	}
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static uint32_t env_u32(const char *name, uint32_t def, uint32_t max)
{
	const char *s = getenv(name);
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 && v <= (long)max ? (uint32_t)v : def;
}

static uint32_t naddrs(void)
{
	static uint32_t n;

	if (!n)
		n = env_u32("VSTEER_SRC_ADDRS", 65534, 65534);
	return n;
}

/* The first address of the source range, host order: 127.1.0.0 unless
 * VSTEER_SRC_BASE names another; *any: the range is for every destination. */
static uint32_t src_base(bool *any)
{
	static uint32_t base;
	static bool other;

	if (!base) {
		const char *s = getenv("VSTEER_SRC_BASE");
		struct in_addr a;

		other = s && inet_pton(AF_INET, s, &a) == 1;
		base = other ? ntohl(a.s_addr) : 0x7f010000u;
	}
	*any = other;
	return base;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real_connect)(int, const struct sockaddr *, socklen_t);
	const struct sockaddr_in *to = (const struct sockaddr_in *)sa;
	bool any;
	uint32_t base = src_base(&any);

	if (!real_connect)
		real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT,
										       "connect");
	if (sa && sa->sa_family == AF_INET && len >= sizeof(*to) &&
	    (any || (ntohl(to->sin_addr.s_addr) >> 24) == 127)) {
		struct sockaddr_in src = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(base + 1 + rng() % naddrs()),
		};
		uint32_t span = env_u32("VSTEER_DST_SPAN", 1, 1024);
		int one = 1, saved = errno;

		if (span > 1) {
			struct sockaddr_in moved = *to;

			moved.sin_port = htons(ntohs(to->sin_port) + rng() % span);
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			bind(fd, (struct sockaddr *)&src, sizeof(src));
			errno = saved;
			return real_connect(fd, (struct sockaddr *)&moved, sizeof(moved));
		}

		/* The port is chosen at connect time, per 4-tuple, not here. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		/* EINVAL: the caller bound it already; keep theirs. */
		bind(fd, (struct sockaddr *)&src, sizeof(src));
		errno = saved;
	}
	return real_connect(fd, sa, len);
}
