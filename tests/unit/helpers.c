// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fixtures shared by the unit test files: JSON with single quotes, models
 * built from strings, a reproducible PRNG, the rollout tests' service "web".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"
#include "lib/file.h"
#include "lib/str.h"

void state_dir_remove(const char *dir, const char *state)
{
	file_remove_stale(state);
	unlink(state);
	rmdir(state);
	rmdir(dir);
}

int state_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "state.json.tmp", strlen("state.json.tmp"));
	if (d)
		closedir(d);
	return d ? n : -1;
}

/* JSON with single quotes, so the tables stay readable. */
char *jq(const char *s)
{
	char *t = tcalloc(strlen(s) + 1);

	for (size_t i = 0; s[i]; i++)
		t[i] = s[i] == '\'' ? '"' : s[i];
	return t;
}

struct model *new_model(void)
{
	return tcalloc(sizeof(struct model));
}

/* All zero (family 0) if s does not parse: later checks then fail. */
struct vs_endpoint ep_of(const char *s)
{
	struct vs_endpoint e;

	memset(&e, 0, sizeof(e));
	if (ep_parse(s, &e))
		memset(&e, 0, sizeof(e));
	return e;
}

int add_svc(struct model *m, const char *name, const char *addr, uint32_t salt, struct vs_err *err)
{
	struct vs_endpoint e = ep_of(addr);

	return model_add_service(m, name, &e, salt, err);
}

/* servers: comma separated "ADDR:PORT"s, may be empty. id may be NULL. */
int add_cl(struct model *m, uint32_t svc, const char *ver, enum cl_mode mode, const char *servers,
	   const char *id, struct vs_err *err)
{
	struct cluster spec;
	char buf[512], *tok, *save = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.svc = svc;
	spec.mode = mode;
	if (str_copy(spec.version, sizeof(spec.version), ver) ||
	    str_copy(spec.id, sizeof(spec.id), id ? id : "") || str_copy(buf, sizeof(buf), servers))
		return BAD_TEST_INPUT;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (spec.nsrv == VS_MAX_SERVERS || ep_parse(tok, &spec.srv[spec.nsrv]))
			return BAD_TEST_INPUT;
		spec.nsrv++;
	}
	return model_add_cluster(m, &spec, NULL, err);
}

uint32_t nclusters(const struct model *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++)
		n += m->cl[i].used;
	return n;
}

/* "3.0=0 2.0=10000 1.0=0": versions of svc newest first, with weights. */
const char *weights_str(const struct model *m, uint32_t svc)
{
	static char buf[512];
	uint32_t order[VS_MAX_VERSIONS], n = model_order(m, svc, order);
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n && off < sizeof(buf); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s=%u", i ? " " : "",
				m->cl[order[i]].version, m->cl[order[i]].weight);
	return buf;
}

const char *ep_str(const struct vs_endpoint *e)
{
	static char buf[EP_STRLEN];

	ep_format(e, buf, sizeof(buf));
	return buf;
}

/* Deterministic PRNG (xorshift32) so property tests are reproducible. */
static uint32_t rng_state = 0x2545f491;

void rng_seed(uint32_t seed)
{
	rng_state = seed;
}

uint32_t rng(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

int cfg_parse(const char *sq_json, struct config *cfg, struct model *m, struct vs_err *err)
{
	char *text = jq(sq_json);

	memset(m, 0, sizeof(*m));
	memset(cfg, 0xa5, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	return config_parse(text, strlen(text), "t.json", cfg, m, err);
}

/* Service "web" (id 0): 1.0 (slot 0, id c1, instant and first, so it has
 * every session), 2.0 (c2), 3.0 (c3) and 0.5 (c05), all manual at 0.
 * Service "api" (id 1): 7.0 (slot 4, id api7). */
void setup_web(struct model *m)
{
	/* clang-format off */
	static const struct {
		uint32_t svc;
		const char *ver;
		enum cl_mode mode;
		const char *server, *id;
	} cl[] = {
		{ 0, "1.0", CL_INSTANT, "127.0.0.1:9001", "c1" },
		{ 0, "2.0", CL_MANUAL, "127.0.0.1:9002", "c2" },
		{ 0, "3.0", CL_MANUAL, "127.0.0.1:9003", "c3" },
		{ 0, "0.5", CL_MANUAL, "127.0.0.1:9005", "c05" },
		{ 1, "7.0", CL_INSTANT, "127.0.0.1:9101", "api7" },
	};
	/* clang-format on */
	struct vs_err err = { 0 };

	memset(m, 0, sizeof(*m));
	CHECK_INT(add_svc(m, "web", "127.0.0.1:8080", 1, &err), ==, 0);
	CHECK_INT(add_svc(m, "api", "127.0.0.1:8081", 2, &err), ==, 1);
	for (size_t i = 0; i < ARRAY_SIZE(cl); i++)
		CHECK_INT(add_cl(m, cl[i].svc, cl[i].ver, cl[i].mode, cl[i].server, cl[i].id, &err),
			  ==, (int)i);
	CHECK_STR(weights_str(m, 0), "3.0=0 2.0=0 1.0=10000 0.5=0");
	CHECK_STR(weights_str(m, 1), "7.0=10000");
}

struct ro_request ro_req(const char *to, enum ro_strategy strategy, uint32_t timeout,
			 const struct ro_step *steps, uint32_t nsteps)
{
	struct ro_request r;

	memset(&r, 0, sizeof(r));
	if (str_copy(r.to, sizeof(r.to), to))
		r.to[0] = '\0';
	r.strategy = strategy;
	r.session_timeout = timeout;
	r.nsteps = nsteps;
	if (nsteps)
		memcpy(r.steps, steps, nsteps * sizeof(*steps));
	/* Not judged, unless the test says: the service's settings would
	 * judge it. */
	r.an.set = true;
	return r;
}

/* Start a rollout of service 0 that the test needs to succeed. */
int start(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
	  const struct ro_step *steps, uint32_t nsteps, int64_t now)
{
	struct ro_request r = ro_req(to, strategy, timeout, steps, nsteps);
	struct vs_err err = { 0 };

	return rollout_start(m, 0, &r, now, &err);
}

/* During a rollout: the target has w, the version rolled out from the
 * rest, every other version of the service 0, and they sum to 10000. */
void check_layout(const struct model *m, uint32_t svc, uint32_t to, uint32_t from, uint16_t w)
{
	uint32_t sum = 0, want;

	for (uint32_t i = 0; i < VS_MAX_SLOTS; i++) {
		if (!m->cl[i].used || m->cl[i].svc != svc)
			continue;
		want = i == to ? w : i == from ? VS_BUCKETS - w : 0;
		CHECK(m->cl[i].weight == want, "%s has %u, want %u (%s)", m->cl[i].version,
		      m->cl[i].weight, want, weights_str(m, svc));
		sum += m->cl[i].weight;
	}
	CHECK_INT(sum, ==, VS_BUCKETS);
}

/* The analysis a test rollout runs with: the defaults, but at most 3
 * inconclusive windows, after which steps advance. */
struct analysis test_analysis(void)
{
	struct analysis a;

	judge_defaults(&a);
	a.max_inconclusive = 3;
	a.on_inconclusive = JUDGE_ADVANCE;
	return a;
}

int start_an(struct model *m, const char *to, enum ro_strategy strategy, uint32_t timeout,
	     const struct ro_step *steps, uint32_t nsteps, const struct analysis *an, int64_t now)
{
	struct ro_request r = ro_req(to, strategy, timeout, steps, nsteps);
	struct vs_err err = { 0 };

	r.an = (struct analysis_req){ .set = true, .given = ~0u, .an = *an };
	return rollout_start(m, 0, &r, now, &err);
}
