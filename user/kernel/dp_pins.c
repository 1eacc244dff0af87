// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
#include "kernel/dp_internal.h"
#include "kernel/dp_pins.h"
#include "steer.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define NEIGHBOUR_DEPTH	  4	/* directories below a bpffs mount searched */
#define NEIGHBOUR_ENTRIES 20000 /* entries looked at, at most, in all */
#define MAX_LOOKUP_PROGS  64	/* sk_lookup programs of a namespace listed */

static const char *const pinned_names[] = {
	"link",
	"lookup",
	"prog_new" /* DP_PROGPIN_TMP: a start's, renamed into place */,
	"track_prog",
	"req_prog",
	"resp_prog",
	"rst_prog",
	"track",
	"req",
	"resp",
	"rst",
	"svcs",
	"socks",
	"ports",
	"vstats",
	"sstats",
	"sessions",
	"sess" /* older builds (old_names): --cleanup removes them */,
	"conns",
	"vopen",
	"lat",
	"rsize",
	"sks",
	"sopts",
	"squota",
	"shold",
	"sguard",
	"smirror",
	"mstats",
	"mcap",
	"backs",
	"vslot",
	"corig",
	"connect4",
	"connect6",
	"peer4",
	"peer6",
	"flows",
	"rflows",
	"bports",
	"bsvc" /* older builds */,
	"vsums",
	"lstate"
};

/* Maps of older builds that nothing this build loads uses: unpinned once
 * its programs are in, so that they are freed with the old programs. */
static const char *const old_names[] = { "sess", "shold", "conns", "bsvc" };

void dp_pins_drop_old(const char *dir)
{
	char p[PATH_MAX + 16];

	for (size_t i = 0; i < ARRAY_SIZE(old_names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, old_names[i]);
		if (unlink(p) == 0)
			pr_info("unpinned %s: an older build's, unused by this one\n", p);
		else if (errno != ENOENT)
			pr_warn("cannot remove %s: %s\n", p, strerror(errno));
	}
}

bool dp_pins_on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int dp_pins_lock(const char *dir, struct vs_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return vs_errf(err, -errno, 500, "pin_dir", "cannot open pin directory %s: %s", dir,
			       strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int ret = -errno;

		close(fd);
		return vs_errf(err, ret, 500, "pin_dir",
			       "pin directory %s is in use by another vsteerd (flock: %s)", dir,
			       strerror(-ret));
	}
	return fd;
}

int dp_pins_remove(const char *dir)
{
	char p[PATH_MAX + 16];

	for (size_t i = 0; i < ARRAY_SIZE(pinned_names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, pinned_names[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			pr_warn("cannot remove %s: %s\n", p, strerror(errno));
	}
	return rmdir(dir) < 0 ? -errno : 0;
}

const char *dp_pins_dir(const struct dataplane *dp)
{
	return dp->pin_dir;
}

/* Map, link and program ids are counted apart: the same number can name
 * one of each, so the kind of object is checked too (by what its fd is). */
static const char *const fd_kinds[][2] = {
	[DP_PIN_MAP] = { "anon_inode:bpf-map", NULL },
	/* "bpf_link" or "bpf-link", depending on the kernel (6.18: "bpf-link") */
	[DP_PIN_LINK] = { "anon_inode:bpf_link", "anon_inode:bpf-link" },
	[DP_PIN_PROG] = { "anon_inode:bpf-prog", NULL },
};

union obj_info {
	struct bpf_map_info map;
	struct bpf_link_info link;
	struct bpf_prog_info prog;
};

static __u32 info_len(enum dp_pin_kind kind)
{
	return kind == DP_PIN_MAP  ? sizeof(struct bpf_map_info) :
	       kind == DP_PIN_LINK ? sizeof(struct bpf_link_info) :
				     sizeof(struct bpf_prog_info);
}

static __u32 info_id(const union obj_info *info, enum dp_pin_kind kind)
{
	return kind == DP_PIN_MAP  ? info->map.id :
	       kind == DP_PIN_LINK ? info->link.id :
				     info->prog.id;
}

static int pinned_id(const char *path, enum dp_pin_kind kind, __u32 *id)
{
	const char *const *names = fd_kinds[kind];
	char fdpath[32], what[32];
	__u32 len = info_len(kind);
	union obj_info info;
	int fd, ret = 0;
	ssize_t n;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	n = readlink(fdpath, what, sizeof(what) - 1);
	what[n > 0 ? n : 0] = '\0';
	/* Without /proc (a bare container) the ids alone decide. */
	if (n > 0 && strcmp(what, names[0]) && (!names[1] || strcmp(what, names[1])))
		ret = -EINVAL;
	memset(&info, 0, sizeof(info));
	if (!ret && bpf_obj_get_info_by_fd(fd, &info, &len))
		ret = -errno;
	if (!ret)
		*id = info_id(&info, kind);
	close(fd);
	return ret;
}

static int add_pin(struct dataplane *dp, const char *name, int fd, enum dp_pin_kind kind)
{
	struct dp_pin *p = &dp->pins[dp->npins];
	__u32 len = info_len(kind);
	union obj_info info;

	if (dp->npins == DP_MAX_PINS)
		return -E2BIG;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*p = (struct dp_pin){ .fd = fd, .kind = kind, .id = info_id(&info, kind) };
	snprintf(p->name, sizeof(p->name), "%s", name);
	dp->npins++;
	return 0;
}

int dp_pins_record(struct dataplane *dp, struct vs_err *err)
{
	struct bpf_map *m;
	struct stat st;
	int ret;

	dp->npins = 0;
	ret = add_pin(dp, "link", dp->link_fd, DP_PIN_LINK);
	if (!ret)
		ret = add_pin(dp, DP_LOOKUP_PIN, bpf_program__fd(dp->steer->progs.vsteer_lookup),
			      DP_PIN_PROG);
	for (size_t i = 0; !ret && i < DP_TRACERS; i++)
		if (dp->tracer_fd[i] >= 0)
			ret = add_pin(dp, dp_tracer_pins[i], dp->tracer_fd[i], DP_PIN_LINK);
	for (size_t i = 0; !ret && i < 4; i++)
		if (dp->connect_fd[i] >= 0)
			ret = add_pin(dp, dp_connect_pins[i], dp->connect_fd[i], DP_PIN_LINK);
	bpf_object__for_each_map (m, dp->steer->obj)
		if (!ret && bpf_map__is_pinned(m))
			ret = add_pin(dp, bpf_map__name(m), bpf_map__fd(m), DP_PIN_MAP);
	if (!ret && fstat(dp->lock_fd, &st) < 0)
		ret = -errno;
	if (ret)
		return vs_errf(err, ret, 500, "bpf", "cannot inspect what is pinned in %s: %s",
			       dp->pin_dir, strerror(-ret));
	dp->dir_dev = st.st_dev;
	dp->dir_ino = st.st_ino;
	return 0;
}

static void add_name(char *list, const char *name)
{
	size_t n = strlen(list);

	snprintf(list + n, DP_PINS_NAMES - n, "%s%s", n ? ", " : "", name);
}

static int why(struct dp_pins_report *r, int ret, const char *fmt, ...) __printf(3, 4);

/* The first failure's reason, kept; returns ret. */
static int why(struct dp_pins_report *r, int ret, const char *fmt, ...)
{
	va_list ap;

	if (r->why[0])
		return ret;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return ret;
}

static void take_lock(struct dataplane *dp, int fd, const struct stat *st)
{
	close(dp->lock_fd);
	dp->lock_fd = fd;
	dp->dir_dev = st->st_dev;
	dp->dir_ino = st->st_ino;
	/* Whatever is in the directory now is looked at, not trusted. */
	for (size_t i = 0; i < dp->npins; i++)
		dp->pins[i].ino = 0;
}

/* The pin directory is gone: built again as at the start, aside under its
 * own lock and renamed into place, so that a vsteerd killed half way
 * leaves nothing half-built to adopt. The old lock is on a removed
 * directory; the new one's takes its place. */
static int remake_dir(struct dataplane *dp, struct dp_pins_report *r)
{
	char parent[PATH_MAX], path[PATH_MAX + 40];
	struct vs_err ignored = {};
	struct statfs fs;
	struct stat st;
	int fd, ret = 0;

	snprintf(parent, sizeof(parent), "%s", dp->pin_dir);
	dirname(parent);
	if (statfs(parent, &fs) < 0)
		return why(r, -errno, "cannot make %s again: %s: %s", dp->pin_dir, parent,
			   strerror(errno));
	if (fs.f_type != BPF_FS_MAGIC)
		return why(r, -ENOTSUP, "%s is not on a BPF filesystem any more", parent);
	snprintf(dp->tmp_dir, sizeof(dp->tmp_dir), "%s_tmp%d", dp->pin_dir, getpid());
	dp_pins_remove(dp->tmp_dir);
	if (mkdir(dp->tmp_dir, 0700) < 0)
		return why(r, -errno, "cannot create %s: %s", dp->tmp_dir, strerror(errno));
	fd = dp_pins_lock(dp->tmp_dir, &ignored);
	if (fd < 0) {
		rmdir(dp->tmp_dir);
		return why(r, fd, "cannot lock %s: %s", dp->tmp_dir, strerror(-fd));
	}
	for (size_t i = 0; !ret && i < dp->npins; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp->tmp_dir, dp->pins[i].name);
		if (bpf_obj_pin(dp->pins[i].fd, path))
			ret = why(r, -errno, "cannot pin %s: %s", path, strerror(errno));
	}
	if (!ret && rename(dp->tmp_dir, dp->pin_dir) < 0)
		ret = why(r, -errno, "cannot rename %s to %s: %s", dp->tmp_dir, dp->pin_dir,
			  strerror(errno));
	if (!ret && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret) {
		dp_pins_remove(dp->tmp_dir);
		close(fd);
		return ret;
	}
	take_lock(dp, fd, &st);
	r->dir_made = true;
	for (size_t i = 0; i < dp->npins; i++)
		add_name(r->repinned, dp->pins[i].name);
	return 0;
}

/* The directory at pin_dir is the one we hold the lock on, or is made so. */
static int check_dir(struct dataplane *dp, struct dp_pins_report *r)
{
	struct vs_err ignored = {};
	struct stat st;
	int fd;

	if (stat(dp->pin_dir, &st) == 0) {
		if (st.st_dev == dp->dir_dev && st.st_ino == dp->dir_ino)
			return 0;
	} else if (errno == ENOENT) {
		return remake_dir(dp, r);
	} else {
		return why(r, -errno, "cannot look at %s: %s", dp->pin_dir, strerror(errno));
	}
	/* Another directory at the name (ours removed, one made by hand):
	 * ours, unless another vsteerd holds it. */
	fd = dp_pins_lock(dp->pin_dir, &ignored);
	if (fd < 0)
		return why(r, fd, "%s was replaced by a directory that another vsteerd holds",
			   dp->pin_dir);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return why(r, -errno, "cannot look at %s: %s", dp->pin_dir, strerror(errno));
	}
	take_lock(dp, fd, &st);
	return 0;
}

/* The same pin (bpffs inode) as last time holds the same object: a pin
 * cannot be pointed at another one. Only a new inode is opened and its
 * object's id compared. */
static int check_pin(struct dataplane *dp, struct dp_pin *p, struct dp_pins_report *r)
{
	char path[PATH_MAX + 24];
	bool replaced = false;
	struct stat st;
	__u32 id = 0;
	int ret;

	if (fstatat(dp->lock_fd, p->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (p->ino && st.st_ino == p->ino && st.st_dev == p->dev)
			return 0;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, p->name);
		ret = pinned_id(path, p->kind, &id);
		if (!ret && id == p->id) {
			p->dev = st.st_dev;
			p->ino = st.st_ino;
			return 0;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return why(r, -errno, "cannot remove %s, which holds another object: %s",
				   path, strerror(errno));
		replaced = ret != -ENOENT; /* not gone in the meantime */
	} else if (errno != ENOENT) {
		return why(r, -errno, "cannot look at %s/%s: %s", dp->pin_dir, p->name,
			   strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, p->name);
	if (bpf_obj_pin(p->fd, path) || stat(path, &st) < 0)
		return why(r, -errno, "cannot pin %s: %s", path, strerror(errno));
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	add_name(replaced ? r->replaced : r->repinned, p->name);
	return 0;
}

int dp_pins_check(struct dataplane *dp, struct dp_pins_report *r)
{
	int dir, ret;

	memset(r, 0, sizeof(*r));
	if (!dp->attached)
		return 0;
	dir = check_dir(dp, r);
	for (size_t i = 0; i < dp->npins; i++) {
		ret = dir ?: check_pin(dp, &dp->pins[i], r);
		if (!ret)
			continue;
		add_name(r->missing, dp->pins[i].name);
		r->err = r->err ?: ret;
	}
	return r->err;
}

/* ---- another vsteerd in this network namespace ---- */

struct lookup_link {
	__u64 netns;
	__u32 prog_id;
	__u32 link_id; /* found: the link's id */
	char dir[PATH_MAX];
	int budget; /* entries still to look at */
};

/* The sk_lookup link of this network namespace pinned at path. */
static bool lookup_link_info(const char *path, __u64 netns, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_obj_get(path);
	bool ok;

	if (fd < 0)
		return false;
	memset(info, 0, sizeof(*info));
	ok = !bpf_obj_get_info_by_fd(fd, info, &len) && info->type == BPF_LINK_TYPE_NETNS &&
	     info->netns.attach_type == BPF_SK_LOOKUP && info->netns.netns_ino == netns;
	close(fd);
	return ok;
}

/* vsteerd pins its link as `link`; only those are opened, a few levels
 * down and a bounded number of entries, whatever else bpffs holds. */
static bool search_dir(const char *dir, int depth, struct lookup_link *l)
{
	struct bpf_link_info info;
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!found && l->budget-- > 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (de->d_type == DT_DIR && depth < NEIGHBOUR_DEPTH)
			found = search_dir(path, depth + 1, l);
		else if (de->d_type == DT_REG && !strcmp(de->d_name, "link") &&
			 lookup_link_info(path, l->netns, &info) && info.prog_id == l->prog_id) {
			l->link_id = info.id;
			snprintf(l->dir, sizeof(l->dir), "%s", dir);
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* /proc/self/mountinfo escapes a space in a path as \040. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

/* Under every bpffs mount this process sees. */
static bool find_pinned(struct lookup_link *l)
{
	char line[PATH_MAX * 2 + 256], mnt[PATH_MAX * 2], *sep;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	l->budget = NEIGHBOUR_ENTRIES;
	while (!found && fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep, " - bpf ", 7))
			continue;
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		if (sscanf(line, "%*s %*s %*s %*s %8191s", mnt) != 1)
			continue;
		unescape(mnt);
		found = search_dir(mnt, 1, l);
	}
	fclose(f);
	return found;
}

/* The id of the sk_lookup link running prog_id, found by walking every
 * link (CAP_SYS_ADMIN); 0 if that is not allowed. */
static __u32 link_of_prog(__u64 netns, __u32 prog_id)
{
	struct bpf_link_info info;
	__u32 id = 0, len;
	int fd;

	while (!bpf_link_get_next_id(id, &id)) {
		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_NETNS &&
		    info.netns.attach_type == BPF_SK_LOOKUP && info.netns.netns_ino == netns &&
		    info.prog_id == prog_id) {
			close(fd);
			return id;
		}
		close(fd);
	}
	return 0;
}

/* The program's name, or "" when reading it needs CAP_SYS_ADMIN. */
static void prog_name(__u32 id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	name[0] = '\0';
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(name, BPF_OBJ_NAME_LEN, "%s", info.name);
	close(fd);
}

/* The sk_lookup programs running in this namespace, as the namespace
 * lists them (CAP_NET_ADMIN is enough), but the one our own pinned link
 * runs; whichever of them is vsteer_lookup (by its name, or by where its
 * link is pinned when the name cannot be read) is another vsteerd's. */
int dp_pins_neighbour(const char *pin_dir, struct vs_err *err)
{
	__u32 ids[MAX_LOOKUP_PROGS], n = MAX_LOOKUP_PROGS, own = 0;
	struct lookup_link l = {};
	struct bpf_link_info info;
	char path[PATH_MAX + 8], name[BPF_OBJ_NAME_LEN];
	bool pinned;
	int nsfd, ret;

	if (dp_netns_ino(&l.netns))
		return 0;
	snprintf(path, sizeof(path), "%s/link", pin_dir);
	if (lookup_link_info(path, l.netns, &info))
		own = info.prog_id;
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return 0;
	ret = bpf_prog_query(nsfd, BPF_SK_LOOKUP, 0, NULL, ids, &n);
	close(nsfd);
	if (ret) {
		pr_debug("cannot list this network namespace's sk_lookup programs: %s\n",
			 strerror(errno));
		return 0;
	}
	for (__u32 i = 0; i < n && i < MAX_LOOKUP_PROGS; i++) {
		if (ids[i] == own)
			continue;
		prog_name(ids[i], name);
		if (name[0] && strcmp(name, "vsteer_lookup"))
			continue;
		l.prog_id = ids[i];
		pinned = find_pinned(&l);
		if (!name[0] && !pinned) {
			pr_info("another sk_lookup program (id %u) runs in this network namespace; reading its name needs CAP_SYS_ADMIN, and its link is not pinned as vsteerd pins one\n",
				ids[i]);
			continue;
		}
		if (pinned)
			return vs_errf(
				err, -EEXIST, 409, "neighbour",
				"another vsteerd steers this network namespace, pinned in %s (sk_lookup link id %u). One vsteerd per network namespace: to take over its services, stop it and start this one with --pin-dir %s; to remove its steering, vsteerd --cleanup --pin-dir %s",
				l.dir, l.link_id, l.dir, l.dir);
		l.link_id = link_of_prog(l.netns, ids[i]);
		if (l.link_id)
			snprintf(path, sizeof(path), "sk_lookup link id %u", l.link_id);
		else
			snprintf(path, sizeof(path), "sk_lookup program id %u", ids[i]);
		return vs_errf(
			err, -EEXIST, 409, "neighbour",
			"another vsteerd steers this network namespace (%s), pinned under no bpffs mount this vsteerd can see: one in another mount namespace, or one whose pins were removed. One vsteerd per network namespace: stop that one first",
			path);
	}
	return 0;
}
