/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_FILE_H
#define VS_FILE_H

#include <limits.h>
#include <stddef.h>

/* The whole of a file of at most max bytes, NUL-terminated, in a malloc'ed
 * *out (*len without the NUL). -EFBIG for a larger file: never a
 * truncated read. */
int file_read(const char *path, size_t max, char **out, size_t *len);

/* Writing a file atomically in two steps, so that a caller can make its
 * other changes (the BPF maps) only once the data is durable, and undo
 * them if the rename fails: file_stage() writes and fsyncs PATH.tmp,
 * file_commit() renames it into place and fsyncs the directory,
 * file_abort() removes it. One writer per path: the temp name is fixed,
 * so a crash leaves no litter the next write does not replace. */
struct file_staged {
	char path[PATH_MAX];
	char tmp[PATH_MAX + 16];
};
int file_stage(struct file_staged *f, const char *path, const char *data, size_t len, int mode);
int file_commit(struct file_staged *f);
void file_abort(struct file_staged *f);

#endif
