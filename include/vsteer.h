/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the data plane (bpf/) and the controller (user/).
 *
 * Only fixed-width types. Byte order is noted per field: addresses are kept
 * in network byte order exactly as struct bpf_sk_lookup hands them over,
 * ports in host byte order because that is what ctx->local_port is.
 */
#ifndef VSTEER_H
#define VSTEER_H

#ifdef __bpf__
/* BPF side: the types come from vmlinux.h or linux/types.h already. */
#else
#include <linux/types.h>
#endif

#define VS_MAX_SERVICES 128 /* svcs entries; service id indexes sstats */
#define VS_MAX_VERSIONS 8   /* versions per service, newest first */
#define VS_MAX_SLOTS	512 /* version slots across all services */
#define VS_MAX_SOCKS	32  /* listening sockets per version slot */
#define VS_SOCKMAP_SIZE (VS_MAX_SLOTS * VS_MAX_SOCKS)
#define VS_BUCKETS	10000 /* weights are basis points of this range */
#define VS_PICK_MAX	256   /* sockets one scan may insert */
/* A picks value (scan.bpf.c) with this bit set is not a sockmap index
 * but the failed insert's errno: VS_PICK_FAILED | -errno. */
#define VS_PICK_FAILED	 0x80000000U
#define VS_SESS_DEFAULT	 65536 /* clients the session table is sized for */
#define VS_SESS_WAYS	 4     /* sessions in a set: one cache line */
#define VS_QUOTA_ENTRIES 16384 /* quota networks remembered (LRU) */
#define VS_FLOWS_DEFAULT 65536 /* remote clients' flows steered by address (LRU) */

/* Map lstate: listeners' comings and goings, counted by the tracker, so
 * that vsteerd reads the sockmap and scans for listeners when they move,
 * not every tick. */
#define VS_LSTATE_CLOSED 0 /* listeners of the sockmap that closed */
#define VS_LSTATE_OPENED 1 /* listen() calls, any socket, any namespace */
#define VS_LSTATE_N	 2

#define VS_PROTO_TCP 6

/* Key of the svcs hash. A service bound to the wildcard address has addr
 * all zero; the data plane tries the exact address first, then that. */
struct vs_svc_key {
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 proto;    /* VS_PROTO_TCP */
	__u16 port;    /* host byte order */
	__u32 addr[4]; /* network byte order; IPv4 uses addr[0] */
};

/* vs_svc.flags */
#define VS_SVC_HTTP 1 /* "protocol": "http": read response status lines */
#define VS_SVC_ADDR \
	2 /* a version is steered by address (VS_VER_ADDR): the
		       * packet steering (bpf/nat.bpf.c) looks at its packets */

/* vs_ver.flags */
#define VS_VER_NO_AFFINITY 1 /* rolled back: sessions held here move off */
#define VS_VER_ADDR \
	2 /* its servers live in other network namespaces:
				* steered by address (bpf/connect.bpf.c), never
				* by handing over a socket (sk_lookup skips it) */

/* One version of a service, in the order the data plane walks them. */
struct vs_ver {
	__u16 slot;  /* sockets live at socks[slot * VS_MAX_SOCKS ...] */
	__u16 upto;  /* cumulative weight: buckets below this and at or
				 * above the previous version's upto land here */
	__u16 nsock; /* socket slots in use, 0..VS_MAX_SOCKS */
	__u16 flags; /* VS_VER_* */
};

/* Value of the svcs hash. Written whole by the controller: a hash map
 * update swaps the element under RCU, so a lookup never sees half of a
 * weight change. */
struct vs_svc {
	__u32 id;			    /* index into sstats, 0..VS_MAX_SERVICES-1 */
	__u32 salt;			    /* per-service session hash salt */
	__u16 nver;			    /* valid entries in ver[] */
	__u16 flags;			    /* VS_SVC_* */
	__u32 session_ms;		    /* session affinity: a client idle this long
				 * starts a new session; 0 = no affinity */
	struct vs_ver ver[VS_MAX_VERSIONS]; /* newest first */
};

/* A client of a service: its address cut as the service keys clients
 * (vs_client_key()). Where its session lives is computed from this
 * (vs_sess_place()). */
struct vs_sess_key {
	__u32 svc;     /* service id */
	__u32 addr[4]; /* client address, network byte order */
};

/* One client's session (map sessions). The table is an array of sets of
 * VS_SESS_WAYS sessions; a client may live in either of two sets, and is
 * told from the others there by a 32-bit tag. A session with a connection
 * open is never replaced, so a flood of new clients cannot move a client
 * that has one; an idle one may be, the longest idle first. */
struct vs_sess {
	__u64 word;    /* tag << 32 | established connections: one word, so
			* that taking a session over and counting a connection
			* on it are each one compare-and-swap, and a count never
			* lands on a client that took the place meanwhile. Tag 0:
			* a free place. */
	__u32 last_ms; /* bpf_ktime_get_ns() / 1e6 at the last connection's
			* start or close; wraps after 49 days */
	__u32 slot;    /* version slot the client is on */
};

struct vs_sess_set {
	struct vs_sess way[VS_SESS_WAYS];
};

#define VS_SESS_TAG(w)	((__u32)((w) >> 32))
#define VS_SESS_OPEN(w) ((__u32)(w))

/* Per service, indexed by its id (array sopts): how its clients are keyed
 * and how many new sessions one network of them may open. All zero, as an
 * older vsteerd left it: whole addresses, no quota. */
struct vs_svc_opts {
	__u8 key6;   /* IPv6 clients are keyed by their first key6 bits (a
			   * host owns a /64); 0: all 128 */
	__u8 quota4; /* a quota network: an IPv4 client's first quota4 bits */
	__u8 quota6; /* ... an IPv6 client's first quota6 bits */
	__u8 pad;
	__u32 quota;	 /* new sessions one quota network may open per window;
			   * 0: no limit */
	__u32 window_ms; /* the quota's window */
	__u32 salt;	 /* the service's salt (vs_svc.salt): where its
			  * clients' sessions live (vs_sess_place()) */
};

/* Quota of a network of clients (LRU hash squota). */
struct vs_quota_key {
	__u32 svc;
	__u32 addr[4]; /* the network: a client address cut to quota4/quota6 */
};

struct vs_quota {
	__u64 start_ns; /* the window began */
	__u32 count;	/* sessions opened in it */
	__u32 pad;
};

/* Per-CPU, indexed by service id: sessions the data plane did not record. */
struct vs_svc_guard {
	__u64 quota_refused; /* a new client's network was over its quota */
	__u64 hold_full;     /* a new client found both its sets full of
			      * sessions with connections open */
};

/* Per-CPU, indexed by version slot. */
struct vs_ver_stats {
	__u64 steered;	    /* connections handed to this version */
	__u64 failover_in;  /* ... of which another version was chosen */
	__u64 failover_out; /* chosen, but no live socket: passed on */
	__u64 requests;	    /* requests answered (first response byte sent) */
	__u64 resp_bytes;   /* bytes of those responses */
	__u64 resets;	    /* resets sent by the backend's connections */
	__u64 arrived;	    /* requests that arrived (answered or not) */
	__u64 status[4];    /* HTTP responses by class: 2xx 3xx 4xx 5xx */
};

/* Per-CPU, indexed by version slot (map vsums): the exact sums of what
 * the histograms lat and rsize count, which /metrics gives as their _sum.
 * A map of its own rather than fields of vs_ver_stats: libbpf refuses a
 * pinned map whose value size changed, so a vsteerd adopting an older
 * one's pins would fail; a map missing from the pins is made instead
 * (and seeded from the histograms, user/kernel/dp_maps.c). */
struct vs_ver_sums {
	__u64 lat_ns;	  /* latencies of the requests counted in lat */
	__u64 resp_bytes; /* sizes of the responses counted in rsize */
};

/* vs_sk.kind */
#define VS_SK_LISTENER 1 /* a backend's listening socket, in slot */
#define VS_SK_CONN     2 /* a connection steered to it, open */
#define VS_SK_CLOSED   3 /* that connection, closed: a reset may follow */

/* SK_STORAGE, cloned by the kernel from a listener into every connection
 * it accepts (BPF_F_CLONE). The scan marks each listener it puts into the
 * sockmap with its slot; the tracker turns an accepted connection's copy
 * into VS_SK_CONN if the data plane steered it there (its local address is
 * a service that has that slot), and deletes it otherwise. So the data
 * plane records nothing per connection, and the request meters find the
 * version of a connection in the socket itself. */
struct vs_sk {
	__u64 req_ns;	  /* arrival of the request not yet answered, or 0 */
	__u64 resp_bytes; /* bytes sent of the response under way */
	__u16 slot;
	__u16 svc;	  /* VS_SK_CONN: the service's id */
	__u8 kind;	  /* VS_SK_* */
	__u8 responding;  /* a response is under way */
	__u8 status_seen; /* its HTTP status line has been read */
	__u8 flags;	  /* VS_SKF_*; was a bool "http", which VS_SKF_HTTP keeps */
};

/* vs_sk.flags */
#define VS_SKF_HTTP	   1 /* of an "http" service: read status lines */
#define VS_SKF_MIRROR	   2 /* sampled for mirroring: its segments are captured */
#define VS_SKF_MIRROR_LOST 4 /* a segment could not be: capture stopped for good */

/* Mirroring a service's stable version (array smirror, by service id):
 * new connections steered to `slot` are sampled with probability
 * bp / VS_BUCKETS; the segments of a sampled connection, both ways, go to
 * the capture buffer (mcap), at most `budget` bytes a second per CPU. */
struct vs_mirror {
	__u16 bp; /* 0: not mirrored */
	__u16 slot;
	__u32 budget; /* bytes of segments copied, per second and CPU */
};

/* An address and port, for address steering: in array backs, by sockmap
 * index, where a connection goes that is steered to the socket at that
 * index of a VS_VER_ADDR version (the socket, a listener in the server's
 * own network namespace, is in the sockmap for its liveness only: it
 * drops out when it closes); in SK_STORAGE corig, the service address a
 * client socket the connect hook steered asked for, which getpeername()
 * shows. */
struct vs_addr {
	__u32 addr[4]; /* network byte order */
	__u16 port;    /* host byte order */
	__u8 family;
	__u8 pad;
};

/* A flow steered by address, as one of its ends sees it: the client's
 * address and port, and where it is connected to. In LRU hash flows, the
 * service's address and port as the client sent them (a wildcard
 * service's flows differ by the host address they were sent to), which
 * the client's packets find. In LRU hash rflows, the server's the flow
 * was steered to, which the server's replies find, and the tracker its
 * accepted socket. */
struct vs_flow_key {
	__u32 client[4]; /* network byte order */
	__u32 addr[4];	 /* network byte order */
	__u16 cport;	 /* host byte order */
	__u16 port;
	__u8 family;
	__u8 pad[3];
};

/* Where a flow goes, for its whole life (flows): the server chosen at its
 * SYN, and that SYN's sequence number (network byte order), which tells
 * the same SYN sent again from a new connection on the same client port.
 * rflows holds the service's address and port (a struct vs_addr), which
 * the replies get back as their source. */
struct vs_flow {
	struct vs_addr back;
	__u16 slot;
	__u16 svc;
	__u32 isn;
};

/* Per version slot (array vslot): what the tracker needs to know of a
 * VS_VER_ADDR version's connections, which it cannot find by address
 * (their local address is the server's, not the service's). */
struct vs_slot {
	__u32 svc;   /* the service's id */
	__u16 flags; /* VS_SLOT_* */
	__u16 pad;
};

/* vs_slot.flags */
#define VS_SLOT_ADDR 1 /* a VS_VER_ADDR version of service svc */
#define VS_SLOT_HTTP 2 /* ... of an "http" service */

/* Per-CPU, by service id: what mirroring cost and lost in the kernel.
 * win_* is the budget's bookkeeping, not a counter. */
struct vs_mirror_stats {
	__u64 sampled;	   /* connections sampled */
	__u64 segments;	   /* segments captured */
	__u64 bytes;	   /* bytes copied into the buffer */
	__u64 over_budget; /* connections whose capture stopped: over budget */
	__u64 buffer_full; /* ... the buffer was full (vsteerd behind) */
	__u64 truncated;   /* segments copied only in part (VS_CAP_COPY_MAX) */
	__u64 win_start;   /* the current second, bpf_ktime_get_ns() / 1e9 */
	__u64 win_bytes;   /* bytes copied in it */
};

/* A record of the capture buffer (perf event array mcap). The first
 * `copied` bytes of the segment follow it: from the TCP header (VS_CAP_REQ,
 * tp_btf/tcp_probe) or the Ethernet header (VS_CAP_RESP, TC egress); the
 * payload starts `off` bytes into them. */
enum vs_cap_kind {
	VS_CAP_OPEN = 1, /* sampled at its establishment: the initial sequence numbers */
	VS_CAP_REQ,	 /* a segment from the client, as it arrived (in any order) */
	VS_CAP_RESP,	 /* a segment to the client, as it left */
	VS_CAP_CLOSE,	 /* the connection closed */
	VS_CAP_LOST,	 /* capture of the connection stopped (over budget, buffer full) */
};
/* A perf record holds less than 64 KiB; a larger segment (loopback's
 * GSO makes them up to 64 KiB) is copied in part: len > copied - off. */
#define VS_CAP_COPY_MAX 60000

struct vs_cap {
	__u64 cookie; /* the connection's socket cookie */
	__u64 ns;     /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 seq;    /* REQ, RESP: the first payload byte's sequence number
		       * (host byte order); OPEN: the client's next (rcv_nxt) */
	__u32 len;    /* REQ, RESP: payload bytes of the segment (FIN not
		       * counted); OPEN: the backend's next (snd_nxt) */
	__u32 copied; /* bytes that follow this record */
	__u16 off;    /* where the payload starts in them */
	__u16 svc;
	__u16 slot;
	__u8 kind; /* enum vs_cap_kind */
	__u8 fin;  /* REQ, RESP: the segment carries a FIN */
	__u32 pad;
};

/* Per-CPU, indexed by service id. Every way a lookup can end is counted. */
struct vs_svc_stats {
	__u64 lookups;	  /* SYNs to the service address */
	__u64 steered;	  /* handed to a backend socket */
	__u64 refused;	  /* no version had a live socket: RST */
	__u64 assign_err; /* bpf_sk_assign() refused a socket */
};

/* Record the scan iterator writes for each listening TCP socket. */
struct vs_listener {
	__u64 cookie;  /* socket cookie, as the sockmap reports it */
	__u32 addr[4]; /* network byte order */
	__u16 port;    /* host byte order */
	__u8 family;
	__u8 v6only;   /* AF_INET6 socket that refuses IPv4 */
	__u32 backlog; /* connections accepted by the kernel, not yet
				 * by the process (sk_ack_backlog) */
	__u32 uid;     /* its owner: the uid that created it (sk_uid) ... */
	__u32 pad;
	__u64 cgroup; /* ... and the cgroup v2 id of its creator, 0 if none */
};

/* Record a drain iterator writes for each connection of a version it
 * drains (bpf/drain.h): its verdict (include/vsteer_idle.h) and, for
 * closing it from user space where the kernel lacks bpf_sock_destroy,
 * what names it for SOCK_DESTROY. */
struct vs_drain_rec {
	__u64 cookie;
	__u32 local[4];	 /* network byte order, as the socket has them: an */
	__u32 remote[4]; /* IPv4 client of a dual-stack [::] socket is mapped */
	__u16 lport;	 /* host byte order */
	__u16 rport;	 /* host byte order */
	__u16 slot;
	__u8 family;  /* the socket's */
	__u8 verdict; /* enum vs_idle; VS_IDLE: closed, or to be closed */
	__s32 err;    /* bpf_sock_destroy's return, where it was called */
	__u32 pad;
};

/* One bit per local port that some service uses: lets the data plane
 * skip the hash lookups for every other connection. */
struct vs_ports {
	__u64 w[65536 / 64];
};

#ifndef __bpf__
_Static_assert(sizeof(struct vs_svc_key) == 20, "vs_svc_key layout");
_Static_assert(sizeof(struct vs_ver) == 8, "vs_ver layout");
_Static_assert(sizeof(struct vs_svc) == 16 + 8 * VS_MAX_VERSIONS, "vs_svc layout");
_Static_assert(sizeof(struct vs_ver_stats) == 88, "vs_ver_stats layout");
_Static_assert(sizeof(struct vs_ver_sums) == 16, "vs_ver_sums layout");
_Static_assert(sizeof(struct vs_sk) == 24, "vs_sk layout");
_Static_assert(sizeof(struct vs_mirror) == 8, "vs_mirror layout");
_Static_assert(sizeof(struct vs_addr) == 20, "vs_addr layout");
_Static_assert(sizeof(struct vs_slot) == 8, "vs_slot layout");
_Static_assert(sizeof(struct vs_flow_key) == 40, "vs_flow_key layout");
_Static_assert(sizeof(struct vs_flow) == 28, "vs_flow layout");
_Static_assert(sizeof(struct vs_mirror_stats) == 64, "vs_mirror_stats layout");
_Static_assert(sizeof(struct vs_cap) == 40, "vs_cap layout");
_Static_assert(sizeof(struct vs_svc_stats) == 32, "vs_svc_stats layout");
_Static_assert(sizeof(struct vs_listener) == 48, "vs_listener layout");
_Static_assert(sizeof(struct vs_drain_rec) == 56, "vs_drain_rec layout");
_Static_assert(sizeof(struct vs_sess_key) == 20, "vs_sess_key layout");
_Static_assert(sizeof(struct vs_sess) == 16, "vs_sess layout");
_Static_assert(sizeof(struct vs_sess_set) == 64, "vs_sess_set: one cache line");
_Static_assert(sizeof(struct vs_svc_opts) == 16, "vs_svc_opts layout");
_Static_assert(sizeof(struct vs_quota_key) == 20, "vs_quota_key layout");
_Static_assert(sizeof(struct vs_quota) == 16, "vs_quota layout");
_Static_assert(sizeof(struct vs_svc_guard) == 16, "vs_svc_guard layout");
_Static_assert(VS_BUCKETS <= 0xffff, "upto is 16 bits");
#endif

#endif /* VSTEER_H */
