// SPDX-License-Identifier: MIT
/*
 * dev.c - a zoned device's lifetime: create, open (replaying the journal's
 * zone records), close, and the zone record itself.
 *
 * Zone record (little-endian), the whole state of one zone:
 *   0 type (1)  1 cond  4 zone  8 wp (bytes held)  16 writes  24 resets
 *  32 finishes  40 nmap  44 io_stamp (order of implicit opens)
 *  52 map[nmap] (u32 chunk per slot, 0 = none)
 * Replaying a record replaces the zone's state; a zone with no record is
 * empty (or an unwritten conventional zone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"
#include "zoned/zoned.h"

#define ZREC_ZONE 1u
#define ZREC_HDR 52u

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

/* Highest used map slot + 1. */
static uint32_t map_len(const struct zvd_dev *dev, const struct zone *z)
{
	uint32_t n = z->map ? dev->slots : 0;

	while (n && !z->map[n - 1])
		n--;
	return n;
}

int zone_pristine(const struct zvd_dev *dev, const struct zone *z,
		  uint32_t zi)
{
	uint8_t idle = zone_is_conv(dev, zi) ? ZVD_COND_NOT_WP : ZVD_COND_EMPTY;

	return z->cond == idle && !z->wp && !map_len(dev, z) && !z->writes &&
	       !z->resets && !z->finishes;
}

/* Append zone @zi's record to @recs. Caller keeps the zone stable. */
int zone_encode(struct zvd_dev *dev, uint32_t zi, struct img_recs *recs)
{
	const struct zone *z = &dev->zones[zi];
	uint32_t n = map_len(dev, z);
	uint8_t *p = img_recs_add(recs, ZREC_HDR + 4 * (size_t)n);

	if (!p)
		return -ENOMEM;
	memset(p, 0, ZREC_HDR);
	p[0] = ZREC_ZONE;
	p[1] = z->cond;
	put_le32(p + 4, zi);
	put_le64(p + 8, z->wp);
	put_le64(p + 16, z->writes);
	put_le64(p + 24, z->resets);
	put_le64(p + 32, z->finishes);
	put_le32(p + 40, n);
	put_le64(p + 44, z->io_stamp);
	for (uint32_t i = 0; i < n; i++)
		put_le32(p + ZREC_HDR + 4 * i, z->map[i]);
	return 0;
}

/* Free a zone's chunks once the next commit is durable. Caller holds the
 * zone exclusively. */
void zone_free_chunks(struct zvd_dev *dev, struct zone *z)
{
	if (!z->map)
		return;
	for (uint32_t i = 0; i < dev->slots; i++)
		if (z->map[i])
			img_free_deferred(dev->img, z->map[i]);
	free(z->map);
	z->map = NULL;
}

struct load {
	struct zvd_dev *dev;
	const char *why;
	uint32_t zone;
	char buf[160];
};

/*
 * What is wrong with zone @zi after a replay, in words (written into @buf
 * when numbers are needed), or NULL. Every byte below a sequential zone's
 * write pointer must be in a mapped chunk inside the backend.
 */
const char *zone_problem(struct zvd_dev *dev, uint32_t zi, uint64_t be_size,
			 char *buf, size_t len)
{
	const struct zone *z = &dev->zones[zi];
	uint64_t chunk = 1ull << dev->chunk_shift;

	if (z->cond == ZVD_COND_EMPTY && z->wp)
		return "empty, but its write pointer is not at the zone start";
	if (z->cond == ZVD_COND_OFFLINE && (z->wp || z->map))
		return "offline, but it still holds data";
	for (uint64_t s = 0; s * chunk < z->wp; s++) {
		uint64_t end;

		if (!z->map || !z->map[s]) {
			snprintf(buf, len, "data below the write pointer (%llu bytes in) is missing at %llu",
				 (unsigned long long)z->wp,
				 (unsigned long long)(s * chunk));
			return buf;
		}
		end = img_chunk_off(dev->chunk_shift, z->map[s]) +
		      ZVD_MIN(chunk, z->wp - s * chunk);
		if (end > be_size) {
			snprintf(buf, len, "data at %llu lies beyond the end of the image file (is it truncated?)",
				 (unsigned long long)(s * chunk));
			return buf;
		}
	}
	return NULL;
}

static int cond_valid(const struct zvd_dev *dev, uint32_t zi, uint8_t cond)
{
	if (zone_is_conv(dev, zi))
		return cond == ZVD_COND_NOT_WP;
	return cond >= ZVD_COND_EMPTY && cond < ZVD_COND_COUNT;
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
	struct zone *z;
	uint32_t zi, n;
	uint64_t wp;

	if (len < ZREC_HDR || p[0] != ZREC_ZONE)
		return load_fail(l, ZONE_NONE, "journal holds an unknown record");
	zi = get_le32(p + 4);
	n = get_le32(p + 40);
	wp = get_le64(p + 8);
	if (zi >= dev->nr_zones)
		return load_fail(l, ZONE_NONE, "journal names a zone beyond the device");
	if (len != ZREC_HDR + 4 * (size_t)n || n > dev->slots)
		return load_fail(l, zi, "zone record has a bad map length");
	if (!cond_valid(dev, zi, p[1]))
		return load_fail(l, zi, "zone record has an invalid condition");
	if (wp > zone_cap(dev, zi) || wp % dev->g.block_size ||
	    (zone_is_conv(dev, zi) && wp))
		return load_fail(l, zi, "zone record has an invalid write pointer");
	z = &dev->zones[zi];
	free(z->map);
	z->map = NULL;
	if (n) {
		z->map = calloc(dev->slots, sizeof(*z->map));
		if (!z->map)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			z->map[i] = get_le32(p + ZREC_HDR + 4 * i);
	}
	z->cond = p[1];
	z->wp = wp;
	z->writes = get_le64(p + 16);
	z->resets = get_le64(p + 24);
	z->finishes = get_le64(p + 32);
	z->io_stamp = get_le64(p + 44);
	return 0;
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
		struct zone *z = &dev->zones[zi];
		for (uint32_t i = 0; z->map && i < dev->slots && !err; i++)
			if (z->map[i] && img_mark_used(dev->img, z->map[i])) {
				err = -EUCLEAN;
				l.why = "zone maps a chunk that is out of range or used twice";
				l.zone = zi;
			}
	}
	if (!err)
		err = be_size(dev->be, &size);
	for (uint32_t zi = 0; !err && all_zones && zi < dev->nr_zones; zi++) {
		l.why = zone_problem(dev, zi, size, l.buf, sizeof(l.buf));
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
	dev->readonly = readonly;
	dev->nr_zones = (uint32_t)(g->size / g->zone_size);
	dev->chunk_shift = (uint32_t)__builtin_ctz(chunk);
	dev->slots = (uint32_t)zvd_div_round_up(g->zone_size, chunk);
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
		z->cond = zone_is_conv(dev, zi) ? ZVD_COND_NOT_WP
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
	atomic_init(&dev->flush_started, 0);
	dev->last.zone = UINT32_MAX;
	return dev;
}

void dev_free(struct zvd_dev *dev)
{
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++) {
		free(dev->zones[zi].map);
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
	free(dev);
}

int zvd_create(struct zvd_backend *be, const struct zvd_geometry *g,
	       struct zvd_dev **out)
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
			 sizeof(blob), &dev->img);
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
	err = dev_open_image(be, flags & ZVD_OPEN_READONLY, &dev, &why);
	if (err)
		return err;
	err = dev_load(dev, 1, reason, sizeof(reason), &zone);
	if (err) {
		dev->be = NULL;
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
	if (!dev->readonly)
		err = dev_flush(dev, 0);
	zvd_backend_close(dev->be);
	dev_free(dev);
	return err;
}

int zvd_get_space(struct zvd_dev *dev, struct zvd_space *sp)
{
	struct img_usage u;
	uint64_t chunk = 1ull << dev->chunk_shift;
	int err;

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
