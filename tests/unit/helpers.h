/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fixtures shared by the unit test files. What allocates does so through
 * tcalloc(): freed after the running case.
 */
#ifndef VSTEER_TESTS_HELPERS_H
#define VSTEER_TESTS_HELPERS_H

#include <stdint.h>

#include "core/addr.h"
#include "codec/config.h"
#include "core/judge.h"
#include "core/model.h"
#include "core/rollout.h"

/* A case's temp directory for a state file, with what a start left in it:
 * the state file (or a directory at its name), its temp files. */
void state_dir_remove(const char *dir, const char *state);
/* How many temp files of state.json are in dir; -1 if it cannot be read. */
int state_tmp_files(const char *dir);

/* What add_cl() returns when the test's own input is bad. */
#define BAD_TEST_INPUT (-10000)

/* JSON with single quotes, so the tables stay readable. */
char *jq(const char *s);
struct model *new_model(void);
/* All zero (family 0) if s does not parse: later checks then fail. */
struct vs_endpoint ep_of(const char *s);
int add_svc(struct model *m, const char *name, const char *addr, uint32_t salt, struct vs_err *err);
/* servers: comma separated "ADDR:PORT"s, may be empty. id may be NULL. */
int add_cl(struct model *m, uint32_t svc, const char *ver, enum cl_mode mode, const char *servers,
	   const char *id, struct vs_err *err);
uint32_t nclusters(const struct model *m);
/* "3.0=0 2.0=10000 1.0=0": versions of svc newest first, with weights.
 * Static buffer, as is ep_str()'s. */
const char *weights_str(const struct model *m, uint32_t svc);
const char *ep_str(const struct vs_endpoint *e);

/* Deterministic PRNG (xorshift32) so property tests are reproducible. */
uint32_t rng(void);
void rng_seed(uint32_t seed);

/* config_parse() of JSON with single quotes, into a zeroed model. */
int cfg_parse(const char *sq_json, struct config *cfg, struct model *m, struct vs_err *err);

/* ---- rollouts ---- */

/* The engine never reads the clock: every call gets `now`, counted from
 * here. */
#define T0 1700000000LL

/* Slots setup_web() gives its clusters. */
enum { S10 = 0, S20 = 1, S30 = 2, S05 = 3, SAPI = 4 };

/* Service "web" (id 0): 1.0 (slot 0, id c1, instant and first, so it has
 * every session), 2.0 (c2), 3.0 (c3) and 0.5 (c05), all manual at 0.
 * Service "api" (id 1): 7.0 (slot 4, id api7). */
void setup_web(struct model *m);
struct ro_request ro_req(const char *to, enum ro_strategy strategy, uint32_t timeout,
			 const struct ro_step *steps, uint32_t nsteps);
/* Start a rollout of service 0 that the test needs to succeed. */
int start(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
	  const struct ro_step *steps, uint32_t nsteps, int64_t now);
/* The same with this analysis, every setting given (an->on false: not
 * judged); start() is not judged. */
int start_an(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
	     const struct ro_step *steps, uint32_t nsteps, const struct analysis *an, int64_t now);
/* During a rollout: the target has w, the version rolled out from the
 * rest, every other version of the service 0, and they sum to 10000. */
void check_layout(const struct model *m, uint32_t svc, uint32_t to, uint32_t from, uint16_t w);
/* The analysis a test rollout runs with: the defaults, but at most 3
 * inconclusive windows, after which steps advance. */
struct analysis test_analysis(void);

#endif
