/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vsteerctl's argument parsers: pure, no I/O but --analysis FILE. Each
 * returns 0 or -EINVAL (-ERANGE for a number out of its range) and, on an
 * error, writes to err a sentence that names the argument. */
#ifndef VS_CLI_ARGS_H
#define VS_CLI_ARGS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_ERR_LEN 256
/* More steps than a rollout takes are refused here, with the argument. */
#define CLI_MAX_STEPS 32

/* "90", "90s", "10m", "1h30m", "2d": whole seconds, at most 10 years. */
int cli_parse_duration(const char *s, int64_t *secs, char err[CLI_ERR_LEN]);
/* A percentage 0 to 100, at most two decimals (the maps hold basis points). */
int cli_parse_percent(const char *s, double *pct, char err[CLI_ERR_LEN]);
/* "2.0=25": into obj as "2.0": 25; a version named twice is an error. */
int cli_parse_weight(const char *s, json_t *obj, char err[CLI_ERR_LEN]);
/* "10,50,100" with every step but the last held hold seconds (-1: none,
 * each waits for promote): [{"weight":10,"hold":600}, ..., {"weight":100}].
 * A JSON list ("[{...}, ...]") is taken as it is, without hold. */
int cli_parse_steps(const char *s, int64_t hold, json_t **steps, char err[CLI_ERR_LEN]);
/* "k=v,...": an object, each value a number, true, false, null or a
 * string; "none" or "false": false (not judged); "true": true; a JSON
 * object ("{...}") as it is. */
int cli_parse_kv(const char *s, json_t **out, char err[CLI_ERR_LEN]);
/* --analysis: a file holding a JSON object (or false/true) if s names a
 * regular file, else cli_parse_kv(). */
int cli_parse_analysis(const char *s, json_t **out, char err[CLI_ERR_LEN]);
/* "ADDRESS:PORT" or "[IPV6]:PORT": an IP address, a port 1 to 65535. */
int cli_parse_server(const char *s, char err[CLI_ERR_LEN]);
/* A service or version name as the API takes it in a path: 1 to 63 of
 * A-Z a-z 0-9 . _ - */
int cli_check_name(const char *what, const char *s, char err[CLI_ERR_LEN]);
/* The flag that an API error message's field is typed as: "body.sessionTimeout:
 * ..." gives "(--session-timeout)", "body.analysis.interval: ..."
 * "(--analysis interval=...)", "... follow from since=53" "(--since 53)".
 * 0 and out, or -ENOENT if the message names no field vsteerctl sets. */
int cli_api_hint(const char *msg, char *out, size_t size);

#endif
