// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "lib/str.h"
#include "kernel/dp_connect.h"
#include "kernel/dp_internal.h"
#include "kernel/dp_nat.h"
#include "kernel/dp_iter.h"
#include "kernel/dp_lookup.h"
#include "kernel/dp_maps.h"
#include "kernel/dp_pins.h"
#include "kernel/dp_tc.h"
#include "kernel/dp_track.h"
#include "scan.skel.h"
#include "steer.skel.h"
#include "track.skel.h"
#include "http.skel.h"
#include "drain.skel.h"
#include "drain_list.skel.h"

const char *const dp_tracer_pins[DP_TRACERS] = { "track", "req", "resp", "rst" };

/* Set around calls whose failure vsteerd expects and handles itself (e.g.
 * probing for a clsact qdisc): libbpf would log the kernel's extack message
 * as a warning each time. */
static bool libbpf_quiet;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	bool warn = level == LIBBPF_WARN && !libbpf_quiet;
	const char *msg;
	char buf[1024];

	if (!warn && log_get_level() < VS_LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	msg = strncmp(buf, "libbpf: ", 8) ? buf : buf + 8;
	log_print(warn ? VS_LOG_WARN : VS_LOG_DEBUG, "libbpf: %s", msg);
	return 0;
}

void dp_route_libbpf_log(void)
{
	libbpf_set_print(libbpf_log);
}

void dp_quiet_libbpf(bool quiet)
{
	libbpf_quiet = quiet;
}

int dp_netns_ino(__u64 *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* Per-CPU values come back one per possible CPU, each 8-byte aligned;
 * both stats structs are made of __u64 only, so summing word by word is
 * summing field by field. */
int dp_netns_enter(int nsfd, int *own)
{
	int ret = 0;

	*own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*own < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(*own);
		*own = -1;
	}
	return ret;
}

void dp_netns_leave(int own)
{
	if (setns(own, CLONE_NEWNET) < 0) {
		/* Cannot happen with our own namespace's fd; if it did, this
		 * thread would steer the wrong namespace from now on. */
		pr_warn("cannot return to vsteerd's network namespace: %s\n", strerror(errno));
		abort();
	}
	close(own);
}

int dp_sum_percpu(int fd, __u32 key, __u64 *sum, size_t words)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	int ret = 0;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, words * sizeof(__u64));
	if (!vals)
		return -ENOMEM;
	memset(sum, 0, words * sizeof(__u64));
	if (bpf_map_lookup_elem(fd, &key, vals))
		ret = -errno;
	for (int c = 0; !ret && c < ncpu; c++)
		for (size_t w = 0; w < words; w++)
			sum[w] += vals[c * words + w];
	free(vals);
	return ret;
}

/* The maps of steer whose pin is missing (one removed by hand, or new in
 * this build): libbpf creates and pins them as it loads. By their index. */
static __u64 unpinned_maps(struct dataplane *dp)
{
	struct bpf_map *m;
	__u64 bit = 1, missing = 0;

	bpf_object__for_each_map (m, dp->steer->obj) {
		const char *path = bpf_map__pin_path(m);

		if (path && access(path, F_OK) < 0 && errno == ENOENT)
			missing |= bit;
		bit <<= 1;
	}
	return missing;
}

static __u32 pow2_at_least(__u32 n)
{
	__u32 p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int load_steer(struct dataplane *dp, const char *pin_root, __u32 sess_entries,
		      struct vs_err *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	int ret;

	dp->steer = steer_bpf__open_opts(&opts);
	ret = libbpf_get_error(dp->steer);
	if (ret) {
		dp->steer = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open BPF object: %s", strerror(-ret));
	}
	/* Two places per client: two candidate sets then almost never both
	 * fill (docs/rollouts.md, the session table); a power of two of
	 * sets, so that the data plane masks a hash instead of dividing. */
	if (sess_entries)
		bpf_map__set_max_entries(dp->steer->maps.sessions,
					 pow2_at_least(sess_entries * 2 / VS_SESS_WAYS));
	dp->steer->rodata->sess_sets = bpf_map__max_entries(dp->steer->maps.sessions);
	dp->maps_made = dp->adopted ? unpinned_maps(dp) : 0;
	ret = steer_bpf__load(dp->steer);
	if (ret)
		return vs_errf(
			err, ret, 500, "bpf",
			"cannot load the data plane (with maps pinned in %s): %s%s", pin_root,
			strerror(-ret),
			ret == -EINVAL ?
				"; a pinned map differs from this build's (another "
				"vsteer version, or --session-table changed: --cleanup first)" :
				"");
	dp_seed_sums(dp);
	return 0;
}

__u32 dp_sess_sets(const struct dataplane *dp)
{
	return bpf_map__max_entries(dp->steer->maps.sessions);
}

/* The scan, track and TC objects declare the same maps as steer.bpf.c
 * (via bpf/maps.h); hand them steer's, so there is one set, pinned once. */
int dp_share_maps(struct dataplane *dp, struct bpf_object *obj)
{
	struct bpf_map *m, *own;
	int ret;

	bpf_object__for_each_map (m, obj) {
		own = bpf_object__find_map_by_name(dp->steer->obj, bpf_map__name(m));
		if (!own)
			continue;
		ret = bpf_map__reuse_fd(m, bpf_map__fd(own));
		if (ret)
			return ret;
	}
	return 0;
}

/* Maps pinned in a directory of our own, renamed into place by
 * dp_attach(): appear whole or not at all, as a half-built pin directory
 * would be adopted by the next start. */
static int create_pins(struct dataplane *dp, __u32 sess_entries, struct vs_err *err)
{
	int ret;

	/* bpffs refuses names with a dot in them. */
	snprintf(dp->tmp_dir, sizeof(dp->tmp_dir), "%s_tmp%d", dp->pin_dir, getpid());
	/* Left by a crash of an earlier vsteerd with our pid (pid 1 in a
	 * container): it was never renamed into place, so nothing uses it. */
	dp_pins_remove(dp->tmp_dir);
	if (mkdir(dp->tmp_dir, 0700) < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot create %s: %s", dp->tmp_dir,
			       strerror(errno));
	dp->building = true;
	/* Locked before it appears under its real name: the lock is on the
	 * inode, which the rename keeps. */
	dp->lock_fd = ret = dp_pins_lock(dp->tmp_dir, err);
	if (ret < 0)
		return ret;
	return load_steer(dp, dp->tmp_dir, sess_entries, err);
}

int dp_open(struct dataplane **out, const char *pin_dir, __u32 sess_entries, enum dp_meter meter,
	    struct vs_err *err)
{
	char parent[PATH_MAX];
	struct dataplane *dp;
	struct stat st;
	int ret;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return vs_errf(err, -ENOMEM, 500, "internal", "out of memory");
	dp->meter = meter;
	dp->tc_on = -1;
	dp->link_fd = dp->lock_fd = dp->old_prog_fd = dp->diag_fd = -1;
	for (size_t i = 0; i < DP_TRACERS; i++)
		dp->tracer_fd[i] = -1;
	for (size_t i = 0; i < DP_CONNECT_LINKS; i++)
		dp->connect_fd[i] = -1;
	if (str_copy(dp->pin_dir, sizeof(dp->pin_dir), pin_dir)) {
		ret = vs_errf(err, -ENAMETOOLONG, 500, "pin_dir", "pin directory name too long");
		goto close_all;
	}
	for (size_t n = strlen(dp->pin_dir); n > 1 && dp->pin_dir[n - 1] == '/'; n--)
		dp->pin_dir[n - 1] = '\0';
	pin_dir = dp->pin_dir;
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	dirname(parent);
	if (!dp_pins_on_bpffs(parent)) {
		ret = vs_errf(
			err, -ENOTSUP, 500, "pin_dir",
			"%s is not on a BPF filesystem (mount -t bpf bpf %s, or run `make deps`)",
			parent, parent);
		goto close_all;
	}

	/* Our own pin directory is locked before looking for another
	 * vsteerd: a second one on the same directory is told so by the
	 * lock, and the link pinned there is ours, not a neighbour's. */
	if (stat(pin_dir, &st) == 0) {
		dp->adopted = true;
		dp->lock_fd = ret = dp_pins_lock(pin_dir, err);
		if (ret >= 0)
			ret = dp_pins_neighbour(pin_dir, err);
		if (!ret)
			ret = load_steer(dp, pin_dir, sess_entries, err);
	} else {
		ret = dp_pins_neighbour(pin_dir, err);
		if (!ret)
			ret = create_pins(dp, sess_entries, err);
	}
	if (!ret)
		ret = dp_track_load(dp, err);
	if (!ret)
		ret = dp_iter_load(dp, err);
	if (!ret)
		ret = dp_tc_load(dp, err);
	if (!ret) {
		*out = dp;
		return 0;
	}
close_all:
	dp_close(dp);
	return ret;
}

int dp_attach(struct dataplane *dp, struct vs_err *err)
{
	const char *dir = dp->building ? dp->tmp_dir : dp->pin_dir;
	char link[PATH_MAX + 8];
	int ret;

	ret = dp_track_attach(dp, dir, err);
	if (!ret) {
		snprintf(link, sizeof(link), "%s/link", dir);
		if (dp->adopted && access(link, F_OK) == 0) {
			ret = dp_lookup_adopt(dp, dir, err);
		} else {
			ret = dp_lookup_attach(dp, dir, err);
			dp->link_made = !ret && dp->adopted;
		}
	}
	if (!ret && dp->adopted)
		ret = dp_connect_adopt(dp, err);
	if (!ret && dp->building) {
		if (rename(dp->tmp_dir, dp->pin_dir) < 0)
			return vs_errf(err, -errno, 500, "pin_dir", "cannot rename %s to %s: %s",
				       dp->tmp_dir, dp->pin_dir, strerror(errno));
		dp->building = false;
		dp->published = true;
	}
	if (!ret)
		ret = dp_pins_record(dp, err);
	dp->attached = !ret;
	return ret;
}

void dp_commit(struct dataplane *dp)
{
	dp->committed = true;
	if (dp->old_prog_fd >= 0) {
		dp_lookup_repin(dp);
		close(dp->old_prog_fd);
	}
	dp->old_prog_fd = -1;
	dp_track_unpin_idle(dp);
	dp_pins_drop_old(dp->pin_dir);
	if (dp->tc)
		dp_tc_sync(dp);
	else
		dp_tc_detach_all();
}

/* A start that failed after dp_open() or dp_attach() had changed pins
 * that were there before: put them back as they were. A pin directory it
 * made goes whole, in dp_close(). */
static void undo_adoption(struct dataplane *dp)
{
	char path[PATH_MAX + 8];
	struct bpf_map *m;
	__u64 bit = 1;

	if (dp->old_prog_fd >= 0 && bpf_link_update(dp->link_fd, dp->old_prog_fd, NULL))
		pr_warn("cannot give the pinned link its program back: %s\n", strerror(errno));
	if (dp->link_made) {
		snprintf(path, sizeof(path), "%s/link", dp->pin_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/" DP_LOOKUP_PIN, dp->pin_dir);
		unlink(path);
	}
	dp_track_unpin_made(dp);
	bpf_object__for_each_map (m, dp->steer->obj) {
		if ((dp->maps_made & bit) && bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL);
		bit <<= 1;
	}
}

void dp_close(struct dataplane *dp)
{
	if (!dp)
		return;
	if (!dp->committed && dp->adopted && dp->steer)
		undo_adoption(dp);
	bpf_link__destroy(dp->list_iter);
	bpf_link__destroy(dp->insert_iter);
	bpf_link__destroy(dp->drain_iter);
	scan_bpf__destroy(dp->scan);
	drain_bpf__destroy(dp->drain);
	drain_list_bpf__destroy(dp->drain_list);
	track_bpf__destroy(dp->track);
	dp_connect_close(dp);
	dp_nat_close(dp);
	http_bpf__destroy(dp->tc);
	steer_bpf__destroy(dp->steer);
	if (dp->link_fd >= 0)
		close(dp->link_fd);
	if (dp->old_prog_fd >= 0)
		close(dp->old_prog_fd);
	if (dp->diag_fd >= 0)
		close(dp->diag_fd);
	for (size_t i = 0; i < DP_TRACERS; i++)
		if (dp->tracer_fd[i] >= 0)
			close(dp->tracer_fd[i]);
	/* Made by a start that did not finish: nothing may adopt it, and its
	 * links go with their last pin and fd. Removed after the fds are
	 * closed, still under its lock. */
	if (dp->building)
		dp_pins_remove(dp->tmp_dir);
	else if (dp->published && !dp->committed)
		dp_pins_remove(dp->pin_dir);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	free(dp);
}

bool dp_adopted(const struct dataplane *dp)
{
	return dp->adopted;
}

bool dp_metering(const struct dataplane *dp)
{
	return dp && dp->meter != DP_METER_OFF;
}

/* Remove the <pin_dir>_tmp<pid> directories of vsteerds that died while
 * building their pins: never renamed into place, so nothing steers with
 * them. One whose pid lives, or that is locked (a vsteerd in another pid
 * namespace), is being built and stays. Returns how many went. */
static int remove_stale_tmp(const char *pin_dir)
{
	char parent[PATH_MAX], base[PATH_MAX], path[2 * PATH_MAX + 2];
	const char *slash = strrchr(pin_dir, '/');
	struct vs_err ignored;
	struct dirent *de;
	size_t blen;
	int n = 0;
	DIR *d;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	dirname(parent);
	snprintf(base, sizeof(base), "%s_tmp", slash ? slash + 1 : pin_dir);
	blen = strlen(base);
	d = opendir(parent);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long pid;
		int fd;

		if (strncmp(de->d_name, base, blen))
			continue;
		pid = strtol(de->d_name + blen, &end, 10);
		if (end == de->d_name + blen || *end || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno == EPERM)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
		fd = dp_pins_lock(path, &ignored);
		if (fd < 0)
			continue;
		if (dp_pins_remove(path) == 0) {
			pr_info("removed %s, left by vsteerd pid %ld\n", path, pid);
			n++;
		}
		close(fd);
	}
	closedir(d);
	return n;
}

/* The TC meter in servers' namespaces (dp_tc_attach_netns()): found by
 * the map its program counts into, this pin directory's vstats, so that
 * another vsteerd's meter in the same container stays. */
static void detach_servers_tc(const char *dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/vstats", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		dp_tc_detach_netns_all(info.id);
	close(fd);
}

int dp_cleanup(const char *pin_dir, struct vs_err *err)
{
	char dir[PATH_MAX];
	int fd, ret, stale;

	if (str_copy(dir, sizeof(dir), pin_dir))
		return vs_errf(err, -ENAMETOOLONG, 500, "pin_dir", "pin directory name too long");
	for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
		dir[n - 1] = '\0';
	stale = remove_stale_tmp(dir);
	/* Nothing pinned is what --cleanup is for: done, not an error. */
	if (access(dir, F_OK) < 0 && errno == ENOENT) {
		pr_info("nothing is pinned at %s%s\n", dir,
			stale ? " (only leftovers of a crashed start, removed)" : "");
		return 0;
	}
	fd = dp_pins_lock(dir, err);
	if (fd < 0)
		return fd;
	dp_tc_detach_all();
	detach_servers_tc(dir);
	ret = dp_pins_remove(dir);
	close(fd);
	if (ret)
		return vs_errf(err, ret, 500, "pin_dir", "cannot remove %s: %s", dir,
			       strerror(-ret));
	pr_info("removed %s\n", dir);
	return 0;
}
