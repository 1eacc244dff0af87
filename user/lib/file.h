/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_FILE_H
#define VS_FILE_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include "lib/err.h"

/* What file_open_regular() and file_read() return for a path that is not
 * a regular file (a FIFO, a device, a socket, a directory):
 * file_strerror() says so in words, as strerror() cannot. */
#define FILE_NOT_REGULAR (-EINVAL)

/* Open path to read, never blocking: a FIFO without a writer would hang
 * open() and read(), a device would read for ever. Anything but a regular
 * file is refused with FILE_NOT_REGULAR. flags: 0, or O_NOFOLLOW to refuse
 * a symbolic link (-ELOOP). The fd, with *st filled, or -errno. */
int file_open_regular(const char *path, int flags, struct stat *st);
/* The whole of a regular file of at most max bytes, NUL-terminated, in a
 * malloc'ed *out (*len without the NUL). flags as file_open_regular().
 * -EFBIG for a larger file: never a truncated read. */
int file_read(const char *path, int flags, size_t max, char **out, size_t *len);
/* strerror(-ret), but "not a regular file" for FILE_NOT_REGULAR. */
const char *file_strerror(int ret);
/* A secret (a token, a password) from a file only root or this user
 * owns and only its owner may read, not a symbolic link: at most max
 * bytes into out (max + 1 long), trailing white space cut. what names the
 * file ("token file") and field the config field that gave it
 * ("tokenFile"), in err, coded code. */
int file_read_secret(const char *path, const char *what, const char *field, const char *code,
		     char *out, size_t max, struct vs_err *err);

/* Writing a file atomically in two steps, so that a caller can make its
 * other changes (the BPF maps) only once the data is durable, and undo
 * them if the rename fails: file_stage() writes and fsyncs a new temp
 * file PATH.tmp.XXXXXX in path's directory, file_commit() renames it into
 * place and fsyncs the directory, file_abort() removes it. The temp file
 * is created under a random name that must not exist yet (O_EXCL), so
 * nothing planted in the directory, a symbolic link included, is ever
 * written through; and rename() replaces a link at path itself, never its
 * target. One writer per path; file_remove_stale() takes away what a
 * crash left. */
struct file_staged {
	char path[PATH_MAX];
	char tmp[PATH_MAX + 16];
};
int file_stage(struct file_staged *f, const char *path, const char *data, size_t len, int mode);
int file_commit(struct file_staged *f);
void file_abort(struct file_staged *f);
/* Remove the temp files of path that a writer killed between
 * file_stage() and file_commit() left: regular files of the effective
 * uid named PATH.tmp.XXXXXX, or PATH.tmp (the fixed name before). Only
 * when no other process stages path. How many were removed, or -errno. */
int file_remove_stale(const char *path);

#endif
