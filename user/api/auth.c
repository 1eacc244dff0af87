// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/file.h"
#include "api/auth.h"

int auth_token_load(const char *path, char *out, struct vs_err *err)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = file_open_regular(path, O_NOFOLLOW, &st);
	if (fd == -ELOOP)
		return vs_errf(err, fd, 400, "token",
			       "token file %s: a symbolic link; give tokenFile the file itself",
			       path);
	if (fd == FILE_NOT_REGULAR)
		return vs_errf(err, fd, 400, "token",
			       "token file %s: not a regular file; give tokenFile one", path);
	if (fd < 0)
		return vs_errf(err, fd, 400, "token", "token file %s: %s", path, file_strerror(fd));
	/* Its owner can change the token, and with it who may steer. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return vs_errf(
			err, -EPERM, 400, "token",
			"token file %s: owned by uid %u, not by root or vsteerd's user (uid %u); chown it to one of them",
			path, (unsigned int)st.st_uid, (unsigned int)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return vs_errf(err, -EPERM, 400, "token",
			       "token file %s: mode %03o lets others read it; chmod 600 it", path,
			       st.st_mode & 0777);
	}
	n = read(fd, out, AUTH_TOKEN_MAX + 1);
	close(fd);
	if (n < 0)
		return vs_errf(err, -errno, 400, "token", "token file %s: %s", path,
			       strerror(errno));
	if (n > AUTH_TOKEN_MAX)
		return vs_errf(err, -E2BIG, 400, "token", "token file %s: over %d bytes", path,
			       AUTH_TOKEN_MAX);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
	if (n < AUTH_TOKEN_MIN)
		return vs_errf(err, -EINVAL, 400, "token",
			       "token file %s: the token needs at least %d characters", path,
			       AUTH_TOKEN_MIN);
	for (ssize_t i = 0; i < n; i++)
		if (out[i] <= ' ' || out[i] > '~')
			return vs_errf(
				err, -EINVAL, 400, "token",
				"token file %s: the token must be printable ASCII without spaces",
				path);
	return 0;
}

bool auth_token_matches(const char *token, const char *authorization)
{
	static const char prefix[] = "Bearer ";
	size_t tlen = strlen(token), alen;
	unsigned char diff = 0;
	const char *given;

	if (!authorization || strncmp(authorization, prefix, sizeof(prefix) - 1))
		return false;
	given = authorization + sizeof(prefix) - 1;
	alen = strnlen(given, AUTH_TOKEN_MAX + 1);
	/* Walk the whole token whatever the input: no early exit that would
	 * tell an attacker how much of a guess was right. */
	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < alen ? given[i] : 0);
	return !diff && alen == tlen;
}
