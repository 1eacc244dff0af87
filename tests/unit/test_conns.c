// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The API's connection table (api/conns.c): which connection makes room
 * for a new one, the limits on requests under way, the deadlines. Each
 * connection is one end of a socketpair; the other end reads EOF once the
 * table has shut it down.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/conns.h"

#include "harness.h"
#include "helpers.h"

static struct {
	struct conn *c;
	int fd, peer;
} opened[CONNS_MAX + 8];
static size_t nopened;

static void close_all(void *arg)
{
	(void)arg;
	while (nopened) {
		nopened--;
		conns_close(opened[nopened].c);
		close(opened[nopened].fd);
		close(opened[nopened].peer);
	}
}

/* The index of a new connection from ip at now, or -1. */
static int open_from(const char *ip, int64_t now)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int sv[2];

	if (!nopened)
		defer(close_all, NULL);
	if (nopened == ARRAY_SIZE(opened) || inet_pton(AF_INET, ip, &sin.sin_addr) != 1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	opened[nopened] = (typeof(opened[0])){ .fd = sv[0], .peer = sv[1] };
	opened[nopened].c = conns_open(sv[0], (struct sockaddr *)&sin, now);
	return opened[nopened].c ? (int)nopened++ : -1;
}

/* Has the table shut connection i down? */
static bool is_cut(int i)
{
	char b;

	return recv(opened[i].peer, &b, 1, MSG_DONTWAIT) == 0;
}

static int count_cut(void)
{
	int n = 0;

	for (size_t i = 0; i < nopened; i++)
		n += is_cut(i);
	return n;
}

/* A client at its share: a new connection of its own drops its
 * connection waiting longest for a request head, never one under way nor
 * another client's; with all under way, the new one's request gets 429. */
static void test_conns_per_client(void)
{
	struct conns_cut n;
	char msg[200];
	int first, other, late;

	first = open_from("10.0.0.1", 1000);
	CHECK(first >= 0, "open");
	for (int i = 1; i < CONNS_PER_CLIENT; i++)
		CHECK(open_from("10.0.0.1", 1000 + i) >= 0, "open %d", i);
	other = open_from("10.0.0.2", 900); /* older, another client */
	CHECK(other >= 0, "open");
	CHECK_INT(count_cut(), ==, 0);
	CHECK_INT(conns_head(opened[first + 1].c, msg, sizeof(msg)), ==, 0); /* under way */
	CHECK(open_from("10.0.0.1", 2000) >= 0, "open the 17th");
	CHECK(is_cut(first), "the oldest waiting connection of the client is not dropped");
	CHECK_INT(count_cut(), ==, 1);
	CHECK(open_from("10.0.0.1", 2001) >= 0, "open the 18th");
	CHECK(!is_cut(first + 1), "a connection with a request under way was dropped");
	CHECK(is_cut(first + 2), "the next oldest waiting one is not dropped");
	CHECK(!is_cut(other), "another client's connection was dropped");
	conns_sweep(2001, &n);
	CHECK_INT(n.evicted, ==, 2);
	/* All of the client's live connections under way: the next one stays,
	 * and its request is refused while they are. */
	for (size_t i = first; i < nopened; i++)
		if (i != (size_t)other && !is_cut(i) && i != (size_t)first + 1)
			CHECK_INT(conns_head(opened[i].c, msg, sizeof(msg)), ==, 0);
	late = open_from("10.0.0.1", 2002);
	CHECK(late >= 0, "open");
	CHECK_INT(count_cut(), ==, 2);
	CHECK_INT(conns_head(opened[late].c, msg, sizeof(msg)), ==, 429);
	CHECK_HAS(msg, "10.0.0.1 has 16 API requests under way");
	CHECK_INT(conns_head(opened[other].c, msg, sizeof(msg)), ==, 0);
	/* One answered: room again. */
	conns_replied(opened[first + 1].c, 2003);
	CHECK_INT(conns_head(opened[late].c, msg, sizeof(msg)), ==, 0);
}

/* A full table drops the connection waiting longest, whoever's; with
 * every one under way, a request beyond CONNS_MAX gets 503. */
static void test_conns_full(void)
{
	char ip[32], msg[200];
	int oldest = -1, last;

	for (int i = 0; i < CONNS_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.1.0.%d", i % 8 + 1);
		last = open_from(ip, 5000 + i);
		CHECK(last >= 0, "open %d", i);
		if (i == 3)
			oldest = last;
		else
			CHECK_INT(conns_head(opened[last].c, msg, sizeof(msg)), ==, 0);
	}
	CHECK(open_from("10.2.0.1", 6000) >= 0, "open the 65th");
	CHECK_INT(count_cut(), ==, 1);
	CHECK(is_cut(oldest), "the only waiting connection was not dropped");
	CHECK_INT(conns_head(opened[nopened - 1].c, msg, sizeof(msg)), ==, 0);
	last = open_from("10.2.0.2", 6001);
	CHECK(last >= 0, "open the 66th");
	CHECK_INT(count_cut(), ==, 1);
	CHECK_INT(conns_head(opened[last].c, msg, sizeof(msg)), ==, 503);
	CHECK_HAS(msg, "64 requests under way");
}

/* 5 s from the start or the last reply to a request head; 30 s from the
 * same point to the reply. */
static void test_conns_deadlines(void)
{
	struct conns_cut n;
	char msg[200];
	int idle, busy, replied;

	idle = open_from("10.3.0.1", 0);
	busy = open_from("10.3.0.2", 0);
	replied = open_from("10.3.0.3", 0);
	CHECK(idle >= 0 && busy >= 0 && replied >= 0, "open");
	CHECK_INT(conns_head(opened[busy].c, msg, sizeof(msg)), ==, 0);
	CHECK_INT(conns_head(opened[replied].c, msg, sizeof(msg)), ==, 0);
	conns_replied(opened[replied].c, 4000);
	conns_sweep(CONNS_HEAD_S * 1000 - 1, &n);
	CHECK_INT(n.head + n.request, ==, 0);
	conns_sweep(CONNS_HEAD_S * 1000, &n);
	CHECK_INT(n.head, ==, 1);
	CHECK(is_cut(idle) && !is_cut(busy) && !is_cut(replied), "the head deadline");
	conns_sweep(4000 + CONNS_HEAD_S * 1000, &n);
	CHECK_INT(n.head, ==, 1);
	CHECK(is_cut(replied), "a kept-alive connection's deadline runs from its last reply");
	conns_sweep(CONNS_REQUEST_S * 1000 - 1, &n);
	CHECK_INT(n.request, ==, 0);
	conns_sweep(CONNS_REQUEST_S * 1000, &n);
	CHECK_INT(n.request, ==, 1);
	CHECK(is_cut(busy), "the request deadline");
	conns_sweep(CONNS_REQUEST_S * 2000, &n);
	CHECK_INT(n.head + n.request + n.evicted, ==, 0);
}

const struct unit_case conns_cases[] = { TEST(test_conns_per_client),
					 TEST(test_conns_full),
					 TEST(test_conns_deadlines),
					 { NULL, NULL } };
