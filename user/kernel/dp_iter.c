// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/dp_internal.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_maps.h"
#include "kernel/sock_diag.h"
#include "scan.skel.h"
#include "drain.skel.h"
#include "drain_list.skel.h"
#include "vsteer_idle.h"

int dp_iter_load(struct dataplane *dp, struct vs_err *err)
{
	int ret;

	dp->scan = scan_bpf__open();
	ret = libbpf_get_error(dp->scan);
	if (ret) {
		dp->scan = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open scan object: %s", strerror(-ret));
	}
	ret = dp_share_maps(dp, dp->scan->obj);
	if (!ret)
		ret = scan_bpf__load(dp->scan);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the socket scanner: %s",
			       strerror(-ret));
	dp->list_iter = bpf_program__attach_iter(dp->scan->progs.list_listeners, NULL);
	dp->insert_iter = bpf_program__attach_iter(dp->scan->progs.insert_picked, NULL);
	ret = libbpf_get_error(dp->list_iter) ?: libbpf_get_error(dp->insert_iter);
	if (ret) {
		dp->list_iter = dp->insert_iter = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot attach TCP iterators: %s",
			       strerror(-ret));
	}
	return 0;
}

/* An iterator over TCP sockets walks the namespace its reader was in
 * when it was created: enter nsfd's for that, and come back. */
static int iter_create_in(struct bpf_link *link, int nsfd)
{
	int own, fd, ret = 0;

	if (nsfd < 0) {
		fd = bpf_iter_create(bpf_link__fd(link));
		return fd < 0 ? -errno : fd;
	}
	ret = dp_netns_enter(nsfd, &own);
	if (ret)
		return ret;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		ret = -errno;
	dp_netns_leave(own);
	return ret ? ret : fd;
}

static int run_iter(struct bpf_link *link, int nsfd, char **buf, size_t *len)
{
	size_t cap = 64 * sizeof(struct vs_listener);
	int fd, ret = 0;
	ssize_t n;

	*len = 0;
	*buf = malloc(cap);
	if (!*buf)
		return -ENOMEM;
	fd = iter_create_in(link, nsfd);
	if (fd < 0) {
		ret = fd;
		goto free_buf;
	}
	for (;;) {
		if (cap - *len < 4096) {
			char *nb = realloc(*buf, cap * 2);

			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			*buf = nb;
			cap *= 2;
		}
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* The iterator restarts a bucket when it races with a
			 * socket going away; -EAGAIN asks for another read. */
			if (errno == EAGAIN)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		*len += n;
	}
	close(fd);
	if (!ret)
		return 0;
free_buf:
	free(*buf);
	*buf = NULL;
	return ret;
}

int dp_list_listeners_in(struct dataplane *dp, int nsfd, struct vs_listener **out, size_t *n)
{
	size_t len;
	char *buf;
	int ret;

	ret = run_iter(dp->list_iter, nsfd, &buf, &len);
	if (ret)
		return ret;
	*out = (struct vs_listener *)buf;
	*n = len / sizeof(struct vs_listener);
	return 0;
}

int dp_list_listeners(struct dataplane *dp, struct vs_listener **out, size_t *n)
{
	return dp_list_listeners_in(dp, -1, out, n);
}

int dp_insert(struct dataplane *dp, const __u64 *cookies, const __u32 *idx, int *err_out, size_t n)
{
	return dp_insert_in(dp, -1, cookies, idx, err_out, n);
}

int dp_insert_in(struct dataplane *dp, int nsfd, const __u64 *cookies, const __u32 *idx,
		 int *err_out, size_t n)
{
	int fd = bpf_map__fd(dp->scan->maps.picks), ret = 0, done = 0;
	size_t len, i;
	char *buf;
	__u32 v;

	if (n > VS_PICK_MAX)
		n = VS_PICK_MAX;
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &cookies[i], &idx[i], BPF_ANY))
			ret = -errno;
	if (!ret)
		ret = run_iter(dp->insert_iter, nsfd, &buf, &len);
	if (!ret)
		free(buf);
	for (i = 0; i < n; i++) {
		__u64 c;

		err_out[i] = ret;
		if (!ret && !bpf_map_lookup_elem(fd, &cookies[i], &v) && (v & VS_PICK_FAILED))
			err_out[i] = -(int)(v & ~VS_PICK_FAILED);
		else if (!ret)
			/* Not marked failed: in the map now, unless the
			 * socket closed while we looked. */
			err_out[i] = dp_sock_cookie(dp, idx[i], &c) == 0 && c == cookies[i] ?
					     0 :
					     -ENOENT;
		done += err_out[i] == 0;
		bpf_map_delete_elem(fd, &cookies[i]);
	}
	return ret ? ret : done;
}

/* The drain object for `how`: its program, and the slots it reads. */
static int drain_open(struct dataplane *dp, enum dp_drain how, struct bpf_program **prog)
{
	int ret;

	if (how == DP_DRAIN_ITER) {
		dp->drain = drain_bpf__open();
		ret = libbpf_get_error(dp->drain);
		if (ret) {
			dp->drain = NULL;
			return ret;
		}
		*prog = dp->drain->progs.drain_close;
		ret = dp_share_maps(dp, dp->drain->obj);
		return ret ?: drain_bpf__load(dp->drain);
	}
	dp->drain_list = drain_list_bpf__open();
	ret = libbpf_get_error(dp->drain_list);
	if (ret) {
		dp->drain_list = NULL;
		return ret;
	}
	*prog = dp->drain_list->progs.drain_list;
	ret = dp_share_maps(dp, dp->drain_list->obj);
	return ret ?: drain_list_bpf__load(dp->drain_list);
}

int dp_drain_load(struct dataplane *dp, enum dp_drain how, struct vs_err *err)
{
	struct bpf_program *prog = NULL;
	int ret;

	if (how == DP_DRAIN_NONE)
		return 0;
	ret = drain_open(dp, how, &prog);
	if (!ret) {
		dp->drain_iter = bpf_program__attach_iter(prog, NULL);
		ret = libbpf_get_error(dp->drain_iter);
		if (ret)
			dp->drain_iter = NULL;
	}
	if (!ret && how == DP_DRAIN_NETLINK && (dp->diag_fd = ret = sock_diag_open()) >= 0)
		ret = 0;
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the drain (%s): %s",
			       how == DP_DRAIN_ITER ? "bpf_sock_destroy" : "SOCK_DESTROY",
			       strerror(-ret));
	dp->drain_how = how;
	return 0;
}

enum dp_drain dp_drain_how(const struct dataplane *dp)
{
	return dp->drain_how;
}

int dp_drain_run(struct dataplane *dp, const __u8 slots[VS_MAX_SLOTS], struct vs_drain_rec **out,
		 size_t *n)
{
	return dp_drain_run_in(dp, -1, slots, out, n);
}

/* SOCK_DESTROY names a socket of the namespace its netlink socket is in. */
static int diag_in(struct dataplane *dp, int nsfd)
{
	int own, fd, ret;

	if (nsfd < 0)
		return dp->diag_fd;
	ret = dp_netns_enter(nsfd, &own);
	if (ret)
		return ret;
	fd = sock_diag_open();
	dp_netns_leave(own);
	return fd;
}

int dp_drain_run_in(struct dataplane *dp, int nsfd, const __u8 slots[VS_MAX_SLOTS],
		    struct vs_drain_rec **out, size_t *n)
{
	struct vs_drain_rec *r;
	int ret, diag = -1;
	size_t len;
	char *buf;

	*out = NULL;
	*n = 0;
	if (dp->drain_how == DP_DRAIN_NONE)
		return -EOPNOTSUPP;
	memcpy(dp->drain_how == DP_DRAIN_ITER ? dp->drain->bss->drain_slot :
						dp->drain_list->bss->drain_slot,
	       slots, VS_MAX_SLOTS);
	ret = run_iter(dp->drain_iter, nsfd, &buf, &len);
	if (ret)
		return ret;
	r = (struct vs_drain_rec *)buf;
	*n = len / sizeof(*r);
	if (dp->drain_how == DP_DRAIN_NETLINK && *n)
		diag = diag_in(dp, nsfd);
	/* The iterator let go of each socket's lock: the gap a request can
	 * slip into is from its check to this message (docs/rollouts.md). */
	for (size_t i = 0; dp->drain_how == DP_DRAIN_NETLINK && i < *n; i++)
		if (r[i].verdict == VS_IDLE)
			r[i].err = diag < 0 ? diag : sock_diag_destroy(diag, &r[i]);
	if (nsfd >= 0 && diag >= 0)
		close(diag);
	if (*n)
		*out = r;
	else
		free(buf);
	return 0;
}
