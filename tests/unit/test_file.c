// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/lib/file.c: what file_read() refuses (and that it does not block
 * on a FIFO), the staged write (a random temp name, its mode, a link at
 * the path or at the old temp name never written through) and the
 * removal of a crash's temp files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/file.h"

#include "harness.h"

struct dir {
	char path[64];
	char buf[160]; /* in() */
};

static void dir_free(void *arg)
{
	struct dir *d = arg;
	DIR *dh = opendir(d->path);
	struct dirent *e;

	while (dh && (e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(dirfd(dh), e->d_name, 0) < 0)
			unlinkat(dirfd(dh), e->d_name, AT_REMOVEDIR);
	if (dh)
		closedir(dh);
	rmdir(d->path);
}

/* An empty directory of the case's own, removed after it. */
static struct dir *new_dir(void)
{
	struct dir *d = tcalloc(sizeof(*d));

	snprintf(d->path, sizeof(d->path), "/tmp/vsteer-unit-XXXXXX");
	if (!mkdtemp(d->path))
		return NULL;
	defer(dir_free, d);
	return d;
}

/* name in d; the buffer is reused by the next call. */
static const char *in(struct dir *d, const char *name)
{
	snprintf(d->buf, sizeof(d->buf), "%s/%s", d->path, name);
	return d->buf;
}

static int put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

/* The file's text, or NULL; tracked. */
static char *text_of(const char *path)
{
	char *s;
	size_t len;

	return file_read(path, 0, 1 << 20, &s, &len) ? NULL : track(s);
}

static int names_in(struct dir *d, const char *prefix)
{
	DIR *dh = opendir(d->path);
	struct dirent *e;
	int n = 0;

	while (dh && (e = readdir(dh)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (dh)
		closedir(dh);
	return n;
}

static void cancel_alarm(void *arg)
{
	(void)arg;
	alarm(0);
}

static void test_file_read_regular_only(void)
{
	struct dir *d = new_dir();
	char path[160], fifo[160], *s;
	size_t len;

	CHECK(d, "mkdtemp");
	/* A FIFO that blocked would hang here: the alarm kills the run. */
	alarm(10);
	defer(cancel_alarm, NULL);
	row("%s", "a FIFO without a writer");
	snprintf(fifo, sizeof(fifo), "%s", in(d, "fifo"));
	CHECK_INT(mkfifo(fifo, 0600), ==, 0);
	CHECK_INT(file_read(fifo, 0, 100, &s, &len), ==, FILE_NOT_REGULAR);
	CHECK_STR(file_strerror(FILE_NOT_REGULAR), "not a regular file");
	row("%s", "a directory");
	CHECK_INT(file_read(d->path, 0, 100, &s, &len), ==, FILE_NOT_REGULAR);
	row("%s", "a character device");
	CHECK_INT(file_read("/dev/zero", 0, 100, &s, &len), ==, FILE_NOT_REGULAR);
	row("%s", "missing");
	CHECK_INT(file_read(in(d, "none"), 0, 100, &s, &len), ==, -ENOENT);
	CHECK_STR(file_strerror(-ENOENT), strerror(ENOENT));

	row("%s", "a regular file, and over the limit");
	CHECK_INT(put(in(d, "f"), "hello"), ==, 0);
	snprintf(path, sizeof(path), "%s", in(d, "f"));
	CHECK_INT(file_read(path, 0, 5, &s, &len), ==, 0);
	track(s);
	CHECK_STR(s, "hello");
	CHECK_INT(len, ==, 5);
	CHECK_INT(file_read(path, 0, 4, &s, &len), ==, -EFBIG);

	row("%s", "a link to it: followed unless O_NOFOLLOW");
	CHECK_INT(symlink(path, in(d, "link")), ==, 0);
	CHECK_INT(file_read(in(d, "link"), 0, 5, &s, &len), ==, 0);
	track(s);
	CHECK_STR(s, "hello");
	CHECK_INT(file_read(in(d, "link"), O_NOFOLLOW, 5, &s, &len), ==, -ELOOP);
	row("%s", "a link to the FIFO");
	CHECK_INT(symlink(fifo, in(d, "link2")), ==, 0);
	CHECK_INT(file_read(in(d, "link2"), 0, 100, &s, &len), ==, FILE_NOT_REGULAR);
}

/* The temp file is new, random, in the path's directory, of the mode
 * asked whatever the umask; commit renames it into place, abort removes
 * it. */
static void test_file_stage_commit_abort(void)
{
	struct dir *d = new_dir();
	struct file_staged a, b;
	char path[160], prefix[192];
	mode_t old_umask;
	struct stat st;
	int ret;

	CHECK(d, "mkdtemp");
	snprintf(path, sizeof(path), "%s", in(d, "state.json"));
	snprintf(prefix, sizeof(prefix), "%s.tmp.", path);
	CHECK_INT(put(path, "old"), ==, 0);
	old_umask = umask(0277);
	ret = file_stage(&a, path, "new", 3, 0600);
	umask(old_umask);
	CHECK_INT(ret, ==, 0);
	row("temp %s", a.tmp);
	CHECK(!strncmp(a.tmp, prefix, strlen(prefix)) && strlen(a.tmp) == strlen(prefix) + 6,
	      "temp name %s", a.tmp);
	CHECK_INT(lstat(a.tmp, &st), ==, 0);
	CHECK(S_ISREG(st.st_mode), "not a regular file");
	CHECK_INT(st.st_mode & 07777, ==, 0600);
	CHECK_STR(text_of(path), "old");
	CHECK_INT(file_stage(&b, path, "other", 5, 0600), ==, 0);
	CHECK(strcmp(a.tmp, b.tmp), "the same temp name twice: %s", a.tmp);
	file_abort(&b);
	CHECK_INT(access(b.tmp, F_OK), ==, -1);
	CHECK_INT(file_commit(&a), ==, 0);
	CHECK_STR(text_of(path), "new");
	CHECK_INT(names_in(d, "state.json.tmp"), ==, 0);
}

/* A link at the path is replaced, one at the old fixed temp name left
 * alone: neither target is written. */
static void test_file_stage_never_through_links(void)
{
	struct dir *d = new_dir();
	char path[160], victim[160];
	struct file_staged f;
	struct stat st;

	CHECK(d, "mkdtemp");
	snprintf(path, sizeof(path), "%s", in(d, "state.json"));
	snprintf(victim, sizeof(victim), "%s", in(d, "victim"));
	CHECK_INT(put(victim, "precious"), ==, 0);

	row("%s", "a link planted at the old temp name");
	CHECK_INT(symlink(victim, in(d, "state.json.tmp")), ==, 0);
	CHECK_INT(file_stage(&f, path, "state 1", 7, 0600), ==, 0);
	CHECK_INT(file_commit(&f), ==, 0);
	CHECK_STR(text_of(victim), "precious");
	CHECK_STR(text_of(path), "state 1");
	CHECK_INT(lstat(in(d, "state.json.tmp"), &st), ==, 0);
	CHECK(S_ISLNK(st.st_mode), "the planted link was replaced");

	row("%s", "the path itself a link: rename() replaces the link");
	CHECK_INT(unlink(path), ==, 0);
	CHECK_INT(symlink(victim, path), ==, 0);
	CHECK_INT(file_stage(&f, path, "state 2", 7, 0600), ==, 0);
	CHECK_INT(file_commit(&f), ==, 0);
	CHECK_STR(text_of(victim), "precious");
	CHECK_INT(lstat(path, &st), ==, 0);
	CHECK(S_ISREG(st.st_mode), "the path is still a link");
	CHECK_STR(text_of(path), "state 2");
}

/* A crash's temp files go; what only looks like one, a link, another
 * file's and the state file stay. */
static void test_file_remove_stale(void)
{
	static const char *const gone[] = { "state.json.tmp.a1B2c3", "state.json.tmp.zzzzzz",
					    "state.json.tmp" };
	static const char *const kept[] = {
		"state.json",
		"state.json.tmp.abc12",
		"state.json.tmp.abc-12",
		"state.json.tmp.abc1234",
		"other.json.tmp.abcdef",
		"state.json.tmpXabcdef",
		"xstate.json.tmp.abcdef",
	};
	struct dir *d = new_dir();
	char path[160], victim[160];

	CHECK(d, "mkdtemp");
	snprintf(path, sizeof(path), "%s", in(d, "state.json"));
	snprintf(victim, sizeof(victim), "%s", in(d, "victim"));
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		CHECK_INT(put(in(d, gone[i]), "x"), ==, 0);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		CHECK_INT(put(in(d, kept[i]), "x"), ==, 0);
	CHECK_INT(put(victim, "precious"), ==, 0);
	CHECK_INT(symlink(victim, in(d, "state.json.tmp.L1nk00")), ==, 0);
	CHECK_INT(mkdir(in(d, "state.json.tmp.dir000"), 0700), ==, 0);
	/* Another user's: only root can make one. */
	if (geteuid() == 0) {
		CHECK_INT(put(in(d, "state.json.tmp.other0"), "x"), ==, 0);
		CHECK_INT(chown(in(d, "state.json.tmp.other0"), 65534, 65534), ==, 0);
	}

	CHECK_INT(file_remove_stale(path), ==, 3);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		row("%s", gone[i]);
		CHECK_INT(access(in(d, gone[i]), F_OK), ==, -1);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		row("%s", kept[i]);
		CHECK_INT(access(in(d, kept[i]), F_OK), ==, 0);
	}
	row("%s", "the link, its target, the directory, another user's file");
	CHECK_INT(faccessat(AT_FDCWD, in(d, "state.json.tmp.L1nk00"), F_OK, AT_SYMLINK_NOFOLLOW),
		  ==, 0);
	CHECK_STR(text_of(victim), "precious");
	CHECK_INT(access(in(d, "state.json.tmp.dir000"), F_OK), ==, 0);
	if (geteuid() == 0)
		CHECK_INT(access(in(d, "state.json.tmp.other0"), F_OK), ==, 0);
	CHECK_INT(file_remove_stale(path), ==, 0);
	CHECK_INT(file_remove_stale(in(d, "nodir/state.json")), ==, -ENOENT);
}

const struct unit_case file_cases[] = { TEST(test_file_read_regular_only),
					TEST(test_file_stage_commit_abort),
					TEST(test_file_stage_never_through_links),
					TEST(test_file_remove_stale),
					{ NULL, NULL } };
