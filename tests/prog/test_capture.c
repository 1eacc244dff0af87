// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capture for mirroring in the real kernel, with real connections: the
 * data plane opened by its own API (user/kernel/dp.h) with its pins on a
 * bpffs of this test's own (a private mount namespace), in the private
 * network namespace test_lookup.c's setup made; one service on
 * 127.0.0.1:8080 whose one version is a listening socket on :9001, put
 * into the sockmap by the scan iterator as vsteerd puts it. Clients
 * connect to the service address and send requests the backend answers;
 * the capture buffer is read with dp_capture_*, and every record of a
 * connection is checked byte for byte: the client's segments (REQ), put
 * in order by sequence number from the OPEN record's rcv_nxt, are what
 * the client sent; the backend's (RESP), from its snd_nxt, are what it
 * sent; each record's header bytes are a TCP header (REQ, from
 * tcp_probe) or an Ethernet, IP and TCP header (RESP, from TC egress)
 * ending at `off`; FINs and the CLOSE arrive. Then mirroring off captures
 * nothing, a budget of a few bytes loses the connection (LOST record,
 * over_budget), no reader loses it too (buffer_full), and a pin
 * directory without the mirroring maps (an older build's) is adopted
 * with them made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vsteer.h"
#include "kernel/dp.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_mirror.h"
#include "kernel/dp_tc.h"

#include "capture.h"
#include "check.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define SVC_ID	   5
#define SLOT	   3
#define SVC_PORT   8080
#define BACK_PORT  9001
#define BIG_BUDGET (256U << 20)
#define BIG	   (200 * 1024)

static char mnt[64], pin_dir[96];
static struct dataplane *dp;
static struct dp_capture *cap;
static int lfd = -1;

/* Every record read, with a copy of its bytes. */
struct got {
	struct vs_cap rec;
	uint8_t *data;
};
static struct got *recs;
static size_t nrecs, arecs;
/* What the records so far added up to, as mstats should count them. */
static __u64 want_segments, want_bytes, want_truncated, want_sampled;
/* Segments of the last connection checked: REQ, RESP. */
static size_t last_segs[2];

static void on_rec(void *ctx, const struct vs_cap *rec, const uint8_t *data)
{
	struct got *g;

	(void)ctx;
	if (nrecs == arecs) {
		size_t n = arecs ? 2 * arecs : 256;
		struct got *r = realloc(recs, n * sizeof(*r));

		if (!r)
			return;
		recs = r;
		arecs = n;
	}
	g = &recs[nrecs];
	g->rec = *rec;
	g->data = malloc(rec->copied + 1);
	if (!g->data)
		return;
	memcpy(g->data, data, rec->copied);
	nrecs++;
}

static void forget_recs(void)
{
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].data);
	nrecs = 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool has_kind(__u64 cookie, __u8 kind)
{
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].rec.cookie == cookie && recs[i].rec.kind == kind)
			return true;
	return false;
}

/* Poll until the connection's CLOSE arrives or `wait` seconds pass. */
static void poll_for_close(__u64 cookie, double wait)
{
	double end = now_s() + wait;

	while (!has_kind(cookie, VS_CAP_CLOSE) && now_s() < end)
		dp_capture_poll(cap, 50);
}

static bool has_sock_send_length(void)
{
	return libbpf_find_vmlinux_btf_id("sock_send_length", BPF_TRACE_RAW_TP) >= 0;
}

static void set_mirror(__u16 bp, __u32 budget)
{
	struct vs_mirror m = { .bp = bp, .slot = SLOT, .budget = budget };

	CHECK_INT(dp_mirror_set(dp, SVC_ID, &m), ==, 0);
}

static void case_setup(const void *arg)
{
	struct vs_svc_key k = { .family = AF_INET, .proto = VS_PROTO_TCP, .port = SVC_PORT };
	struct vs_svc v = { .id = SVC_ID, .salt = 1, .nver = 1 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(BACK_PORT) };
	struct vs_ports ports = {};
	struct vs_err err = {};
	__u32 idx = SLOT * VS_MAX_SOCKS;
	socklen_t len = sizeof(__u64);
	__u64 cookie;
	int one = 1, e = 0;

	(void)arg;
	dp_route_libbpf_log();
	CHECK(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount private: %s",
	      strerror(errno));
	snprintf(mnt, sizeof(mnt), "/tmp/vscapXXXXXX");
	CHECK(mkdtemp(mnt), "mkdtemp: %s", strerror(errno));
	CHECK(mount("bpf", mnt, "bpf", 0, NULL) == 0, "mount bpffs on %s: %s", mnt,
	      strerror(errno));
	snprintf(pin_dir, sizeof(pin_dir), "%s/vsteer", mnt);
	CHECK(dp_open(&dp, pin_dir, 0, has_sock_send_length() ? DP_METER_SEND : DP_METER_TC,
		      &err) == 0,
	      "dp_open: %s", err.msg);
	CHECK(dp_attach(dp, &err) == 0, "dp_attach: %s", err.msg);
	dp_tc_want(dp, true); /* the service speaks http: its responses are captured at TC */
	dp_commit(dp);
	CHECK(dp_mirror_supported(dp), "metering is on, mirroring must be supported");

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0, "socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
	CHECK(listen(lfd, 16) == 0, "listen: %s", strerror(errno));
	CHECK(getsockopt(lfd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0, "SO_COOKIE: %s",
	      strerror(errno));
	CHECK_INT(dp_insert(dp, &cookie, &idx, &e, 1), ==, 1);
	CHECK_INT(e, ==, 0);

	k.addr[0] = htonl(INADDR_LOOPBACK);
	v.ver[0] = (struct vs_ver){ .slot = SLOT, .upto = VS_BUCKETS, .nsock = 1 };
	CHECK_INT(dp_set_svc(dp, &k, &v), ==, 0);
	ports.w[SVC_PORT >> 6] |= 1ULL << (SVC_PORT & 63);
	CHECK_INT(dp_set_ports(dp, &ports), ==, 0);
	CHECK_INT(dp_capture_open(dp, on_rec, NULL, &cap), ==, 0);
	CHECK_HELPER(set_mirror(VS_BUCKETS, BIG_BUDGET));
}

/* ---- one exchange on one connection ---- */

struct xfer {
	int fd;
	const uint8_t *buf;
	size_t len;
	int ret;
};

static void *write_all(void *arg)
{
	struct xfer *x = arg;

	for (size_t off = 0; off < x->len;) {
		ssize_t n = write(x->fd, x->buf + off, x->len - off);

		if (n <= 0) {
			x->ret = -errno;
			return NULL;
		}
		off += n;
	}
	return NULL;
}

static int read_exactly(int fd, uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		off += n;
	}
	return 0;
}

/* buf sent from wfd in `parts` writes of about equal size, read whole from
 * rfd. A small one waits for each part to arrive before the next is
 * written, so each is a segment of its own; a large one is written by a
 * thread while this one reads. */
static void send_parts(int wfd, int rfd, const uint8_t *buf, size_t len, size_t parts)
{
	uint8_t *got = malloc(len);
	struct xfer x = { .fd = wfd, .buf = buf, .len = len };
	pthread_t t;

	CHECK(got, "out of memory");
	if (len > 16384) {
		CHECK(pthread_create(&t, NULL, write_all, &x) == 0, "pthread_create");
		x.ret = read_exactly(rfd, got, len);
		pthread_join(t, NULL);
	} else {
		for (size_t p = 0, off = 0; p < parts && !x.ret; p++) {
			size_t n = p + 1 == parts ? len - off : len / parts;

			x.buf = buf + off;
			x.len = n;
			write_all(&x);
			if (!x.ret)
				x.ret = read_exactly(rfd, got + off, n);
			off += n;
		}
	}
	if (!x.ret && memcmp(got, buf, len))
		x.ret = -EBADMSG;
	free(got);
	CHECK(x.ret == 0, "sending %zu bytes: %s", len, strerror(-x.ret));
}

/* A connection to the service address: the client sends req in req_parts
 * writes, the backend answers resp in resp_parts, the client closes
 * first, then the backend. *cookie is the backend's socket's. */
static void exchange(const uint8_t *req, size_t reqlen, size_t req_parts, const uint8_t *resp,
		     size_t resplen, size_t resp_parts, __u64 *cookie)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(SVC_PORT) };
	socklen_t len = sizeof(*cookie);
	int c, s, one = 1;
	char b;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0, "socket: %s", strerror(errno));
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c, (struct sockaddr *)&a, sizeof(a))) {
		close(c);
		CHECK(0, "connect to the service: %s", strerror(errno));
	}
	s = accept(lfd, NULL, NULL);
	if (s < 0) {
		close(c);
		CHECK(0, "accept: %s", strerror(errno));
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	getsockopt(s, SOL_SOCKET, SO_COOKIE, cookie, &len);
	send_parts(c, s, req, reqlen, req_parts);
	if (!cur_failed)
		send_parts(s, c, resp, resplen, resp_parts);
	shutdown(c, SHUT_WR);
	if (!cur_failed && read(s, &b, 1) != 0)
		fail_at(__LINE__, "the backend did not see the client's FIN");
	close(s);
	if (!cur_failed && read(c, &b, 1) != 0)
		fail_at(__LINE__, "the client did not see the backend's FIN");
	close(c);
}

/* ---- the records of one connection, checked ---- */

/* The records of one direction (REQ or RESP) put in order from base
 * (the OPEN record's): every byte copied is the byte sent at its
 * position, the segments' lengths cover what was sent exactly, and the
 * FIN comes right after the last byte. Copies cut short by
 * VS_CAP_COPY_MAX are counted in *cut. */
static void check_stream(__u64 cookie, __u8 kind, __u32 base, const uint8_t *sent, size_t len,
			 unsigned *cut)
{
	uint8_t *claimed = calloc(len + 1, 1), *copied = calloc(len + 1, 1);
	bool fin = false;
	size_t n = 0;

	CHECK(claimed && copied, "out of memory");
	for (size_t i = 0; i < nrecs && !cur_failed; i++) {
		const struct vs_cap *r = &recs[i].rec;
		const uint8_t *d = recs[i].data;
		__u32 pos = r->seq - base, have = r->copied - r->off;

		if (r->cookie != cookie || r->kind != kind)
			continue;
		n++;
		want_segments++;
		want_bytes += r->copied;
		row("%s record at %u: len %u copied %u off %u fin %u",
		    kind == VS_CAP_REQ ? "REQ" : "RESP", pos, r->len, r->copied, r->off, r->fin);
		if (kind == VS_CAP_REQ) {
			/* tcp_probe: skb->data is at the TCP header. */
			CHECK(r->copied >= 20 && (d[12] >> 4) * 4 == r->off,
			      "not a TCP header of off bytes");
		} else {
			/* TC egress: Ethernet, IPv4, TCP. */
			CHECK(r->copied >= 54 && d[12] == 0x08 && d[13] == 0x00,
			      "no IPv4 Ethernet header");
			CHECK_INT(14 + (d[14] & 0xf) * 4 +
					  (d[14 + (d[14] & 0xf) * 4 + 12] >> 4) * 4,
				  ==, r->off);
		}
		CHECK(have <= r->len, "more bytes copied than the segment has");
		CHECK((size_t)pos + r->len <= len, "beyond what was sent (%zu bytes)", len);
		CHECK(!memcmp(d + r->off, sent + pos, have), "bytes differ from what was sent");
		if (have < r->len) {
			CHECK_INT(r->copied, ==, VS_CAP_COPY_MAX);
			(*cut)++;
			want_truncated++;
		}
		memset(claimed + pos, 1, r->len);
		memset(copied + pos, 1, have);
		if (r->fin) {
			CHECK_INT(pos + r->len, ==, len);
			fin = true;
		}
	}
	row("%s of cookie %llu", kind == VS_CAP_REQ ? "REQ" : "RESP", (unsigned long long)cookie);
	for (size_t i = 0; i < len && !cur_failed; i++) {
		CHECK(claimed[i], "byte %zu of %zu in no segment", i, len);
		CHECK(copied[i] || *cut, "byte %zu of %zu not copied, and no segment was cut", i,
		      len);
	}
	free(claimed);
	free(copied);
	last_segs[kind == VS_CAP_RESP] = n;
	CHECK(n > 0, "no records");
	CHECK(fin, "no FIN");
}

static const struct vs_cap *find(__u64 cookie, __u8 kind)
{
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].rec.cookie == cookie && recs[i].rec.kind == kind)
			return &recs[i].rec;
	return NULL;
}

static void check_counters(void)
{
	struct vs_mirror_stats ms;

	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &ms), ==, 0);
	CHECK_INT(ms.sampled, ==, want_sampled);
	CHECK_INT(ms.segments, ==, want_segments);
	CHECK_INT(ms.bytes, ==, want_bytes);
	CHECK_INT(ms.truncated, ==, want_truncated);
	CHECK_INT(ms.over_budget + ms.buffer_full, ==, 0);
	CHECK_INT(dp_capture_lost(cap), ==, 0);
}

/* One exchange captured and checked both ways; *cut: segments copied in
 * part. */
static void captured(const uint8_t *req, size_t reqlen, size_t req_parts, const uint8_t *resp,
		     size_t resplen, size_t resp_parts, unsigned *cut)
{
	const struct vs_cap *open;
	__u64 cookie = 0;

	forget_recs();
	CHECK_HELPER(exchange(req, reqlen, req_parts, resp, resplen, resp_parts, &cookie));
	want_sampled++;
	poll_for_close(cookie, 3);
	CHECK(find(cookie, VS_CAP_CLOSE), "no CLOSE record within 3 s (%zu records)", nrecs);
	open = find(cookie, VS_CAP_OPEN);
	CHECK(open, "no OPEN record");
	CHECK_INT(open->svc, ==, SVC_ID);
	CHECK_INT(open->slot, ==, SLOT);
	CHECK(!find(cookie, VS_CAP_LOST), "capture lost");
	CHECK_HELPER(check_stream(cookie, VS_CAP_REQ, open->seq, req, reqlen, cut));
	CHECK_HELPER(check_stream(cookie, VS_CAP_RESP, open->len, resp, resplen, cut));
	CHECK_HELPER(check_counters());
}

static const char small_req[] = "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char small_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void case_small(const void *arg)
{
	unsigned cut = 0;

	(void)arg;
	captured((const uint8_t *)small_req, strlen(small_req), 1, (const uint8_t *)small_resp,
		 strlen(small_resp), 1, &cut);
}

/* 5 writes with TCP_NODELAY, each read before the next: 5 segments each
 * way, put back together by sequence number. */
static void case_split(const void *arg)
{
	static const char req[] = "POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n"
				  "abcdefghijklmnopqrstuvwxyz";
	unsigned cut = 0;

	(void)arg;
	CHECK_HELPER(captured((const uint8_t *)req, strlen(req), 5, (const uint8_t *)small_resp,
			      strlen(small_resp), 3, &cut));
	/* And a FIN alone each way. */
	CHECK_INT(last_segs[0], ==, 5 + 1);
	CHECK_INT(last_segs[1], ==, 3 + 1);
}

static void case_pipelined(const void *arg)
{
	static const char req[] =
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
				   "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb";
	unsigned cut = 0;

	(void)arg;
	captured((const uint8_t *)req, strlen(req), 1, (const uint8_t *)resp, strlen(resp), 2,
		 &cut);
}

/* 200 KB each way: paged skbs, and loopback's GSO packets of up to 64 KiB
 * leave TC whole, more than a perf record takes (VS_CAP_COPY_MAX). */
static void case_large(const void *arg)
{
	uint8_t *req = malloc(BIG), *resp = malloc(BIG);
	unsigned cut = 0;

	(void)arg;
	CHECK(req && resp, "out of memory");
	for (size_t i = 0; i < BIG; i++) {
		req[i] = 'a' + i % 23;
		resp[i] = 'A' + i % 19;
	}
	memcpy(req, "POST /upload HTTP/1.1\r\n\r\n", 25);
	captured(req, BIG, 1, resp, BIG, 1, &cut);
	free(req);
	free(resp);
	if (cur_failed)
		return;
	/* Loopback's TSO sends up to 64 KiB at a time once the window has
	 * grown, and some of 200 KB leave TC as a GSO packet a record cannot
	 * hold whole: 3 or 4 each run on 6.18. Not asserted: under
	 * emulation (6.1 in TCG) the pacing rate keeps packets smaller; a
	 * segment cut short is checked (copied, counter) where there is one. */
	printf("# capture: 200 KB each way in %zu and %zu segments, %u copied in part\n",
	       last_segs[0], last_segs[1], cut);
}

/* A connection whose records are only OPEN, CLOSE and maybe LOST (no
 * segment), or none at all. */
static void exchange_uncaptured(__u64 *cookie, double wait)
{
	forget_recs();
	CHECK_HELPER(exchange((const uint8_t *)small_req, strlen(small_req), 1,
			      (const uint8_t *)small_resp, strlen(small_resp), 1, cookie));
	poll_for_close(*cookie, wait);
	CHECK(!find(*cookie, VS_CAP_REQ) && !find(*cookie, VS_CAP_RESP), "segments captured");
}

static void case_off(const void *arg)
{
	struct vs_mirror_stats before, after;
	__u64 cookie;

	(void)arg;
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &before), ==, 0);
	CHECK_HELPER(set_mirror(0, BIG_BUDGET));
	CHECK_HELPER(exchange_uncaptured(&cookie, 0.3));
	CHECK_INT(nrecs, ==, 0);
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &after), ==, 0);
	CHECK(!memcmp(&before, &after, sizeof(before)), "mirroring counters moved");
}

static void case_over_budget(const void *arg)
{
	struct vs_mirror_stats before, after;
	__u64 cookie;

	(void)arg;
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &before), ==, 0);
	CHECK_HELPER(set_mirror(VS_BUCKETS, 16));
	CHECK_HELPER(exchange_uncaptured(&cookie, 3));
	CHECK(find(cookie, VS_CAP_OPEN), "no OPEN");
	CHECK(find(cookie, VS_CAP_LOST), "no LOST record");
	CHECK(find(cookie, VS_CAP_CLOSE), "no CLOSE");
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &after), ==, 0);
	CHECK_INT(after.sampled, ==, before.sampled + 1);
	CHECK_INT(after.over_budget, ==, before.over_budget + 1);
	CHECK_INT(after.segments, ==, before.segments);
	CHECK_INT(after.buffer_full, ==, before.buffer_full);
}

/* No reader: every output fails (ENOENT), which stops the capture as a
 * full buffer does. */
static void case_no_reader(const void *arg)
{
	struct vs_mirror_stats before, after;
	__u64 cookie;

	(void)arg;
	dp_capture_close(cap);
	cap = NULL;
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &before), ==, 0);
	CHECK_HELPER(set_mirror(VS_BUCKETS, BIG_BUDGET));
	CHECK_HELPER(exchange((const uint8_t *)small_req, strlen(small_req), 1,
			      (const uint8_t *)small_resp, strlen(small_resp), 1, &cookie));
	CHECK_INT(dp_mirror_stats(dp, SVC_ID, &after), ==, 0);
	CHECK_INT(after.sampled, ==, before.sampled + 1);
	CHECK_INT(after.buffer_full, ==, before.buffer_full + 1);
	CHECK_INT(after.segments, ==, before.segments);
}

static bool pinned(const char *name)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", pin_dir, name);
	return access(p, F_OK) == 0;
}

/* A pin directory an older build left (no smirror, mstats, mcap) is
 * adopted and gets them; --cleanup removes them with the rest. */
static void case_adopt_old(const void *arg)
{
	static const char *const maps[] = { "smirror", "mstats", "mcap" };
	struct vs_err err = {};
	char p[160];

	(void)arg;
	dp_close(dp);
	dp = NULL;
	for (size_t i = 0; i < 3; i++) {
		CHECK(pinned(maps[i]), "%s not pinned", maps[i]);
		snprintf(p, sizeof(p), "%s/%s", pin_dir, maps[i]);
		CHECK(unlink(p) == 0, "unlink %s: %s", p, strerror(errno));
	}
	CHECK(dp_open(&dp, pin_dir, 0, has_sock_send_length() ? DP_METER_SEND : DP_METER_TC,
		      &err) == 0,
	      "dp_open over the older pins: %s", err.msg);
	CHECK(dp_adopted(dp), "not adopted");
	CHECK(dp_attach(dp, &err) == 0, "dp_attach: %s", err.msg);
	dp_tc_want(dp, true);
	dp_commit(dp);
	for (size_t i = 0; i < 3; i++)
		CHECK(pinned(maps[i]), "%s not pinned by the adopting start", maps[i]);
	dp_close(dp);
	dp = NULL;
	CHECK(dp_cleanup(pin_dir, &err) == 0, "dp_cleanup: %s", err.msg);
	CHECK(access(pin_dir, F_OK) < 0 && errno == ENOENT, "%s still there", pin_dir);
}

void capture_cases(void)
{
	bool ok = check_run("capture: setup: own bpffs, dp_open, one service, mirroring on",
			    case_setup, NULL, NULL);

	if (ok) {
		check_run("capture: a small request and response, byte for byte", case_small, NULL,
			  NULL);
		check_run("capture: a request in 5 segments, a response in 3", case_split, NULL,
			  NULL);
		check_run("capture: two pipelined requests and their responses", case_pipelined,
			  NULL, NULL);
		check_run("capture: 200 KB each way (paged, GSO, copies cut short)", case_large,
			  NULL, NULL);
		check_run("capture: bp 0 captures nothing", case_off, NULL, NULL);
		check_run("capture: over budget: LOST record, over_budget counted",
			  case_over_budget, NULL, NULL);
		check_run("capture: no reader: buffer_full counted", case_no_reader, NULL, NULL);
		check_run("capture: older pins without the mirroring maps adopted, then cleaned up",
			  case_adopt_old, NULL, NULL);
	}
	forget_recs();
	free(recs);
	dp_capture_close(cap);
	dp_close(dp);
	if (lfd >= 0)
		close(lfd);
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
	}
}
