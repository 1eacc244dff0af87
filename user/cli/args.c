// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "lib/file.h"

/* An analysis file is a small JSON object: the API takes 64 KiB bodies. */
#define ANALYSIS_MAX (64 * 1024)
#define DURATION_MAX (10LL * 365 * 86400)

static int fail(char err[CLI_ERR_LEN], int ret, const char *fmt, const char *arg, const char *why)
{
	char shown[64];
	size_t n = strlen(arg);

	/* An argument can be anything: show a printable prefix of it. */
	snprintf(shown, sizeof(shown), "%.*s%s", (int)(n > 40 ? 40 : n), arg, n > 40 ? "..." : "");
	for (char *p = shown; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	snprintf(err, CLI_ERR_LEN, fmt, shown, why);
	return ret;
}

int cli_parse_duration(const char *s, int64_t *secs, char err[CLI_ERR_LEN])
{
	int64_t total = 0;
	const char *p = s;

	if (!*p)
		return fail(err, -EINVAL, "duration '%s': %s", s, "empty");
	while (*p) {
		int64_t n = 0, unit;

		if (!isdigit((unsigned char)*p))
			return fail(err, -EINVAL, "duration '%s': %s", s,
				    "not a number of seconds, nor like 90s, 10m, 1h30m, 2d");
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > DURATION_MAX)
				return fail(err, -ERANGE, "duration '%s': %s", s, "over 10 years");
		}
		switch (*p) {
		case '\0':
			/* a bare number only alone or last: "1h30" means nothing sure */
			if (p != s && total)
				return fail(err, -EINVAL, "duration '%s': %s", s,
					    "a number without a unit after another");
			unit = 1;
			break;
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			/* "1.5m" too: the API takes whole seconds */
			return fail(err, -EINVAL, "duration '%s': %s", s,
				    "a whole number of s, m, h or d (90s, 10m, 1h30m)");
		}
		if (*p)
			p++;
		total += n * unit;
		if (total > DURATION_MAX)
			return fail(err, -ERANGE, "duration '%s': %s", s, "over 10 years");
	}
	*secs = total;
	return 0;
}

int cli_parse_percent(const char *s, double *pct, char err[CLI_ERR_LEN])
{
	static const char digits[] = "0123456789";
	size_t len = strlen(s), ints = strspn(s, digits), decs = 0;
	char num[16];
	double v;

	/* "25%" is how a person writes it */
	if (len && s[len - 1] == '%')
		len--;
	if (ints < len && s[ints] == '.')
		decs = strspn(s + ints + 1, digits);
	/* decimal digits only, as the API: strtod would take 0x64, 1e2, inf */
	if (!ints || ints + (decs ? decs + 1 : 0) != len)
		return fail(err, -EINVAL, "'%s': %s", s,
			    "not a percentage: a decimal number 0 to 100 (25, 12.5)");
	if (decs > 2)
		return fail(err, -EINVAL, "'%s': %s", s, "more than two decimals");
	if (len >= sizeof(num))
		return fail(err, -ERANGE, "'%s': %s", s, "over 100%");
	memcpy(num, s, len);
	num[len] = '\0';
	v = strtod(num, NULL);
	if (v > 100)
		return fail(err, -ERANGE, "'%s': %s", s, "over 100%");
	*pct = v;
	return 0;
}

int cli_check_name(const char *what, const char *s, char err[CLI_ERR_LEN])
{
	size_t n = strlen(s);
	char fmt[64];

	snprintf(fmt, sizeof(fmt), "%s '%%s': %%s", what);
	if (n == 0 || n > 63 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") != n)
		return fail(err, -EINVAL, fmt, s, "1 to 63 of A-Z a-z 0-9 . _ -");
	return 0;
}

int cli_parse_weight(const char *s, json_t *obj, char err[CLI_ERR_LEN])
{
	const char *eq = strchr(s, '=');
	char version[64], why[CLI_ERR_LEN];
	double pct;

	if (!eq || eq == s || (size_t)(eq - s) >= sizeof(version))
		return fail(err, -EINVAL, "weight '%s': %s", s, "not VERSION=PERCENT (2.0=25)");
	memcpy(version, s, eq - s);
	version[eq - s] = '\0';
	if (cli_check_name("version", version, why) < 0)
		return fail(err, -EINVAL, "weight '%s': %s", s, why);
	if (cli_parse_percent(eq + 1, &pct, why) < 0)
		return fail(err, -EINVAL, "weight '%s': %s", s, why);
	if (json_object_get(obj, version))
		return fail(err, -EINVAL, "weight '%s': %s", s, "that version is named twice");
	json_object_set_new(obj, version, json_real(pct));
	return 0;
}

/* A JSON list of steps as the API takes them: checked there, field by
 * field; here only that it is a list of objects. */
static int steps_json(const char *s, json_t **steps, char err[CLI_ERR_LEN])
{
	json_error_t jerr;
	json_t *arr = json_loads(s, 0, &jerr), *step;
	size_t i;

	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > CLI_MAX_STEPS) {
		json_decref(arr);
		return fail(
			err, -EINVAL, "--steps '%s': %s", s,
			"not a JSON list of 1 to 32 steps ([{\"weight\": 10, \"hold\": 60}, ...])");
	}
	json_array_foreach (arr, i, step)
		if (!json_is_object(step)) {
			json_decref(arr);
			return fail(err, -EINVAL, "--steps '%s': %s", s, "a step is an object");
		}
	*steps = arr;
	return 0;
}

int cli_parse_steps(const char *s, int64_t hold, json_t **steps, char err[CLI_ERR_LEN])
{
	char buf[512], why[CLI_ERR_LEN], *save = NULL, *tok;
	json_t *arr;
	double last = 0;

	if (s[0] == '[') {
		if (hold >= 0)
			return fail(err, -EINVAL, "--steps '%s': %s", s,
				    "a JSON list says each step's hold: no --hold with it");
		return steps_json(s, steps, err);
	}
	if (!*s || strlen(s) >= sizeof(buf) || s[strlen(s) - 1] == ',')
		return fail(err, -EINVAL, "--steps '%s': %s", s,
			    "not a list of percentages (10,50,100)");
	strcpy(buf, s);
	arr = json_array();
	/* strsep: "10,,100" has an empty step, which strtok would skip */
	for (save = buf; (tok = strsep(&save, ","));) {
		json_t *step;
		double pct;

		if (cli_parse_percent(tok, &pct, why) < 0)
			goto free_arr;
		if (pct <= last) {
			snprintf(why, sizeof(why), "%s: %s", tok,
				 json_array_size(arr) ? "each step above the one before" :
							"a step's weight is more than 0");
			goto free_arr;
		}
		if (json_array_size(arr) == CLI_MAX_STEPS) {
			snprintf(why, sizeof(why), "more than %d steps", CLI_MAX_STEPS);
			goto free_arr;
		}
		last = pct;
		step = json_pack("{s:f}", "weight", pct);
		json_array_append_new(arr, step);
	}
	if (json_array_size(arr) == 0) {
		snprintf(why, sizeof(why), "no step");
		goto free_arr;
	}
	/* the last step has no hold: at 100% the rollout is done */
	for (size_t i = 0; hold >= 0 && i + 1 < json_array_size(arr); i++)
		json_object_set_new(json_array_get(arr, i), "hold", json_integer(hold));
	*steps = arr;
	return 0;

free_arr:
	json_decref(arr);
	return fail(err, -EINVAL, "--steps '%s': %s", s, why);
}

static json_t *kv_value(const char *v)
{
	char *end;
	double d;

	if (!strcmp(v, "true"))
		return json_true();
	if (!strcmp(v, "false"))
		return json_false();
	if (!strcmp(v, "null"))
		return json_null();
	errno = 0;
	d = strtod(v, &end);
	if (*v && !*end && !errno && isfinite(d) && !isspace((unsigned char)*v)) {
		if (!strpbrk(v, ".eE") && d >= -1e15 && d <= 1e15)
			return json_integer((json_int_t)d);
		return json_real(d);
	}
	return json_string(v);
}

int cli_parse_kv(const char *s, json_t **out, char err[CLI_ERR_LEN])
{
	char buf[1024], *save = NULL, *tok;
	json_t *obj;

	if (!strcmp(s, "none") || !strcmp(s, "false")) {
		*out = json_false();
		return 0;
	}
	if (!strcmp(s, "true")) {
		*out = json_true();
		return 0;
	}
	if (s[0] == '{') {
		obj = json_loads(s, 0, NULL);
		if (json_is_object(obj)) {
			*out = obj;
			return 0;
		}
		json_decref(obj);
		return fail(err, -EINVAL, "--analysis '%s': %s", s, "not a JSON object");
	}
	if (strlen(s) >= sizeof(buf))
		return fail(err, -EINVAL, "--analysis '%s': %s", s, "over 1 KiB");
	strcpy(buf, s);
	obj = json_object();
	for (save = buf; (tok = strsep(&save, ","));) {
		char *eq = strchr(tok, '=');
		json_t *v;

		if (!eq || eq == tok ||
		    strspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
			    (size_t)(eq - tok))
			goto free_obj;
		*eq = '\0';
		v = kv_value(eq + 1);
		if (!v)
			goto free_obj;
		json_object_set_new(obj, tok, v);
	}
	if (json_object_size(obj) == 0)
		goto free_obj;
	*out = obj;
	return 0;

free_obj:
	json_decref(obj);
	return fail(err, -EINVAL, "--analysis '%s': %s", s,
		    "not a file, none, nor key=value,... (interval=5,failureLimit=3)");
}

int cli_parse_analysis(const char *s, json_t **out, char err[CLI_ERR_LEN])
{
	json_error_t jerr;
	char *text;
	size_t len;
	json_t *v;
	int ret;

	ret = file_read(s, 0, ANALYSIS_MAX, &text, &len);
	if (ret == -ENOENT || ret == -ENOTDIR || ret == -ENAMETOOLONG)
		return cli_parse_kv(s, out, err);
	if (ret < 0)
		return fail(err, ret, "--analysis '%s': %s", s, file_strerror(ret));
	v = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!v || !(json_is_object(v) || json_is_boolean(v))) {
		char why[CLI_ERR_LEN];

		snprintf(why, sizeof(why), "not a JSON object: %s (line %d)",
			 v ? "another JSON value" : jerr.text, jerr.line);
		json_decref(v);
		return fail(err, -EINVAL, "--analysis file '%s': %s", s, why);
	}
	*out = v;
	return 0;
}

int cli_parse_server(const char *s, char err[CLI_ERR_LEN])
{
	const char *colon = strrchr(s, ':'), *host = s;
	char addr[INET6_ADDRSTRLEN + 2], *end;
	unsigned char bin[16];
	size_t hlen;
	long port;

	if (!colon || colon == s)
		return fail(err, -EINVAL, "server '%s': %s", s, "not ADDRESS:PORT");
	hlen = colon - s;
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			return fail(err, -EINVAL, "server '%s': %s", s,
				    "an IPv6 address is [ADDRESS]:PORT");
		host = s + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(addr))
		return fail(err, -EINVAL, "server '%s': %s", s, "not an IP address");
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, addr, bin) != 1)
		return fail(err, -EINVAL, "server '%s': %s", s,
			    "not an IP address (a.b.c.d:PORT or [v6]:PORT)");
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port < 1 || port > 65535)
		return fail(err, -EINVAL, "server '%s': %s", s, "the port is 1 to 65535");
	return 0;
}

/* The API names a body's fields; vsteerctl's user typed flags. In the
 * order looked up: the longer path first. bare: also found as a word
 * without "body." (bad_rollout's sentences name sessionTimeout, steps). */
static const struct {
	const char *field, *flag;
	bool bare;
} FIELD_FLAGS[] = {
	{ "upgradeTransition.sessionTimeout", "--session-timeout", false },
	{ "upgradeTransition.mode", "--mode", false },
	{ "sessionTimeout", "--session-timeout", true },
	{ "analysis", "--analysis", false },
	{ "steps", "--steps", true },
	{ "to", "--to", false },
	{ "strategy", "--strategy", false },
	{ "health", "--health", false },
	{ "servers", "SERVER", false },
};

/* Whether s starts with the field name and the name ends there. */
static bool names(const char *s, const char *field)
{
	size_t n = strlen(field);

	return !strncmp(s, field, n) && !isalnum((unsigned char)s[n]);
}

int cli_api_hint(const char *msg, char *out, size_t size)
{
	const char *body = strstr(msg, "body."), *since = strstr(msg, "since=");

	if (since && isdigit((unsigned char)since[6])) {
		snprintf(out, size, "(--since %.*s)", (int)strspn(since + 6, "0123456789"),
			 since + 6);
		return 0;
	}
	for (size_t i = 0; i < sizeof(FIELD_FLAGS) / sizeof(FIELD_FLAGS[0]); i++) {
		const char *f = FIELD_FLAGS[i].field, *at = NULL;

		if (body && names(body + 5, f)) {
			at = body + 5;
		} else if (!body && FIELD_FLAGS[i].bare) {
			for (const char *p = msg; (p = strstr(p, f)); p++)
				if ((p == msg || !isalnum((unsigned char)p[-1])) && names(p, f)) {
					at = p;
					break;
				}
		}
		if (!at)
			continue;
		/* an analysis key is typed as key=value */
		if (!strcmp(f, "analysis") && at[8] == '.' && isalpha((unsigned char)at[9]))
			snprintf(out, size, "(--analysis %.*s=...)",
				 (int)strspn(at + 9,
					     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789"),
				 at + 9);
		else
			snprintf(out, size, "(%s)", FIELD_FLAGS[i].flag);
		return 0;
	}
	return -ENOENT;
}
