/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rollout engine, as pure functions over the model: start a rollout,
 * control it, and advance it to a given wall-clock time. ctl.c runs these
 * on a copy of the model inside a transaction, and ctl_tick() calls
 * rollout_tick() every 250 ms. `now` is always passed in, so tests can run
 * a rollout of days in milliseconds.
 */
#ifndef VS_ROLLOUT_H
#define VS_ROLLOUT_H

#include "model.h"

enum ro_op { RO_OP_PROMOTE, RO_OP_PAUSE, RO_OP_RESUME, RO_OP_ABORT, RO_OP_ROLLBACK };

struct ro_request {
	char to[ID_LEN];		/* version or cluster id */
	enum ro_strategy strategy;
	uint32_t session_timeout;	/* seconds, 0: none */
	bool session_timeout_set;	/* given (0 too): else, when 0, the service
					 * keeps the timeout it has */
	uint32_t nsteps;
	struct ro_step steps[RO_MAX_STEPS];
	struct analysis an;		/* an.on: judge the target automatically */
};

#define RO_MAX_SESSION_TIMEOUT (7 * 24 * 3600)

const char *ro_phase_name(enum ro_phase p);
const char *ro_strategy_name(enum ro_strategy s);
/* A history mark's name ("step", ...), or NULL; and back (the first
 * type of that name), -EINVAL for none. */
const char *ro_mark_name(unsigned int type);
int ro_mark_type(const char *name);
/* The sentence for a mark of service svc's rollout (the event's detail). */
void ro_mark_detail(const struct model *m, uint32_t svc, const struct ro_mark *mk,
		    char *buf, size_t size);
int ro_strategy_parse(const char *s, enum ro_strategy *out);
int ro_op_parse(const char *s, enum ro_op *out);
bool rollout_active(const struct rollout *ro);

/* The version holding most of the weight (ties: the newest); -ENOENT if
 * the service has none. */
int model_stable(const struct model *m, uint32_t svc);

int rollout_start(struct model *m, uint32_t svc, const struct ro_request *req,
		  int64_t now, struct vs_err *err);
int rollout_control(struct model *m, uint32_t svc, enum ro_op op, bool full,
		    int64_t now, struct vs_err *err);
/* An instant cluster that took over on registration: record it as a
 * rollout that completed at once. */
void rollout_record_instant(struct model *m, uint32_t svc, uint32_t from,
			    uint32_t to, int64_t now);
/* Record a window's verdict (0 pass, 1 fail, 2 inconclusive); after
 * failure_limit failures in a row, rolls back. True if rolled back. */
bool rollout_verdict(struct model *m, uint32_t svc, int verdict, const char *why, int64_t now);
/* Advance every progressing rollout to `now`; true if anything changed. */
bool rollout_tick(struct model *m, int64_t now);
/* When the current step's hold ends, or -1 if it waits for promote. */
int64_t rollout_next_due(const struct rollout *ro);
/* The target's current weight in basis points. */
uint16_t rollout_weight(const struct model *m, const struct rollout *ro);

#endif
