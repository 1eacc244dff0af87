// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "core/drain.h"

void drain_schedule(struct drain *d, const struct drain_spec *spec, int64_t now)
{
	*d = (struct drain){ .on = true, .secs = spec->secs, .started = now, .closed = d->closed };
}

int64_t drain_at(const struct drain *d)
{
	return d->started + d->secs;
}

bool drain_comes_due(const struct drain *d, int64_t now)
{
	return d->on && !d->due && now >= drain_at(d);
}

void drain_cancel(struct drain *d)
{
	*d = (struct drain){ .closed = d->closed };
}
