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
	size_t n;
	int ret;

	ret = file_read_secret(path, "token file", "tokenFile", "token", out, AUTH_TOKEN_MAX, err);
	if (ret)
		return ret;
	n = strlen(out);
	if (n < AUTH_TOKEN_MIN)
		return vs_errf(err, -EINVAL, 400, "token",
			       "token file %s: the token needs at least %d characters", path,
			       AUTH_TOKEN_MIN);
	for (size_t i = 0; i < n; i++)
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
