/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef VS_UTIL_H
#define VS_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What went wrong, in the words the API returns: an HTTP status, a short
 * machine-readable code and a message that names the offending input. */
struct vs_err {
	int status;
	char code[32];
	char msg[512];
};

/* Fill err (if not NULL) and return ret, which is a -errno. */
int vs_errf(struct vs_err *err, int ret, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "prefix: message", for errors found deep inside a nested input. */
void vs_err_prefix(struct vs_err *err, const char *prefix);

/* Copy with truncation check: -ENAMETOOLONG if src does not fit. */
int str_copy(char *dst, size_t size, const char *src);

/* Wall-clock seconds. VSTEER_CLOCK_FILE, if set, names a file holding the
 * time instead: the tests' way to let a rollout of days pass in seconds. */
int64_t wall_now(void);

int random_bytes(void *buf, size_t len);
int uuid_v4(char out[37]);

/* Write data to path atomically: temp file PATH.tmp, fsync, rename, fsync
 * of the directory. Mode applies to the new file. One writer per path (a
 * fixed temp name, so a crash leaves no litter the next write would not
 * replace). */
int write_file_atomic(const char *path, const char *data, size_t len, int mode);

/* The same in two steps, so that a caller can make its other changes
 * (the BPF maps) only once the data is durable, and undo them if the
 * rename fails: stage_file() writes and fsyncs the temp file,
 * stage_commit() renames it into place, stage_abort() removes it. */
struct staged_file {
	char path[PATH_MAX];
	char tmp[PATH_MAX + 16];
};
int stage_file(struct staged_file *f, const char *path, const char *data, size_t len, int mode);
int stage_commit(struct staged_file *f);
void stage_abort(struct staged_file *f);

#endif
