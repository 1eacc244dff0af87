// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet steering (bpf/nat.bpf.c) on packet fixtures: each step below is
 * an Ethernet frame run once through vsteer_dnat (TC ingress) or
 * vsteer_unnat (TC egress) with BPF_PROG_TEST_RUN, and the frame that
 * comes out compared with the one expected: the same bytes but for the
 * rewritten address and port and the checksums, which must verify (the
 * program updates them incrementally; the fixture computes them whole).
 *
 * The steps are one story, in order: the flows the first ones make are
 * what the later ones find (a client port used for two services at once,
 * replies of a server to a client that reached it directly). The maps are
 * the skeleton's own, filled as the controller would: four services, one
 * version each, steered by address to servers whose liveness is a
 * listening socket of this namespace in the sockmap, and one whose
 * version lives in this namespace (left to sk_lookup).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <net/if.h>
#include <stdlib.h>

#include "vsteer.h"
#include "nat.skel.h"
#include "kernel/dp_link.h"

#include "check.h"
#include "load.h"
#include "nat.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX     256
#define IPV4_MF	      0x2000 /* more fragments */
#define IPV4_DF	      0x4000 /* don't fragment */

/* The services: a version each, steered by address to one server. */
static const struct svc_fix {
	const char *addr;
	__u16 port;
	const char *server; /* NULL: the version lives in this namespace */
	__u16 sport;
	bool live; /* a listener of it in the sockmap */
} svcs[] = {
	{ "10.200.0.10", 8080, "10.88.0.2", 9001, true },
	{ "10.200.0.11", 8080, "10.88.0.3", 9002, true },
	{ "fd00:200::10", 8080, "fd88::2", 9001, true },
	{ "10.200.0.12", 8080, NULL, 0, true },
	{ "10.200.0.13", 8080, "10.88.0.5", 9001, false },
};

enum prog { DNAT, UNNAT };
enum shape { PLAIN, FRAGMENT, HOP_BY_HOP };

#define SYN	TCP_FLAG_SYN
#define SYN_ACK (TCP_FLAG_SYN | TCP_FLAG_ACK)
#define ACK	TCP_FLAG_ACK

static const struct step {
	const char *name;
	enum prog prog;
	const char *src;
	__u16 sport;
	const char *dst;
	__u16 dport;
	__be32 flags; /* TCP_FLAG_* */
	__u32 seq;
	enum shape shape;
	const char *to; /* the address rewritten (dst for DNAT, src for UNNAT), NULL: untouched */
	__u16 to_port;
	__u64 steered[ARRAY_SIZE(svcs)]; /* each service's count after it */
} steps[] = {
	{ "a SYN to service 0 goes to its server",
	  DNAT,
	  "10.99.0.5",
	  40000,
	  "10.200.0.10",
	  8080,
	  SYN,
	  1000,
	  PLAIN,
	  "10.88.0.2",
	  9001,
	  { 1 } },
	{ "the same SYN again goes there too, not counted again",
	  DNAT,
	  "10.99.0.5",
	  40000,
	  "10.200.0.10",
	  8080,
	  SYN,
	  1000,
	  PLAIN,
	  "10.88.0.2",
	  9001,
	  { 1 } },
	{ "the server's SYN-ACK gets the service address back",
	  UNNAT,
	  "10.88.0.2",
	  9001,
	  "10.99.0.5",
	  40000,
	  SYN_ACK,
	  7000,
	  PLAIN,
	  "10.200.0.10",
	  8080,
	  { 1 } },
	{ "the same client port's SYN to service 1 goes to service 1's server",
	  DNAT,
	  "10.99.0.5",
	  40000,
	  "10.200.0.11",
	  8080,
	  SYN,
	  5000,
	  PLAIN,
	  "10.88.0.3",
	  9002,
	  { 1, 1 } },
	{ "service 0's flow on that port still goes to service 0's server",
	  DNAT,
	  "10.99.0.5",
	  40000,
	  "10.200.0.10",
	  8080,
	  ACK,
	  1001,
	  PLAIN,
	  "10.88.0.2",
	  9001,
	  { 1, 1 } },
	{ "service 1's server's reply gets service 1's address",
	  UNNAT,
	  "10.88.0.3",
	  9002,
	  "10.99.0.5",
	  40000,
	  ACK,
	  8000,
	  PLAIN,
	  "10.200.0.11",
	  8080,
	  { 1, 1 } },
	{ "service 0's server's reply still gets service 0's address",
	  UNNAT,
	  "10.88.0.2",
	  9001,
	  "10.99.0.5",
	  40000,
	  ACK,
	  7001,
	  PLAIN,
	  "10.200.0.10",
	  8080,
	  { 1, 1 } },
	{ "a reply to a client that reached the server directly is left alone",
	  UNNAT,
	  "10.88.0.2",
	  9001,
	  "10.99.0.6",
	  40001,
	  ACK,
	  1,
	  PLAIN,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "an ACK that starts no flow and has none is left alone",
	  DNAT,
	  "10.99.0.7",
	  40002,
	  "10.200.0.10",
	  8080,
	  ACK,
	  1,
	  PLAIN,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "a SYN to a version of this namespace is left to sk_lookup",
	  DNAT,
	  "10.99.0.5",
	  40003,
	  "10.200.0.12",
	  8080,
	  SYN,
	  1,
	  PLAIN,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "a SYN to a version with no live server is left alone, uncounted",
	  DNAT,
	  "10.99.0.5",
	  40004,
	  "10.200.0.13",
	  8080,
	  SYN,
	  1,
	  PLAIN,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "a SYN to another port of the service address is left alone",
	  DNAT,
	  "10.99.0.5",
	  40005,
	  "10.200.0.10",
	  8081,
	  SYN,
	  1,
	  PLAIN,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "a fragment is left alone",
	  DNAT,
	  "10.99.0.5",
	  40006,
	  "10.200.0.10",
	  8080,
	  SYN,
	  1,
	  FRAGMENT,
	  NULL,
	  0,
	  { 1, 1 } },
	{ "an IPv6 SYN goes to its server",
	  DNAT,
	  "fd99::5",
	  40000,
	  "fd00:200::10",
	  8080,
	  SYN,
	  3000,
	  PLAIN,
	  "fd88::2",
	  9001,
	  { 1, 1, 1 } },
	{ "the IPv6 server's reply gets the service address back",
	  UNNAT,
	  "fd88::2",
	  9001,
	  "fd99::5",
	  40000,
	  SYN_ACK,
	  9000,
	  PLAIN,
	  "fd00:200::10",
	  8080,
	  { 1, 1, 1 } },
	{ "the IPv6 client's next packet goes to the server",
	  DNAT,
	  "fd99::5",
	  40000,
	  "fd00:200::10",
	  8080,
	  ACK,
	  3001,
	  PLAIN,
	  "fd88::2",
	  9001,
	  { 1, 1, 1 } },
	{ "an IPv6 SYN with a hop-by-hop header is left alone",
	  DNAT,
	  "fd99::5",
	  40001,
	  "fd00:200::10",
	  8080,
	  SYN,
	  1,
	  HOP_BY_HOP,
	  NULL,
	  0,
	  { 1, 1, 1 } },
	{ "a new SYN on a port with a flow starts a new flow, counted",
	  DNAT,
	  "10.99.0.5",
	  40000,
	  "10.200.0.10",
	  8080,
	  SYN,
	  2000,
	  PLAIN,
	  "10.88.0.2",
	  9001,
	  { 2, 1, 1 } },
};

static struct nat_bpf *skel;
static int listeners[ARRAY_SIZE(svcs)];

static int family_of(const char *a)
{
	return strchr(a, ':') ? AF_INET6 : AF_INET;
}

static bool parse_addr(const char *s, __u32 a[4])
{
	memset(a, 0, 16);
	return inet_pton(family_of(s), s, a) == 1;
}

static __u32 csum_add(__u32 sum, const void *p, size_t len)
{
	const __u8 *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* A frame whose IP header is 4-byte aligned, as the headers' structs
 * want (the Ethernet header is 14 bytes). */
struct frame_buf {
	__u8 pad[2];
	__u8 b[FRAME_MAX];
} __attribute__((aligned(8)));

/* The frame of step st from src:sport to dst:dport, checksums computed
 * whole; its length. */
static size_t frame(__u8 *buf, const struct step *st, const char *src, __u16 sport, const char *dst,
		    __u16 dport)
{
	static const char payload[] = "GET / HTTP/1.1\r\n\r\n";
	size_t plen = st->flags & TCP_FLAG_SYN ? 0 : sizeof(payload) - 1;
	int fam = family_of(src);
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t l3 = sizeof(*eth), l4, ext = st->shape == HOP_BY_HOP ? 8 : 0;
	__u32 s[4], d[4], sum, len;
	struct tcphdr *th;

	memset(buf, 0, FRAME_MAX);
	memcpy(eth->h_dest, "\x02\x76\x73\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x76\x73\x00\x00\x02", ETH_ALEN);
	eth->h_proto = htons(fam == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	parse_addr(src, s);
	parse_addr(dst, d);
	if (fam == AF_INET) {
		struct iphdr *ip = (struct iphdr *)(buf + l3);

		l4 = l3 + sizeof(*ip);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*th) + plen);
		ip->id = htons(0x5654);
		ip->frag_off = htons(st->shape == FRAGMENT ? IPV4_MF : IPV4_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = s[0];
		ip->daddr = d[0];
		ip->check = htons(~csum_fold(csum_add(0, ip, sizeof(*ip))) & 0xffff);
		sum = csum_add(csum_add(0, s, 4), d, 4);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + l3);

		l4 = l3 + sizeof(*ip6) + ext;
		ip6->version = 6;
		ip6->payload_len = htons(ext + sizeof(*th) + plen);
		ip6->nexthdr = ext ? 0 /* hop-by-hop */ : IPPROTO_TCP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, s, 16);
		memcpy(&ip6->daddr, d, 16);
		if (ext) {
			__u8 *h = buf + l3 + sizeof(*ip6);

			h[0] = IPPROTO_TCP; /* next header; length 0: 8 bytes */
			h[2] = 1;	    /* PadN, 4 bytes of padding */
			h[3] = 4;
		}
		sum = csum_add(csum_add(0, s, 16), d, 16);
	}
	th = (struct tcphdr *)(buf + l4);
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(st->seq);
	th->ack_seq = st->flags & TCP_FLAG_ACK ? htonl(1) : 0;
	*(__be32 *)((__u8 *)th + 12) = st->flags | htonl(5 << 28); /* doff 5 */
	th->window = htons(65535);
	memcpy(th + 1, payload, plen);
	len = sizeof(*th) + plen;
	sum += IPPROTO_TCP + len;
	th->check = htons(~csum_fold(csum_add(sum, th, len)) & 0xffff);
	return l4 + len;
}

/* Whether the checksums of frame f verify. */
static bool checksums_ok(const __u8 *f, const char *src, const char *dst, const struct step *st)
{
	size_t l3 = sizeof(struct ethhdr), l4, len;
	__u32 s[4], d[4], sum;

	parse_addr(src, s);
	parse_addr(dst, d);
	if (family_of(src) == AF_INET) {
		const struct iphdr *ip = (const void *)(f + l3);

		if (csum_fold(csum_add(0, ip, sizeof(*ip))) != 0xffff)
			return false;
		l4 = l3 + sizeof(*ip);
		len = ntohs(ip->tot_len) - sizeof(*ip);
		sum = csum_add(csum_add(0, s, 4), d, 4);
	} else {
		const struct ipv6hdr *ip6 = (const void *)(f + l3);
		size_t ext = st->shape == HOP_BY_HOP ? 8 : 0;

		l4 = l3 + sizeof(*ip6) + ext;
		len = ntohs(ip6->payload_len) - ext;
		sum = csum_add(csum_add(0, s, 16), d, 16);
	}
	return csum_fold(csum_add(sum + IPPROTO_TCP + len, f + l4, len)) == 0xffff;
}

/* Where the checksum fields of a frame of step st are, so that two frames
 * can be compared without them (an incremental update may write 0xffff
 * where a whole computation writes 0). */
static void clear_checksums(__u8 *f, const struct step *st)
{
	size_t l3 = sizeof(struct ethhdr);
	size_t l4 = family_of(st->src) == AF_INET ?
			    l3 + sizeof(struct iphdr) :
			    l3 + sizeof(struct ipv6hdr) + (st->shape == HOP_BY_HOP ? 8 : 0);

	if (family_of(st->src) == AF_INET)
		memset(f + l3 + offsetof(struct iphdr, check), 0, 2);
	memset(f + l4 + offsetof(struct tcphdr, check), 0, 2);
}

static void case_setup(const void *arg)
{
	struct vs_ports ports = {}, bports = {};
	struct bpf_map *map;
	__u32 zero = 0;
	int err;

	(void)arg;
	/* Pin paths cleared: nothing of this lands in /sys/fs/bpf. */
	skel = nat_bpf__open_opts(&load_log_opts);
	CHECK(skel, "nat_bpf__open: %s", strerror(errno));
	bpf_object__for_each_map (map, skel->obj)
		CHECK(bpf_map__set_pin_path(map, NULL) == 0, "%s", bpf_map__name(map));
	err = nat_bpf__load(skel);
	CHECK(err == 0, "nat_bpf__load: %s: %s", strerror(-err), load_failed("nat"));
	for (__u32 i = 0; i < ARRAY_SIZE(svcs); i++) {
		const struct svc_fix *f = &svcs[i];
		struct vs_svc_key k = { .family = family_of(f->addr),
					.proto = VS_PROTO_TCP,
					.port = f->port };
		struct vs_svc v = { .id = i, .salt = 0x5654 + i, .nver = 1, .flags = VS_SVC_ADDR };
		__u32 slot = i + 1, idx = slot * VS_MAX_SOCKS;
		struct sockaddr_storage ss = { .ss_family = k.family };
		__u64 fd;

		CHECK(parse_addr(f->addr, k.addr), "%s", f->addr);
		v.ver[0] = (struct vs_ver){ .slot = slot,
					    .upto = VS_BUCKETS,
					    .nsock = 1,
					    .flags = f->server ? VS_VER_ADDR : 0 };
		if (f->server) {
			struct vs_addr b = { .port = f->sport, .family = k.family };

			CHECK(parse_addr(f->server, b.addr), "%s", f->server);
			CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.backs), &idx, &b,
						  BPF_ANY) == 0,
			      "backs: %s", strerror(errno));
			bports.w[f->sport / 64] |= 1ULL << (f->sport % 64);
		}
		ports.w[f->port / 64] |= 1ULL << (f->port % 64);
		CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.svcs), &k, &v, BPF_NOEXIST) == 0,
		      "svcs %s: %s", f->addr, strerror(errno));
		if (!f->live)
			continue;
		/* Liveness: a listener of this namespace, on loopback. */
		listeners[i] = socket(k.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(listeners[i] >= 0, "socket: %s", strerror(errno));
		if (k.family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else
			((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		CHECK(bind(listeners[i], (struct sockaddr *)&ss, sizeof(ss)) == 0 &&
			      listen(listeners[i], 4) == 0,
		      "listen: %s", strerror(errno));
		fd = listeners[i];
		CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.socks), &idx, &fd, BPF_ANY) == 0,
		      "socks[%u]: %s", idx, strerror(errno));
	}
	CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &zero, &ports, BPF_ANY) == 0,
	      "ports: %s", strerror(errno));
	CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.bports), &zero, &bports, BPF_ANY) == 0,
	      "bports: %s", strerror(errno));
}

static void run_step(const void *arg)
{
	const struct step *st = arg;
	bool dnat = st->prog == DNAT;
	const char *src = !dnat && st->to ? st->to : st->src;
	const char *dst = dnat && st->to ? st->to : st->dst;
	__u16 sport = !dnat && st->to ? st->to_port : st->sport;
	__u16 dport = dnat && st->to ? st->to_port : st->dport;
	struct frame_buf fin, fout, fwant;
	__u8 *in = fin.b, *out = fout.b, *want = fwant.b;
	size_t len = frame(in, st, st->src, st->sport, st->dst, st->dport);
	struct bpf_program *p = dnat ? skel->progs.vsteer_dnat : skel->progs.vsteer_unnat;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(fout.b), .repeat = 1);
	int ncpu = libbpf_num_possible_cpus();
	struct vs_svc_stats ss[ncpu > 0 ? ncpu : 1];

	CHECK(checksums_ok(in, st->src, st->dst, st), "the fixture's own checksums");
	CHECK(bpf_prog_test_run_opts(bpf_program__fd(p), &opts) == 0, "test run: %s",
	      strerror(errno));
	CHECK_INT((int)opts.retval, ==, TC_ACT_UNSPEC);
	CHECK_INT(opts.data_size_out, ==, len);
	frame(want, st, src, sport, dst, dport);
	CHECK(checksums_ok(out, src, dst, st), "checksums of the frame out, from %s:%u to %s:%u",
	      src, sport, dst, dport);
	clear_checksums(out, st);
	clear_checksums(want, st);
	CHECK(!memcmp(out, want, len), "the frame out is not the one from %s:%u to %s:%u", src,
	      sport, dst, dport);
	CHECK(ncpu > 0, "libbpf_num_possible_cpus: %s", strerror(-ncpu));
	for (__u32 i = 0; i < ARRAY_SIZE(svcs); i++) {
		__u64 steered = 0, lookups = 0;

		CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.sstats), &i, ss) == 0,
		      "sstats: %s", strerror(errno));
		for (int c = 0; c < ncpu; c++) {
			steered += ss[c].steered;
			lookups += ss[c].lookups;
		}
		row("service %u (%s)", i, svcs[i].addr);
		CHECK_INT(steered, ==, st->steered[i]);
		CHECK_INT(lookups, ==, st->steered[i]);
	}
}

/* Which interfaces get which program depends on what they are to a
 * bridge (user/kernel/dp_link.c): a bridge, its port, a veth on no
 * bridge, in this test's own namespace. */
static void case_links(const void *arg)
{
	static const char *const cmds[] = {
		"ip link add vstbr type bridge",
		"ip link add vstp0 type veth peer name vstp1",
		"ip link set vstp0 master vstbr",
	};
	struct dp_link l[64];
	unsigned int br, p0, p1;
	int n;

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		CHECK(system(cmds[i]) == 0, "%s", cmds[i]);
	br = if_nametoindex("vstbr");
	p0 = if_nametoindex("vstp0");
	p1 = if_nametoindex("vstp1");
	CHECK(br && p0 && p1, "the interfaces made");
	n = dp_link_list(l, ARRAY_SIZE(l));
	CHECK(n >= 4, "dp_link_list: %d (%s)", n, n < 0 ? strerror(-n) : "lo and three");
	CHECK_INT(dp_link_role(l, n, br), ==, DP_LINK_BRIDGE);
	CHECK_INT(dp_link_role(l, n, p0), ==, DP_LINK_PORT);
	CHECK_INT(dp_link_role(l, n, p1), ==, 0);
	CHECK_INT(dp_link_role(l, n, if_nametoindex("lo")), ==, 0);
	/* A list too short: the count says so, what fits is right. */
	CHECK_INT(dp_link_list(l, 1), ==, n);
	CHECK(system("ip link del vstbr && ip link del vstp0") == 0, "ip link del");
}

void nat_cases(void)
{
	char name[256];

	check_run("nat: bridges and their ports, from rtnetlink", case_links, NULL, NULL);
	if (!check_run("nat: skeleton loads, services filled", case_setup, NULL, NULL))
		goto close_all;
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		snprintf(name, sizeof(name), "nat %zu: %s", i + 1, steps[i].name);
		check_run(name, run_step, &steps[i], NULL);
	}
close_all:
	for (size_t i = 0; i < ARRAY_SIZE(listeners); i++)
		if (listeners[i] > 0)
			close(listeners[i]);
	nat_bpf__destroy(skel);
	skel = NULL;
}
