// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP status classes per version: a TC egress program reads the status
 * line at the start of each response that a steered connection of an
 * "http" service sends ("HTTP/1.1 503 ..."), and counts 2xx/3xx/4xx/5xx
 * into vstats. It needs the packet, which no tracepoint on the send path
 * exposes. Responses that do not start with an HTTP/1.x status line are
 * left alone.
 *
 * A response starts when the connection has a request pending (the
 * first segment leaves inside the backend's send(), before the tracker's
 * sock_send_length hook sees it) or a response under way whose status
 * was not read yet (the segment left later, from the qdisc).
 *
 * On kernels without the sock_send_length tracepoint (before 6.3) this
 * program is also the response meter (meter_resp): the first data
 * segment after a request ends its latency sample, and the payload of
 * the segments until the next request is the response's size. It counts
 * what leaves by the interfaces it is attached to, retransmissions
 * included, where the tracepoint counts what the process sent.
 *
 * It returns TC_ACT_UNSPEC, never TC_ACT_OK: in direct-action mode an
 * OK ends the hook's filter chain, and the filters after it (the packet
 * steering's, another tool's) would never run.
 *
 * And it captures the segments a connection sampled for mirroring sends
 * (bpf/capture.h): each data segment or FIN, as it leaves; a GSO packet
 * (loopback's are up to 64 KiB) is one record.
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
#include "capture.h"
#include "meter.h"

/* Set by the controller before load: measure responses here. */
const volatile __u8 meter_resp = 0;

static __always_inline int payload_offset(struct __sk_buff *skb, __u32 *off, struct tcphdr *th)
{
	__u32 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP)
			return -1;
		l4 = ETH_HLEN + ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return -1;
		l4 = ETH_HLEN + sizeof(ip6);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, l4, th, sizeof(*th)))
		return -1;
	*off = l4 + th->doff * 4;
	return 0;
}

/* A backend's segment of a sampled connection: its payload starts off
 * bytes after the Ethernet header (where skb->data is at TC egress). The
 * copy takes paged data too. */
static __noinline void cap_resp(struct __sk_buff *skb, struct vs_sk *st, __u32 seq, __u32 off,
				__u8 fin)
{
	__u32 whole = skb->len;
	struct vs_cap rec = {};
	long ret;

	if (whole < off)
		return;
	cap_rec(&rec, st, bpf_get_socket_cookie(skb), VS_CAP_RESP);
	rec.seq = seq;
	rec.len = whole - off;
	rec.fin = fin;
	rec.off = off;
	rec.copied = whole < VS_CAP_COPY_MAX ? whole : VS_CAP_COPY_MAX;
	if (cap_take(skb, st, &rec))
		return;
	ret = bpf_perf_event_output(skb, &mcap, BPF_F_CURRENT_CPU | ((__u64)rec.copied << 32), &rec,
				    sizeof(rec));
	cap_took(skb, st, &rec, ret, whole);
}

/* An http service's response under way (or about to start) whose status
 * line has not been read. */
static __always_inline int wants_status(const struct vs_sk *st)
{
	return (st->flags & VS_SKF_HTTP) && !st->status_seen && (st->req_ns || st->responding);
}

SEC("tc")
int vsteer_http(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct vs_ver_stats *vs;
	struct vs_sk *st;
	char line[12]; /* "HTTP/1.1 200" */
	struct tcphdr th;
	__u32 off, cls;
	int mirror;

	if (!sk)
		return TC_ACT_UNSPEC;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return TC_ACT_UNSPEC;
	st = bpf_sk_storage_get(&sks, sk, 0, 0);
	if (!st || st->kind != VS_SK_CONN)
		return TC_ACT_UNSPEC;
	mirror = cap_on(st);
	if (!mirror && !meter_resp && !wants_status(st))
		return TC_ACT_UNSPEC;
	if (payload_offset(skb, &off, &th))
		return TC_ACT_UNSPEC; /* not TCP */
	if (mirror && (skb->len > off || th.fin))
		cap_resp(skb, st, bpf_ntohl(th.seq), off, th.fin);
	if (skb->len <= off)
		return TC_ACT_UNSPEC; /* an ACK, or a FIN alone */
	if (meter_resp)
		response_sent(st, skb->len - off);
	if (!wants_status(st))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, off, line, sizeof(line)))
		return TC_ACT_UNSPEC; /* too short to hold a status line */
	st->status_seen = 1;
	if (line[0] != 'H' || line[1] != 'T' || line[2] != 'T' || line[3] != 'P' ||
	    line[4] != '/' || line[5] != '1' || line[6] != '.' || line[8] != ' ')
		return TC_ACT_UNSPEC;
	cls = line[9] - '2';
	if (cls > 3)
		return TC_ACT_UNSPEC; /* 1xx, or not a status */
	__u32 slot = st->slot;

	vs = bpf_map_lookup_elem(&vstats, &slot);
	if (vs)
		vs->status[cls]++;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
