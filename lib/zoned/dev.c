// SPDX-License-Identifier: MIT
/*
 * dev.c - a zoned device's lifetime: create, open (replaying the journal),
 * close. The records themselves are in state.c (zones), snap.c
 * (snapshots) and layer.c (the backing image).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"
#include "zoned/zoned.h"

uint32_t dev_zone_of(const struct zvd_dev *dev, uint64_t off)
{
	if (off >= dev->g.size)
		return ZONE_NONE;
	if (dev->zone_shift >= 0)
		return (uint32_t)(off >> dev->zone_shift);
	return (uint32_t)(off / dev->g.zone_size);
}

uint32_t zvd_zone_of(const struct zvd_dev *dev, uint64_t off)
{
	return dev_zone_of(dev, off);
}

uint32_t zvd_nr_zones(const struct zvd_dev *dev)
{
	return dev->nr_zones;
}

void zvd_get_geometry(const struct zvd_dev *dev, struct zvd_geometry *g)
{
	*g = dev->g;
}

int zone_pristine(const struct zvd_dev *dev, const struct zone *z,
		  uint32_t zi)
{
	uint8_t idle = zone_is_conv(dev, zi) ? ZVD_COND_NOT_WP : ZVD_COND_EMPTY;
	const struct zview *v = &z->st;

	if (v->cond != idle || v->wp || v->base_len || v->writes || v->resets ||
	    v->finishes)
		return 0;
	for (uint32_t i = 0; v->map && i < dev->slots; i++)
		if (v->map[i])
			return 0;
	return 1;
}

struct load {
	struct zvd_dev *dev;
	const char *why;
	uint32_t zone;
	char buf[160];
};

/*
 * What is wrong with state @v of zone @zi, in words (written into @buf when
 * numbers are needed), or NULL. Every byte below a sequential zone's write
 * pointer must be in a mapped chunk inside the backend, or read through to
 * the backing image.
 */
const char *zone_problem(struct zvd_dev *dev, uint32_t zi,
			 const struct zview *v, uint64_t be_size, char *buf,
			 size_t len)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	(void)zi;
	if (v->cond == ZVD_COND_EMPTY && v->wp)
		return "empty, but its write pointer is not at the zone start";
	if (v->cond == ZVD_COND_OFFLINE && (v->wp || v->map))
		return "offline, but it still holds data";
	if (v->base_len && !dev->bk.present)
		return "reads through to a backing image, but the image has none";
	for (uint64_t s = 0; s * chunk < v->wp; s++) {
		uint64_t end;

		if (!v->map || !v->map[s]) {
			if (s * chunk < v->base_len)
				continue;
			snprintf(buf, len, "data below the write pointer (%llu bytes in) is missing at %llu",
				 (unsigned long long)v->wp,
				 (unsigned long long)(s * chunk));
			return buf;
		}
		end = img_chunk_off(dev->chunk_shift, v->map[s]) +
		      ZVD_MIN(chunk, v->wp - s * chunk);
		if (end > be_size) {
			snprintf(buf, len, "data at %llu lies beyond the end of the image file (is it truncated?)",
				 (unsigned long long)(s * chunk));
			return buf;
		}
	}
	return NULL;
}

static int load_fail(struct load *l, uint32_t zi, const char *why)
{
	l->why = why;
	l->zone = zi;
	return -EUCLEAN;
}

/* Replay one record. */
static int load_record(void *arg, const uint8_t *p, size_t len)
{
	struct load *l = arg;
	struct zvd_dev *dev = l->dev;
	struct zview v;
	uint32_t zi, snap_id;
	int err;

	if (!len)
		return load_fail(l, ZONE_NONE, "journal holds an empty record");
	switch (p[0]) {
	case REC_ZONE:
		err = zview_decode(dev, p, len, &zi, &snap_id, &v, &l->why);
		if (err) {
			l->zone = zi < dev->nr_zones ? zi : ZONE_NONE;
			return err;
		}
		zview_free_raw(dev, &dev->zones[zi].st);
		dev->zones[zi].st = v;
		return 0;
	case REC_SNAP_CREATE:
	case REC_SNAP_ZONE:
	case REC_SNAP_DELETE:
	case REC_CLONE_REF:
	case REC_CLONE_UNREF:
		return snap_replay(dev, p, len, &l->why);
	case REC_BACKING:
		err = backing_replay(dev, p, len);
		if (err == -EUCLEAN)
			l->why = "backing image record is malformed";
		return err;
	}
	return load_fail(l, ZONE_NONE, "journal holds an unknown record");
}

/*
 * Replay the journal, claim every mapped chunk, check each zone (unless
 * @all_zones is 0: zvd_check looks at them itself) and rebuild the counts.
 * On -EUCLEAN, @why (of @len bytes) says what is wrong and *bad_zone which
 * zone, if one.
 */
int dev_load(struct zvd_dev *dev, int all_zones, char *why, size_t len,
	     uint32_t *bad_zone)
{
	struct load l = { .dev = dev, .zone = ZONE_NONE };
	uint64_t size = 0;
	int err = img_replay(dev->img, load_record, &l);

	if (err == -ENODATA) {
		err = -EUCLEAN;
		l.why = "the journal is missing (is the image truncated?)";
	}
	if (err == -EUCLEAN && !l.why)
		l.why = "journal chain is malformed";
	for (uint32_t zi = 0; !err && zi < dev->nr_zones; zi++) {
		if (zview_ref_chunks(dev, &dev->zones[zi].st)) {
			err = -EUCLEAN;
			l.why = "zone maps a chunk that is out of range or part of the journal";
			l.zone = zi;
		}
	}
	if (!err && snaps_ref_chunks(dev, &l.zone)) {
		err = -EUCLEAN;
		l.why = "a snapshot maps a chunk that is out of range or part of the journal";
	}
	if (!err)
		snaps_after_load(dev);
	if (!err)
		err = be_size(dev->be, &size);
	for (uint32_t zi = 0; !err && all_zones && zi < dev->nr_zones; zi++) {
		l.why = zone_problem(dev, zi, &dev->zones[zi].st, size, l.buf,
				     sizeof(l.buf));
		if (l.why) {
			l.zone = zi;
			err = -EUCLEAN;
		}
	}
	if (!err)
		err = dev_rebuild_resources(dev);
	if (!err)
		err = img_start(dev->img);
	snprintf(why, len, "%s", l.why ? l.why : "");
	*bad_zone = l.zone;
	return err;
}

struct zvd_dev *dev_new(struct zvd_backend *be, const struct zvd_geometry *g,
			int readonly)
{
	struct zvd_dev *dev = calloc(1, sizeof(*dev));
	uint32_t chunk = geo_chunk_size(g);
	pthread_rwlockattr_t wpref;

	if (!dev)
		return NULL;
	dev->be = be;
	dev->g = *g;
	dev->prof = zprofile_get(g->profile);
	dev->rr_cursor = g->nr_conv_zones;
	dev->readonly = readonly;
	dev->nr_zones = (uint32_t)(g->size / g->zone_size);
	dev->chunk_shift = (uint32_t)__builtin_ctz(chunk);
	dev->slots = (uint32_t)zvd_div_round_up(g->zone_size, chunk);
	dev->cow_words = (uint32_t)zvd_div_round_up(chunk / g->block_size, 64);
	dev->zone_shift = zvd_is_pow2(g->zone_size)
				  ? __builtin_ctzll(g->zone_size) : -1;
	dev->zones = calloc(dev->nr_zones, sizeof(*dev->zones));
	dev->dirty = calloc(dev->nr_zones, sizeof(*dev->dirty));
	dev->taken = calloc(dev->nr_zones, sizeof(*dev->taken));
	if (!dev->zones || !dev->dirty || !dev->taken) {
		free(dev->zones);
		free(dev->dirty);
		free(dev->taken);
		free(dev);
		return NULL;
	}
	/* writers first: a flush or a zone write must not starve behind a
	 * stream of shared holders (no path takes these locks recursively) */
	pthread_rwlockattr_init(&wpref);
	pthread_rwlockattr_setkind_np(&wpref,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++) {
		struct zone *z = &dev->zones[zi];
		pthread_rwlock_init(&z->lock, &wpref);
		z->type = zone_is_conv(dev, zi) ? ZVD_ZONE_CONVENTIONAL
						: ZVD_ZONE_SEQUENTIAL;
		z->st.cond = zone_is_conv(dev, zi) ? ZVD_COND_NOT_WP
						: ZVD_COND_EMPTY;
		atomic_init(&z->dirty, 0);
		z->io_prev = z->io_next = ZONE_NONE;
	}
	dev->io_head = dev->io_tail = ZONE_NONE;
	pthread_rwlock_init(&dev->state_lock, &wpref);
	pthread_rwlockattr_destroy(&wpref);
	pthread_mutex_init(&dev->res_lock, NULL);
	pthread_mutex_init(&dev->dirty_lock, NULL);
	pthread_mutex_init(&dev->flush_lock, NULL);
	pthread_mutex_init(&dev->err_lock, NULL);
	pthread_mutex_init(&dev->snap_lock, NULL);
	atomic_init(&dev->flush_started, 0);
	dev->last.zone = UINT32_MAX;
	dev->next_snap_id = 1; /* 0 means "no snapshot" in zone->saved_upto */
	return dev;
}

/* Release a device and everything it holds but its backend. */
void dev_free(struct zvd_dev *dev)
{
	vol_free(dev);
	backing_close(dev);
	snaps_free(dev);
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++) {
		zview_free_raw(dev, &dev->zones[zi].st);
		pthread_rwlock_destroy(&dev->zones[zi].lock);
	}
	free(dev->zones);
	free(dev->dirty);
	free(dev->taken);
	img_recs_free(&dev->recs);
	img_close(dev->img);
	pthread_rwlock_destroy(&dev->state_lock);
	pthread_mutex_destroy(&dev->res_lock);
	pthread_mutex_destroy(&dev->dirty_lock);
	pthread_mutex_destroy(&dev->flush_lock);
	pthread_mutex_destroy(&dev->err_lock);
	pthread_mutex_destroy(&dev->snap_lock);
	free(dev);
}

int zvd_create(struct zvd_backend *be, const struct zvd_geometry *g,
	       struct zvd_dev **out)
{
	return dev_create(be, g, NULL, out);
}

/* zvd_create with a chosen image uuid (NULL: a random one). */
int dev_create(struct zvd_backend *be, const struct zvd_geometry *g,
	       const uint8_t *uuid, struct zvd_dev **out)
{
	uint8_t blob[GEO_BLOB_LEN];
	struct zvd_dev *dev;
	int err;

	if (!be || !g || !out)
		return -EINVAL;
	err = zvd_geometry_validate(g, NULL);
	if (err)
		return err;
	dev = dev_new(be, g, 0);
	if (!dev)
		return -ENOMEM;
	geo_encode(g, blob);
	err = img_create(be, IMG_KIND_ZONED, geo_chunk_size(g), blob,
			 sizeof(blob), uuid, &dev->img);
	if (!err)
		err = img_start(dev->img);
	if (err) {
		dev_free(dev);
		return err;
	}
	*out = dev;
	return 0;
}

/* Open the superblock and geometry of an image. */
int dev_open_image(struct zvd_backend *be, int readonly, struct zvd_dev **out,
		   const char **why)
{
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct img *img;
	const uint8_t *blob;
	size_t blen;
	int err = img_open(be, readonly, &img, why);

	if (err)
		return err;
	blob = img_blob(img, &blen);
	if (img_kind(img) != IMG_KIND_ZONED) {
		*why = "image is not a zoned device";
		err = -EUCLEAN;
	} else if (geo_decode(&g, blob, blen)) {
		*why = "superblock holds an invalid geometry";
		err = -EUCLEAN;
	} else if (img_chunk_size(img) != geo_chunk_size(&g)) {
		*why = "superblock chunk size does not match the geometry";
		err = -EUCLEAN;
	}
	if (err) {
		img_close(img);
		return err;
	}
	dev = dev_new(be, &g, readonly);
	if (!dev) {
		img_close(img);
		return -ENOMEM;
	}
	dev->img = img;
	*out = dev;
	return 0;
}

int zvd_open(struct zvd_backend *be, unsigned flags, struct zvd_dev **out)
{
	struct zvd_dev *dev;
	const char *why;
	char reason[160];
	uint32_t zone;
	int err;

	if (!be || !out || (flags & ~ZVD_OPEN_READONLY))
		return -EINVAL;
	err = vol_try_open(be, flags & ZVD_OPEN_READONLY, out);
	if (err != -EMEDIUMTYPE)
		return err;
	err = dev_open_image(be, flags & ZVD_OPEN_READONLY, &dev, &why);
	if (err)
		return err;
	err = dev_load(dev, 1, reason, sizeof(reason), &zone);
	if (!err)
		err = backing_open(dev);
	if (err) {
		dev_free(dev);
		return err;
	}
	*out = dev;
	return 0;
}

int zvd_close(struct zvd_dev *dev)
{
	int err = 0;

	if (!dev)
		return 0;
	if (dev->view_of) {
		uint32_t id = dev->view_snap;

		if (dev->view_of->vol)
			vol_snapshot_view(dev->view_of, NULL, -1, &id);
		else
			snap_views(dev->view_of, NULL, -1, &id);
	}
	if (dev->vol)
		gc_halt(dev);
	if (!dev->readonly)
		err = dev->vol ? vol_flush(dev) : dev_flush(dev, 0);
	zvd_backend_close(dev->be);
	dev_free(dev);
	return err;
}

int zvd_get_space(struct zvd_dev *dev, struct zvd_space *sp)
{
	struct img_usage u;
	uint64_t chunk = 1ull << dev->chunk_shift;
	int err;

	if (dev->vol)
		return vol_space(dev, sp);
	memset(sp, 0, sizeof(*sp));
	img_usage(dev->img, &u);
	sp->virtual_size = dev->g.size;
	sp->chunk_size = chunk;
	sp->data_bytes = u.data_chunks * chunk;
	sp->meta_bytes = u.meta_chunks * chunk + 2 * IMG_BLOCK;
	err = be_size(dev->be, &sp->backend_bytes);
	pthread_mutex_lock(&dev->res_lock);
	sp->open_zones = dev->nr_open;
	sp->active_zones = dev->nr_active;
	pthread_mutex_unlock(&dev->res_lock);
	return err;
}

struct profile_args {
	uint32_t profile;
};

static int profile_apply(struct zvd_dev *dev, struct img_recs *recs,
			 void *arg)
{
	uint8_t blob[GEO_BLOB_LEN];

	dev->g.profile = ((struct profile_args *)arg)->profile;
	dev->prof = zprofile_get(dev->g.profile);
	dev->rr_cursor = dev->g.nr_conv_zones;
	geo_encode(&dev->g, blob);
	img_set_blob(dev->img, blob, sizeof(blob));
	/* the checkpoint that follows writes the superblock with it */
	return dev_encode_all(dev, recs);
}

int zvd_set_profile(struct zvd_dev *dev, uint32_t profile)
{
	struct profile_args a = { .profile = profile };
	struct flush_op op = { .apply = profile_apply, .arg = &a, .full = 1 };

	if (dev->vol)
		return dev_fail_msg(dev, -EINVAL, "a volume has no zone model");
	if (!zprofile_get(profile))
		return dev_fail_msg(dev, -EINVAL, "unknown zone-model profile %u",
				    profile);
	if (dev->readonly)
		return dev_fail_msg(dev, -EROFS, "the image is open read-only");
	return dev_flush_op(dev, &op);
}
