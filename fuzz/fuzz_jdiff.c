// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: the mirror's body comparison (codec/jdiff) on two bodies cut
 * from one input, and its settings (codec/parse_mirror) on the input
 * after the first two bytes as JSON. Those two bytes (little endian,
 * modulo what is left) say where the primary's body ends and the
 * target's begins. Invariants: a body never differs from itself; once
 * noise is learned from two bodies, they do not differ beyond it; a spec
 * that parses comes back the same from its JSON. */
#include <stdlib.h>
#include <string.h>
#include "codec/jdiff.h"
#include "codec/parse_mirror.h"

static const char ignore[][JDIFF_PATH_MAX] = { "meta", "items[].id", "[]" };

static void check_spec(const uint8_t *data, size_t size)
{
	struct mirror_spec s, back;
	struct vs_err err;
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr), *out;

	if (!j)
		return;
	mirror_spec_defaults(&s);
	if (!parse_mirror(j, "fuzz", "bad_mirror", &s, &err)) {
		out = mirror_spec_json(&s);
		mirror_spec_defaults(&back);
		if (!out || parse_mirror(out, "fuzz", "bad_mirror", &back, &err) ||
		    memcmp(&s, &back, sizeof(s)))
			abort();
		json_decref(out);
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jdiff_noise noise = {};
	const uint8_t *a, *b;
	char where[JDIFF_PATH_MAX];
	size_t an, bn;

	if (size < 2)
		return 0;
	an = (data[0] | (size_t)data[1] << 8) % (size - 1);
	a = data + 2;
	b = a + an;
	bn = size - 2 - an;
	if (jdiff_differ(NULL, NULL, 0, a, an, a, an, where, sizeof(where)) ||
	    jdiff_differ(NULL, ignore, 3, b, bn, b, bn, where, sizeof(where)))
		abort();
	jdiff_differ(NULL, ignore, 3, a, an, b, bn, where, sizeof(where));
	if (strlen(where) >= JDIFF_PATH_MAX)
		abort();
	jdiff_learn(&noise, a, an, b, bn);
	if (noise.n > JDIFF_MAX_PATHS ||
	    jdiff_differ(&noise, NULL, 0, a, an, b, bn, where, sizeof(where)))
		abort();
	check_spec(data + 2, size - 2);
	return 0;
}
