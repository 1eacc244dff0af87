// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <bpf/bpf.h>
#include "sess.h"

static void place(const struct tsess *t, const struct vs_sess_key *k, struct vs_sess_place *p)
{
	vs_sess_place(k, t->salt(k->svc), t->nsets, p);
}

int tsess_clear(const struct tsess *t)
{
	static const struct vs_sess_set none;

	for (__u32 i = 0; i < t->nsets; i++)
		if (bpf_map_update_elem(t->fd, &i, &none, BPF_ANY))
			return -errno;
	return 0;
}

/* The place of p's sets with p's tag: its set read into *set, its way
 * *w. 0, or -ENOENT. */
static int scan(const struct tsess *t, const struct vs_sess_place *p, struct vs_sess_set *set,
		int *w)
{
	for (int s = 0; s < 2; s++) {
		if (bpf_map_lookup_elem(t->fd, &p->set[s], set))
			return -errno;
		for (*w = 0; *w < VS_SESS_WAYS; (*w)++)
			if (VS_SESS_TAG(set->way[*w].word) == p->tag)
				return 0;
	}
	return -ENOENT;
}

/* Free places in a set, and the first of them (VS_SESS_WAYS: none). */
static int free_places(const struct vs_sess_set *set, int *first)
{
	int n = 0;

	*first = VS_SESS_WAYS;
	for (int w = VS_SESS_WAYS - 1; w >= 0; w--)
		if (!set->way[w].word) {
			n++;
			*first = w;
		}
	return n;
}

int tsess_put(const struct tsess *t, const struct vs_sess_key *k, const struct vs_sess *e)
{
	struct vs_sess_set set[2];
	struct vs_sess_place p;
	int n[2], w[2], s;

	place(t, k, &p);
	for (s = 0; s < 2; s++) {
		if (bpf_map_lookup_elem(t->fd, &p.set[s], &set[s]))
			return -errno;
		n[s] = free_places(&set[s], &w[s]);
	}
	/* As the data plane does: the emptier set (sess_claim()). */
	s = n[1] > n[0];
	if (!n[s])
		return -ENOSPC;
	set[s].way[w[s]] = *e;
	set[s].way[w[s]].word = (__u64)p.tag << 32 | VS_SESS_OPEN(e->word);
	return bpf_map_update_elem(t->fd, &p.set[s], &set[s], BPF_ANY) ? -errno : 0;
}

int tsess_get(const struct tsess *t, const struct vs_sess_key *k, struct vs_sess *e)
{
	struct vs_sess_place p;
	struct vs_sess_set set;
	int w, ret;

	place(t, k, &p);
	ret = scan(t, &p, &set, &w);
	if (!ret)
		*e = set.way[w];
	return ret;
}

int tsess_count(const struct tsess *t)
{
	struct vs_sess_set set;
	int n = 0;

	for (__u32 i = 0; i < t->nsets; i++) {
		if (bpf_map_lookup_elem(t->fd, &i, &set))
			return -errno;
		for (int w = 0; w < VS_SESS_WAYS; w++)
			n += VS_SESS_TAG(set.way[w].word) != 0;
	}
	return n;
}
