// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The data plane's own program, vsteer_lookup (bpf/steer.bpf.c), run by
 * the kernel on made-up socket lookups: BPF_PROG_TEST_RUN for
 * BPF_PROG_TYPE_SK_LOOKUP (Linux 5.14+) takes a struct bpf_sk_lookup,
 * runs the program once and reports its verdict and, in the context it
 * hands back, the cookie of the socket the program assigned.
 *
 * The skeleton is loaded with pinning switched off (nothing lands in
 * /sys/fs/bpf), the backends are real listening sockets (in a network
 * namespace of the test's own, so nothing outside can reach them; no
 * packet is ever sent), and every row of the tables below fills the maps
 * the way the controller would (include/vsteer.h), runs one lookup and
 * checks the verdict, the socket, every per-service and per-version
 * counter and the session table. Rows are independent: the maps are
 * emptied before each. Expected buckets and backends come from
 * include/vsteer_hash.h, the header the program itself runs.
 *
 * Byte order, as the kernel's bpf_prog_test_run_sk_lookup() reads the
 * context (net/bpf/test_run.c): local_port host order (copied to dport
 * as is, > 65535 is ERANGE), remote_port a __be16 in network order,
 * addresses network order; the cookie/sk field and everything after
 * local_port (ingress_ifindex) must be zero on input.
 *
 * What test_run cannot show: the program's first-choice-stands branch
 * (ctx->sk set by an earlier sk_lookup program), as the kernel refuses a
 * context with sk set (EINVAL) and runs one program only. And it has no
 * reuseport group selection: a pick of a reuseport socket without
 * BPF_SK_LOOKUP_F_NO_REUSEPORT fails the run with EOPNOTSUPP, which is
 * what makes the reuseport row a guard of that flag. With the flag, the
 * cookie reported is the socket a real connection reaches.
 *
 * Root only (BPF, a network namespace): `make` builds build/prog_tests,
 * `tests/run prog` runs it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vsteer.h"
#include "vsteer_hash.h"
#include "steer.skel.h"

#include "capture.h"
#include "maps.h"
#include "check.h"
#include "load.h"
#include "nat.h"
#include "sess.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALL	      VS_BUCKETS    /* an upto that covers every bucket */
#define PIN_ROOT      "/sys/fs/bpf" /* libbpf's default pin root */

/* ---- the listening sockets ---- */

/* NO_SK ends a version's socket list; EMPTY is an index of the slot
 * that the version counts (nsock) but that holds no socket, as after its
 * listener closed. */
enum sk_id { NO_SK, A4, B4, C4, D4, W4, A6, B6, DS, R1, R2, N_SK, EMPTY = N_SK };

static struct pool_sk {
	const char *name;
	int family;
	const char *addr;
	bool v6only;
	enum sk_id reuse_of; /* SO_REUSEPORT sibling of this one (same port) */
	bool reuseport;
	int fd;
	__u16 port;
	__u64 cookie;
} pool[N_SK] = {
#define SK(n, fam, a, ...) [n] = { .name = #n, .family = (fam), .addr = (a), __VA_ARGS__ }
	SK(A4, AF_INET, "127.0.0.1"),
	SK(B4, AF_INET, "127.0.0.1"),
	SK(C4, AF_INET, "127.0.0.1"),
	SK(D4, AF_INET, "127.0.0.1"),
	SK(W4, AF_INET, "0.0.0.0"),
	SK(A6, AF_INET6, "::1", .v6only = true),
	SK(B6, AF_INET6, "::1", .v6only = true),
	SK(DS, AF_INET6, "::"), /* dual stack: takes IPv4 too */
	SK(R1, AF_INET, "127.0.0.1", .reuseport = true),
	SK(R2, AF_INET, "127.0.0.1", .reuseport = true, .reuse_of = R1),
#undef SK
};

/* ---- the table rows ---- */

#define MAX_SVC 3
#define MAX_VER 4
#define MAX_SK	4

struct ver_def {
	__u16 slot; /* 1.. (0 ends the list) */
	__u16 upto;
	__u16 flags;
	enum sk_id sk[MAX_SK]; /* at slot * VS_MAX_SOCKS + i; nsock = their number */
	enum sk_id beyond;     /* a socket at index nsock, which must not be used */
};

struct svc_def {
	int family; /* 0 ends the list */
	const char *addr;
	__u16 port;
	__u32 id; /* 1.. */
	__u32 session_ms;
	bool no_port_bit; /* leave its port out of the ports bitmap */
	struct ver_def ver[MAX_VER];
};

struct sess_def {
	const char *addr; /* the entry's client, if not the row's client */
	__u32 slot;	  /* 0: no entry */
	__u32 sid;	  /* the entry's service id */
	__u32 age_ms;	  /* last_ms this long before the lookup */
	__u32 open;
};

/* The client: a fixed address, or the first of 10.0.0.1, 10.0.0.2, ...
 * (2001:db8::1, ... for IPv6) whose bucket under the salt of the service
 * look.svc is in [blo, bhi) and, if n, whose backend start among n
 * sockets is `start`. */
struct client_def {
	const char *addr;
	__u16 blo, bhi; /* bhi 0: VS_BUCKETS */
	__u16 n, start;
};

struct look_def {
	int family;
	int proto; /* 0: TCP */
	const char *local;
	__u16 port; /* host order */
	int svc;    /* index into the row's svc[] for the salt */
	struct client_def client;
};

struct vs_want {
	__u32 slot; /* 0 ends the list */
	__u64 steered, failover_in, failover_out;
};

struct want {
	__u32 ret;     /* SK_PASS or SK_DROP */
	enum sk_id sk; /* the socket assigned; NO_SK: none (cookie 0) */
	struct {
		__u32 id; /* 0: no service counter moves */
		__u64 lookups, steered, refused, assign_err;
	} ss;
	struct vs_want vs[3]; /* every other slot's counters stay 0 */
	__u32 sess_slot;      /* the client's session entry after; 0: none
				 * (or the preset one, untouched) */
	__u64 quota_refused;  /* sguard of the service (ss.id), all others 0 */
	__u64 hold_full;      /* ditto */
};

struct row_def {
	const char *name;
	struct svc_def svc[MAX_SVC];
	__u16 extra_port; /* a port bit with no service behind it */
	struct sess_def sess;
	struct look_def look;
	struct want want;
	struct vs_svc_opts opts; /* every service's, in sopts (all zero: as before) */
	struct {
		__u32 age_ms; /* both of the client's sets filled with other
			       * clients' sessions, the longest idle this long,
			       * if age_ms */
		__u32 open;   /* their open connections */
	} fill;
	struct {
		__u32 count; /* a squota entry for the client's network if count */
		__u32 age_ms;
	} quota;
};

/* clang-format off */
#define V(sl, up, ...)	{ .slot = (sl), .upto = (up), .sk = { __VA_ARGS__ } }
/* clang-format on */
#define SVC(fam, a, p, i, ...)                                                               \
	{                                                                                    \
		.family = (fam), .addr = (a), .port = (p), .id = (i), .ver = { __VA_ARGS__ } \
	}
#define SVC4(a, p, i, ...) SVC(AF_INET, a, p, i, __VA_ARGS__)
#define SVC6(a, p, i, ...) SVC(AF_INET6, a, p, i, __VA_ARGS__)
/* clang-format off */
#define TCP4(a, p, ...)	{ .family = AF_INET, .local = (a), .port = (p), __VA_ARGS__ }
#define TCP6(a, p, ...)	{ .family = AF_INET6, .local = (a), .port = (p), __VA_ARGS__ }
/* clang-format on */
#define BUCKETS(lo, hi) .client = { .blo = (lo), .bhi = (hi) }
#define START(s, n_)	.client = { .n = (n_), .start = (s) }

/* Untouched: SK_PASS, no socket, no counter, no session entry. */
/* clang-format off */
#define PASSES		{ .ret = SK_PASS }
/* clang-format on */
/* Handed to socket s of slot sl, the version chosen, of service i. */
#define STEERED(s, i, sl)                                                                   \
	{                                                                                   \
		.ret = SK_PASS, .sk = (s), .ss = { .id = (i), .lookups = 1, .steered = 1 }, \
		.vs = { { .slot = (sl), .steered = 1 } }, .sess_slot = (sl)                 \
	}
/* Chosen slot `from` had no live socket, slot `to` took it (socket s). */
#define FAILOVER(s, i, from, to)                                                            \
	{                                                                                   \
		.ret = SK_PASS, .sk = (s), .ss = { .id = (i), .lookups = 1, .steered = 1 }, \
		.vs = { { .slot = (from), .failover_out = 1 },                              \
			{ .slot = (to), .steered = 1, .failover_in = 1 } },                 \
		.sess_slot = (to)                                                           \
	}

enum { P = 8080, P2 = 8443, POTHER = 8081 };

/* clang-format off */
static const struct row_def match_rows[] = {
	{ "exact IPv4 service address",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "other port passes untouched",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", POTHER), .want = PASSES },
	{ "byte-swapped service port passes (local_port is host order)",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", (P >> 8) | ((P & 0xff) << 8)), .want = PASSES },
	{ "other address on the service port passes",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.2", P), .want = PASSES },
	{ "UDP to the service address passes",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P, .proto = IPPROTO_UDP), .want = PASSES },
	{ "service whose port bit is clear is not looked up",
	  .svc = { { .family = AF_INET, .addr = "127.0.0.1", .port = P, .id = 1,
		     .no_port_bit = true, .ver = { V(1, ALL, A4) } } },
	  .look = TCP4("127.0.0.1", P), .want = PASSES },
	{ "port bit with no service behind it passes",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)) }, .extra_port = 9090,
	  .look = TCP4("127.0.0.1", 9090), .want = PASSES },
	{ "IPv6 lookup on an IPv4 wildcard service's port passes",
	  .svc = { SVC4("0.0.0.0", P, 1, V(1, ALL, A4)) },
	  .look = TCP6("::1", P), .want = PASSES },
	{ "IPv4 lookup on an IPv6 wildcard service's port passes",
	  .svc = { SVC6("::", P, 1, V(1, ALL, DS)) },
	  .look = TCP4("127.0.0.1", P), .want = PASSES },
};
/* clang-format on */

/* clang-format off */
static const struct row_def wildcard_rows[] = {
	{ "0.0.0.0 service matches any local address",
	  .svc = { SVC4("0.0.0.0", P, 2, V(2, ALL, W4)) },
	  .look = TCP4("10.1.2.3", P), .want = STEERED(W4, 2, 2) },
	{ "exact address beats the wildcard",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)),
		   SVC4("0.0.0.0", P, 2, V(2, ALL, B4)) },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "wildcard takes the other addresses",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4)),
		   SVC4("0.0.0.0", P, 2, V(2, ALL, B4)) },
	  .look = TCP4("127.0.0.3", P, .svc = 1), .want = STEERED(B4, 2, 2) },
	{ "exact service on another port does not shadow the wildcard",
	  .svc = { SVC4("127.0.0.1", P2, 1, V(1, ALL, A4)),
		   SVC4("0.0.0.0", P, 2, V(2, ALL, B4)) },
	  .look = TCP4("127.0.0.1", P, .svc = 1), .want = STEERED(B4, 2, 2) },
	{ "[::] service matches any IPv6 local address",
	  .svc = { SVC6("::", P2, 3, V(3, ALL, DS)) },
	  .look = TCP6("2001:db8::1", P2), .want = STEERED(DS, 3, 3) },
	{ "exact IPv6 address beats the [::] wildcard",
	  .svc = { SVC6("::1", P2, 3, V(3, ALL, A6)), SVC6("::", P2, 4, V(4, ALL, B6)) },
	  .look = TCP6("::1", P2), .want = STEERED(A6, 3, 3) },
};
/* clang-format on */

/* clang-format off */
static const struct row_def ipv6_rows[] = {
	{ "exact IPv6 service, IPv6 client session",
	  .svc = { SVC6("::1", P2, 3, V(3, ALL, A6)) },
	  .look = TCP6("::1", P2), .want = STEERED(A6, 3, 3) },
	{ "IPv6 weights: bucket below new's upto goes new",
	  .svc = { SVC6("::1", P2, 3, V(4, 2500, B6), V(3, ALL, A6)) },
	  .look = TCP6("::1", P2, BUCKETS(0, 2500)), .want = STEERED(B6, 3, 4) },
	{ "IPv6 weights: bucket at new's upto goes old",
	  .svc = { SVC6("::1", P2, 3, V(4, 2500, B6), V(3, ALL, A6)) },
	  .look = TCP6("::1", P2, BUCKETS(2500, 2501)), .want = STEERED(A6, 3, 3) },
};
/* clang-format on */

/* Two versions, newest first: slot 2 (B4) and slot 1 (A4). */
#define NEW_OLD(up) SVC4("127.0.0.1", P, 1, V(2, (up), B4), V(1, ALL, A4))

/* clang-format off */
static const struct row_def weight_rows[] = {
	{ "bucket below new's upto goes new", .svc = { NEW_OLD(3000) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(0, 3000)), .want = STEERED(B4, 1, 2) },
	{ "bucket upto-1 goes new", .svc = { NEW_OLD(3000) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(2999, 3000)), .want = STEERED(B4, 1, 2) },
	{ "bucket at new's upto goes old", .svc = { NEW_OLD(3000) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(3000, 3001)), .want = STEERED(A4, 1, 1) },
	{ "bucket 9999 goes old", .svc = { NEW_OLD(3000) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(9999, 10000)), .want = STEERED(A4, 1, 1) },
	{ "new at 0%: bucket 0 goes old", .svc = { NEW_OLD(0) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(0, 1)), .want = STEERED(A4, 1, 1) },
	{ "new at 100%: bucket 9999 goes new", .svc = { NEW_OLD(ALL) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(9999, 10000)), .want = STEERED(B4, 1, 2) },
	{ "three versions: bucket at the first upto goes to the middle one",
	  .svc = { SVC4("127.0.0.1", P, 1, V(3, 1000, C4), V(2, 4000, B4), V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(1000, 1001)), .want = STEERED(B4, 1, 2) },
	{ "three versions: bucket at the second upto goes to the oldest",
	  .svc = { SVC4("127.0.0.1", P, 1, V(3, 1000, C4), V(2, 4000, B4), V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(4000, 4001)), .want = STEERED(A4, 1, 1) },
	{ "three versions: bucket below the first upto goes newest",
	  .svc = { SVC4("127.0.0.1", P, 1, V(3, 1000, C4), V(2, 4000, B4), V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(0, 1000)), .want = STEERED(C4, 1, 3) },
	{ "weights short of 10000: the oldest takes the uncovered buckets",
	  .svc = { SVC4("127.0.0.1", P, 1, V(2, 2000, B4), V(1, 5000, A4)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(5000, 10000)), .want = STEERED(A4, 1, 1) },
};
/* clang-format on */

/* clang-format off */
static const struct row_def backend_rows[] = {
	{ "the client's start socket: 1 of 2",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4, B4)) },
	  .look = TCP4("127.0.0.1", P, START(1, 2)), .want = STEERED(B4, 1, 1) },
	{ "the client's start socket: 0 of 2",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4, B4)) },
	  .look = TCP4("127.0.0.1", P, START(0, 2)), .want = STEERED(A4, 1, 1) },
	{ "start index empty: the next socket of the version, no failover",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4, EMPTY, C4)) },
	  .look = TCP4("127.0.0.1", P, START(1, 3)), .want = STEERED(C4, 1, 1) },
	{ "empty last index wraps to the first",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A4, EMPTY)) },
	  .look = TCP4("127.0.0.1", P, START(1, 2)), .want = STEERED(A4, 1, 1) },
	{ "a socket beyond nsock is not used",
	  .svc = { SVC4("127.0.0.1", P, 1,
			{ .slot = 2, .upto = ALL, .sk = { EMPTY }, .beyond = C4 },
			V(1, ALL, A4)) },
	  .look = TCP4("127.0.0.1", P), .want = FAILOVER(A4, 1, 2, 1) },
	{ "dual-stack [::] socket takes an IPv4 connection",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, DS)) },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(DS, 1, 1) },
	{ "v6only socket refuses an IPv4 connection: assign_err, next socket",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, A6, A4)) },
	  .look = TCP4("127.0.0.1", P, START(0, 2)),
	  .want = { .ret = SK_PASS, .sk = A4,
		    .ss = { .id = 1, .lookups = 1, .steered = 1, .assign_err = 1 },
		    .vs = { { .slot = 1, .steered = 1 } }, .sess_slot = 1 } },
	{ "IPv4 socket refuses an IPv6 connection: assign_err, next socket",
	  .svc = { SVC6("::1", P2, 3, V(3, ALL, A4, A6)) },
	  .look = TCP6("::1", P2, START(0, 2)),
	  .want = { .ret = SK_PASS, .sk = A6,
		    .ss = { .id = 3, .lookups = 1, .steered = 1, .assign_err = 1 },
		    .vs = { { .slot = 3, .steered = 1 } }, .sess_slot = 3 } },
	/* test_run refuses (EOPNOTSUPP) a pick of a reuseport socket
	 * without BPF_SK_LOOKUP_F_NO_REUSEPORT, as it cannot run the
	 * group's selection: this row also guards that flag. */
	{ "reuseport listener: NO_REUSEPORT hands over exactly the socket in the slot",
	  .svc = { SVC4("127.0.0.1", P, 1, V(1, ALL, R2)) },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(R2, 1, 1) },
};
/* clang-format on */

/* Affinity on (1 s), both versions at 100% so weights say "new" (slot 2,
 * B4); the old one is slot 1 (A4). */
#define AFF(ms, oldflags, oldsk)                                                                \
	{                                                                                       \
		.family = AF_INET, .addr = "127.0.0.1", .port = P, .id = 1, .session_ms = (ms), \
		.ver = { V(2, ALL, B4),                                                         \
			 { .slot = 1, .upto = ALL, .flags = (oldflags), .sk = { oldsk } } }     \
	}

/* clang-format off */
static const struct row_def affinity_rows[] = {
	{ "fresh entry on the older version keeps the client there",
	  .svc = { AFF(1000, 0, A4) }, .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "entry just inside the timeout is kept",
	  .svc = { AFF(1000, 0, A4) }, .sess = { .slot = 1, .sid = 1, .age_ms = 900 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "entry on a NO_AFFINITY version is not kept",
	  .svc = { AFF(1000, VS_VER_NO_AFFINITY, A4) },
	  .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "expired entry (idle past session_ms, nothing open) is not kept",
	  .svc = { AFF(1000, 0, A4) }, .sess = { .slot = 1, .sid = 1, .age_ms = 5000 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "open connections keep an entry idle past the timeout",
	  .svc = { AFF(1000, 0, A4) },
	  .sess = { .slot = 1, .sid = 1, .age_ms = 5000, .open = 2 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "entry on a slot the service no longer has: weights decide",
	  .svc = { AFF(1000, 0, A4) }, .sess = { .slot = 7, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "the client's entry for another service is ignored",
	  .svc = { AFF(1000, 0, A4) }, .sess = { .slot = 1, .sid = 9, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "entry on the newest version holds against its 0% weight",
	  .svc = { { .family = AF_INET, .addr = "127.0.0.1", .port = P, .id = 1,
		     .session_ms = 1000, .ver = { V(2, 0, B4), V(1, ALL, A4) } } },
	  .sess = { .slot = 2, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "affinity off (session_ms 0): weights decide over a fresh entry",
	  .svc = { AFF(0, 0, A4) }, .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "kept version has no socket: the next newer takes it, the session moves",
	  .svc = { AFF(1000, 0, EMPTY) }, .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = FAILOVER(B4, 1, 1, 2) },
};
/* clang-format on */

/* Three versions, newest first: slots 10, 11, 12. */
/* clang-format off */
static const struct row_def failover_rows[] = {
	{ "chosen newest has no socket: the next older takes it",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, ALL, EMPTY), V(11, ALL, C4), V(12, ALL, D4)) },
	  .look = TCP4("127.0.0.1", P), .want = FAILOVER(C4, 1, 10, 11) },
	{ "newest and the next have none: the oldest takes it",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, ALL, EMPTY), V(11, ALL, EMPTY), V(12, ALL, D4)) },
	  .look = TCP4("127.0.0.1", P), .want = FAILOVER(D4, 1, 10, 12) },
	{ "chosen oldest has no socket: the next newer takes it",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, 2000, A4), V(11, 5000, C4), V(12, ALL, EMPTY)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(5000, 0)), .want = FAILOVER(C4, 1, 12, 11) },
	{ "chosen middle has no socket: the older before the newer",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, 2000, A4), V(11, 5000, EMPTY), V(12, ALL, D4)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(2000, 5000)), .want = FAILOVER(D4, 1, 11, 12) },
	{ "chosen middle and the older have none: the newest takes it",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, 2000, A4), V(11, 5000, EMPTY),
			V(12, ALL, EMPTY)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(2000, 5000)), .want = FAILOVER(A4, 1, 11, 10) },
	{ "chosen version with nsock 0: the next older takes it",
	  .svc = { SVC4("127.0.0.1", P, 1, V(10, ALL), V(11, ALL, C4)) },
	  .look = TCP4("127.0.0.1", P), .want = FAILOVER(C4, 1, 10, 11) },
};
/* clang-format on */

/* clang-format off */
static const struct row_def refusal_rows[] = {
	{ "no version has a live socket: SK_DROP, refused",
	  .svc = { SVC4("127.0.0.1", P, 1, V(2, 3000, EMPTY), V(1, ALL, EMPTY)) },
	  .look = TCP4("127.0.0.1", P, BUCKETS(0, 3000)),
	  .want = { .ret = SK_DROP, .ss = { .id = 1, .lookups = 1, .refused = 1 },
		    .vs = { { .slot = 2, .failover_out = 1 } } } },
	{ "service without versions: SK_DROP, refused",
	  .svc = { SVC4("127.0.0.1", P, 1) },
	  .look = TCP4("127.0.0.1", P),
	  .want = { .ret = SK_DROP, .ss = { .id = 1, .lookups = 1, .refused = 1 } } },
	{ "only a socket of the wrong family: SK_DROP, refused, assign_err",
	  .svc = { SVC6("::1", P2, 3, V(3, ALL, A4)) },
	  .look = TCP6("::1", P2),
	  .want = { .ret = SK_DROP, .ss = { .id = 3, .lookups = 1, .refused = 1, .assign_err = 1 },
		    .vs = { { .slot = 3, .failover_out = 1 } } } },
	{ "session on a version without sockets, none live anywhere: entry untouched",
	  .svc = { { .family = AF_INET, .addr = "127.0.0.1", .port = P, .id = 1,
		     .session_ms = 1000, .ver = { V(2, ALL, EMPTY), V(1, ALL, EMPTY) } } },
	  .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P),
	  .want = { .ret = SK_DROP, .sk = NO_SK, .ss = { .id = 1, .lookups = 1, .refused = 1 },
		    .vs = { { .slot = 1, .failover_out = 1 } } } },
};
/* clang-format on */

/* Steered to socket s of slot sl, but the client's network is over its
 * quota: no session recorded, and counted. */
/* clang-format off */
#define UNRECORDED(s, i, sl) { .ret = SK_PASS, .sk = (s), \
	.ss = { .id = (i), .lookups = 1, .steered = 1 }, \
	.vs = { { .slot = (sl), .steered = 1 } }, .quota_refused = 1 }
/* clang-format on */
#define KEY64              \
	{                  \
		.key6 = 64 \
	}
#define QUOTA2                                                             \
	{                                                                  \
		.quota = 2, .quota4 = 24, .quota6 = 48, .window_ms = 60000 \
	}

/* clang-format off */
static const struct row_def guard_rows[] = {
	{ "IPv6 keyed by /64: another address of the client's /64 keeps its session",
	  .svc = { { .family = AF_INET6, .addr = "::1", .port = P2, .id = 3, .session_ms = 60000,
		     .ver = { V(4, ALL, B6), V(3, ALL, A6) } } },
	  .opts = KEY64, .sess = { .addr = "2001:db8::1", .slot = 3, .sid = 3, .age_ms = 10 },
	  .look = TCP6("::1", P2, .client = { .addr = "2001:db8::abcd:1" }),
	  .want = STEERED(A6, 3, 3) },
	{ "IPv6 keyed by whole addresses (sopts zero): another address is another client",
	  .svc = { { .family = AF_INET6, .addr = "::1", .port = P2, .id = 3, .session_ms = 60000,
		     .ver = { V(4, ALL, B6), V(3, ALL, A6) } } },
	  .opts = { .key6 = 0 }, .sess = { .addr = "2001:db8::1", .slot = 3, .sid = 3, .age_ms = 10 },
	  .look = TCP6("::1", P2, .client = { .addr = "2001:db8::abcd:1" }),
	  .want = STEERED(B6, 3, 4) },
	{ "a new client of a network at its quota is steered, not recorded",
	  .svc = { AFF(1000, 0, A4) }, .opts = QUOTA2, .quota = { .count = 2, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = UNRECORDED(B4, 1, 2) },
	{ "a new client of a network under its quota is recorded",
	  .svc = { AFF(1000, 0, A4) }, .opts = QUOTA2, .quota = { .count = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "the quota's window over: the count starts again",
	  .svc = { AFF(1000, 0, A4) }, .opts = QUOTA2, .quota = { .count = 2, .age_ms = 61000 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "a client with a session is not counted against the quota",
	  .svc = { AFF(1000, 0, A4) }, .opts = QUOTA2, .quota = { .count = 2, .age_ms = 10 },
	  .sess = { .slot = 1, .sid = 1, .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(A4, 1, 1) },
	{ "a held session (a connection open) on a NO_AFFINITY version is not kept",
	  .svc = { AFF(1000, VS_VER_NO_AFFINITY, A4) },
	  .sess = { .slot = 1, .sid = 1, .age_ms = 5000, .open = 1 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "affinity off: a held session does not keep its version",
	  .svc = { AFF(0, 0, A4) }, .sess = { .slot = 1, .sid = 1, .age_ms = 5000, .open = 1 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "both sets full of idle sessions: the longest idle one makes way",
	  .svc = { AFF(1000, 0, A4) }, .fill = { .age_ms = 10 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "both sets full of expired sessions: one makes way",
	  .svc = { AFF(1000, 0, A4) }, .fill = { .age_ms = 90000 },
	  .look = TCP4("127.0.0.1", P), .want = STEERED(B4, 1, 2) },
	{ "both sets full of sessions with connections open: none makes way, counted",
	  .svc = { AFF(1000, 0, A4) }, .fill = { .age_ms = 90000, .open = 1 },
	  .look = TCP4("127.0.0.1", P),
	  .want = { .ret = SK_PASS, .sk = B4, .ss = { .id = 1, .lookups = 1, .steered = 1 },
		    .vs = { { .slot = 2, .steered = 1 } }, .hold_full = 1 } },
};
/* clang-format on */

/* clang-format off */
static const struct {
	const char *name;
	const struct row_def *rows;
	size_t n;
} tables[] = {
	{ "match", match_rows, ARRAY_SIZE(match_rows) },
	{ "wildcard", wildcard_rows, ARRAY_SIZE(wildcard_rows) },
	{ "ipv6", ipv6_rows, ARRAY_SIZE(ipv6_rows) },
	{ "weights", weight_rows, ARRAY_SIZE(weight_rows) },
	{ "backends", backend_rows, ARRAY_SIZE(backend_rows) },
	{ "affinity", affinity_rows, ARRAY_SIZE(affinity_rows) },
	{ "failover", failover_rows, ARRAY_SIZE(failover_rows) },
	{ "refusal", refusal_rows, ARRAY_SIZE(refusal_rows) },
	{ "guards", guard_rows, ARRAY_SIZE(guard_rows) },
};
/* clang-format on */

/* ---- the kernel side ---- */

static struct steer_bpf *skel;
static int prog_fd, svcs_fd, socks_fd, ports_fd, vstats_fd, sstats_fd;
static int sopts_fd, squota_fd, sguard_fd;
/* A small session table: cleared before each row a set at a time. */
#define TEST_SETS 64

/* Service id's salt, in svcs and sopts alike. */
static __u32 test_salt(__u32 id)
{
	return vs_mix32(0x5a17u + id);
}

static struct tsess tsess = { .fd = -1, .nsets = TEST_SETS, .salt = test_salt };
static int ncpu;
static void *zero; /* a per-CPU value of either stats map, all 0 */
/* Sockmap indexes the running row filled, emptied before the next. */
static __u32 used_idx[MAX_SVC * MAX_VER * (MAX_SK + 1)];
static size_t n_used;

static __u64 now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static bool parse_addr(int family, const char *s, __u32 a[4])
{
	memset(a, 0, 16);
	return inet_pton(family, s, a) == 1;
}

static const char *addr_str(int family, const __u32 a[4])
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	if (!inet_ntop(family, a, buf[i], sizeof(buf[i])))
		snprintf(buf[i], sizeof(buf[i]), "?");
	return buf[i];
}

/* "A4 (127.0.0.1:41234, cookie 12)" for the socket of a cookie. */
static const char *cookie_str(__u64 cookie)
{
	static char buf[2][96];
	static int i;

	i = (i + 1) % 2;
	if (!cookie) {
		snprintf(buf[i], sizeof(buf[i]), "no socket (cookie 0)");
		return buf[i];
	}
	for (int k = 1; k < N_SK; k++)
		if (pool[k].cookie == cookie) {
			snprintf(buf[i], sizeof(buf[i]), "%s (%s%s%s:%u, cookie %llu)",
				 pool[k].name, pool[k].family == AF_INET6 ? "[" : "", pool[k].addr,
				 pool[k].family == AF_INET6 ? "]" : "", pool[k].port,
				 (unsigned long long)cookie);
			return buf[i];
		}
	snprintf(buf[i], sizeof(buf[i]), "a socket of no test's (cookie %llu)",
		 (unsigned long long)cookie);
	return buf[i];
}

/* One lookup through BPF_PROG_TEST_RUN; -errno or 0. */
static int test_run(const struct bpf_sk_lookup *in, struct bpf_sk_lookup *out, __u32 *retval,
		    __u32 *size_out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = in, .ctx_size_in = sizeof(*in), .ctx_out = out,
		    .ctx_size_out = sizeof(*out));
	int err;

	memset(out, 0xa5, sizeof(*out)); /* the kernel must write it all */
	err = bpf_prog_test_run_opts(prog_fd, &o);
	*retval = o.retval;
	*size_out = o.ctx_size_out;
	return err < 0 ? err : 0;
}

static void lookup_ctx(struct bpf_sk_lookup *ctx, int family, int proto, const __u32 local[4],
		       __u16 port, const __u32 remote[4], __u16 rport)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->family = family;
	ctx->protocol = proto;
	if (family == AF_INET) {
		ctx->local_ip4 = local[0];
		ctx->remote_ip4 = remote[0];
	} else {
		memcpy(ctx->local_ip6, local, 16);
		memcpy(ctx->remote_ip6, remote, 16);
	}
	ctx->local_port = port;		 /* host order */
	ctx->remote_port = htons(rport); /* network order */
}

/* ---- setup, each a case of its own ---- */

static void case_netns(const void *arg)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	(void)arg;
	CHECK(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s (run as root)",
	      strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) {
			close(fd);
			CHECK(0, "lo up: %s", strerror(errno));
		}
	}
	close(fd);
}

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void case_load(const void *arg)
{
	bool existed[32] = { false };
	char path[128];
	struct bpf_map *map;
	struct stat st;
	int err, i;

	(void)arg;
	libbpf_set_print(print_warnings);
	/* Not steer_bpf__open_and_load(): the maps are LIBBPF_PIN_BY_NAME
	 * (bpf/maps.h) and libbpf pins under /sys/fs/bpf when no
	 * pin_root_path is given, reusing any map pinned there. So open,
	 * clear every map's pin path, then load. */
	skel = steer_bpf__open_opts(&load_log_opts);
	CHECK(skel, "steer_bpf__open: %s", strerror(errno));
	i = 0;
	bpf_object__for_each_map (map, skel->obj) {
		CHECK(i < (int)ARRAY_SIZE(existed), "more maps than expected");
		snprintf(path, sizeof(path), PIN_ROOT "/%s", bpf_map__name(map));
		existed[i++] = stat(path, &st) == 0;
		CHECK(bpf_map__set_pin_path(map, NULL) == 0, "%s", bpf_map__name(map));
		CHECK(!bpf_map__pin_path(map), "%s still has pin path %s", bpf_map__name(map),
		      bpf_map__pin_path(map));
	}
	CHECK(bpf_map__set_max_entries(skel->maps.sessions, TEST_SETS) == 0, "sessions size");
	skel->rodata->sess_sets = TEST_SETS;
	err = steer_bpf__load(skel);
	CHECK(err == 0,
	      "steer_bpf__load: %s: %s (sk_lookup programs and "
	      "BPF_SK_LOOKUP_F_NO_REUSEPORT need Linux 5.9+)",
	      strerror(-err), load_failed("steer"));
	i = 0;
	bpf_object__for_each_map (map, skel->obj) {
		snprintf(path, sizeof(path), PIN_ROOT "/%s", bpf_map__name(map));
		CHECK(!bpf_map__is_pinned(map), "%s is pinned", bpf_map__name(map));
		CHECK(existed[i] || stat(path, &st) != 0, "%s appeared after load", path);
		i++;
	}
	prog_fd = bpf_program__fd(skel->progs.vsteer_lookup);
	svcs_fd = bpf_map__fd(skel->maps.svcs);
	socks_fd = bpf_map__fd(skel->maps.socks);
	ports_fd = bpf_map__fd(skel->maps.ports);
	vstats_fd = bpf_map__fd(skel->maps.vstats);
	sstats_fd = bpf_map__fd(skel->maps.sstats);
	tsess.fd = bpf_map__fd(skel->maps.sessions);
	sopts_fd = bpf_map__fd(skel->maps.sopts);
	squota_fd = bpf_map__fd(skel->maps.squota);
	sguard_fd = bpf_map__fd(skel->maps.sguard);
	ncpu = libbpf_num_possible_cpus();
	CHECK(ncpu > 0, "libbpf_num_possible_cpus: %d", ncpu);
	zero = calloc(ncpu, sizeof(struct vs_ver_stats));
	CHECK(zero, "out of memory");
}

static void case_sockets(const void *arg)
{
	(void)arg;
	for (int k = 1; k < N_SK; k++) {
		struct pool_sk *p = &pool[k];
		struct sockaddr_storage ss = { 0 };
		socklen_t len;
		int one = 1, v6only = p->v6only;

		row("%s", p->name);
		p->fd = socket(p->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(p->fd >= 0, "socket: %s", strerror(errno));
		if (p->family == AF_INET6)
			CHECK(setsockopt(p->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
					 sizeof(v6only)) == 0,
			      "IPV6_V6ONLY: %s", strerror(errno));
		if (p->reuseport)
			CHECK(setsockopt(p->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0,
			      "SO_REUSEPORT: %s", strerror(errno));
		if (p->family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons(p->reuse_of ? pool[p->reuse_of].port : 0);
			CHECK(inet_pton(AF_INET, p->addr, &s4->sin_addr) == 1, "%s", p->addr);
			len = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(p->reuse_of ? pool[p->reuse_of].port : 0);
			CHECK(inet_pton(AF_INET6, p->addr, &s6->sin6_addr) == 1, "%s", p->addr);
			len = sizeof(*s6);
		}
		CHECK(bind(p->fd, (struct sockaddr *)&ss, len) == 0, "bind %s: %s", p->addr,
		      strerror(errno));
		CHECK(listen(p->fd, 16) == 0, "listen: %s", strerror(errno));
		len = sizeof(ss);
		CHECK(getsockname(p->fd, (struct sockaddr *)&ss, &len) == 0, "getsockname: %s",
		      strerror(errno));
		p->port = ntohs(p->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						       ((struct sockaddr_in6 *)&ss)->sin6_port);
		len = sizeof(p->cookie);
		CHECK(getsockopt(p->fd, SOL_SOCKET, SO_COOKIE, &p->cookie, &len) == 0,
		      "SO_COOKIE: %s", strerror(errno));
		CHECK(p->cookie != 0, "cookie 0");
		if (p->reuse_of)
			CHECK_INT(p->port, ==, pool[p->reuse_of].port);
	}
}

/* The feature every row needs, on a lookup no service matches. */
static void case_test_run(const void *arg)
{
	__u32 lo[4], cl[4], ret, size;
	struct bpf_sk_lookup in, out;
	int err;

	(void)arg;
	parse_addr(AF_INET, "127.0.0.1", lo);
	parse_addr(AF_INET, "10.0.0.1", cl);
	lookup_ctx(&in, AF_INET, IPPROTO_TCP, lo, P, cl, 40000);
	err = test_run(&in, &out, &ret, &size);
	CHECK(err == 0,
	      "BPF_PROG_TEST_RUN of an sk_lookup program failed: %s (errno %d%s); "
	      "this kernel lacks test_run for BPF_PROG_TYPE_SK_LOOKUP "
	      "(bpf_prog_test_run_sk_lookup, Linux 5.14+)",
	      strerror(-err), -err,
	      err == -524 ? ", ENOTSUPP: the program type has no test_run" : "");
	CHECK_INT(ret, ==, SK_PASS);
	CHECK_INT(size, ==, sizeof(out));
	CHECK(out.cookie == 0, "%s", cookie_str(out.cookie));
}

/* ---- one row ---- */

static void reset_maps(void)
{
	static struct vs_ports zero_ports;
	struct vs_quota_key qk;
	struct vs_svc_key k;
	__u32 i, z = 0;
	int err;

	while (bpf_map_get_next_key(svcs_fd, NULL, &k) == 0)
		CHECK(bpf_map_delete_elem(svcs_fd, &k) == 0, "svcs delete: %s", strerror(errno));
	err = tsess_clear(&tsess);
	CHECK(!err, "sessions: %s", strerror(-err));
	while (bpf_map_get_next_key(squota_fd, NULL, &qk) == 0)
		CHECK(bpf_map_delete_elem(squota_fd, &qk) == 0, "squota delete: %s",
		      strerror(errno));
	for (i = 0; i < VS_MAX_SERVICES; i++) {
		struct vs_svc_opts no_opts = { .salt = test_salt(i) };

		CHECK(bpf_map_update_elem(sopts_fd, &i, &no_opts, BPF_ANY) == 0, "sopts: %s",
		      strerror(errno));
		CHECK(bpf_map_update_elem(sguard_fd, &i, zero, BPF_ANY) == 0, "sguard: %s",
		      strerror(errno));
	}
	for (; n_used; n_used--)
		CHECK(bpf_map_delete_elem(socks_fd, &used_idx[n_used - 1]) == 0 || errno == ENOENT,
		      "socks delete %u: %s", used_idx[n_used - 1], strerror(errno));
	CHECK(bpf_map_update_elem(ports_fd, &z, &zero_ports, BPF_ANY) == 0, "ports: %s",
	      strerror(errno));
	for (i = 0; i < VS_MAX_SLOTS; i++)
		CHECK(bpf_map_update_elem(vstats_fd, &i, zero, BPF_ANY) == 0, "vstats: %s",
		      strerror(errno));
	for (i = 0; i < VS_MAX_SERVICES; i++)
		CHECK(bpf_map_update_elem(sstats_fd, &i, zero, BPF_ANY) == 0, "sstats: %s",
		      strerror(errno));
}

static void put_sock(__u32 idx, enum sk_id id)
{
	__u64 fd = (__u64)pool[id].fd; /* the value written is the fd */

	CHECK(n_used < ARRAY_SIZE(used_idx), "too many sockets in one row");
	CHECK(bpf_map_update_elem(socks_fd, &idx, &fd, BPF_ANY) == 0, "socks[%u] = %s: %s", idx,
	      pool[id].name, strerror(errno));
	used_idx[n_used++] = idx;
	/* The controller's view (bpf/maps.h): a lookup returns the cookie. */
	fd = 0;
	CHECK(bpf_map_lookup_elem(socks_fd, &idx, &fd) == 0, "socks[%u]: %s", idx, strerror(errno));
	CHECK(fd == pool[id].cookie, "socks[%u] reads cookie %llu, SO_COOKIE of %s is %llu", idx,
	      (unsigned long long)fd, pool[id].name, (unsigned long long)pool[id].cookie);
}

static void set_port(struct vs_ports *p, __u16 port)
{
	p->w[port >> 6] |= 1ull << (port & 63);
}

/* Fill svcs, socks and ports as the controller would for these services. */
static void fill_maps(const struct row_def *r)
{
	static struct vs_ports ports;
	__u32 zero = 0;

	memset(&ports, 0, sizeof(ports));
	for (int s = 0; s < MAX_SVC && r->svc[s].family; s++) {
		const struct svc_def *d = &r->svc[s];
		struct vs_svc_key key = { .family = d->family,
					  .proto = VS_PROTO_TCP,
					  .port = d->port };
		struct vs_svc val = { .id = d->id,
				      .salt = test_salt(d->id),
				      .session_ms = d->session_ms };
		struct vs_svc_opts o = r->opts;

		CHECK(parse_addr(d->family, d->addr, key.addr), "service address %s", d->addr);
		for (int v = 0; v < MAX_VER && d->ver[v].slot; v++) {
			const struct ver_def *vd = &d->ver[v];
			__u16 n = 0;

			for (; n < MAX_SK && vd->sk[n]; n++)
				if (vd->sk[n] != EMPTY)
					CHECK_HELPER(
						put_sock(vd->slot * VS_MAX_SOCKS + n, vd->sk[n]));
			if (vd->beyond)
				CHECK_HELPER(put_sock(vd->slot * VS_MAX_SOCKS + n, vd->beyond));
			val.ver[v] = (struct vs_ver){
				.slot = vd->slot, .upto = vd->upto, .nsock = n, .flags = vd->flags
			};
			val.nver = v + 1;
		}
		CHECK(bpf_map_update_elem(svcs_fd, &key, &val, BPF_NOEXIST) == 0, "svcs %s: %s",
		      d->addr, strerror(errno));
		o.salt = val.salt;
		CHECK(bpf_map_update_elem(sopts_fd, &d->id, &o, BPF_ANY) == 0, "sopts: %s",
		      strerror(errno));
		if (!d->no_port_bit)
			set_port(&ports, d->port);
	}
	if (r->extra_port)
		set_port(&ports, r->extra_port);
	CHECK(bpf_map_update_elem(ports_fd, &zero, &ports, BPF_ANY) == 0, "ports: %s",
	      strerror(errno));
}

/* The client's key as the program makes it (its IPv6 prefix, sopts). */
static void client_key(const struct row_def *r, const __u32 a[4], __u32 k[4])
{
	memcpy(k, a, 16);
	vs_client_key(k, r->look.family == AF_INET6, &r->opts);
}

/* The client address the row asks for (see struct client_def); buckets
 * are of its key. */
static void find_client(const struct row_def *r, __u32 a[4], char *what, size_t len)
{
	const struct client_def *c = &r->look.client;
	__u32 salt = test_salt(r->svc[r->look.svc].id);
	__u32 hi = c->bhi ? c->bhi : VS_BUCKETS, h = 0;
	int fam = r->look.family;
	__u32 k[4];

	if (c->addr) {
		CHECK(parse_addr(fam, c->addr, a), "client %s", c->addr);
		client_key(r, a, k);
		h = vs_session_hash(k, salt);
	} else {
		__u32 i;

		for (i = 1; i < (1u << 24); i++) {
			memset(a, 0, 16);
			if (fam == AF_INET) {
				a[0] = htonl(0x0a000000u | i);
			} else {
				a[0] = htonl(0x20010db8u);
				a[3] = htonl(i);
			}
			client_key(r, a, k);
			h = vs_session_hash(k, salt);
			if (vs_bucket(h) < c->blo || vs_bucket(h) >= hi)
				continue;
			if (c->n && vs_backend_hash(h) % c->n != c->start)
				continue;
			break;
		}
		CHECK(i < (1u << 24), "no client with bucket in [%u, %u) and start %u of %u",
		      c->blo, hi, c->start, c->n);
	}
	snprintf(what, len, "client %s bucket %u", addr_str(fam, a), vs_bucket(h));
	if (c->n)
		snprintf(what + strlen(what), len - strlen(what), " start %u of %u",
			 vs_backend_hash(h) % c->n, c->n);
}

/* Per-CPU counters, summed. */
static void read_sstats(__u32 id, struct vs_svc_stats *sum)
{
	struct vs_svc_stats v[ncpu];

	memset(v, 0, sizeof(v));
	memset(sum, 0, sizeof(*sum));
	CHECK(bpf_map_lookup_elem(sstats_fd, &id, v) == 0, "sstats[%u]: %s", id, strerror(errno));
	for (int c = 0; c < ncpu; c++) {
		sum->lookups += v[c].lookups;
		sum->steered += v[c].steered;
		sum->refused += v[c].refused;
		sum->assign_err += v[c].assign_err;
	}
}

static void read_vstats(__u32 slot, struct vs_ver_stats *sum)
{
	struct vs_ver_stats v[ncpu];

	memset(v, 0, sizeof(v));
	memset(sum, 0, sizeof(*sum));
	CHECK(bpf_map_lookup_elem(vstats_fd, &slot, v) == 0, "vstats[%u]: %s", slot,
	      strerror(errno));
	for (int c = 0; c < ncpu; c++) {
		sum->steered += v[c].steered;
		sum->failover_in += v[c].failover_in;
		sum->failover_out += v[c].failover_out;
		sum->requests += v[c].requests;
		sum->resets += v[c].resets;
		sum->arrived += v[c].arrived;
	}
}

#define CHECK_CTR(got, want, fmt, ...)                                                  \
	do {                                                                            \
		if ((got) != (want)) {                                                  \
			fail_at(__LINE__, fmt " = %llu, want %llu", ##__VA_ARGS__,      \
				(unsigned long long)(got), (unsigned long long)(want)); \
			return;                                                         \
		}                                                                       \
	} while (0)

/* Every service's and every slot's counters: the ones the row names,
 * and zero for all others. */
static void check_counters(const struct want *w)
{
	for (__u32 id = 0; id < VS_MAX_SERVICES; id++) {
		struct vs_svc_stats g, e = { 0 };

		CHECK_HELPER(read_sstats(id, &g));
		if (w->ss.id && id == w->ss.id)
			e = (struct vs_svc_stats){ .lookups = w->ss.lookups,
						   .steered = w->ss.steered,
						   .refused = w->ss.refused,
						   .assign_err = w->ss.assign_err };
		CHECK_CTR(g.lookups, e.lookups, "sstats[%u].lookups", id);
		CHECK_CTR(g.steered, e.steered, "sstats[%u].steered", id);
		CHECK_CTR(g.refused, e.refused, "sstats[%u].refused", id);
		CHECK_CTR(g.assign_err, e.assign_err, "sstats[%u].assign_err", id);
	}
	for (__u32 slot = 0; slot < VS_MAX_SLOTS; slot++) {
		struct vs_ver_stats g;
		struct vs_want e = { 0 };

		CHECK_HELPER(read_vstats(slot, &g));
		for (size_t i = 0; i < ARRAY_SIZE(w->vs) && w->vs[i].slot; i++)
			if (w->vs[i].slot == slot)
				e = w->vs[i];
		CHECK_CTR(g.steered, e.steered, "vstats[%u].steered", slot);
		CHECK_CTR(g.failover_in, e.failover_in, "vstats[%u].failover_in", slot);
		CHECK_CTR(g.failover_out, e.failover_out, "vstats[%u].failover_out", slot);
		CHECK_CTR(g.requests + g.resets + g.arrived, 0, "vstats[%u] request counters",
			  slot);
	}
}

static __u32 now_ms(void)
{
	return now_ns() / 1000000;
}

/* The client's network's quota (squota), as the row presets it, keyed as
 * the program keys it. */
static void preset_quota(const struct row_def *r, const __u32 client[4])
{
	struct vs_quota_key qk = { .svc = r->svc[0].id };
	struct vs_quota q = { .start_ns = now_ns() - (__u64)r->quota.age_ms * 1000000,
			      .count = r->quota.count };
	int ipv6 = r->look.family == AF_INET6;

	client_key(r, client, qk.addr);
	vs_mask_addr(qk.addr, ipv6 ? r->opts.quota6 : r->opts.quota4);
	if (r->quota.count)
		CHECK(bpf_map_update_elem(squota_fd, &qk, &q, BPF_NOEXIST) == 0, "squota: %s",
		      strerror(errno));
}

/* Both of client k's sets full of other clients' sessions (tags the
 * client's is not), the one in the last place the longest idle. Their
 * number: 8, or 4 when the two sets are one. */
static void preset_fill(const struct row_def *r, const struct vs_sess_key *k, int *n)
{
	struct vs_sess_place p;
	struct vs_sess_set set;

	*n = 0;
	if (!r->fill.age_ms)
		return;
	vs_sess_place(k, test_salt(k->svc), TEST_SETS, &p);
	for (int s = 0; s < 2; s++) {
		for (int w = 0; w < VS_SESS_WAYS; w++)
			set.way[w] = (struct vs_sess){
				.word = (__u64)(p.tag ^ (0x100u + 4 * s + w)) << 32 | r->fill.open,
				.last_ms = now_ms() - r->fill.age_ms + 4 * (1 - s) + (3 - w),
				.slot = 1,
			};
		CHECK(bpf_map_update_elem(tsess.fd, &p.set[s], &set, BPF_ANY) == 0, "fill: %s",
		      strerror(errno));
	}
	*n = p.set[0] == p.set[1] ? VS_SESS_WAYS : 2 * VS_SESS_WAYS;
}

static void check_guard(const struct want *w)
{
	struct vs_svc_guard v[ncpu];

	for (__u32 id = 0; id < VS_MAX_SERVICES; id++) {
		__u64 refused = 0, full = 0;

		CHECK(bpf_map_lookup_elem(sguard_fd, &id, v) == 0, "sguard[%u]: %s", id,
		      strerror(errno));
		for (int c = 0; c < ncpu; c++) {
			refused += v[c].quota_refused;
			full += v[c].hold_full;
		}
		CHECK_CTR(refused, w->ss.id == id ? w->quota_refused : 0,
			  "sguard[%u].quota_refused", id);
		CHECK_CTR(full, w->ss.id == id ? w->hold_full : 0, "sguard[%u].hold_full", id);
	}
}

static void run_row(const void *arg)
{
	const struct row_def *r = arg;
	const struct look_def *l = &r->look;
	struct vs_sess_key skey = { 0 };
	struct vs_sess e = { 0 }, pre = { 0 };
	struct bpf_sk_lookup in, out;
	__u32 local[4], client[4], ret, size;
	__u64 t0, t1, want_cookie;
	int want_n, filled;
	char what[160];
	int err;

	row("%s", r->name);
	CHECK_HELPER(reset_maps());
	CHECK_HELPER(fill_maps(r));
	CHECK_HELPER(find_client(r, client, what, sizeof(what)));
	row("%s; %s", r->name, what);
	CHECK(parse_addr(l->family, l->local, local), "local address %s", l->local);

	skey.svc = r->sess.sid;
	if (r->sess.addr) {
		__u32 a[4];

		CHECK(parse_addr(l->family, r->sess.addr, a), "session client %s", r->sess.addr);
		client_key(r, a, skey.addr);
	} else {
		client_key(r, client, skey.addr);
	}
	if (r->sess.slot) {
		pre = (struct vs_sess){ .word = r->sess.open,
					.last_ms = now_ms() - r->sess.age_ms,
					.slot = r->sess.slot };
		err = tsess_put(&tsess, &skey, &pre);
		CHECK(!err, "sessions: %s", strerror(-err));
		CHECK(!tsess_get(&tsess, &skey, &pre), "preset session not found");
	}
	CHECK_HELPER(preset_quota(r, client));
	skey.svc = r->svc[0].id;
	CHECK_HELPER(preset_fill(r, &skey, &filled));
	skey.svc = r->sess.sid;

	lookup_ctx(&in, l->family, l->proto ? l->proto : IPPROTO_TCP, local, l->port, client,
		   40000);
	t0 = now_ns();
	err = test_run(&in, &out, &ret, &size);
	t1 = now_ns();
	CHECK(err == 0, "BPF_PROG_TEST_RUN: %s (errno %d)", strerror(-err), -err);
	CHECK_INT(size, ==, sizeof(out));
	if (ret != r->want.ret)
		fail_at(__LINE__, "verdict %s, want %s", ret == SK_PASS ? "SK_PASS" : "SK_DROP",
			r->want.ret == SK_PASS ? "SK_PASS" : "SK_DROP");
	if (cur_failed)
		return;
	want_cookie = r->want.sk ? pool[r->want.sk].cookie : 0;
	if (out.cookie != want_cookie) {
		fail_at(__LINE__, "assigned %s, want %s", cookie_str(out.cookie),
			cookie_str(want_cookie));
		return;
	}
	/* The rest of the context comes back as it went in. */
	CHECK(out.family == in.family && out.protocol == in.protocol &&
		      out.local_port == in.local_port && out.remote_port == in.remote_port &&
		      !memcmp(out.local_ip6, in.local_ip6, 16) && out.local_ip4 == in.local_ip4,
	      "ctx_out differs from ctx_in");

	CHECK_HELPER(check_counters(&r->want));
	CHECK_HELPER(check_guard(&r->want));

	/* The session table: the client's entry (of the service that
	 * matched), refreshed to the slot that served it. */
	want_n = (r->sess.slot ? 1 : 0) + filled;
	if (r->want.sess_slot) {
		struct vs_sess_key k = { .svc = r->want.ss.id };

		/* The key the program makes, which a row's opts may have cut
		 * differently from the preset one. */
		memcpy(k.addr, client, sizeof(k.addr));
		vs_client_key(k.addr, l->family == AF_INET6, &r->opts);
		CHECK(tsess_get(&tsess, &k, &e) == 0, "no session for %s",
		      addr_str(l->family, client));
		CHECK_INT(e.slot, ==, r->want.sess_slot);
		/* The sessions' clock is a tick behind at most (10 ms at HZ=100). */
		CHECK(e.last_ms + 10 >= t0 / 1000000 && e.last_ms <= t1 / 1000000,
		      "last_ms %u not refreshed (run between %llu and %llu ns)", e.last_ms,
		      (unsigned long long)t0, (unsigned long long)t1);
		if (r->sess.slot && !memcmp(&k, &skey, sizeof(k)))
			CHECK_INT(e.word, ==, pre.word);
		else if (!filled)
			want_n++;
	} else if (r->sess.slot) {
		CHECK(tsess_get(&tsess, &skey, &e) == 0, "preset session gone");
		CHECK(!memcmp(&e, &pre, sizeof(e)),
		      "preset session changed: slot %u last_ms %u open %u", e.slot, e.last_ms,
		      VS_SESS_OPEN(e.word));
	}
	CHECK_INT(tsess_count(&tsess), ==, want_n);
	if (r->fill.age_ms && !r->fill.open) {
		struct vs_sess_key k = { .svc = r->want.ss.id };
		struct vs_sess_place p;
		struct vs_sess_set set;

		/* It took the place of the longest idle (preset_fill()). */
		memcpy(k.addr, client, sizeof(k.addr));
		vs_sess_place(&k, test_salt(k.svc), TEST_SETS, &p);
		CHECK(bpf_map_lookup_elem(tsess.fd, &p.set[1], &set) == 0, "sessions: %s",
		      strerror(errno));
		CHECK(VS_SESS_TAG(set.way[VS_SESS_WAYS - 1].word) == p.tag,
		      "the longest idle session did not make way");
	}
}

/* `prog_tests capture` runs the capture cases only (tests/run capture). */
int main(int argc, char **argv)
{
	bool only_capture = argc > 1 && !strcmp(argv[1], "capture");
	char name[256];
	bool ok;

	ok = check_run("setup: private network namespace, lo up", case_netns, NULL, NULL);
	if (only_capture) {
		if (ok)
			capture_cases();
		return check_summary("capture");
	}
	ok = ok &&
	     check_run("setup: steer skeleton loads, nothing pinned", case_load, NULL, NULL) &&
	     check_run("setup: listening sockets and their cookies", case_sockets, NULL, NULL) &&
	     check_run("setup: BPF_PROG_TEST_RUN runs sk_lookup programs", case_test_run, NULL,
		       NULL);
	load_cases();
	if (ok)
		maps_cases();
	if (ok)
		capture_cases();
	if (ok)
		nat_cases();
	if (ok) {
		for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
			for (size_t i = 0; i < tables[t].n; i++) {
				snprintf(name, sizeof(name), "%s: %s", tables[t].name,
					 tables[t].rows[i].name);
				check_run(name, run_row, &tables[t].rows[i], NULL);
			}
	}
	for (int k = 1; k < N_SK; k++)
		if (pool[k].fd > 0)
			close(pool[k].fd);
	steer_bpf__destroy(skel);
	free(zero);
	return check_summary("prog");
}
