/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A controller over the fake data plane (fake_dp.h), for the unit tests
 * of user/ctl/: its service, backends, clock and state file.
 */
#ifndef VSTEER_TESTS_CTL_FIXTURE_H
#define VSTEER_TESTS_CTL_FIXTURE_H

#include <stdint.h>
#include "core/model.h"
#include "lib/err.h"
#include "vsteer.h"

#define C_V1 101 /* cookies of the fake's listening sockets */
#define C_V2 102

/* A controller of service "web" (127.0.0.1:8080, salt 1) with 1.0 on
 * 127.0.0.1:9001 (slot 0), over a fake data plane, its state file in a
 * directory of its own. */
struct fixture {
	char dir[64];
	char state[96];
	char clock[96];
	struct dataplane *dp;
	struct ctl *c;
};

/* The model a config would give: "web" with 1.0, and 2.0 (manual) if
 * two_versions. */
struct model *web_model(bool two_versions);
/* A fixture whose data plane holds nothing yet: the caller adds
 * listeners and pins, then calls open_ctl(). Freed after the case. */
struct fixture *new_fixture(void);
/* Backends of 1.0 (and 2.0) listening, as web_model() names them. */
void listen_web(struct fixture *f, bool two_versions);
/* A start of the controller, both steps. */
int open_ctl(struct fixture *f, const struct model *m, struct vs_err *err);
/* The controller's wall clock from now on (VSTEER_CLOCK_FILE). */
void set_clock(struct fixture *f, long long t);
/* The data plane's value for service 0 of the controller's model. */
int map_value(struct fixture *f, struct vs_svc *v);
/* The state file as read back, into a tracked model. */
struct model *state_on_disk(struct fixture *f, struct vs_err *err);
/* Events of this type in m. */
uint32_t count_events(const struct model *m, const char *type);

#endif
