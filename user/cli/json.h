/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading the API's replies without trusting them: a field missing or of
 * another type is the default given, never a crash. */
#ifndef VS_CLI_JSON_H
#define VS_CLI_JSON_H
#include <jansson.h>
#include <stdbool.h>

/* o[k] as a string, or dflt. */
const char *cli_jstr(const json_t *o, const char *k, const char *dflt);
/* o[k] as a number (integer or real), or dflt. */
double cli_jnum(const json_t *o, const char *k, double dflt);
/* o[k] as a whole number (a fraction cut off), held within
 * +-CLI_JINT_MAX (2^53: every integer a double holds exactly), or dflt. */
#define CLI_JINT_MAX 9007199254740992LL
long long cli_jint(const json_t *o, const char *k, long long dflt);
/* Whether o[k] is a number; *v is it. */
bool cli_jhas_num(const json_t *o, const char *k, double *v);
/* o[k] if it is an array / an object, else NULL. */
json_t *cli_jarr(const json_t *o, const char *k);
json_t *cli_jobj(const json_t *o, const char *k);
/* A number as a person reads it: "25", "12.5", "0.01". */
const char *cli_jfmt_num(double v, char *buf, size_t size);

#endif
