/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The data plane handle, and what dp.c offers the other files of kernel/
 * only. */
#ifndef VS_DP_INTERNAL_H
#define VS_DP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "core/owner.h"
#include "kernel/dp.h"

struct steer_bpf;
struct scan_bpf;
struct track_bpf;
struct http_bpf;
struct drain_bpf;
struct drain_list_bpf;
struct connect_bpf;
struct nat_bpf;
struct bpf_link;
struct bpf_object;

#define DP_CGROUP_CACHE 64 /* cgroup ids whose paths dp_cgroup_path() keeps */

struct dp_cgroup {
	__u64 id;
	char path[OWNER_CGROUP_LEN];
};

#define DP_MAX_TC_IF 256 /* interfaces the TC meter is tried on */
#define DP_MAX_TC_NS 256 /* other namespaces it is put in (servers') */
#define DP_MAX_PINS  41	 /* the maps, links and program of dp.h's layout */
#define DP_TRACERS   4	 /* track req resp rst */

/* One object pinned in the pin directory, and the fd vsteerd holds it by
 * (dp_pins.c re-pins it from that fd). */
/* What a pin holds: ids are counted apart per kind. */
enum dp_pin_kind { DP_PIN_MAP, DP_PIN_LINK, DP_PIN_PROG };

struct dp_pin {
	char name[16];
	int fd; /* not owned here: steer's map or program, link_fd or a tracer_fd */
	enum dp_pin_kind kind;
	__u32 id;  /* the object's id, to tell it from another at the name */
	dev_t dev; /* the pin (bpffs inode) last seen holding it; */
	ino_t ino; /* 0: not seen yet, look at the object itself */
};

/* An interface packet steering was tried on (dp_nat.c): the hooks it
 * was last put on (DP_NAT_IN, DP_NAT_OUT), and whether the programs can
 * read its packets at all (an Ethernet header, not lo). */
struct dp_nat_if {
	unsigned int ifindex;
	unsigned int on; /* ~0: not known yet */
	bool fits;
};

#define DP_NAT_IN  1 /* vsteer_dnat at its ingress */
#define DP_NAT_OUT 2 /* vsteer_unnat at its egress */

struct dataplane {
	struct steer_bpf *steer; /* the data plane; owns the pinned maps */
	struct scan_bpf *scan;	 /* socket iterators (dp_iter.c) */
	struct track_bpf *track; /* connection tracker and request meters */
	struct http_bpf *tc;	 /* the TC meter (dp_tc.c) */
	struct bpf_link *list_iter;
	struct bpf_link *insert_iter;
	struct drain_bpf *drain;	   /* the drain: closes in the iterator ... */
	struct drain_list_bpf *drain_list; /* ... or lists, for sock_diag.h */
	struct bpf_link *drain_iter;
	struct connect_bpf *connect;	       /* address steering (dp_connect.c) */
	int connect_fd[4];		       /* its links, DP_CONNECT_LINKS; -1: not attached */
	struct nat_bpf *nat;		       /* packet steering (dp_nat.c), once needed */
	struct dp_nat_if nat_if[DP_MAX_TC_IF]; /* interfaces it was tried on */
	size_t nnat_if;
	bool forward_off[2]; /* IPv4's, IPv6's forwarding was 0 when last looked at */
	enum dp_drain drain_how;
	int diag_fd; /* sock_diag.h's socket, for DP_DRAIN_NETLINK */
	int link_fd;
	int tracer_fd[DP_TRACERS]; /* -1: not attached */
	int lock_fd;		   /* flock on the pin directory: one writer */
	bool adopted;		   /* the pin directory existed already */
	bool building;		   /* pins in tmp_dir, not renamed into place yet */
	bool published;		   /* tmp_dir renamed into place by this start */
	bool attached;		   /* dp_attach() done */
	bool committed;		   /* dp_commit() done: nothing is undone any more */
	/* What this start changed in an adopted pin directory, undone by
	 * dp_close() until dp_commit(): */
	int old_prog_fd;	      /* the program the link ran before; -1 */
	bool link_made;		      /* a link pinned where none was */
	bool tracer_made[DP_TRACERS]; /* a tracer pinned where none was */
	__u64 maps_made;	      /* maps libbpf pinned anew, by their index */
	struct dp_pin pins[DP_MAX_PINS];
	size_t npins;
	dev_t dir_dev; /* the pin directory lock_fd holds */
	ino_t dir_ino;
	enum dp_meter meter;
	unsigned int tc_if[DP_MAX_TC_IF]; /* interfaces the TC meter was tried on */
	size_t ntc_if;
	__u64 tc_ns[DP_MAX_TC_NS]; /* servers' namespaces it was put in, by inode */
	size_t ntc_ns;		   /* written, ever: a ring of the last DP_MAX_TC_NS */
	bool tc_want;		   /* a service needs the TC meter (dp_tc_want()) */
	int tc_on;		   /* it is on the interfaces: 1, 0; -1 not known yet
				    * (an older vsteerd's may be) */
	char pin_dir[PATH_MAX];
	char tmp_dir[PATH_MAX + 16]; /* <pin_dir>_tmp<pid> */
	char cgroup_mnt[PATH_MAX];   /* the cgroup2 mount, once found */
	struct dp_cgroup cgroups[DP_CGROUP_CACHE];
	unsigned int cgroup_next;
};

/* The sk_lookup program beside its link: a restart reads the link's program
 * from it, as opening a program by id needs CAP_SYS_ADMIN. */
#define DP_LOOKUP_PIN "lookup"
/* The tracers' pin names, in tracer_fd's order; the connect hook's, in
 * connect_fd's. */
extern const char *const dp_tracer_pins[DP_TRACERS];
extern const char *const dp_connect_pins[4];

/* The inode of this network namespace, as link infos name it. */
int dp_netns_ino(__u64 *ino);

/* libbpf's warnings dropped (quiet) around calls whose failure vsteerd
 * expects and handles itself. */
void dp_quiet_libbpf(bool quiet);
/* A second BPF object declaring the same maps (bpf/maps.h) is handed
 * steer's, so there is one set, pinned once. */
int dp_share_maps(struct dataplane *dp, struct bpf_object *obj);
/* Sets in the session table, for each object's sess_sets (bpf/session.h). */
__u32 dp_sess_sets(const struct dataplane *dp);
/* The value at key of a per-CPU map of __u64 words, summed over CPUs. */
int dp_sum_percpu(int fd, __u32 key, __u64 *sum, size_t words);

#endif
