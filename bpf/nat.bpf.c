// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet steering for remote clients of a version steered by address
 * (its servers live in other network namespaces: containers on a bridge),
 * where no socket can be handed over and no connect() can be rewritten.
 *
 *   vsteer_dnat   TC ingress of every interface of vsteerd's namespace:
 *                 a SYN to a service address picks the version by the same
 *                 policy as sk_lookup (pick.h) and, if it is one steered
 *                 by address, a live server of it; the flow is recorded
 *                 by both its ends (flows and rflows, LRUs) and its
 *                 packets' destination rewritten to the server's address.
 *                 The host then routes them to the container.
 *   vsteer_unnat  TC egress of the same interfaces: a reply from such a
 *                 server on a steered flow gets the service address the
 *                 client sent to back as its source. At egress, not at the container's
 *                 veth: a source that is one of the host's own addresses
 *                 arriving from the bridge would be dropped as martian.
 *
 * No netfilter: no conntrack or nat chain is needed, and the host's own
 * rules see the flow as one between client and container. A flow keeps
 * its server for its life, whatever the weights do; one the LRU evicted
 * (more than VS_FLOWS_DEFAULT flows at once) loses its way. A flow is not
 * removed when it closes: a closed flow is the least recently used, the
 * first the LRU evicts, and a SYN on its ports starts a new one; removing
 * it on a FIN or RST would let one forged packet (no sequence number is
 * checked here) cut a live flow from its server. IPv4, and IPv6 without
 * extension headers before TCP (which no TCP stack sends by itself).
 *
 * Both return TC_ACT_UNSPEC, which lets the hook's other filters run.
 *
 * A version of vsteerd's own namespace is left to sk_lookup, which picks
 * the same version for the same client.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define AF_INET	 2
#define AF_INET6 10
#include "pick.h"

#define IP_OFF_MF_MASK 0x3fff /* more fragments, fragment offset */

/* A TCP segment: its addresses (an IPv4 one in the first word, the rest
 * zero) and ports, network byte order; where its TCP header is; its
 * sequence number and whether it is a SYN that starts a connection. Not
 * the whole TCP header: the caller's stack is short (new_flow()). */
struct pkt {
	__u32 saddr[4], daddr[4];
	__u32 l4, seq;
	__be16 sport, dport;
	__u8 family, syn;
};

/* -1 for anything but TCP over IPv4 or IPv6: fragments, extension
 * headers, too short. */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP || ip.ihl < 5 ||
		    (ip.frag_off & bpf_htons(IP_OFF_MF_MASK)))
			return -1;
		p->family = AF_INET;
		p->saddr[0] = ip.saddr;
		p->daddr[0] = ip.daddr;
		p->l4 = ETH_HLEN + ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return -1;
		p->family = AF_INET6;
		__builtin_memcpy(p->saddr, &ip6.saddr, sizeof(p->saddr));
		__builtin_memcpy(p->daddr, &ip6.daddr, sizeof(p->daddr));
		p->l4 = ETH_HLEN + sizeof(ip6);
	} else {
		return -1;
	}
	{
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, p->l4, &th, sizeof(th)))
			return -1;
		p->sport = th.source;
		p->dport = th.dest;
		p->seq = th.seq;
		p->syn = th.syn && !th.ack;
	}
	return 0;
}

/* Replace the source (src) or destination address and port of p with
 * addr and port (network byte order), fixing the checksums: the TCP one
 * covers the addresses through its pseudo header; IPv6 has no other. Not
 * inlined: its temporaries would add to vsteer_dnat's frame, and 6.1
 * rounds each frame of the deepest call chain (vsteer_dnat, new_flow,
 * sess_key) up to 32 bytes against the 512 of all of them. */
static __noinline int rewrite(struct __sk_buff *skb, const struct pkt *p, int src,
			      const __u32 *addr, __be16 port)
{
	__u32 csum = p->l4 + offsetof(struct tcphdr, check);
	__u32 port_off =
		p->l4 + (src ? offsetof(struct tcphdr, source) : offsetof(struct tcphdr, dest));
	__be16 old_port = src ? p->sport : p->dport;
	const __u32 *old = src ? p->saddr : p->daddr;
	__u32 ip_off;

	if (p->family == AF_INET) {
		ip_off = ETH_HLEN +
			 (src ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr));
		if (bpf_l4_csum_replace(skb, csum, old[0], addr[0], BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old[0],
					addr[0], 4) ||
		    bpf_skb_store_bytes(skb, ip_off, addr, 4, 0))
			return -1;
	} else {
		__s64 d = bpf_csum_diff((__be32 *)old, 16, (__be32 *)addr, 16, 0);

		ip_off = ETH_HLEN +
			 (src ? offsetof(struct ipv6hdr, saddr) : offsetof(struct ipv6hdr, daddr));
		if (d < 0 || bpf_l4_csum_replace(skb, csum, 0, d, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, ip_off, addr, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum, old_port, port, sizeof(port)) ||
	    bpf_skb_store_bytes(skb, port_off, &port, sizeof(port), 0))
		return -1;
	return 0;
}

/* The service at an address and port: exact, or the wildcard of its
 * family. */
static __always_inline struct vs_svc *find_service(__u8 family, const __u32 *addr, __u16 port)
{
	struct vs_svc_key k = { .family = family, .proto = VS_PROTO_TCP, .port = port };
	struct vs_svc *s;

	__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	s = bpf_map_lookup_elem(&svcs, &k);
	if (s)
		return s;
	__builtin_memset(k.addr, 0, sizeof(k.addr));
	return bpf_map_lookup_elem(&svcs, &k);
}

/* A new flow (its SYN, whose sequence number is isn; fk by its client's
 * side): the version and server it goes to, recorded, or -1 to leave it to the host (a version of
 * this namespace, which sk_lookup steers; or no live server anywhere,
 * which sk_lookup refuses with a reset). Counted only if count (not a
 * retransmission), and only when steered here: what is left to the host
 * is sk_lookup's to count, the version passed over included. Global:
 * verified once, not per path of the caller. */
__noinline int new_flow(const struct vs_flow_key *arg, __u32 sid, __u32 isn, int count)
{
	struct vs_sess_key sk_key = { .svc = sid };
	struct vs_sess_place place = {};
	struct vs_flow_key fk;
	struct vs_flow f = { .svc = sid };
	__u32 h, i, k, v, nver, slot, first = 0;
	struct vs_svc_stats *ss;
	struct vs_sess *e;
	struct vs_addr sa;
	struct vs_addr *b;
	struct vs_svc *s;
	__u64 now;
	int idx, v6;

	if (!arg)
		return -1;
	/* On the stack: 6.1 takes no argument memory as a map key. */
	fk = *arg;
	v6 = fk.family == AF_INET6;
	s = find_service(fk.family, fk.addr, fk.port);
	if (!s || s->id != sid)
		return -1;
	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	if (nver == 0)
		return -1;
	__builtin_memcpy(sk_key.addr, fk.client, sizeof(sk_key.addr));
	sess_key(&sk_key, v6, &place);
	h = vs_session_hash(sk_key.addr, s->salt);
	now = sess_now();
	e = sess_find(&place);
	i = first_version(s, e, h, now, nver, 1);
	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = nth_version(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		if (!(s->ver[v].flags & VS_VER_ADDR))
			return -1;
		slot = s->ver[v].slot;
		if (k == 0)
			first = slot;
		idx = live_index(slot, s->ver[v].nsock, vs_backend_hash(h));
		if (idx >= 0) {
			__u32 bi = idx;

			b = bpf_map_lookup_elem(&backs, &bi);
			if (b && b->family == fk.family)
				goto steered;
		}
	}
	return -1;

steered:
	f.back = *b;
	f.slot = slot;
	f.isn = isn;
	if (bpf_map_update_elem(&flows, &fk, &f, BPF_ANY))
		return -1;
	/* The key of the reply side, made of the same stack slots (the
	 * caller's frame and this one share 512 bytes). */
	sa = (struct vs_addr){ .port = fk.port, .family = fk.family };
	__builtin_memcpy(sa.addr, fk.addr, sizeof(sa.addr));
	__builtin_memcpy(fk.addr, b->addr, sizeof(fk.addr));
	fk.port = b->port;
	if (bpf_map_update_elem(&rflows, &fk, &sa, BPF_ANY)) {
		__builtin_memcpy(fk.addr, sa.addr, sizeof(fk.addr));
		fk.port = sa.port;
		bpf_map_delete_elem(&flows, &fk);
		return -1;
	}
	remember_session(e, &sk_key, &place, slot, now, v6);
	if (!count)
		return 0;
	if (k > 0)
		count_passed_over(first);
	count_version(slot, k == 0);
	ss = bpf_map_lookup_elem(&sstats, &sid);
	if (ss) {
		ss->lookups++;
		ss->steered++;
	}
	return 0;
}

/* The flow's reply side, out of rflows. */
static __always_inline void forget_replies(const struct vs_flow_key *fk, const struct vs_flow *f)
{
	struct vs_flow_key rk = *fk;

	__builtin_memcpy(rk.addr, f->back.addr, sizeof(rk.addr));
	rk.port = f->back.port;
	bpf_map_delete_elem(&rflows, &rk);
}

SEC("tc")
int vsteer_dnat(struct __sk_buff *skb)
{
	struct vs_flow_key fk = {};
	struct vs_flow *f;
	struct vs_svc *s;
	struct pkt p = {};
	int again;

	if (parse(skb, &p) || !port_in_use(bpf_ntohs(p.dport)))
		return TC_ACT_UNSPEC;
	fk.family = p.family;
	__builtin_memcpy(fk.client, p.saddr, sizeof(fk.client));
	fk.cport = bpf_ntohs(p.sport);
	__builtin_memcpy(fk.addr, p.daddr, sizeof(fk.addr));
	fk.port = bpf_ntohs(p.dport);
	/* A SYN starts a flow afresh: a client port reused after the last
	 * flow on it ended is a new connection. The same SYN again (its
	 * sequence number: the first was lost on its way to the server, or
	 * its answer was) is steered again, in case its server died
	 * meanwhile, but not counted again. The flow before it, if any,
	 * goes: its server's replies to this port are no longer its, and a
	 * connection left to the host must not follow it. */
	if (p.syn) {
		f = bpf_map_lookup_elem(&flows, &fk);
		again = f && f->isn == p.seq;
		if (f)
			forget_replies(&fk, f);
		s = find_service(p.family, p.daddr, bpf_ntohs(p.dport));
		if (!s || !(s->flags & VS_SVC_ADDR) || new_flow(&fk, s->id, p.seq, !again)) {
			if (f)
				bpf_map_delete_elem(&flows, &fk);
			return TC_ACT_UNSPEC;
		}
	}
	/* Any other packet goes where its flow goes, if it has one: no
	 * service lookup per packet, and a flow outlives a change of its
	 * service. */
	f = bpf_map_lookup_elem(&flows, &fk);
	if (!f)
		return TC_ACT_UNSPEC;
	rewrite(skb, &p, 0, f->back.addr, bpf_htons(f->back.port));
	return TC_ACT_UNSPEC;
}

SEC("tc")
int vsteer_unnat(struct __sk_buff *skb)
{
	struct vs_flow_key rk = {};
	struct vs_addr *sa;
	struct pkt p = {};

	if (parse(skb, &p) || !port_in(&bports, bpf_ntohs(p.sport)))
		return TC_ACT_UNSPEC;
	rk.family = p.family;
	__builtin_memcpy(rk.client, p.daddr, sizeof(rk.client));
	rk.cport = bpf_ntohs(p.dport);
	__builtin_memcpy(rk.addr, p.saddr, sizeof(rk.addr));
	rk.port = bpf_ntohs(p.sport);
	/* Only the flows steered here: a client that reached the server by
	 * its own address is answered by it. */
	sa = bpf_map_lookup_elem(&rflows, &rk);
	if (!sa)
		return TC_ACT_UNSPEC;
	rewrite(skb, &p, 1, sa->addr, bpf_htons(sa->port));
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
