// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the JSON bodies of every mutating endpoint, parsed and then
 * applied to a model as the controller would (the model, not the
 * kernel: what is fuzzed is the parsing and validation). The first byte
 * picks the endpoint (the low 3 bits; seeds of the 4 first ones keep
 * their meaning). Invariants: a service's weights always sum to
 * 10000, and the state file round-trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/config.h"
#include "codec/request.h"
#include "core/reconcile.h"
#include "core/rollout.h"
#include "codec/state.h"
#include "codec/state_parse.h"

static const char base[] =
	"{\"proxy\": {\"address\": \"127.0.0.1\", \"port\": 8080},"
	" \"cluster\": [{\"version\": \"1.0\", \"servers\": [\"127.0.0.1:9001\"]},"
	"  {\"version\": \"2.0\", \"servers\": [\"127.0.0.1:9002\"],"
	"   \"upgradeTransition\": {\"mode\": \"manual\"}}]}";

static void check_invariants(const struct model *m)
{
	struct model *back = malloc(sizeof(*back));
	uint32_t order[VS_MAX_VERSIONS];
	struct vs_err err;
	char *text;

	for (uint32_t s = 0; s < VS_MAX_SERVICES; s++) {
		uint32_t n = m->svc[s].used ? model_order(m, s, order) : 0, sum = 0;

		for (uint32_t i = 0; i < n; i++)
			sum += m->cl[order[i]].weight;
		if (n && sum != VS_BUCKETS)
			abort();
	}
	text = state_dump(m);
	if (!text || !back)
		abort();
	if (state_parse(text, strlen(text), "fuzz", back, &err)) {
		fprintf(stderr, "the state file does not read back: %s\n%s\n", err.msg, text);
		abort();
	}
	free(text);
	free(back);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct model m;
	struct vs_err err = {};
	struct config cfg;
	json_error_t jerr;
	json_t *body;
	int64_t now = 1800000000;

	if (size < 1)
		return 0;
	memset(&m, 0, sizeof(m));
	if (config_parse(base, sizeof(base) - 1, "base", &cfg, &m, &err))
		abort();
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
	if (!body)
		return 0;
	switch (data[0] % 8) {
	case 0: { /* PUT /v1/clusters */
		char svc[NAME_MAX_LEN];
		struct analysis_req an;
		struct cluster spec;
		int s;

		if (!req_cluster(body, svc, &spec, &an, &err) &&
		    (s = model_find_service(&m, svc)) >= 0) {
			spec.svc = s;
			model_add_cluster(&m, &spec, NULL, &err);
		}
		break;
	}
	case 1: { /* PUT /v1/services/default/weights */
		struct weights_req w;

		if (!req_weights(body, &w, &err))
			model_set_weights(&m, 0, w.names, w.bp, w.n, &err);
		break;
	}
	case 2: /* POST /v1/services/default/rollout, then time passes */
	case 3: {
		struct ro_request req, then;

		if (!req_rollout(body, &req, &then, &err) &&
		    !rollout_start(&m, 0, &req, now, &err)) {
			/* A verdict, so that failing and inconclusive windows
			 * (a rollback, a pause) meet the control actions. */
			rollout_verdict(&m, 0, data[0] % 3, "fuzz", now + 5);
			rollout_control(&m, 0, data[0] % 5, data[0] & 0x80, now + 10, &err);
			rollout_tick(&m, now + (int64_t)data[0] * 3600);
		}
		break;
	}
	case 4: { /* POST /v1/services */
		struct service spec;
		bool takeover;
		int s;

		if (!req_service(body, &spec, &takeover, &err) &&
		    (s = model_add_service(&m, spec.name, &spec.addr, 1, &err)) >= 0)
			m.svc[s].session_timeout = spec.session_timeout;
		break;
	}
	case 5: { /* POST /v1/reload: the body is the config */
		static struct model cm;
		static struct reconcile_result r;

		memset(&cm, 0, sizeof(cm));
		if (!config_parse((const char *)data + 1, size - 1, "fuzz", &cfg, &cm, &err))
			reconcile_merge(&m, &cm, NULL, now, &r, &err);
		break;
	}
	default: /* DELETE /v1/services/default, ?force=true with the top bit */
		model_del_service(&m, 0, data[0] & 0x80, &err);
		break;
	}
	json_decref(body);
	check_invariants(&m);
	return 0;
}
