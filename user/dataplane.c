// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
#include "dataplane.h"
#include "log.h"
#include "steer.skel.h"
#include "scan.skel.h"
#include "track.skel.h"
#include "http.skel.h"
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const pinned_names[] = { "link", "track", "req", "resp", "rst", "svcs",
					    "socks", "ports", "vstats", "sstats", "sess",
					    "conns" /* older builds: --cleanup removes it */,
					    "vopen", "lat", "rsize", "sks" };

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

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int lock_dir(const char *dir, struct vs_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot open pin directory %s: %s",
			       dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int ret = -errno;

		close(fd);
		return vs_errf(err, ret, 500, "pin_dir",
			       "pin directory %s is in use by another vsteerd (flock: %s)",
			       dir, strerror(-ret));
	}
	return fd;
}

static int netns_ino(__u64 *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* Take over a pinned link: it must be an sk_lookup link of this network
 * namespace running our program (checked by name, as a tag changes with
 * every build), and then gets the freshly loaded program atomically. */
static int adopt_link(struct dataplane *dp, const char *path, struct vs_err *err)
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(info);
	int fd, pfd, ret;
	__u64 ino = 0;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot open pinned link %s: %s",
			       path, strerror(errno));
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (ret || (ret = netns_ino(&ino)))
		goto close_link;
	if (info.type != BPF_LINK_TYPE_NETNS || info.netns.attach_type != BPF_SK_LOOKUP) {
		ret = vs_errf(err, -EINVAL, 500, "pin_dir",
			      "%s is not an sk_lookup link; refusing to touch it", path);
		goto close_link;
	}
	if (info.netns.netns_ino != ino) {
		ret = vs_errf(err, -EXDEV, 500, "pin_dir",
			      "%s steers another network namespace (netns inode %llu, ours %llu); use a pin directory per namespace",
			      path, (unsigned long long)info.netns.netns_ino,
			      (unsigned long long)ino);
		goto close_link;
	}
	pfd = bpf_prog_get_fd_by_id(info.prog_id);
	if (pfd < 0) {
		ret = vs_errf(err, -errno, 500, "pin_dir",
			      "cannot inspect the program of %s: %s; refusing to replace it",
			      path, strerror(errno));
		goto close_link;
	}
	len = sizeof(pinfo);
	ret = bpf_obj_get_info_by_fd(pfd, &pinfo, &len);
	close(pfd);
	if (ret || strcmp(pinfo.name, "vsteer_lookup")) {
		ret = vs_errf(err, -EINVAL, 500, "pin_dir",
			      "%s runs program '%s', not vsteer's; refusing to replace it",
			      path, ret ? "?" : pinfo.name);
		goto close_link;
	}
	ret = bpf_link_update(fd, bpf_program__fd(dp->steer->progs.vsteer_lookup), NULL);
	if (ret) {
		vs_errf(err, ret, 500, "bpf", "cannot update link %s: %s", path, strerror(-ret));
		goto close_link;
	}
	dp->link_fd = fd;
	return 0;

close_link:
	if (!err->msg[0])
		vs_errf(err, ret, 500, "bpf", "cannot inspect link %s: %s", path, strerror(-ret));
	close(fd);
	return ret;
}

static int attach_link(struct dataplane *dp, const char *dir, struct vs_err *err)
{
	struct bpf_link *link;
	char path[PATH_MAX];
	int nsfd, ret;

	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return vs_errf(err, -errno, 500, "netns", "cannot open /proc/self/ns/net: %s",
			       strerror(errno));
	link = bpf_program__attach_netns(dp->steer->progs.vsteer_lookup, nsfd);
	close(nsfd);
	ret = libbpf_get_error(link);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot attach sk_lookup: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/link", dir);
	ret = bpf_link__pin(link, path);
	if (ret) {
		bpf_link__destroy(link);
		return vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	}
	dp->link_fd = dup(bpf_link__fd(link));
	bpf_link__destroy(link);	/* the pin keeps it */
	return 0;
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
	if (sess_entries)
		bpf_map__set_max_entries(dp->steer->maps.sess, sess_entries);
	ret = steer_bpf__load(dp->steer);
	if (ret)
		return vs_errf(err, ret, 500, "bpf",
			       "cannot load the data plane (with maps pinned in %s): %s%s",
			       pin_root, strerror(-ret),
			       ret == -EINVAL ? "; a pinned map differs from this build's (another "
			       "vsteer version, or --session-table changed: --cleanup first)" : "");
	return 0;
}

/* The scan and track objects declare the same maps as steer.bpf.c (via
 * bpf/maps.h); hand them steer's, so there is one set, pinned once. */
static int share_maps(struct dataplane *dp, struct bpf_object *obj)
{
	struct bpf_map *m, *own;
	int ret;

	bpf_object__for_each_map(m, obj) {
		own = bpf_object__find_map_by_name(dp->steer->obj, bpf_map__name(m));
		if (!own)
			continue;
		ret = bpf_map__reuse_fd(m, bpf_map__fd(own));
		if (ret)
			return ret;
	}
	return 0;
}

static int load_scan(struct dataplane *dp, struct vs_err *err)
{
	int ret;

	dp->scan = scan_bpf__open();
	ret = libbpf_get_error(dp->scan);
	if (ret) {
		dp->scan = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open scan object: %s", strerror(-ret));
	}
	ret = share_maps(dp, dp->scan->obj);
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

static int prog_tag_of_link(int link_fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(info);
	int pfd, ret;

	ret = bpf_obj_get_info_by_fd(link_fd, &info, &len);
	if (ret)
		return ret;
	pfd = bpf_prog_get_fd_by_id(info.prog_id);
	if (pfd < 0)
		return -errno;
	len = sizeof(pinfo);
	ret = bpf_obj_get_info_by_fd(pfd, &pinfo, &len);
	close(pfd);
	if (!ret)
		memcpy(tag, pinfo.tag, BPF_TAG_SIZE);
	return ret;
}

/* The connection tracker. A tracing link cannot have its program
 * replaced, so a pinned one running the same program (same tag) is kept
 * as it is; a different one is replaced, which leaves a window of
 * microseconds in which closes are not seen (they only make a session
 * look busy until the LRU drops it). */
/* Attach one tracing program and pin its link as dir/name, unless a
 * pinned link already runs the same program (same tag). */
static int attach_tracer(struct bpf_program *prog, const char *dir, const char *name,
			 struct vs_err *err)
{
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(pinfo);
	__u8 tag[BPF_TAG_SIZE];
	struct bpf_link *link;
	char path[PATH_MAX];
	int ret, fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		ret = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pinfo, &len);
		if (!ret && !prog_tag_of_link(fd, tag) && !memcmp(tag, pinfo.tag, BPF_TAG_SIZE)) {
			close(fd);
			return 0;
		}
		close(fd);
		pr_info("replacing tracer %s with this build's\n", name);
		unlink(path);
	}
	link = bpf_program__attach_trace(prog);
	ret = libbpf_get_error(link);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot attach %s: %s",
			       bpf_program__section_name(prog), strerror(-ret));
	ret = bpf_link__pin(link, path);
	bpf_link__destroy(link);	/* the pin keeps it */
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot pin %s: %s", path, strerror(-ret));
	return 0;
}

/* The connection tracker and request meter. A tracing link cannot have
 * its program replaced, so a pinned one running the same program (same
 * tag) is kept as it is; a different one is replaced, which leaves a
 * window of microseconds in which events are not seen (a close missed
 * makes a session look busy until the LRU drops it). */
static int load_track(struct dataplane *dp, const char *dir, struct vs_err *err)
{
	struct {
		struct bpf_program *prog;
		const char *pin;
	} tracers[4];
	__u64 ino = 0;
	int ret;

	dp->track = track_bpf__open();
	ret = libbpf_get_error(dp->track);
	if (ret) {
		dp->track = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open track object: %s", strerror(-ret));
	}
	ret = netns_ino(&ino);
	dp->track->rodata->netns_ino = (__u32)ino;
	/* Not even loaded without watching: their tracepoints may not exist
	 * on this kernel (sock_send_length came with 6.3). */
	if (!dp->watch) {
		bpf_program__set_autoload(dp->track->progs.vsteer_req, false);
		bpf_program__set_autoload(dp->track->progs.vsteer_rst, false);
	}
	if (dp->meter != DP_METER_SEND)
		bpf_program__set_autoload(dp->track->progs.vsteer_resp, false);
	if (!ret)
		ret = share_maps(dp, dp->track->obj);
	if (!ret)
		ret = track_bpf__load(dp->track);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the connection tracker: %s",
			       strerror(-ret));
	tracers[0].prog = dp->track->progs.vsteer_track, tracers[0].pin = "track";
	tracers[1].prog = dp->track->progs.vsteer_req, tracers[1].pin = "req";
	tracers[2].prog = dp->track->progs.vsteer_resp, tracers[2].pin = "resp";
	tracers[3].prog = dp->track->progs.vsteer_rst, tracers[3].pin = "rst";
	for (size_t i = 0; !ret && i < ARRAY_SIZE(tracers); i++) {
		char path[PATH_MAX];

		/* Without watching, only the connection tracker runs (sessions
		 * and drain need it); the request meters are taken down. The
		 * send hook also when the TC program measures responses. */
		if (i && !bpf_program__autoload(tracers[i].prog)) {
			snprintf(path, sizeof(path), "%s/%s", dir, tracers[i].pin);
			unlink(path);
			continue;
		}
		ret = attach_tracer(tracers[i].prog, dir, tracers[i].pin, err);
	}
	return ret;
}

/* TC filters are not links: identified by interface, handle and
 * priority, and they stay attached (like the pinned links) when vsteerd
 * exits. */
#define VS_TC_HANDLE 0x5653	/* "VS" */
#define VS_TC_PRIO   0x5653

/* The HTTP status reader (and, before 6.3, the response meter) on the
 * egress of every interface: responses to local clients leave by lo, to
 * remote ones by a NIC, to containers by a bridge or veth that may come
 * later, hence dp_watch_interfaces() on every full scan. Only devices
 * with an Ethernet header (and lo): the program finds the IP header 14
 * bytes in, which is wrong on tun, wireguard or ipip devices. */
static void detach_http(void);

static bool has_ether_header(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ok = !ioctl(fd, SIOCGIFHWADDR, &ifr) && (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER ||
						 ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK);
	close(fd);
	return ok;
}

static bool http_attached(const struct dataplane *dp, unsigned int ifindex)
{
	for (size_t i = 0; i < dp->nhttp_if; i++)
		if (dp->http_if[i] == ifindex)
			return true;
	return false;
}

static void attach_http(struct dataplane *dp)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int ret;

	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO,
			    .flags = BPF_TC_F_REPLACE,
			    .prog_fd = bpf_program__fd(dp->http->progs.vsteer_http));

		if (http_attached(dp, i->if_index) || dp->nhttp_if == ARRAY_SIZE(dp->http_if))
			continue;
		/* Remembered either way: not retried, nor warned about, each scan. */
		dp->http_if[dp->nhttp_if++] = i->if_index;
		if (!has_ether_header(i->if_name)) {
			pr_debug("%s has no Ethernet header: responses leaving by it are not read\n",
				 i->if_name);
			continue;
		}
		/* Probe by attaching: on a restart the clsact qdisc exists, and
		 * creating it again fails with EEXIST, which libbpf would log
		 * as a warning ("Exclusivity flag on") every time. */
		libbpf_quiet = true;
		ret = bpf_tc_attach(&hook, &opts);
		libbpf_quiet = false;
		if (ret) {
			ret = bpf_tc_hook_create(&hook);
			if (ret && ret != -EEXIST) {
				pr_warn("responses leaving by %s are not read: clsact: %s\n",
					i->if_name, strerror(-ret));
				continue;
			}
			ret = bpf_tc_attach(&hook, &opts);
		}
		if (ret)
			pr_warn("responses leaving by %s are not read: %s\n", i->if_name,
				strerror(-ret));
		else
			pr_debug("TC egress program on %s\n", i->if_name);
	}
	if_freenameindex(ifs);
}

void dp_watch_interfaces(struct dataplane *dp)
{
	if (dp->http)
		attach_http(dp);
}

static int load_http(struct dataplane *dp, struct vs_err *err)
{
	int ret;

	if (!dp->watch) {
		detach_http();
		return 0;
	}
	dp->http = http_bpf__open();
	ret = libbpf_get_error(dp->http);
	if (ret) {
		dp->http = NULL;
		return vs_errf(err, ret, 500, "bpf", "cannot open http object: %s", strerror(-ret));
	}
	dp->http->rodata->meter_resp = dp->meter == DP_METER_TC;
	ret = share_maps(dp, dp->http->obj);
	if (!ret)
		ret = http_bpf__load(dp->http);
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot load the HTTP status reader: %s",
			       strerror(-ret));
	attach_http(dp);
	return 0;
}

static void detach_http(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	/* Most interfaces have no clsact at all: not worth a warning. */
	libbpf_quiet = true;
	for (i = ifs; i && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VS_TC_HANDLE, .priority = VS_TC_PRIO);

		bpf_tc_detach(&hook, &opts);
	}
	libbpf_quiet = false;
	if_freenameindex(ifs);
}

/* Unlink what vsteerd pins in dir, then dir itself. */
static int remove_pins(const char *dir)
{
	char p[PATH_MAX + 16];

	for (size_t i = 0; i < ARRAY_SIZE(pinned_names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, pinned_names[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			pr_warn("cannot remove %s: %s\n", p, strerror(errno));
	}
	return rmdir(dir) < 0 ? -errno : 0;
}

static int create_pins(struct dataplane *dp, const char *pin_dir, __u32 sess_entries,
		       struct vs_err *err)
{
	char tmp[PATH_MAX];
	int ret;

	/* bpffs refuses names with a dot in them. */
	snprintf(tmp, sizeof(tmp), "%s_tmp%d", pin_dir, getpid());
	/* Left by a crash of an earlier vsteerd with our pid (pid 1 in a
	 * container): it was never renamed into place, so nothing uses it. */
	remove_pins(tmp);
	if (mkdir(tmp, 0700) < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot create %s: %s", tmp,
			       strerror(errno));
	/* Locked before it appears under its real name: the lock is on the
	 * inode, which the rename keeps. */
	dp->lock_fd = ret = lock_dir(tmp, err);
	if (ret < 0) {
		rmdir(tmp);
		return ret;
	}
	ret = 0;
	ret = load_steer(dp, tmp, sess_entries, err);
	if (!ret)
		ret = load_track(dp, tmp, err);
	if (!ret)
		ret = attach_link(dp, tmp, err);
	/* Appear whole or not at all: a half-built pin directory would be
	 * adopted by the next start. */
	if (!ret && rename(tmp, pin_dir) < 0)
		ret = vs_errf(err, -errno, 500, "pin_dir", "cannot rename %s to %s: %s",
			      tmp, pin_dir, strerror(errno));
	if (ret)
		remove_pins(tmp);
	return ret;
}

int dp_open(struct dataplane *dp, const char *pin_dir, __u32 sess_entries,
	    enum dp_meter meter, struct vs_err *err)
{
	char parent[PATH_MAX], link[PATH_MAX + 8];
	struct stat st;
	int ret;

	memset(dp, 0, sizeof(*dp));
	dp->watch = meter != DP_METER_OFF;
	dp->meter = meter;
	dp->link_fd = dp->lock_fd = -1;
	if (str_copy(dp->pin_dir, sizeof(dp->pin_dir), pin_dir))
		return vs_errf(err, -ENAMETOOLONG, 500, "pin_dir", "pin directory name too long");
	for (size_t n = strlen(dp->pin_dir); n > 1 && dp->pin_dir[n - 1] == '/'; n--)
		dp->pin_dir[n - 1] = '\0';
	pin_dir = dp->pin_dir;
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	dirname(parent);
	if (!on_bpffs(parent))
		return vs_errf(err, -ENOTSUP, 500, "pin_dir",
			       "%s is not on a BPF filesystem (mount -t bpf bpf %s, or run `make deps`)",
			       parent, parent);

	if (stat(pin_dir, &st) == 0) {
		dp->adopted = true;
		dp->lock_fd = ret = lock_dir(pin_dir, err);
		if (ret < 0)
			return ret;
		ret = load_steer(dp, pin_dir, sess_entries, err);
		if (!ret)
			ret = load_track(dp, pin_dir, err);
		if (ret)
			goto close_all;
		snprintf(link, sizeof(link), "%s/link", pin_dir);
		ret = access(link, F_OK) == 0 ? adopt_link(dp, link, err) :
						attach_link(dp, pin_dir, err);
	} else {
		ret = create_pins(dp, pin_dir, sess_entries, err);
	}
	if (!ret)
		ret = load_scan(dp, err);
	if (!ret)
		ret = load_http(dp, err);
	if (!ret)
		return 0;
close_all:
	dp_close(dp);
	return ret;
}

void dp_close(struct dataplane *dp)
{
	bpf_link__destroy(dp->list_iter);
	bpf_link__destroy(dp->insert_iter);
	scan_bpf__destroy(dp->scan);
	track_bpf__destroy(dp->track);
	http_bpf__destroy(dp->http);
	steer_bpf__destroy(dp->steer);
	if (dp->link_fd >= 0)
		close(dp->link_fd);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	dp->scan = NULL;
	dp->track = NULL;
	dp->http = NULL;
	dp->steer = NULL;
	dp->list_iter = dp->insert_iter = NULL;
	dp->link_fd = dp->lock_fd = -1;
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
		fd = lock_dir(path, &ignored);
		if (fd < 0)
			continue;
		if (remove_pins(path) == 0) {
			pr_info("removed %s, left by vsteerd pid %ld\n", path, pid);
			n++;
		}
		close(fd);
	}
	closedir(d);
	return n;
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
	fd = lock_dir(dir, err);
	if (fd < 0)
		return fd;
	detach_http();
	ret = remove_pins(dir);
	close(fd);
	if (ret)
		return vs_errf(err, ret, 500, "pin_dir", "cannot remove %s: %s", dir,
			       strerror(-ret));
	pr_info("removed %s\n", dir);
	return 0;
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

int dp_set_svc(struct dataplane *dp, const struct vs_svc_key *k, const struct vs_svc *v)
{
	return bpf_map_update_elem(map_fd(dp->steer->maps.svcs), k, v, BPF_ANY) ? -errno : 0;
}

int dp_get_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc *v)
{
	return bpf_map_lookup_elem(map_fd(dp->steer->maps.svcs), k, v) ? -errno : 0;
}

int dp_del_svc(struct dataplane *dp, const struct vs_svc_key *k)
{
	if (bpf_map_delete_elem(map_fd(dp->steer->maps.svcs), k) && errno != ENOENT)
		return -errno;
	return 0;
}

int dp_next_svc(struct dataplane *dp, const struct vs_svc_key *k, struct vs_svc_key *next)
{
	return bpf_map_get_next_key(map_fd(dp->steer->maps.svcs), k, next) ? -errno : 0;
}

int dp_set_ports(struct dataplane *dp, const struct vs_ports *p)
{
	__u32 zero = 0;

	return bpf_map_update_elem(map_fd(dp->steer->maps.ports), &zero, p, BPF_ANY) ? -errno : 0;
}

int dp_sock_cookie(struct dataplane *dp, __u32 idx, __u64 *cookie)
{
	return bpf_map_lookup_elem(map_fd(dp->steer->maps.socks), &idx, cookie) ? -errno : 0;
}

int dp_sock_del(struct dataplane *dp, __u32 idx)
{
	if (bpf_map_delete_elem(map_fd(dp->steer->maps.socks), &idx) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Per-CPU values come back one per possible CPU, each 8-byte aligned;
 * both stats structs are made of __u64 only, so summing word by word is
 * summing field by field. */
static int sum_percpu_fd(int fd, __u32 key, __u64 *sum, size_t words);

static int sum_percpu(struct bpf_map *m, __u32 key, __u64 *sum, size_t words)
{
	return sum_percpu_fd(map_fd(m), key, sum, words);
}

static int sum_percpu_fd(int fd, __u32 key, __u64 *sum, size_t words)
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

int dp_ver_stats(struct dataplane *dp, __u32 slot, struct vs_ver_stats *sum)
{
	return sum_percpu(dp->steer->maps.vstats, slot, (__u64 *)sum, sizeof(*sum) / 8);
}

int dp_svc_stats(struct dataplane *dp, __u32 id, struct vs_svc_stats *sum)
{
	return sum_percpu(dp->steer->maps.sstats, id, (__u64 *)sum, sizeof(*sum) / 8);
}

/* Delete the session entries that name `slot`. Read in batches (a
 * handful of syscalls for the whole table), each match deleted only if a
 * fresh lookup still names the slot: the data plane writes meanwhile. */
#define PURGE_BATCH 1024
static int purge_sessions(struct dataplane *dp, __u32 slot)
{
	int fd = map_fd(dp->steer->maps.sess), ret = 0, err;
	struct vs_sess_key *keys = calloc(PURGE_BATCH, sizeof(*keys));
	struct vs_sess *vals = calloc(PURGE_BATCH, sizeof(*vals)), v;
	__u32 batch, n;
	bool first = true;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto free_bufs;
	}
	do {
		n = PURGE_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &n, NULL);
		if (err < 0 && errno != ENOENT) {
			ret = -errno;
			break;
		}
		first = false;
		for (__u32 i = 0; i < n; i++) {
			if (vals[i].slot != slot)
				continue;
			if (!bpf_map_lookup_elem(fd, &keys[i], &v) && v.slot == slot &&
			    bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT && !ret)
				ret = -errno;
		}
	} while (!err);
free_bufs:
	free(keys);
	free(vals);
	return ret;
}

int dp_reset_slot(struct dataplane *dp, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus();
	__s64 none = 0;
	void *zero;
	int ret;

	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, sizeof(struct vs_ver_stats));
	if (!zero)
		return -ENOMEM;
	ret = bpf_map_update_elem(map_fd(dp->steer->maps.vstats), &slot, zero, BPF_ANY) ? -errno : 0;
	/* A reused slot must not inherit the last version's histograms. */
	for (__u32 b = 0; !ret && b < VS_HBUCKETS; b++) {
		__u32 k = slot * VS_HBUCKETS + b;

		if (bpf_map_update_elem(map_fd(dp->steer->maps.lat), &k, zero, BPF_ANY) ||
		    bpf_map_update_elem(map_fd(dp->steer->maps.rsize), &k, zero, BPF_ANY))
			ret = -errno;
	}
	free(zero);
	/* Nor its clients' affinity, nor its open connection count: with
	 * them a new version in the slot would get the old one's sessions. */
	if (!ret && bpf_map_update_elem(map_fd(dp->steer->maps.vopen), &slot, &none, BPF_ANY))
		ret = -errno;
	if (!ret)
		ret = purge_sessions(dp, slot);
	return ret;
}

int dp_hist(struct dataplane *dp, bool size, __u32 slot, __u64 out[VS_HBUCKETS])
{
	int fd = map_fd(size ? dp->steer->maps.rsize : dp->steer->maps.lat), ret = 0;

	for (__u32 b = 0; !ret && b < VS_HBUCKETS; b++)
		ret = sum_percpu_fd(fd, slot * VS_HBUCKETS + b, &out[b], 1);
	return ret;
}

bool dp_watching(const struct dataplane *dp)
{
	return dp && dp->watch;
}

int dp_open_conns(struct dataplane *dp, __u32 slot, __s64 *n)
{
	return bpf_map_lookup_elem(map_fd(dp->steer->maps.vopen), &slot, n) ? -errno : 0;
}

static int run_iter(struct bpf_link *link, char **buf, size_t *len)
{
	size_t cap = 64 * sizeof(struct vs_listener);
	int fd, ret = 0;
	ssize_t n;

	*len = 0;
	*buf = malloc(cap);
	if (!*buf)
		return -ENOMEM;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		ret = -errno;
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

int dp_list_listeners(struct dataplane *dp, struct vs_listener **out, size_t *n)
{
	size_t len;
	char *buf;
	int ret;

	ret = run_iter(dp->list_iter, &buf, &len);
	if (ret)
		return ret;
	*out = (struct vs_listener *)buf;
	*n = len / sizeof(struct vs_listener);
	return 0;
}

int dp_insert(struct dataplane *dp, const __u64 *cookies, const __u32 *idx,
	      int *err_out, size_t n)
{
	int fd = map_fd(dp->scan->maps.picks), ret = 0, done = 0;
	size_t len, i;
	char *buf;
	__u32 v;

	if (n > VS_PICK_MAX)
		n = VS_PICK_MAX;
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &cookies[i], &idx[i], BPF_ANY))
			ret = -errno;
	if (!ret)
		ret = run_iter(dp->insert_iter, &buf, &len);
	if (!ret)
		free(buf);
	for (i = 0; i < n; i++) {
		__u64 c;

		err_out[i] = ret;
		if (!ret && !bpf_map_lookup_elem(fd, &cookies[i], &v) && (v & 0x80000000U))
			err_out[i] = -(int)(v & 0x7fffffffU);
		else if (!ret)
			/* Not marked failed: in the map now, unless the
			 * socket closed while we looked. */
			err_out[i] = dp_sock_cookie(dp, idx[i], &c) == 0 && c == cookies[i] ?
				     0 : -ENOENT;
		done += err_out[i] == 0;
		bpf_map_delete_elem(fd, &cookies[i]);
	}
	return ret ? ret : done;
}
