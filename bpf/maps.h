/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps, declared once for every BPF object. steer.bpf.c owns them and
 * pins them by name (VS_OWNER); the scan and track objects are handed the
 * same maps by the controller (bpf_map__reuse_fd) and must not pin.
 */
#ifndef VS_MAPS_H
#define VS_MAPS_H

#include "vsteer.h"
#include "vsteer_hist.h"

#ifdef VS_OWNER
#define VS_PIN __uint(pinning, LIBBPF_PIN_BY_NAME);
#else
#define VS_PIN
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, struct vs_svc_key);
	__type(value, struct vs_svc);
	VS_PIN
} svcs SEC(".maps");

/* Value size 8: a lookup from user space then returns the socket cookie,
 * which is how the controller tells which socket sits in which slot. The
 * kernel refuses BTF for sockmaps, hence sizes instead of types. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, VS_SOCKMAP_SIZE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
	VS_PIN
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vs_ports);
	VS_PIN
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vs_ver_stats);
	VS_PIN
} vstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vs_ver_sums);
	VS_PIN
} vsums SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_svc_stats);
	VS_PIN
} sstats SEC(".maps");

/* The session table: sets of VS_SESS_WAYS sessions (struct vs_sess).
 * Its size is set by the controller before load: two places per client
 * of --session-table, so that two candidate sets almost never both fill.
 * mmap()able, so that vsteerd frees a place by compare-and-swap too. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VS_SESS_DEFAULT * 2 / VS_SESS_WAYS);
	__type(key, __u32);
	__type(value, struct vs_sess_set);
	VS_PIN
} sessions SEC(".maps");

/* Per service id: how clients are keyed, the session quota. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_svc_opts);
	VS_PIN
} sopts SEC(".maps");

/* New sessions per quota network and window. LRU: a network not seen for
 * a while is forgotten (its quota starts afresh). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VS_QUOTA_ENTRIES);
	__type(key, struct vs_quota_key);
	__type(value, struct vs_quota);
	VS_PIN
} squota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_svc_guard);
	VS_PIN
} sguard SEC(".maps");

/* Established connections per version slot. Not per-CPU: a connection
 * opens on one CPU and may close on another, and the count is read to
 * decide whether a version is drained. Updated atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __s64);
	VS_PIN
} vopen SEC(".maps");

/* Latency (ns) and response size (bytes) histograms per version slot:
 * index slot * VS_HBUCKETS + bucket (include/vsteer_hist.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS *VS_HBUCKETS);
	__type(key, __u32);
	__type(value, __u64);
	VS_PIN
} lat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS *VS_HBUCKETS);
	__type(key, __u32);
	__type(value, __u64);
	VS_PIN
} rsize SEC(".maps");

/* Listeners' comings and goings (VS_LSTATE_*), counted by the tracker. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_LSTATE_N);
	__type(key, __u32);
	__type(value, __u64);
	VS_PIN
} lstate SEC(".maps");

/* Only the tracker uses it; pinned like the rest so that a restarted
 * vsteerd's tracker finds the requests in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct vs_sk);
	VS_PIN
} sks SEC(".maps");

/* Mirroring, per service id (include/vsteer.h): which new connections
 * are sampled, and what capturing them cost and lost. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_mirror);
	VS_PIN
} smirror SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vs_mirror_stats);
	VS_PIN
} mstats SEC(".maps");

/* The capture buffer: struct vs_cap records, each followed by the bytes
 * of its segment. A perf event array, not a ring buffer: only
 * bpf_skb_output() and bpf_perf_event_output() with an skb copy a
 * segment's paged bytes. One entry per CPU (libbpf sizes it). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	VS_PIN
} mcap SEC(".maps");

/* Address steering (include/vsteer.h): the address behind each sockmap
 * index of a VS_VER_ADDR version, what each slot is, and the service
 * address a steered client socket asked for. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_SOCKMAP_SIZE);
	__type(key, __u32);
	__type(value, struct vs_addr);
	VS_PIN
} backs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vs_slot);
	VS_PIN
} vslot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vs_addr);
	VS_PIN
} corig SEC(".maps");

/* Flows steered by address (bpf/nat.bpf.c's, and the tracker's record
 * of the connect hook's): by the client's side, where each goes; by the
 * server's side, the service address its replies come from. And a bit
 * per port a server steered by address listens on (the replies' fast
 * path). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VS_FLOWS_DEFAULT);
	__type(key, struct vs_flow_key);
	__type(value, struct vs_flow);
	VS_PIN
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VS_FLOWS_DEFAULT);
	__type(key, struct vs_flow_key);
	__type(value, struct vs_addr);
	VS_PIN
} rflows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vs_ports);
	VS_PIN
} bports SEC(".maps");

static __always_inline int port_in(void *map, __u32 port)
{
	__u32 zero = 0, w = port >> 6;
	struct vs_ports *p = bpf_map_lookup_elem(map, &zero);

	if (!p)
		return 0;
	/* Of a port from bpf_ntohs() clang knows w < 1024 and drops the
	 * mask, and 6.1's verifier, which does not bound a byte swap,
	 * then sees an index of up to 2^26. */
	barrier_var(w);
	return (p->w[w & 1023] >> (port & 63)) & 1;
}

static __always_inline int port_in_use(__u32 port)
{
	return port_in(&ports, port);
}

#endif /* VS_MAPS_H */
