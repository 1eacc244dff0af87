// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The controller's test fixture (ctl_fixture.h), shared by test_ctl.c and
 * test_drain.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "codec/state.h"
#include "codec/state_parse.h"
#include "ctl/ctl.h"

#include "ctl_fixture.h"
#include "fake_dp.h"
#include "harness.h"
#include "helpers.h"

static void fixture_free(void *arg)
{
	struct fixture *f = arg;

	ctl_close(f->c);
	fake_dp_free(f->dp);
	unlink(f->clock);
	state_dir_remove(f->dir, f->state);
	unsetenv("VSTEER_CLOCK_FILE");
}

/* The model a config would give: "web" with 1.0, and 2.0 (manual) if
 * two_versions. */
struct model *web_model(bool two_versions)
{
	struct model *m = new_model();
	struct vs_err err = {};

	if (add_svc(m, "web", "127.0.0.1:8080", 1, &err) != 0 ||
	    add_cl(m, 0, "1.0", CL_INSTANT, "127.0.0.1:9001", "c1", &err) != 0 ||
	    (two_versions && add_cl(m, 0, "2.0", CL_MANUAL, "127.0.0.1:9002", "c2", &err) != 1))
		return NULL;
	return m;
}

/* A fixture whose data plane holds nothing yet: the caller adds
 * listeners and pins, then calls open_ctl(). */
struct fixture *new_fixture(void)
{
	struct fixture *f = tcalloc(sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsteer-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return NULL;
	snprintf(f->state, sizeof(f->state), "%s/state.json", f->dir);
	snprintf(f->clock, sizeof(f->clock), "%s/clock", f->dir);
	f->dp = fake_dp_new(true);
	defer(fixture_free, f);
	return f->dp ? f : NULL;
}

/* Backends of 1.0 (and 2.0) listening, as web_model() names them. */
void listen_web(struct fixture *f, bool two_versions)
{
	fake_dp_listen(f->dp, "127.0.0.1:9001", C_V1);
	if (two_versions)
		fake_dp_listen(f->dp, "127.0.0.1:9002", C_V2);
}

int open_ctl(struct fixture *f, const struct model *m, struct vs_err *err)
{
	return ctl_open(&f->c, f->dp, m, f->state, err) ?: ctl_start(f->c, err);
}

void set_clock(struct fixture *f, long long t)
{
	FILE *fp = fopen(f->clock, "w");

	if (fp) {
		fprintf(fp, "%lld\n", t);
		fclose(fp);
	}
	setenv("VSTEER_CLOCK_FILE", f->clock, 1);
}

/* The data plane's value for service 0 of the controller's model. */
int map_value(struct fixture *f, struct vs_svc *v)
{
	struct vs_svc_key k;

	model_svc_key(f->c->m, 0, &k);
	return fake_dp_svc(f->dp, &k, v);
}

/* The state file as read back, into a tracked model. */
struct model *state_on_disk(struct fixture *f, struct vs_err *err)
{
	struct model *m = new_model();

	return state_load(f->state, m, err) ? NULL : m;
}

uint32_t count_events(const struct model *m, const char *type)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < m->events.n; k++)
		n += !strcmp(model_event_nth(m, k)->kind, type);
	return n;
}
