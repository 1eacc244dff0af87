// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>
#include "util.h"

int vs_errf(struct vs_err *err, int ret, int status, const char *code,
	    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return ret;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return ret;
}

void vs_err_prefix(struct vs_err *err, const char *prefix)
{
	char msg[sizeof(err->msg)];

	if (!err)
		return;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, msg);
}

int str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int64_t wall_now(void)
{
	const char *path = getenv("VSTEER_CLOCK_FILE");
	long long t;
	FILE *f;

	if (path && (f = fopen(path, "re"))) {
		int n = fscanf(f, "%lld", &t);

		fclose(f);
		if (n == 1)
			return t;
	}
	return time(NULL);
}

int random_bytes(void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = getrandom((char *)buf + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += n;
	}
	return 0;
}

int uuid_v4(char out[37])
{
	uint8_t b[16];
	int err = random_bytes(b, sizeof(b));

	if (err)
		return err;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int stage_file(struct staged_file *f, const char *path, const char *data, size_t len, int mode)
{
	char *tmp = f->tmp;
	size_t off = 0;
	int fd, err = 0;
	ssize_t n;

	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path) ||
	    snprintf(tmp, sizeof(f->tmp), "%s.tmp", path) >= (int)sizeof(f->tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
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
		fd = -1;
		err = -errno;
		goto unlink_tmp;
	}
	return 0;

close_tmp:
	close(fd);
unlink_tmp:
	unlink(tmp);
	return err;
}

int stage_commit(struct staged_file *f)
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

void stage_abort(struct staged_file *f)
{
	unlink(f->tmp);
}

int write_file_atomic(const char *path, const char *data, size_t len, int mode)
{
	struct staged_file f;
	int ret = stage_file(&f, path, data, len, mode);

	return ret ? ret : stage_commit(&f);
}
