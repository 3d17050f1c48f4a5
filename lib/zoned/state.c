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

int zview_ref_chunks(struct zvd_dev *dev, const struct zview *v)
{
	for (uint32_t i = 0; v->map && i < dev->slots; i++) {
		int err = v->map[i] ? img_ref(dev->img, v->map[i]) : 0;
		if (err)
			return err;
	}
	return 0;
}

/* A copy of @v holding its own references. */
struct zview *zview_dup(struct zvd_dev *dev, const struct zview *v)
{
	struct zview *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *v;
	c->map = NULL;
	if (v->map) {
		c->map = malloc(dev->slots * sizeof(*c->map));
		if (!c->map) {
			free(c);
			return NULL;
		}
		memcpy(c->map, v->map, dev->slots * sizeof(*c->map));
		if (zview_ref_chunks(dev, c)) {
			/* cannot happen for chunks already referenced */
			free(c->map);
			free(c);
			return NULL;
		}
	}
	return c;
}

/* Drop @v's references and its map (the chunks are freed at the next
 * durable commit if nothing else maps them). */
void zview_drop_chunks(struct zvd_dev *dev, struct zview *v)
{
	if (!v->map)
		return;
	for (uint32_t i = 0; i < dev->slots; i++)
		if (v->map[i])
			img_unref(dev->img, v->map[i]);
	free(v->map);
	v->map = NULL;
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
	uint32_t *map = NULL;

	if (src->map) {
		map = malloc(dev->slots * sizeof(*map));
		if (!map)
			return -ENOMEM;
		memcpy(map, src->map, dev->slots * sizeof(*map));
		for (uint32_t i = 0; i < dev->slots; i++)
			if (map[i])
				img_ref(dev->img, map[i]);
	}
	zview_drop_chunks(dev, dst);
	*dst = *src;
	dst->map = map;
	return 0;
}

int zview_encode(struct zvd_dev *dev, uint8_t type, uint32_t snap_id,
		 uint32_t zi, const struct zview *v, struct img_recs *recs)
{
	uint32_t n = map_len(dev, v);
	uint8_t *p = img_recs_add(recs, ZREC_HDR + 4 * (size_t)n);

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
	else if (len != ZREC_HDR + 4 * (size_t)n || n > dev->slots)
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
	return 0;
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
