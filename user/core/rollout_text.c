// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/model.h"
#include "core/rollout_text.h"

/* clang-format off */
static const char *const phase_names[] = {
	[RO_NONE] = "none", [RO_PROGRESSING] = "progressing", [RO_PAUSED] = "paused",
	[RO_COMPLETED] = "completed", [RO_ABORTED] = "aborted",
	[RO_ROLLED_BACK] = "rolled_back",
};
/* clang-format on */
static const char *const strategy_names[] = {
	[RO_INSTANT] = "instant",
	[RO_SESSION] = "session",
	[RO_GRADUAL] = "gradual",
	[RO_MIRROR] = "mirror",
};
/* clang-format off */
static const char *const op_names[] = {
	[RO_OP_PROMOTE] = "promote", [RO_OP_PAUSE] = "pause", [RO_OP_RESUME] = "resume",
	[RO_OP_ABORT] = "abort", [RO_OP_ROLLBACK] = "rollback",
};
/* clang-format on */

const char *ro_phase_name(enum ro_phase p)
{
	return phase_names[p];
}

const char *ro_strategy_name(enum ro_strategy s)
{
	return strategy_names[s];
}

const char *ro_op_name(enum ro_op op)
{
	return op_names[op];
}

/* clang-format off */
static const char *const mark_names[ROM_TYPES] = {
	[ROM_STARTED] = "started", [ROM_STEP] = "step", [ROM_PROMOTED] = "promoted",
	[ROM_PROMOTED_FULL] = "promoted", [ROM_PAUSED] = "paused", [ROM_RESUMED] = "resumed",
	[ROM_ABORTED] = "aborted", [ROM_ROLLED_BACK] = "rolled_back",
	[ROM_AUTO_ROLLBACK] = "auto_rollback", [ROM_COMPLETED] = "completed",
	[ROM_AUTO_PAUSE] = "auto_pause", [ROM_MIRROR_PASSED] = "mirror_passed",
	[ROM_MIRROR_FAILED] = "mirror_failed",
};
/* clang-format on */

const char *ro_mark_name(unsigned int type)
{
	return type < ROM_TYPES && mark_names[type] ? mark_names[type] : NULL;
}

int ro_mark_type(const char *name)
{
	for (unsigned int t = 1; t < ROM_TYPES; t++)
		if (!strcmp(mark_names[t], name))
			return t;
	return -EINVAL;
}

static void mirror_started(const struct rollout *ro, const char *from, const char *to, char *buf,
			   size_t size)
{
	char until[48] = "until promoted";

	if (ro->mirror.duration)
		snprintf(until, sizeof(until), "for %u s", ro->mirror.duration);
	snprintf(buf, size,
		 "mirror of %u.%02u%% of %s's new connections to %s, up to %u requests/s, %s%s%s",
		 ro->mirror.bp / 100, ro->mirror.bp % 100, from, to, ro->mirror.max_per_second,
		 until, ro->has_then ? ", then " : "",
		 ro->has_then ? ro_strategy_name(ro->then.strategy) : "");
}

/* A mirror's marks: it steers nothing, so no sentence of sessions or
 * weights. False for the marks it shares with the others' words. */
static bool mirror_detail(const struct rollout *ro, const struct ro_mark *mk, const char *from,
			  const char *to, char *buf, size_t size)
{
	switch (mk->type) {
	case ROM_STARTED:
		mirror_started(ro, from, to, buf, size);
		return true;
	case ROM_PROMOTED:
	case ROM_PROMOTED_FULL:
		snprintf(buf, size, "mirror of %s ends now, judged on what it compared", to);
		return true;
	case ROM_PAUSED:
		snprintf(buf, size, "mirror of %s paused: no new connection of %s is sampled", to,
			 from);
		return true;
	case ROM_RESUMED:
		snprintf(buf, size, "mirror of %s resumed", to);
		return true;
	case ROM_ABORTED:
	case ROM_ROLLED_BACK:
		snprintf(buf, size, "mirror of %s stopped; no client was ever steered to it", to);
		return true;
	case ROM_AUTO_ROLLBACK:
		snprintf(buf, size, "mirror of %s failed: %s", to, ro->why);
		return true;
	case ROM_MIRROR_PASSED:
	case ROM_MIRROR_FAILED:
		/* The then clause first: the verdict's sentence may be cut. */
		snprintf(buf, size, "mirror of %s beside %s %s%s: %s", to, from,
			 mk->type == ROM_MIRROR_PASSED	      ? "passed" :
			 ro->mirror_verdict == V_INCONCLUSIVE ? "inconclusive" :
								"failed",
			 !ro->has_then		       ? "" :
			 mk->type == ROM_MIRROR_PASSED ? " (the next rollout starts)" :
							 " (the next rollout does not start)",
			 ro->mirror_why);
		return true;
	}
	return false;
}

void ro_mark_detail(const struct model *m, uint32_t svc, const struct ro_mark *mk, char *buf,
		    size_t size)
{
	const struct rollout *ro = &m->svc[svc].ro;
	const char *to = m->cl[ro->to].used ? m->cl[ro->to].version : "?";
	const char *from = m->cl[ro->from].used ? m->cl[ro->from].version : "?";

	if (ro->strategy == RO_MIRROR && mirror_detail(ro, mk, from, to, buf, size))
		return;
	switch (mk->type) {
	case ROM_STARTED:
		if (ro->an.on)
			snprintf(buf, size,
				 "%s rollout from %s to %s, judged every %u s (failureLimit %u)",
				 ro_strategy_name(ro->strategy), from, to, ro->an.interval,
				 ro->an.failure_limit);
		else
			snprintf(buf, size, "%s rollout from %s to %s, not judged",
				 ro_strategy_name(ro->strategy), from, to);
		break;
	case ROM_STEP:
		snprintf(buf, size, "step %u of %u: %s at %u.%02u%% of new sessions", mk->step + 1,
			 ro->nsteps, to, mk->weight / 100, mk->weight % 100);
		break;
	case ROM_PROMOTED:
		snprintf(buf, size, "%s: next step now", to);
		break;
	case ROM_PROMOTED_FULL:
		snprintf(buf, size, "%s straight to 100%%", to);
		break;
	case ROM_PAUSED:
		snprintf(buf, size, "%s at %u.%02u%%", to, mk->weight / 100, mk->weight % 100);
		break;
	case ROM_RESUMED:
		snprintf(buf, size, "%s", to);
		break;
	case ROM_ABORTED:
		snprintf(buf, size, "new sessions to %s again", from);
		break;
	case ROM_ROLLED_BACK:
		snprintf(buf, size, "new sessions to %s again; sessions on the target move back",
			 from);
		break;
	case ROM_AUTO_ROLLBACK:
		snprintf(buf, size, "%s rolled back to %s: %s", to, from, ro->why);
		break;
	case ROM_AUTO_PAUSE:
		snprintf(buf, size, "%s paused at %u.%02u%%: %s", to, mk->weight / 100,
			 mk->weight % 100, ro->pause_why);
		break;
	case ROM_COMPLETED:
		snprintf(buf, size, "%s is the stable version; %s stays registered as fallback", to,
			 from);
		break;
	default:
		snprintf(buf, size, "?");
	}
}

static int name_index(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcasecmp(s, names[i]))
			return i;
	return -EINVAL;
}

int ro_strategy_parse(const char *s, enum ro_strategy *out)
{
	int i = name_index(s, strategy_names, ARRAY_SIZE(strategy_names));

	/* The thesis's names for the same strategies. */
	if (i < 0 && !strcasecmp(s, "rapid"))
		i = RO_INSTANT;
	if (i < 0 && (!strcasecmp(s, "newsession") || !strcasecmp(s, "new-session")))
		i = RO_SESSION;
	if (i < 0 && (!strcasecmp(s, "longterm") || !strcasecmp(s, "long-term")))
		i = RO_GRADUAL;
	if (i < 0 && (!strcasecmp(s, "multiversion") || !strcasecmp(s, "multi-version")))
		i = RO_MIRROR;
	if (i < 0)
		return i;
	*out = i;
	return 0;
}

int ro_op_parse(const char *s, enum ro_op *out)
{
	int i = name_index(s, op_names, ARRAY_SIZE(op_names));

	if (i < 0)
		return i;
	*out = i;
	return 0;
}
