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
 *                 (flows, an LRU) and its packets' destination rewritten
 *                 to the server's address. The host then routes them to
 *                 the container.
 *   vsteer_unnat  TC egress of the same interfaces: a reply from such a
 *                 server to a client with a flow gets the service address
 *                 back as its source. At egress, not at the container's
 *                 veth: a source that is one of the host's own addresses
 *                 arriving from the bridge would be dropped as martian.
 *
 * No netfilter: no conntrack or nat chain is needed, and the host's own
 * rules see the flow as one between client and container. A flow keeps
 * its server for its life, whatever the weights do; one the LRU evicted
 * (more than VS_FLOWS_DEFAULT flows at once) loses its way. IPv4 only.
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
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define AF_INET 2
#include "pick.h"

#define IP_OFF_MF_MASK 0x3fff /* more fragments, fragment offset */

/* Where the IPv4 and TCP headers are, and the TCP header's first bytes;
 * -1 for anything else (IPv6, fragments, not TCP, too short). */
static __always_inline int parse(struct __sk_buff *skb, struct iphdr *ip, struct tcphdr *th,
				 __u32 *l4)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ip, sizeof(*ip)) || ip->protocol != IPPROTO_TCP ||
	    ip->ihl < 5 || (ip->frag_off & bpf_htons(IP_OFF_MF_MASK)))
		return -1;
	*l4 = ETH_HLEN + ip->ihl * 4;
	return bpf_skb_load_bytes(skb, *l4, th, sizeof(*th)) ? -1 : 0;
}

/* Replace an address (at ip_off) and a port (at port_off), fixing the IP
 * and TCP checksums (the TCP one covers the address through its pseudo
 * header). */
static __always_inline int rewrite(struct __sk_buff *skb, __u32 l4, __u32 ip_off, __u32 port_off,
				   __be32 old_ip, __be32 new_ip, __be16 old_port, __be16 new_port)
{
	__u32 csum = l4 + offsetof(struct tcphdr, check);

	if (bpf_l4_csum_replace(skb, csum, old_ip, new_ip, BPF_F_PSEUDO_HDR | sizeof(new_ip)) ||
	    bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old_ip, new_ip,
				sizeof(new_ip)) ||
	    bpf_skb_store_bytes(skb, ip_off, &new_ip, sizeof(new_ip), 0) ||
	    bpf_l4_csum_replace(skb, csum, old_port, new_port, sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

static __always_inline struct vs_svc *find_service(const struct iphdr *ip, const struct tcphdr *th)
{
	struct vs_svc_key k = { .family = AF_INET, .proto = VS_PROTO_TCP };
	struct vs_svc *s;

	k.port = bpf_ntohs(th->dest);
	k.addr[0] = ip->daddr;
	s = bpf_map_lookup_elem(&svcs, &k);
	if (s)
		return s;
	k.addr[0] = 0;
	return bpf_map_lookup_elem(&svcs, &k);
}

/* A new flow (its SYN): the version and server it goes to, recorded, or
 * NULL to leave it to the host (a version of this namespace, which
 * sk_lookup steers; or no live server anywhere, which sk_lookup refuses
 * with a reset). Global: verified once, not per path of the caller. */
__noinline int new_flow(const struct vs_flow_key *arg, __be32 dst, __u32 sid)
{
	struct vs_sess_key sk_key = { .svc = sid };
	struct vs_flow_key fk;
	struct vs_flow f = { .svc = sid };
	struct vs_svc_stats *ss;
	struct vs_sess *e;
	__u32 h, i, k, v, nver, slot;
	struct vs_svc_key key = { .family = AF_INET, .proto = VS_PROTO_TCP };
	struct vs_addr *b;
	struct vs_svc *s;
	__u64 now;
	int idx;

	if (!arg)
		return -1;
	/* On the stack: 6.1 takes no argument memory as a map key. */
	fk = *arg;
	key.port = fk.sport;
	key.addr[0] = dst;
	s = bpf_map_lookup_elem(&svcs, &key);
	if (!s) {
		key.addr[0] = 0;
		s = bpf_map_lookup_elem(&svcs, &key);
	}
	if (!s || s->id != sid)
		return -1;
	nver = s->nver;
	if (nver > VS_MAX_VERSIONS)
		nver = VS_MAX_VERSIONS;
	if (nver == 0)
		return -1;
	sk_key.addr[0] = fk.client[0];
	cut_key(&sk_key, 0);
	h = vs_session_hash(sk_key.addr, s->salt);
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&sess, &sk_key);
	i = first_version(s, &sk_key, e, h, now, nver, 1);
	for (k = 0; k < VS_MAX_VERSIONS; k++) {
		if (k >= nver)
			break;
		v = nth_version(i, k, nver);
		if (v >= VS_MAX_VERSIONS)
			break;
		if (!(s->ver[v].flags & VS_VER_ADDR))
			return -1;
		slot = s->ver[v].slot;
		idx = live_index(slot, s->ver[v].nsock, vs_backend_hash(h));
		if (idx >= 0) {
			__u32 bi = idx;

			b = bpf_map_lookup_elem(&backs, &bi);
			if (b && b->family == AF_INET)
				goto steered;
		}
		if (k == 0)
			count_passed_over(slot);
	}
	return -1;

steered:
	f.back = *b;
	f.dst[0] = dst;
	f.slot = slot;
	if (bpf_map_update_elem(&flows, &fk, &f, BPF_ANY))
		return -1;
	count_version(slot, k == 0);
	ss = bpf_map_lookup_elem(&sstats, &sid);
	if (ss) {
		ss->lookups++;
		ss->steered++;
	}
	remember_session(e, &sk_key, slot, now, 0);
	return 0;
}

SEC("tc")
int vsteer_dnat(struct __sk_buff *skb)
{
	struct vs_flow_key fk = { .family = AF_INET };
	struct vs_flow *f;
	struct tcphdr th;
	struct iphdr ip;
	struct vs_svc *s;
	__u32 l4;

	if (parse(skb, &ip, &th, &l4) || !port_in_use(bpf_ntohs(th.dest)))
		return TC_ACT_UNSPEC;
	s = find_service(&ip, &th);
	if (!s || !(s->flags & VS_SVC_ADDR))
		return TC_ACT_UNSPEC;
	fk.client[0] = ip.saddr;
	fk.cport = bpf_ntohs(th.source);
	fk.sport = bpf_ntohs(th.dest);
	/* A SYN starts a flow afresh: a client port reused after the last
	 * flow on it ended is a new connection. */
	if (th.syn && !th.ack && new_flow(&fk, ip.daddr, s->id)) {
		bpf_map_delete_elem(&flows, &fk);
		return TC_ACT_UNSPEC;
	}
	f = bpf_map_lookup_elem(&flows, &fk);
	if (!f || f->dst[0] != ip.daddr)
		return TC_ACT_UNSPEC;
	rewrite(skb, l4, ETH_HLEN + offsetof(struct iphdr, daddr),
		l4 + offsetof(struct tcphdr, dest), ip.daddr, f->back.addr[0], th.dest,
		bpf_htons(f->back.port));
	return TC_ACT_UNSPEC;
}

SEC("tc")
int vsteer_unnat(struct __sk_buff *skb)
{
	struct vs_flow_key fk = { .family = AF_INET };
	struct vs_addr back = { .family = AF_INET };
	struct vs_flow *f;
	__u32 *sport;
	struct tcphdr th;
	struct iphdr ip;
	__u32 l4;

	if (parse(skb, &ip, &th, &l4) || !port_in(&bports, bpf_ntohs(th.source)))
		return TC_ACT_UNSPEC;
	back.addr[0] = ip.saddr;
	back.port = bpf_ntohs(th.source);
	sport = bpf_map_lookup_elem(&bsvc, &back);
	if (!sport)
		return TC_ACT_UNSPEC;
	fk.client[0] = ip.daddr;
	fk.cport = bpf_ntohs(th.dest);
	fk.sport = *sport;
	f = bpf_map_lookup_elem(&flows, &fk);
	/* Only the flows steered here: a client that reached the server by
	 * its own address is answered by it. */
	if (!f || f->back.addr[0] != ip.saddr || f->back.port != back.port)
		return TC_ACT_UNSPEC;
	rewrite(skb, l4, ETH_HLEN + offsetof(struct iphdr, saddr),
		l4 + offsetof(struct tcphdr, source), ip.saddr, f->dst[0], th.source,
		bpf_htons(fk.sport));
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
