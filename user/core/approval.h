/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A rollout step without a hold, below 100%, waits for a person to
 * promote it: the approval_needed event says so, once per wait, with
 * what to do. Called by the rollout engine (core/rollout.c). */
#ifndef VS_APPROVAL_H
#define VS_APPROVAL_H

#include <stdbool.h>
#include <stdint.h>

struct model;
struct rollout;

/* Records approval_needed if service svc's rollout is progressing at a
 * step that waits for promote; call when such a wait begins (a step
 * entered, a resume into one approval_deferred() named), not every tick:
 * a restart records nothing new. */
void approval_ask(struct model *m, uint32_t svc, int64_t now);
/* Whether the current step began while the rollout was paused (promote
 * during a pause): its wait begins, and is announced, when resumed. */
bool approval_deferred(const struct rollout *ro);

#endif
