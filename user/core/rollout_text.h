/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A rollout's words: the names of its phases, strategies, operations and
 * history marks as the API, the state file and events spell them, and
 * the sentence of each mark. */
#ifndef VS_ROLLOUT_TEXT_H
#define VS_ROLLOUT_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "core/rollout.h"

const char *ro_phase_name(enum ro_phase p);
const char *ro_strategy_name(enum ro_strategy s);
const char *ro_op_name(enum ro_op op);
/* The thesis's names too ("rapid", "newsession", "longterm"); any case. */
int ro_strategy_parse(const char *s, enum ro_strategy *out);
int ro_op_parse(const char *s, enum ro_op *out);
/* A history mark's name ("step", ...), or NULL; and back (the first
 * type of that name), -EINVAL for none. */
const char *ro_mark_name(unsigned int type);
int ro_mark_type(const char *name);
/* The sentence for a mark of service svc's rollout (the event's detail). */
void ro_mark_detail(const struct model *m, uint32_t svc, const struct ro_mark *mk, char *buf,
		    size_t size);

#endif
