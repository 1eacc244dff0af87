// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "core/approval.h"
#include "core/model.h"

void approval_ask(struct model *m, uint32_t svc, int64_t now)
{
	const struct rollout *ro = &m->svc[svc].ro;
	const struct ro_step *st = &ro->steps[ro->step];
	uint16_t next = ro->step + 1 < ro->nsteps ? ro->steps[ro->step + 1].weight : VS_BUCKETS;

	if (st->hold != RO_WAIT || st->weight == VS_BUCKETS || ro->phase != RO_PROGRESSING)
		return;
	model_event(
		m, now, m->svc[svc].name, "approval_needed",
		"step %u of %u (%s at %u.%02u%%) waits for approval: POST /v1/services/%s/rollout/promote goes on to %u.%02u%%",
		ro->step + 1, ro->nsteps, m->cl[ro->to].version, st->weight / 100, st->weight % 100,
		m->svc[svc].name, next / 100, next % 100);
}

bool approval_deferred(const struct rollout *ro)
{
	for (uint32_t i = ro->nhist; i-- > 0;) {
		if (ro->hist[i].type == ROM_STEP)
			return true;
		if (ro->hist[i].type == ROM_PAUSED)
			return false;
	}
	return false;
}
