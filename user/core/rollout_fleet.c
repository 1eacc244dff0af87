// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>
#include "core/approval.h"
#include "core/model.h"
#include "core/rollout_fleet.h"
#include "core/rollout_text.h"

/* Same rollout: the same start and target (a new one is started anew). */
static bool same_rollout(const struct rollout *a, const struct rollout *b)
{
	return a->phase != RO_NONE && a->started == b->started && a->to == b->to &&
	       a->from == b->from;
}

void rollout_fleet_adopt(struct model *m, uint32_t svc, const struct rollout *before,
			 const char *by, int64_t now)
{
	struct service *s = &m->svc[svc];
	struct rollout *ro = &s->ro;
	char detail[EVENT_MESSAGE_LEN];
	uint32_t seen = 0, new;

	if (same_rollout(before, ro)) {
		/* This host's windows, not the writer's. */
		ro->an.failures = before->an.failures;
		ro->an.inconclusive = before->an.inconclusive;
		ro->an.windows = before->an.windows;
		ro->an.last_pass = before->an.last_pass;
		memcpy(ro->an.last_verdict, before->an.last_verdict, sizeof(ro->an.last_verdict));
		/* Its failure, until the driver's rollback says another. */
		if (rollout_active(ro))
			memcpy(ro->why, before->why, sizeof(ro->why));
		/* The marks made since this host's newest. */
		new = ro->nmarks > before->nmarks ? ro->nmarks - before->nmarks : 0;
		seen = new < ro->nhist ? ro->nhist - new : 0;
	} else if (rollout_active(ro)) {
		/* A rollback before may have moved the target's sessions. */
		m->cl[ro->to].no_affinity = false;
	}
	for (uint32_t i = seen; i < ro->nhist; i++) {
		const struct ro_mark *mk = &ro->hist[i];

		ro_mark_detail(m, svc, mk, detail, sizeof(detail));
		/* Which host's API or driver made it: the fleet's rollout
		 * moves here without a call to this host. */
		model_event(m, now, s->name, ro_mark_name(mk->type), "%s%s%s%s", detail,
			    by && by[0] ? " (in the fleet, by host " : "", by && by[0] ? by : "",
			    by && by[0] ? ")" : "");
		if (mk->type == ROM_ROLLED_BACK) {
			m->cl[ro->to].no_affinity = true;
			s->rollbacks++;
		}
		s->auto_rollbacks += mk->type == ROM_AUTO_ROLLBACK;
		if (mk->type == ROM_COMPLETED && ro->drain.on && ro->from != ro->to &&
		    m->cl[ro->from].used)
			drain_schedule(&m->cl[ro->from].drain, &ro->drain, mk->time);
	}
	/* A step that waits for a promote asks for it here too: the
	 * notifications of every host say so. */
	if (seen < ro->nhist && ro->hist[ro->nhist - 1].type == ROM_STEP)
		approval_ask(m, svc, now);
}
