// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The config file.
 */
#include <errno.h>
#include <stdio.h>

#include "codec/config.h"
#include "core/model.h"

#include "harness.h"
#include "helpers.h"

static void test_config_thesis_single(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int svc, slot;

	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			    " 'configService': {'address': '127.0.0.1', 'port': 9901},"
			    " 'cluster': {'version': '1.0',"
			    "             'servers': ['127.0.0.1:9001', '127.0.0.1:9002']}}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9901");
	CHECK_INT(model_nservices(m), ==, 1);
	svc = model_find_service(m, VS_DEFAULT_SERVICE);
	CHECK_INT(svc, ==, 0);
	CHECK_STR(ep_str(&m->svc[svc].addr), "127.0.0.1:8080");
	CHECK_INT(nclusters(m), ==, 1);
	slot = model_find_version(m, svc, "1.0");
	CHECK_INT(slot, ==, 0);
	CHECK_INT(m->cl[slot].weight, ==, VS_BUCKETS);
	CHECK_INT(m->cl[slot].mode, ==, CL_INSTANT);
	CHECK_INT(strlen(m->cl[slot].id), ==, 36);
	CHECK_INT(m->cl[slot].nsrv, ==, 2);
	CHECK_STR(ep_str(&m->cl[slot].srv[0]), "127.0.0.1:9001");
	CHECK_STR(ep_str(&m->cl[slot].srv[1]), "127.0.0.1:9002");
}

static void test_config_cluster_list(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int slot;

	/* servers as {address, port}; the first cluster has no version */
	CHECK_INT(cfg_parse("{'proxy': {'address': '::1', 'port': 8080},"
			    " 'cluster': ["
			    "  {'servers': [{'address': '::1', 'port': 9001}]},"
			    "  {'version': '2.0', 'servers': [{'address': '::1', 'port': 9002},"
			    "                                 '[::1]:9003'],"
			    "   'upgradeTransition': {'mode': 'Instant'}}]}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_STR(ep_str(&m->svc[0].addr), "[::1]:8080");
	CHECK_INT(nclusters(m), ==, 2);
	CHECK_STR(weights_str(m, 0), "2.0=10000 0.0=0");
	slot = model_find_version(m, 0, "0.0");
	CHECK_INT(slot, ==, 0);
	CHECK_STR(m->cl[slot].version, "0.0");
	CHECK_INT(m->cl[slot].nsrv, ==, 1);
	CHECK_STR(ep_str(&m->cl[slot].srv[0]), "[::1]:9001");
	slot = model_find_version(m, 0, "2.0");
	CHECK_INT(slot, ==, 1);
	CHECK_INT(m->cl[slot].nsrv, ==, 2);
	CHECK_STR(ep_str(&m->cl[slot].srv[0]), "[::1]:9002");
	CHECK_STR(ep_str(&m->cl[slot].srv[1]), "[::1]:9003");
	CHECK(strcmp(m->cl[0].id, m->cl[1].id), "same id twice");
}

static void test_config_modes(void)
{
	/* clang-format off */
	static const struct {
		const char *mode;
		int ret;
		const char *code;
		enum cl_mode want;
		const char *weights;
	} t[] = {
		{ "Instant", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "instant", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "INSTANT", 0, "", CL_INSTANT, "2.0=10000 1.0=0" },
		{ "manual", 0, "", CL_MANUAL, "2.0=0 1.0=10000" },
		{ "Manual", 0, "", CL_MANUAL, "2.0=0 1.0=10000" },
		/* session needs its sessionTimeout */
		{ "Session", -EINVAL, "bad_field", CL_INSTANT, NULL },
		{ "session", -EINVAL, "bad_field", CL_INSTANT, NULL },
		{ "gradual", -EINVAL, "bad_mode", CL_INSTANT, NULL },
		{ "", -EINVAL, "bad_mode", CL_INSTANT, NULL },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	char text[512];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("mode '%s'", t[i].mode);
		snprintf(text, sizeof(text),
			 "{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			 " 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
			 "  {'version': '2.0', 'servers': ['127.0.0.1:9002'],"
			 "   'upgradeTransition': {'mode': '%s'}}]}",
			 t[i].mode);
		int ret = cfg_parse(text, &cfg, m, &err);

		if (t[i].ret) {
			CHECK_ERR(ret, &err, t[i].ret, 400, t[i].code);
			CHECK_HAS(err.msg, "cluster[1].upgradeTransition");
			continue;
		}
		CHECK_INT(ret, ==, 0);
		CHECK_INT(m->cl[model_find_version(m, 0, "2.0")].mode, ==, t[i].want);
		CHECK_STR(weights_str(m, 0), t[i].weights);
	}
	row("%s", "sessionTimeout without session");
	CHECK_ERR(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080},"
			    " 'cluster': {'servers': ['127.0.0.1:9001'],"
			    "  'upgradeTransition': {'mode': 'instant', 'sessionTimeout': 5}}}",
			    &cfg, m, &err),
		  &err, -EINVAL, 400, "bad_field");
}

static void test_config_errors(void)
{
#define PROXY "'proxy': {'address': '127.0.0.1', 'port': 8080}"
	/* clang-format off */
	static const struct {
		const char *json;
		int status;
		const char *code, *has1, *has2;
	} t[] = {
		{ "{" PROXY ", 'proxyy': 1}", 400, "unknown_field", "'proxyy'", "top level" },
		{ "{" PROXY ", 'cluster': [{'servers': ['127.0.0.1:9001']},"
		  " {'servers': ['127.0.0.1:9002'], 'version': '2', 'weight': 5}]}",
		  400, "unknown_field", "cluster[1]", "'weight'" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 0}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 70000}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': '80'}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 80.5}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': '127.0.0.1'}}", 400, "bad_port", "proxy.port", "" },
		{ "{'proxy': {'address': 'localhost', 'port': 80}}", 400, "bad_address", "proxy.address", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 80, 'tls': true}}", 400,
		  "unknown_field", "proxy", "'tls'" },
		{ "{'proxy': '127.0.0.1:0'}", 400, "bad_address", "proxy", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 80, 'takeover': 1}}", 400,
		  "bad_field", "proxy.takeover", "true or false" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80,"
		  " 'takeover': 'yes'}]}", 400, "bad_field", "services[0].takeover", "true or false" },
		{ "{'configService': {'address': '127.0.0.1', 'port': 65536}}", 400, "bad_port",
		  "configService.port", "" },
		{ "{'configService': {'allowedHosts': 'a:1'}}", 400, "bad_field",
		  "configService.allowedHosts", "list" },
		{ "{'configService': {'allowedHosts': ['a:1', 'b c']}}", 400, "bad_field",
		  "configService.allowedHosts[1]", "'b c' is not HOST or HOST:PORT" },
		{ "{'configService': {'allowedHosts': [5]}}", 400, "bad_field",
		  "configService.allowedHosts[0]", "not a string" },
		{ "{'configService': {'allowedHosts': ['a:70000']}}", 400, "bad_field",
		  "configService.allowedHosts[0]", "'a:70000'" },
		{ "{'configService': {'allowedHosts': ['a','a','a','a','a','a','a','a','a','a','a','a',"
		  "'a','a','a','a','a']}}", 400, "bad_field", "configService.allowedHosts", "at most 16" },
		{ "{'configService': {'allowedOrigins': ['dash.example']}}", 400, "bad_field",
		  "configService.allowedOrigins[0]", "http://HOST[:PORT] or https://HOST[:PORT]" },
		{ "{'configService': {'allowedOrigins': ['https://dash.example/']}}", 400, "bad_field",
		  "configService.allowedOrigins[0]", "" },
		{ "{'configService': {'allowedOrigin': []}}", 400, "unknown_field", "configService",
		  "'allowedOrigin'" },
		{ "{" PROXY ", 'cluster': {'servers': [{'address': '127.0.0.1', 'port': 0}]}}",
		  400, "bad_port", "cluster[0].servers[0].port", "" },
		{ "{" PROXY ", 'cluster': {'servers': ['127.0.0.1:9001', '127.0.0.1:70000']}}",
		  400, "bad_address", "cluster[0].servers[1]", "" },
		{ "{" PROXY ", 'cluster': {'servers': []}}", 400, "bad_servers", "cluster[0].servers", "" },
		{ "{" PROXY ", 'cluster': {'version': '1.2a', 'servers': ['127.0.0.1:9001']}}",
		  400, "bad_version", "cluster[0].version", "1.2a" },
		{ "{" PROXY ", 'cluster': {'version': 2, 'servers': ['127.0.0.1:9001']}}",
		  400, "bad_version", "cluster[0].version", "" },
		{ "{" PROXY ", 'cluster': 5}", 400, "bad_field", "cluster", "" },
		{ "{" PROXY ", 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
		  " {'version': '1', 'servers': ['127.0.0.1:9002']}]}",
		  409, "duplicate_version", "cluster[1]", "" },
		{ "{" PROXY ", 'cluster': [{'version': '1.0', 'servers': ['127.0.0.1:9001']},"
		  " {'version': '2', 'servers': ['127.0.0.1:9001']}]}",
		  409, "duplicate_server", "cluster[1]", "" },
		{ "{'cluster': {'servers': ['127.0.0.1:9001']}}", 400, "bad_field", "proxy", "" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80},"
		  " {'name': 'b', 'address': '127.0.0.1', 'port': 81, 'cluster': []}]}",
		  400, "unknown_field", "services[1]", "'cluster'" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1'}]}", 400, "bad_field",
		  "services[0]", "address and port" },
		{ "{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80,"
		  " 'clusters': [{'servers': ['127.0.0.1:80']}]}]}",
		  400, "bad_server", "services[0].clusters[0]", "" },
		{ "{'services': {'name': 'a'}}", 400, "bad_field", "services", "" },
		{ "{'proxy': ", 400, "bad_json", "line", "" },
		{ "{'proxy': {'address': '127.0.0.1', 'port': 8080},}", 400, "bad_json", "", "" },
		{ "{'proxy': {}, 'proxy': {}}", 400, "bad_json", "", "" },
		{ "", 400, "bad_json", "", "" },
		{ "[]", 400, "bad_field", "top level", "" },
	};
	/* clang-format on */
#undef PROXY
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		row("%s", t[i].json);
		int ret = cfg_parse(t[i].json, &cfg, m, &err);

		CHECK(ret < 0, "accepted");
		CHECK_INT(err.status, ==, t[i].status);
		CHECK_STR(err.code, t[i].code);
		CHECK_HAS(err.msg, "t.json");
		CHECK_HAS(err.msg, t[i].has1);
		CHECK_HAS(err.msg, t[i].has2);
	}
}

static void test_config_services_form(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;
	int web, v6;

	CHECK_INT(cfg_parse("{'configService': '127.0.0.1:9911',"
			    " 'services': ["
			    "  {'name': 'web', 'address': '0.0.0.0', 'port': 80, 'clusters': ["
			    "    {'version': '1.0', 'servers': ['127.0.0.1:9001']},"
			    "    {'version': '1.1', 'servers': ['127.0.0.1:9002'],"
			    "     'upgradeTransition': {'mode': 'manual'}}]},"
			    "  {'name': 'v6', 'address': '::', 'port': 81,"
			    "   'clusters': {'version': '3', 'servers': ['[::1]:9101']}},"
			    "  {'name': 'idle', 'address': '127.0.0.2', 'port': 82}]}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9911");
	CHECK_INT(model_nservices(m), ==, 3);
	web = model_find_service(m, "web");
	v6 = model_find_service(m, "v6");
	CHECK_INT(web, ==, 0);
	CHECK_INT(v6, ==, 1);
	CHECK_INT(model_find_service(m, "idle"), ==, 2);
	CHECK_INT(model_find_service(m, VS_DEFAULT_SERVICE), ==, -ENOENT);
	CHECK_STR(ep_str(&m->svc[web].addr), "0.0.0.0:80");
	CHECK_STR(ep_str(&m->svc[v6].addr), "[::]:81");
	CHECK_STR(weights_str(m, web), "1.1=0 1.0=10000");
	CHECK_STR(weights_str(m, v6), "3=10000");
	CHECK_STR(weights_str(m, 2), "");
	CHECK_INT(m->cl[model_find_version(m, v6, "3")].svc, ==, v6);

	/* the thesis form and the services form together */
	row("%s", "proxy and services");
	CHECK_INT(cfg_parse("{'proxy': '127.0.0.1:8080', 'cluster': {'servers': ['127.0.0.1:9001']},"
			    " 'services': [{'name': 'web', 'address': '127.0.0.1', 'port': 80}]}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_INT(model_find_service(m, VS_DEFAULT_SERVICE), ==, 0);
	CHECK_INT(model_find_service(m, "web"), ==, 1);
	row("%s", "services named twice");
	CHECK_ERR(cfg_parse("{'services': [{'name': 'a', 'address': '127.0.0.1', 'port': 80},"
			    " {'name': 'a', 'address': '127.0.0.1', 'port': 81}]}",
			    &cfg, m, &err),
		  &err, -EEXIST, 409, "duplicate_service");
}

/* "takeover" in both forms: in the config's record of its services, not
 * in the model (it only matters the first time an address is steered). */
static void test_config_takeover(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;

	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080, 'takeover': true},"
			    " 'services': ["
			    "  {'name': 'web', 'address': '0.0.0.0', 'port': 80, 'takeover': false},"
			    "  {'name': 'v6', 'address': '::', 'port': 81, 'takeover': true},"
			    "  {'name': 'idle', 'address': '127.0.0.2', 'port': 82}]}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_INT(cfg.nsvc, ==, 4);
	CHECK_STR(cfg.svc[0].name, VS_DEFAULT_SERVICE);
	CHECK_STR(cfg.svc[0].where, "proxy");
	CHECK_STR(ep_str(&cfg.svc[0].addr), "127.0.0.1:8080");
	CHECK_INT(cfg.svc[0].takeover, ==, true);
	CHECK_STR(cfg.svc[1].name, "web");
	CHECK_STR(cfg.svc[1].where, "services[0]");
	CHECK_INT(cfg.svc[1].takeover, ==, false);
	CHECK_STR(cfg.svc[2].where, "services[1]");
	CHECK_STR(ep_str(&cfg.svc[2].addr), "[::]:81");
	CHECK_INT(cfg.svc[2].takeover, ==, true);
	CHECK_INT(cfg.svc[3].takeover, ==, false);
	row("%s", "the thesis's string form");
	CHECK_INT(cfg_parse("{'proxy': '127.0.0.1:8080'}", &cfg, new_model(), &err), ==, 0);
	CHECK_INT(cfg.nsvc, ==, 1);
	CHECK_INT(cfg.svc[0].takeover, ==, false);
}

static void test_config_api_default(void)
{
	struct model *m = new_model();
	struct config cfg;
	struct vs_err err;

	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080}}", &cfg, m, &err), ==,
		  0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9900");
	CHECK_INT(cfg.api.port, ==, VS_DEFAULT_API_PORT);
	CHECK_INT(model_nservices(m), ==, 1);
	CHECK_INT(nclusters(m), ==, 0);
	row("%s", "empty object");
	CHECK_INT(cfg_parse("{}", &cfg, m, &err), ==, 0);
	CHECK_STR(ep_str(&cfg.api), "127.0.0.1:9900");
	CHECK_INT(model_nservices(m), ==, 0);
	row("%s", "IPv6 configService");
	CHECK_INT(cfg_parse("{'configService': {'address': '::1', 'port': 9000}}", &cfg, m, &err),
		  ==, 0);
	CHECK_STR(ep_str(&cfg.api), "[::1]:9000");
	CHECK_INT(cfg.nallowed_hosts, ==, 0);
	CHECK_INT(cfg.nallowed_origins, ==, 0);
	row("%s", "allowedHosts, allowedOrigins");
	CHECK_INT(cfg_parse("{'configService': {'allowedHosts': ['Vsteer.Example:9900', '[::1]'],"
			    " 'allowedOrigins': ['https://dash.example', 'http://10.0.0.1:8080']}}",
			    &cfg, m, &err),
		  ==, 0);
	CHECK_INT(cfg.nallowed_hosts, ==, 2);
	CHECK_STR(cfg.allowed_hosts[0].host, "vsteer.example");
	CHECK_INT(cfg.allowed_hosts[0].port, ==, 9900);
	CHECK_STR(cfg.allowed_hosts[1].host, "::1");
	CHECK_INT(cfg.allowed_hosts[1].port, ==, 0);
	CHECK_INT(cfg.nallowed_origins, ==, 2);
	CHECK_STR(cfg.allowed_origins[0].host, "dash.example");
	CHECK_INT(cfg.allowed_origins[0].port, ==, 443);
	CHECK(cfg.allowed_origins[0].https, "https");
	CHECK_INT(cfg.allowed_origins[1].port, ==, 8080);
	CHECK(!cfg.allowed_origins[1].https, "http");
}

static bool same_settings(const struct analysis *a, const struct analysis *b)
{
	for (size_t i = 0; i < JUDGE_NFIELDS; i++)
		if (judge_get(a, &judge_fields[i]) != judge_get(b, &judge_fields[i]))
			return false;
	return a->on == b->on && a->on_inconclusive == b->on_inconclusive;
}

/* A service's "analysis": what its rollouts are judged by; a bad one
 * stops the start naming the field; the config's wins over the state
 * file's for the services it names. */
static void test_config_analysis(void)
{
	/* clang-format off */
	static const struct {
		const char *analysis;
		const char *code, *has;
	} bad[] = {
		{ "{'interval': 0}", "bad_field", "proxy.analysis.interval: must be a whole number from 1 to 3600" },
		{ "{'maxErrorRate': 5}", "bad_field", "proxy.analysis.maxErrorRate" },
		{ "{'onInconclusive': 'wait'}", "bad_field", "proxy.analysis.onInconclusive" },
		{ "{'intervall': 1}", "unknown_field", "proxy.analysis: unknown field 'intervall'" },
		{ "'yes'", "bad_field", "proxy.analysis: must be false" },
		{ "null", "bad_field", "proxy.analysis" },
	};
	/* clang-format on */
	struct model *m = new_model();
	struct analysis def;
	struct config cfg;
	struct vs_err err;
	char text[512];

	judge_defaults(&def);
	CHECK_INT(cfg_parse("{'proxy': {'address': '127.0.0.1', 'port': 8080,"
			    "  'analysis': {'interval': 1, 'maxErrorRate': 0.05,"
			    "   'onInconclusive': 'advance'}},"
			    " 'services': ["
			    "  {'name': 'off', 'address': '127.0.0.1', 'port': 81, 'analysis': false},"
			    "  {'name': 'plain', 'address': '127.0.0.1', 'port': 82}]}",
			    &cfg, m, &err),
		  ==, 0);
	row("%s", "proxy: its fields over the built-in ones");
	CHECK(m->svc[0].an.on, "off");
	CHECK_INT(m->svc[0].an.interval, ==, 1);
	CHECK(m->svc[0].an.max_error_rate == 0.05, "%g", m->svc[0].an.max_error_rate);
	CHECK_INT(m->svc[0].an.on_inconclusive, ==, JUDGE_ADVANCE);
	CHECK_INT(m->svc[0].an.min_requests, ==, def.min_requests);
	CHECK_INT(m->svc[0].an.failure_limit, ==, def.failure_limit);
	row("%s", "false");
	CHECK(!m->svc[1].an.on, "on");
	row("%s", "none: the built-in ones");
	CHECK(same_settings(&m->svc[2].an, &def), "not the defaults");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		row("%s", bad[i].analysis);
		snprintf(text, sizeof(text),
			 "{'proxy': {'address': '127.0.0.1', 'port': 8080, 'analysis': %s}}",
			 bad[i].analysis);
		CHECK_ERR(cfg_parse(text, &cfg, new_model(), &err), &err, -EINVAL, 400,
			  bad[i].code);
		CHECK_HAS(err.msg, bad[i].has);
	}
}

const struct unit_case config_cases[] = { TEST(test_config_thesis_single),
					  TEST(test_config_cluster_list),
					  TEST(test_config_modes),
					  TEST(test_config_errors),
					  TEST(test_config_services_form),
					  TEST(test_config_takeover),
					  TEST(test_config_api_default),
					  TEST(test_config_analysis),
					  { NULL, NULL } };
