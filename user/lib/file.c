// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/file.h"

#define TMP_SUFFIX ".tmp"
#define TMP_RANDOM "XXXXXX" /* mkostemp()'s: letters and digits */

int file_open_regular(const char *path, int flags, struct stat *st)
{
	int fd, ret;

	/* O_NOCTTY: a terminal given by mistake must not become vsteerd's
	 * controlling one before it is refused. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return FILE_NOT_REGULAR;
	}
	return fd;
}

const char *file_strerror(int ret)
{
	return ret == FILE_NOT_REGULAR ? "not a regular file" : strerror(-ret);
}

int file_read(const char *path, int flags, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int fd, ret = 0;

	fd = file_open_regular(path, flags, &st);
	if (fd < 0)
		return fd;
	if ((size_t)st.st_size > max) {
		ret = -EFBIG;
		goto close_fd;
	}
	buf = malloc(max + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto close_fd;
	}
	/* Read one byte past max: a file that grew since fstat() is
	 * refused as too large too, not cut. */
	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		got += n;
	}
	if (!ret && got > max)
		ret = -EFBIG;
	if (ret) {
		free(buf);
		goto close_fd;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
close_fd:
	close(fd);
	return ret;
}

int file_stage(struct file_staged *f, const char *path, const char *data, size_t len, int mode)
{
	size_t off = 0;
	int fd, err = 0;
	ssize_t n;

	f->tmp[0] = '\0';
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path) ||
	    snprintf(f->tmp, sizeof(f->tmp), "%s" TMP_SUFFIX "." TMP_RANDOM, path) >=
		    (int)sizeof(f->tmp))
		return -ENAMETOOLONG;
	/* O_EXCL under a name nobody can guess: whatever sits in the
	 * directory, a link planted at the old fixed name included, is
	 * never opened, let alone written through. */
	fd = mkostemp(f->tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		f->tmp[0] = '\0';
		return err;
	}
	/* mkostemp() makes it 0600 less the umask; the mode is the
	 * caller's, not the umask's. */
	if (fchmod(fd, mode) < 0) {
		err = -errno;
		goto close_tmp;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto close_tmp;
		}
		off += n;
	}
	if (fsync(fd) < 0) {
		err = -errno;
		goto close_tmp;
	}
	if (close(fd) < 0) {
		err = -errno;
		goto unlink_tmp;
	}
	return 0;

close_tmp:
	close(fd);
unlink_tmp:
	unlink(f->tmp);
	f->tmp[0] = '\0';
	return err;
}

int file_commit(struct file_staged *f)
{
	char dir[PATH_MAX];
	int dfd, err;

	/* rename() replaces a symbolic link at path, it does not follow
	 * it: the link's target is never written. */
	if (rename(f->tmp, f->path) < 0) {
		err = -errno;
		unlink(f->tmp);
		return err;
	}
	/* The rename is durable only once the directory is synced. */
	snprintf(dir, sizeof(dir), "%s", f->path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void file_abort(struct file_staged *f)
{
	if (f->tmp[0])
		unlink(f->tmp);
}

/* name is base.tmp, or base.tmp. and what mkostemp() puts for XXXXXX. */
static bool is_tmp_name(const char *name, const char *base)
{
	size_t blen = strlen(base), slen = strlen(TMP_SUFFIX), rlen = strlen(TMP_RANDOM);
	const char *rest = name + blen + slen;

	if (strncmp(name, base, blen) || strncmp(name + blen, TMP_SUFFIX, slen))
		return false;
	if (!*rest)
		return true;
	if (*rest++ != '.' || strlen(rest) != rlen)
		return false;
	for (; *rest; rest++)
		if (!(*rest >= 'a' && *rest <= 'z') && !(*rest >= 'A' && *rest <= 'Z') &&
		    !(*rest >= '0' && *rest <= '9'))
			return false;
	return true;
}

int file_remove_stale(const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];
	const char *b;
	struct dirent *e;
	struct stat st;
	int dfd, n = 0;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(base, sizeof(base), "%s", path);
	b = basename(base);
	d = opendir(dirname(dir));
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((e = readdir(d))) {
		if (!is_tmp_name(e->d_name, b))
			continue;
		/* Only what a writer of this user made: not a link, not
		 * another user's file. */
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
int file_read_secret(const char *path, const char *what, const char *field, const char *code,
		     char *out, size_t max, struct vs_err *err)
{
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = file_open_regular(path, O_NOFOLLOW, &st);
	if (fd == -ELOOP)
		return vs_errf(err, fd, 400, code,
			       "%s %s: a symbolic link; give %s the file itself", what, path,
			       field);
	if (fd == FILE_NOT_REGULAR)
		return vs_errf(err, fd, 400, code, "%s %s: not a regular file; give %s one", what,
			       path, field);
	if (fd < 0)
		return vs_errf(err, fd, 400, code, "%s %s: %s", what, path, file_strerror(fd));
	/* Its owner could change it: a token, and with it who may steer. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return vs_errf(
			err, -EPERM, 400, code,
			"%s %s: owned by uid %u, not by root or vsteerd's user (uid %u); chown it to one of them",
			what, path, (unsigned int)st.st_uid, (unsigned int)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return vs_errf(err, -EPERM, 400, code,
			       "%s %s: mode %03o lets others read it; chmod 600 it", what, path,
			       st.st_mode & 0777);
	}
	n = read(fd, out, max + 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return vs_errf(err, ret, 400, code, "%s %s: %s", what, path, strerror(-ret));
	if (n > (ssize_t)max)
		return vs_errf(err, -E2BIG, 400, code, "%s %s: over %zu bytes", what, path, max);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
	return 0;
}
