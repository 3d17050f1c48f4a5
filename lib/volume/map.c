// SPDX-License-Identifier: MIT
/*
 * map.c - a volume's block maps and the accounting of its segments.
 *
 * A map is an array of leaves; leaves are shared between the live map and
 * snapshots and copied before a change when shared. Each segment counts,
 * per block, the distinct leaves pointing at it (ref) and how many of its
 * blocks any leaf points at (live); the lba each block was written for is
 * kept (rev) so garbage collection can find the entries to move.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "volume/vol_int.h"

uint32_t map_get(const struct vol *v, const struct vmap *m, uint64_t lba)
{
	const struct leaf *l = m->l[lba >> LEAF_SHIFT];

	return l ? l->e[lba & (LEAF_N - 1)] : LOC_NONE;
}

int map_init(struct vol *v, struct vmap *m)
{
	m->l = calloc(v->nleaves, sizeof(*m->l));
	return m->l ? 0 : -ENOMEM;
}

static int seg_room(struct vol *v, uint32_t chunk)
{
	uint32_t n;
	struct seg *s;

	if (chunk < v->nr_segs)
		return 0;
	n = v->nr_segs ? v->nr_segs : 64;
	while (n <= chunk)
		n *= 2;
	s = realloc(v->segs, (size_t)n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + v->nr_segs, 0, (size_t)(n - v->nr_segs) * sizeof(*s));
	v->segs = s;
	v->nr_segs = n;
	return 0;
}

/* One more distinct leaf points at @loc, written for @lba. The caller has
 * made room (seg_room) for the chunk. */
void seg_inc(struct vol *v, uint32_t loc, uint64_t lba)
{
	struct seg *s = &v->segs[loc_chunk(v, loc)];
	uint32_t b = loc & (v->bps - 1);

	s->rev[b] = (uint32_t)lba;
	if (s->ref[b]++ == 0) {
		if (s->live++ == 0)
			v->data_segs++;
		v->live_blocks++;
	}
}

/* A segment that is not the head, holds no live block and has no write in
 * flight goes back to the pool (when the commit that emptied it is
 * durable). */
void seg_retire_if_dead(struct vol *v, uint32_t chunk)
{
	struct seg *s = &v->segs[chunk];

	if (chunk == v->head || s->live || s->inflight || !s->rev)
		return;
	free(s->rev);
	free(s->ref);
	s->rev = s->ref = NULL;
	s->pinned = 0;
	if (v->counting)
		img_unref(v->img, chunk);
}

void seg_dec(struct vol *v, uint32_t loc)
{
	uint32_t chunk = loc_chunk(v, loc);
	struct seg *s = &v->segs[chunk];
	uint32_t b = loc & (v->bps - 1);

	if (--s->ref[b])
		return;
	v->live_blocks--;
	if (--s->live)
		return;
	v->data_segs--;
	seg_retire_if_dead(v, chunk);
}

/* Make sure segment @chunk has its per-block tables. */
int seg_prepare(struct vol *v, uint32_t chunk)
{
	struct seg *s;
	int err = seg_room(v, chunk);

	if (err)
		return err;
	s = &v->segs[chunk];
	if (s->rev)
		return 0;
	s->pinned = 0;
	s->rev = calloc(v->bps, sizeof(*s->rev));
	s->ref = calloc(v->bps, sizeof(*s->ref));
	if (!s->rev || !s->ref) {
		free(s->rev);
		free(s->ref);
		s->rev = s->ref = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Count the entries of leaf @l (at leaf index @li) in their segments. */
static int leaf_count(struct vol *v, const struct leaf *l, uint32_t li)
{
	for (uint32_t i = 0; i < LEAF_N; i++) {
		uint32_t loc = l->e[i];
		int err;

		if (loc < 2)
			continue;
		if (loc_chunk(v, loc) == 0 || loc_chunk(v, loc) >= v->max_chunk)
			return -EUCLEAN;
		err = seg_prepare(v, loc_chunk(v, loc));
		if (err)
			return err;
		seg_inc(v, loc, ((uint64_t)li << LEAF_SHIFT) | i);
	}
	return 0;
}

int map_set(struct vol *v, struct vmap *m, uint64_t lba, uint32_t loc)
{
	uint32_t li = (uint32_t)(lba >> LEAF_SHIFT), i = lba & (LEAF_N - 1);
	struct leaf *l = m->l[li];
	uint32_t old;
	int err;

	if (!l) {
		if (loc == LOC_NONE)
			return 0;
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		l->refs = 1;
		m->l[li] = l;
	} else if (l->refs > 1) {
		struct leaf *c = malloc(sizeof(*c));

		if (!c)
			return -ENOMEM;
		memcpy(c->e, l->e, sizeof(c->e));
		c->refs = 1;
		c->mark = 0;
		if (v->counting) {
			err = leaf_count(v, c, li);
			if (err) {
				free(c);
				return err;
			}
		}
		l->refs--;
		m->l[li] = l = c;
	}
	old = l->e[i];
	if (old == loc)
		return 0;
	if (v->counting && loc >= 2) {
		err = seg_prepare(v, loc_chunk(v, loc));
		if (err)
			return err;
		seg_inc(v, loc, lba);
	}
	l->e[i] = loc;
	if (v->counting && old >= 2)
		seg_dec(v, old);
	return 0;
}

int map_share(struct vol *v, struct vmap *dst, const struct vmap *src)
{
	int err = map_init(v, dst);

	if (err)
		return err;
	for (uint32_t li = 0; li < v->nleaves; li++) {
		dst->l[li] = src->l[li];
		if (dst->l[li])
			dst->l[li]->refs++;
	}
	return 0;
}

void map_drop(struct vol *v, struct vmap *m)
{
	if (!m->l)
		return;
	for (uint32_t li = 0; li < v->nleaves; li++) {
		struct leaf *l = m->l[li];

		if (!l || --l->refs)
			continue;
		for (uint32_t i = 0; v->counting && i < LEAF_N; i++)
			if (l->e[i] >= 2)
				seg_dec(v, l->e[i]);
		free(l);
	}
	free(m->l);
	m->l = NULL;
}

/* Every map, oldest snapshot first, then the live map. */
static uint32_t nr_maps(const struct vol *v)
{
	return v->nr_snaps + 1;
}
static struct vmap *map_nth(struct vol *v, uint32_t k)
{
	return k < v->nr_snaps ? &v->snaps[k]->map : &v->live;
}

/* After replaying a checkpoint (which lists each map whole), share leaves
 * that are equal between neighbouring maps again. */
void map_dedupe(struct vol *v)
{
	for (uint32_t li = 0; li < v->nleaves; li++) {
		for (uint32_t k = 1; k < nr_maps(v); k++) {
			struct leaf *a = map_nth(v, k - 1)->l[li];
			struct leaf **b = &map_nth(v, k)->l[li];

			if (!a || !*b || a == *b ||
			    memcmp(a->e, (*b)->e, sizeof(a->e)))
				continue;
			if (--(*b)->refs == 0)
				free(*b);
			a->refs++;
			*b = a;
		}
	}
}

/* At open: count every distinct leaf's entries into the segments. */
int map_count_all(struct vol *v)
{
	v->walk++;
	for (uint32_t k = 0; k < nr_maps(v); k++) {
		struct vmap *m = map_nth(v, k);

		for (uint32_t li = 0; li < v->nleaves; li++) {
			struct leaf *l = m->l[li];
			int err;

			if (!l || l->mark == v->walk)
				continue;
			l->mark = v->walk;
			err = leaf_count(v, l, li);
			if (err)
				return err;
		}
	}
	return 0;
}

int rec_ext(struct vol *v, uint32_t map_id, uint64_t lba, uint32_t n,
	    uint32_t loc, struct img_recs *r)
{
	uint8_t *p = img_recs_add(r, 24);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 4);
	p[0] = VR_EXT;
	put_le32(p + 4, map_id);
	put_le64(p + 8, lba);
	put_le32(p + 16, n);
	put_le32(p + 20, loc);
	return 0;
}

/* Record map @m whole as runs: consecutive blocks at consecutive
 * locations, or consecutive zeroed blocks. */
int map_encode(struct vol *v, const struct vmap *m, uint32_t map_id,
	       struct img_recs *r)
{
	uint64_t start = 0;
	uint32_t first = LOC_NONE, n = 0;
	int err = 0;

	for (uint64_t lba = 0; lba < v->nblocks && !err; lba++) {
		const struct leaf *l = m->l[lba >> LEAF_SHIFT];
		uint32_t loc;

		if (!l) {
			lba |= LEAF_N - 1; /* skip the empty leaf */
			if (n)
				err = rec_ext(v, map_id, start, n, first, r);
			n = 0;
			continue;
		}
		loc = l->e[lba & (LEAF_N - 1)];
		if (n && loc != LOC_NONE &&
		    loc == (first >= 2 ? first + n : first)) {
			n++;
			continue;
		}
		if (n)
			err = rec_ext(v, map_id, start, n, first, r);
		n = loc != LOC_NONE;
		start = lba;
		first = loc;
	}
	if (!err && n)
		err = rec_ext(v, map_id, start, n, first, r);
	return err;
}
