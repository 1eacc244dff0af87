// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/file.h"

int file_read(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto close_fd;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
		ret = -EFBIG;
		goto close_fd;
	}
	buf = malloc(max + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto close_fd;
	}
	/* Read one byte past max: a file that grew (or is not a regular
	 * file) is refused as too large too, not cut. */
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

	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path) ||
	    snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", path) >= (int)sizeof(f->tmp))
		return -ENAMETOOLONG;
	fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
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
	return err;
}

int file_commit(struct file_staged *f)
{
	char dir[PATH_MAX];
	int dfd, err;

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
	unlink(f->tmp);
}
