// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_progpin.h"
#include "kernel/dp_track.h"
#include "track.skel.h"

/* The program a pinned tracer link runs, read from its pin beside the
 * link (ppath) or by id: an fd, its tag in tag, or -errno. */
static int prog_of_link(int link_fd, const char *ppath, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo;
	__u32 len = sizeof(info);
	int pfd;

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return -errno;
	pfd = dp_progpin_get(ppath, info.prog_id, &pinfo);
	if (pfd >= 0)
		memcpy(tag, pinfo.tag, BPF_TAG_SIZE);
	return pfd;
}

/* Attach one tracing program and pin its link as dir/name, unless a
 * pinned link already runs the same program (same tag). *fd is the link,
 * held so that a pin removed by hand can be put back (dp_pins.c). */
static int attach_tracer(struct bpf_program *prog, const char *dir, const char *name, int *fd,
			 bool *made, struct vs_err *err)
{
	char path[PATH_MAX], ppath[PATH_MAX + 8];
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(pinfo);
	__u8 tag[BPF_TAG_SIZE];
	struct bpf_link *link;
	int ret, pfd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(ppath, sizeof(ppath), "%s_prog", path);
	*fd = bpf_obj_get(path);
	*made = *fd < 0;
	if (*fd >= 0) {
		ret = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pinfo, &len);
		pfd = prog_of_link(*fd, ppath, tag);
		if (!ret && pfd >= 0 && !memcmp(tag, pinfo.tag, BPF_TAG_SIZE)) {
			/* kept: its program pinned, if it was found by id */
			ret = dp_progpin_set(pfd, ppath);
			close(pfd);
			if (ret)
				pr_warn("cannot pin %s: %s\n", ppath, strerror(-ret));
			return 0;
		}
		if (pfd >= 0)
			close(pfd);
		close(*fd);
		*fd = -1;
		pr_info("replacing tracer %s with this build's%s\n", name,
			pfd == -EPERM ?
				" (its program is not pinned beside it, and reading it by id needs CAP_SYS_ADMIN)" :
				"");
		unlink(path);
	}
	link = bpf_program__attach_trace(prog);
	ret = libbpf_get_error(link);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot attach %s: %s",
			       bpf_program__section_name(prog), strerror(-ret));
	ret = bpf_link__pin(link, path);
	if (!ret && (*fd = dup(bpf_link__fd(link))) < 0)
		ret = -errno;
	bpf_link__destroy(link); /* the pin and *fd keep it */
	if (!ret)
		ret = dp_progpin_set(bpf_program__fd(prog), ppath);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	return 0;
}

/* The connection tracker and request meter, loaded; attach_tracers()
 * attaches them. */
int dp_track_load(struct dataplane *dp, struct vs_err *err)
{
	__u64 ino = 0;
	int ret;

	dp->track = track_bpf__open();
	ret = libbpf_get_error(dp->track);
	if (ret) {
		dp->track = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open track object: %s",
			       strerror(-ret));
	}
	ret = dp_netns_ino(&ino);
	dp->track->rodata->netns_ino = (__u32)ino;
	dp->track->rodata->sess_sets = dp_sess_sets(dp);
	/* Not even loaded without metering: their tracepoints may not exist
	 * on this kernel (sock_send_length came with 6.3). */
	if (dp->meter == DP_METER_OFF) {
		bpf_program__set_autoload(dp->track->progs.vsteer_req, false);
		bpf_program__set_autoload(dp->track->progs.vsteer_rst, false);
	}
	if (dp->meter != DP_METER_SEND)
		bpf_program__set_autoload(dp->track->progs.vsteer_resp, false);
	if (!ret)
		ret = dp_share_maps(dp, dp->track->obj);
	if (!ret)
		ret = track_bpf__load(dp->track);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the connection tracker: %s",
			       strerror(-ret));
	return 0;
}

/* The tracers in tracer_fd's order. */
static void tracer_progs(struct dataplane *dp, struct bpf_program *progs[DP_TRACERS])
{
	progs[0] = dp->track->progs.vsteer_track;
	progs[1] = dp->track->progs.vsteer_req;
	progs[2] = dp->track->progs.vsteer_resp;
	progs[3] = dp->track->progs.vsteer_rst;
}

/* A tracing link cannot have its program replaced, so a pinned one
 * running the same program (same tag) is kept as it is; a different one
 * is replaced, which leaves a window of microseconds in which events are
 * not seen (a close missed leaves a connection counted on its session,
 * which then keeps its place and version until its slot is reset). Without metering, only the connection tracker runs (sessions and
 * drain need it): the request meters are taken down by dp_commit(), as is
 * the send hook when the TC program measures responses. */
int dp_track_attach(struct dataplane *dp, const char *dir, struct vs_err *err)
{
	struct bpf_program *progs[DP_TRACERS];
	int ret = 0;

	tracer_progs(dp, progs);
	for (size_t i = 0; !ret && i < DP_TRACERS; i++)
		if (!i || bpf_program__autoload(progs[i]))
			ret = attach_tracer(progs[i], dir, dp_tracer_pins[i], &dp->tracer_fd[i],
					    &dp->tracer_made[i], err);
	return ret;
}

/* The meters this start does not run, still pinned by the one before. */
void dp_track_unpin_idle(struct dataplane *dp)
{
	struct bpf_program *progs[DP_TRACERS];
	char path[PATH_MAX + 8];

	tracer_progs(dp, progs);
	for (size_t i = 1; i < DP_TRACERS; i++) {
		if (bpf_program__autoload(progs[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, dp_tracer_pins[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s_prog", dp->pin_dir, dp_tracer_pins[i]);
		unlink(path);
	}
}

/* The tracers this start pinned where none was (a start that failed). */
void dp_track_unpin_made(struct dataplane *dp)
{
	char path[PATH_MAX + 8];

	for (size_t i = 0; i < DP_TRACERS; i++) {
		if (!dp->tracer_made[i] || dp->tracer_fd[i] < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, dp_tracer_pins[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s_prog", dp->pin_dir, dp_tracer_pins[i]);
		unlink(path);
	}
}
