// SPDX-License-Identifier: MIT
/*
 * state.c - zone states (struct zview): copies that hold references on
 * their chunks, the journal record that carries one, and the preservation
 * of a zone's state for the newest snapshot before its first change.
 *
 * Zone record (REC_ZONE for the live zone, REC_SNAP_ZONE for a snapshot's
 * copy), little-endian:
 *   0 type  1 cond  2 flags (1: full through a finish)  4 zone  8 wp  16 writes  24 resets  32 finishes
 *  40 nmap  44 io_stamp  52 base_len  60 snapshot id (0 for live)
 *  64 map[nmap]: u32 chunk per slot, 0 = none
 *  then, if any slot is copied on write block by block: u32 count, and per
 *  such slot: u32 slot, u32 base chunk, the slot's block bitmap (u64
 *  words; a set bit: the block is in the slot's own chunk, else in base)
 * Replaying a record replaces the zone's state; a zone with no record is
 * empty (or an unwritten conventional zone).
 */
#include <errno.h>
#include <stdlib.h>

#include "util/util.h"
#include "zoned/zoned.h"

#define ZREC_HDR 64u

/* Highest used map slot + 1. */
static uint32_t map_len(const struct zvd_dev *dev, const struct zview *v)
{
	uint32_t n = v->map ? dev->slots : 0;

	while (n && !v->map[n - 1])
		n--;
	return n;
}

static uint32_t nr_cow(const struct zvd_dev *dev, const struct zview *v)
{
	uint32_t n = 0;

	for (uint32_t i = 0; v->cow && i < dev->slots; i++)
		n += v->cow[i] != NULL;
	return n;
}

size_t cow_size(const struct zvd_dev *dev)
{
	return sizeof(struct cow) + dev->cow_words * sizeof(uint64_t);
}

/* Every chunk @v maps: its slots' chunks and their copy-on-write bases. */
#define FOR_EACH_CHUNK(dev, v, i, c)                                          \
	for (uint32_t i = 0, c; i < 2 * (dev)->slots; i++)                    \
		if ((c = i < (dev)->slots                                     \
				 ? ((v)->map ? (v)->map[i] : 0)               \
				 : ((v)->cow && (v)->cow[i - (dev)->slots]    \
					    ? (v)->cow[i - (dev)->slots]->base \
					    : 0)))

int zview_ref_chunks(struct zvd_dev *dev, const struct zview *v)
{
	FOR_EACH_CHUNK(dev, v, i, c) {
		int err = img_ref(dev->img, c);
		if (err)
			return err;
	}
	return 0;
}

/* Free @v's map and copy-on-write entries without touching references
 * (replay, teardown). */
void zview_free_raw(struct zvd_dev *dev, struct zview *v)
{
	for (uint32_t i = 0; v->cow && i < dev->slots; i++)
		free(v->cow[i]);
	free(v->cow);
	free(v->map);
	v->cow = NULL;
	v->map = NULL;
}

/* Deep copies of @v's map and copy-on-write entries into @c (no
 * references taken). */
static int copy_maps(struct zvd_dev *dev, struct zview *c,
		     const struct zview *v)
{
	c->map = NULL;
	c->cow = NULL;
	if (v->map) {
		c->map = malloc(dev->slots * sizeof(*c->map));
		if (!c->map)
			return -ENOMEM;
		memcpy(c->map, v->map, dev->slots * sizeof(*c->map));
	}
	if (v->cow) {
		c->cow = calloc(dev->slots, sizeof(*c->cow));
		if (!c->cow)
			goto fail;
		for (uint32_t i = 0; i < dev->slots; i++) {
			if (!v->cow[i])
				continue;
			c->cow[i] = malloc(cow_size(dev));
			if (!c->cow[i])
				goto fail;
			memcpy(c->cow[i], v->cow[i], cow_size(dev));
		}
	}
	return 0;
fail:
	zview_free_raw(dev, c);
	return -ENOMEM;
}

/* A copy of @v holding its own references. */
struct zview *zview_dup(struct zvd_dev *dev, const struct zview *v)
{
	struct zview *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *v;
	if (copy_maps(dev, c, v) || zview_ref_chunks(dev, c)) {
		/* a reference cannot fail for chunks already referenced */
		zview_free_raw(dev, c);
		free(c);
		return NULL;
	}
	return c;
}

/* Drop @v's references, map and copy-on-write entries (the chunks are
 * freed at the next durable commit if nothing else maps them). */
void zview_drop_chunks(struct zvd_dev *dev, struct zview *v)
{
	FOR_EACH_CHUNK(dev, v, i, c)
		img_unref(dev->img, c);
	zview_free_raw(dev, v);
}

void zview_free(struct zvd_dev *dev, struct zview *v)
{
	if (!v)
		return;
	zview_drop_chunks(dev, v);
	free(v);
}

/* Make @dst a copy of @src (the live zone taking a snapshot's state). */
int zview_replace(struct zvd_dev *dev, struct zview *dst,
		  const struct zview *src)
{
	struct zview c = *src;

	if (copy_maps(dev, &c, src))
		return -ENOMEM;
	zview_ref_chunks(dev, &c);
	zview_drop_chunks(dev, dst);
	*dst = c;
	return 0;
}

int zview_encode(struct zvd_dev *dev, uint8_t type, uint32_t snap_id,
		 uint32_t zi, const struct zview *v, struct img_recs *recs)
{
	uint32_t n = map_len(dev, v), nc = nr_cow(dev, v);
	size_t cw = 8 + dev->cow_words * 8;
	uint8_t *p = img_recs_add(recs, ZREC_HDR + 4 * (size_t)n +
						(nc ? 4 + nc * cw : 0));
	uint8_t *q;

	if (!p)
		return -ENOMEM;
	memset(p, 0, ZREC_HDR);
	p[0] = type;
	p[1] = v->cond;
	p[2] = v->finished;
	put_le32(p + 4, zi);
	put_le64(p + 8, v->wp);
	put_le64(p + 16, v->writes);
	put_le64(p + 24, v->resets);
	put_le64(p + 32, v->finishes);
	put_le32(p + 40, n);
	put_le64(p + 44, v->io_stamp);
	put_le64(p + 52, v->base_len);
	put_le32(p + 60, snap_id);
	for (uint32_t i = 0; i < n; i++)
		put_le32(p + ZREC_HDR + 4 * i, v->map[i]);
	if (!nc)
		return 0;
	q = p + ZREC_HDR + 4 * (size_t)n;
	put_le32(q, nc);
	q += 4;
	for (uint32_t i = 0; i < dev->slots; i++) {
		if (!v->cow[i])
			continue;
		put_le32(q, i);
		put_le32(q + 4, v->cow[i]->base);
		for (uint32_t w = 0; w < dev->cow_words; w++)
			put_le64(q + 8 + 8 * w, v->cow[i]->bits[w]);
		q += cw;
	}
	return 0;
}

/* Decode the copy-on-write entries after a record's map. */
static int decode_cows(struct zvd_dev *dev, const uint8_t *q, size_t left,
		       struct zview *v)
{
	size_t cw = 8 + dev->cow_words * 8;
	uint32_t nc;

	if (!left)
		return 0;
	if (left < 4 || (nc = get_le32(q)) > dev->slots ||
	    left != 4 + (size_t)nc * cw)
		return -EUCLEAN;
	v->cow = calloc(dev->slots, sizeof(*v->cow));
	if (!v->cow)
		return -ENOMEM;
	for (q += 4; nc--; q += cw) {
		uint32_t slot = get_le32(q);

		if (slot >= dev->slots || v->cow[slot] || !v->map ||
		    !v->map[slot] || !get_le32(q + 4))
			return -EUCLEAN;
		v->cow[slot] = malloc(cow_size(dev));
		if (!v->cow[slot])
			return -ENOMEM;
		v->cow[slot]->base = get_le32(q + 4);
		for (uint32_t w = 0; w < dev->cow_words; w++)
			v->cow[slot]->bits[w] = get_le64(q + 8 + 8 * w);
	}
	return 0;
}

static int cond_valid(const struct zvd_dev *dev, uint32_t zi, uint8_t cond)
{
	if (zone_is_conv(dev, zi))
		return cond == ZVD_COND_NOT_WP;
	return cond >= ZVD_COND_EMPTY && cond < ZVD_COND_COUNT;
}

/* Decode a zone record into @v (with a freshly allocated map, and no
 * references taken). Returns -EUCLEAN with *why for a malformed one. */
int zview_decode(struct zvd_dev *dev, const uint8_t *p, size_t len,
		 uint32_t *zi, uint32_t *snap_id, struct zview *v,
		 const char **why)
{
	uint32_t n;
	int err;

	*why = NULL;
	if (len < ZREC_HDR) {
		*why = "zone record is truncated";
		return -EUCLEAN;
	}
	*zi = get_le32(p + 4);
	*snap_id = get_le32(p + 60);
	n = get_le32(p + 40);
	memset(v, 0, sizeof(*v));
	v->cond = p[1];
	v->finished = p[2] & 1;
	v->wp = get_le64(p + 8);
	v->writes = get_le64(p + 16);
	v->resets = get_le64(p + 24);
	v->finishes = get_le64(p + 32);
	v->io_stamp = get_le64(p + 44);
	v->base_len = get_le64(p + 52);
	v->persisted = 1;
	if (*zi >= dev->nr_zones)
		*why = "journal names a zone beyond the device";
	else if (len < ZREC_HDR + 4 * (size_t)n || n > dev->slots)
		*why = "zone record has a bad map length";
	else if (!cond_valid(dev, *zi, v->cond))
		*why = "zone record has an invalid condition";
	else if (v->wp > zone_cap(dev, *zi) || v->wp % dev->g.block_size ||
		 (zone_is_conv(dev, *zi) && v->wp))
		*why = "zone record has an invalid write pointer";
	else if (v->base_len > dev->g.zone_size)
		*why = "zone record has an invalid backing length";
	if (*why)
		return -EUCLEAN;
	if (n) {
		v->map = calloc(dev->slots, sizeof(*v->map));
		if (!v->map)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			v->map[i] = get_le32(p + ZREC_HDR + 4 * i);
	}
	err = decode_cows(dev, p + ZREC_HDR + 4 * (size_t)n,
			  len - ZREC_HDR - 4 * (size_t)n, v);
	if (err) {
		zview_free_raw(dev, v);
		*why = "zone record has malformed copy-on-write entries";
	}
	return err;
}

/*
 * Before the first change to zone @zi after the newest snapshot was taken,
 * give that snapshot a copy of the zone as it is. Caller holds the zone
 * exclusively and state_lock (shared or exclusive).
 */
int zone_preserve(struct zvd_dev *dev, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];
	struct zview *copy;
	struct snap *s;

	if (!dev->nr_snaps)
		return 0;
	s = dev->snaps[dev->nr_snaps - 1];
	if (z->saved_upto >= s->id)
		return 0;
	copy = zview_dup(dev, &z->st);
	if (!copy)
		return -ENOMEM;
	copy->persisted = 0;
	pthread_mutex_lock(&dev->snap_lock);
	if (!s->saved)
		s->saved = calloc(dev->nr_zones, sizeof(*s->saved));
	if (!s->saved) {
		pthread_mutex_unlock(&dev->snap_lock);
		zview_free(dev, copy);
		return -ENOMEM;
	}
	s->saved[zi] = copy;
	pthread_mutex_unlock(&dev->snap_lock);
	z->saved_upto = s->id;
	mark_dirty(dev, zi);
	return 0;
}

/* The whole state, for a checkpoint. Caller excludes every change. */
int dev_encode_all(struct zvd_dev *dev, struct img_recs *recs)
{
	int err;

	img_recs_reset(recs);
	err = backing_encode(dev, recs);
	if (!err)
		err = snap_encode_all(dev, recs);
	for (uint32_t zi = 0; zi < dev->nr_zones && !err; zi++)
		if (!zone_pristine(dev, &dev->zones[zi], zi))
			err = zview_encode(dev, REC_ZONE, 0, zi,
					   &dev->zones[zi].st, recs);
	return err;
}
