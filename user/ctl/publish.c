// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include "lib/log.h"
#include "core/event.h"
#include "core/model.h"
#include "ctl/ctl.h"
#include "ctl/publish.h"

void publish_init(struct publish_state *p, const struct model *m)
{
	*p = (struct publish_state){ .last = m->events.last_id };
}

int publish_subscribe(struct ctl *c, publish_fn fn, void *arg)
{
	struct publish_state *p = &c->publish;
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (p->n == PUBLISH_MAX_SUBSCRIBERS)
		ret = -ENOSPC;
	else
		p->sub[p->n].fn = fn, p->sub[p->n++].arg = arg;
	if (!ret)
		fn(arg, p->last);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void publish_events(struct ctl *c)
{
	const struct event_ring *r = &c->m->events;
	struct publish_state *p = &c->publish;
	uint32_t n = event_count_after(r, p->last);

	if (r->last_id == p->last)
		return;
	if (event_missed(r, p->last))
		pr_warn("%llu events were recorded faster than they could be logged\n",
			(unsigned long long)event_missed(r, p->last));
	for (uint32_t k = n; k-- > 0;) {
		const struct event *e = event_nth(r, k);

		log_print(event_level(e->kind), "%s%s%s%s (%s, event %llu)\n",
			  e->service[0] ? "service " : "", e->service, e->service[0] ? ": " : "",
			  e->message, e->kind, (unsigned long long)e->id);
	}
	p->last = r->last_id;
	for (uint32_t i = 0; i < p->n; i++)
		p->sub[i].fn(p->sub[i].arg, p->last);
}
