// SPDX-License-Identifier: MIT
/*
 * io.c - the data path: read, write and zone append.
 *
 * A zone's data lives in chunks the zone maps; a write lands with one
 * backend write per chunk it touches, and a new chunk is taken from the
 * image only when the write reaches it (thin provisioning). The write
 * pointer moves only after the data is written, so it never runs ahead of
 * data that is there; it becomes durable at the next flush.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "util/util.h"
#include "zoned/zoned.h"

static int bad_range(struct zvd_dev *dev, uint64_t off, uint64_t len)
{
	uint32_t bs = dev->g.block_size;

	return !len || off % bs || len % bs || off > dev->g.size ||
	       len > dev->g.size - off;
}

/* ---- chunk I/O within one zone ---- */

/* Read [pos, pos+len) of zone @z (zone-relative); bytes at or past @limit,
 * or in chunks never written, read as zeros. Caller holds the zone. */
static int zone_read_data(struct zvd_dev *dev, struct zone *z, uint8_t *buf,
			  uint64_t len, uint64_t pos, uint64_t limit)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	while (len) {
		uint32_t slot = (uint32_t)(pos >> dev->chunk_shift);
		uint64_t in = pos & (chunk - 1);
		uint64_t n = ZVD_MIN(len, chunk - in);
		uint64_t have = pos < limit ? ZVD_MIN(n, limit - pos) : 0;

		if (have && z->map && z->map[slot]) {
			int err = be_read(dev->be, buf, have,
					  img_chunk_off(dev->chunk_shift,
							z->map[slot]) + in);
			if (err)
				return err;
		} else {
			have = 0;
		}
		memset(buf + have, 0, n - have);
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* Write [pos, pos+len) of zone @z, taking chunks as needed. Caller holds
 * the zone exclusively. */
static int zone_write_data(struct zvd_dev *dev, struct zone *z,
			   const uint8_t *buf, uint64_t len, uint64_t pos)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	while (len) {
		uint32_t slot = (uint32_t)(pos >> dev->chunk_shift);
		uint64_t in = pos & (chunk - 1);
		uint64_t n = ZVD_MIN(len, chunk - in);
		int err;

		if (!z->map) {
			z->map = calloc(dev->slots, sizeof(*z->map));
			if (!z->map)
				return -ENOMEM;
		}
		if (!z->map[slot]) {
			err = img_alloc(dev->img, &z->map[slot]);
			if (err)
				return err;
		}
		err = be_write(dev->be, buf, n,
			       img_chunk_off(dev->chunk_shift, z->map[slot]) + in);
		if (err)
			return err;
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* ---- read ---- */

int zvd_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	if (!buf || bad_range(dev, off, len))
		return dev_fail(dev, ZVD_INVALID_FIELD, dev_zone_of(dev, off),
				off, len, 0, dev->g.size);
	while (len) {
		uint32_t zi = dev_zone_of(dev, off);
		struct zone *z = &dev->zones[zi];
		uint64_t pos = off - zone_start(dev, zi);
		uint64_t n = ZVD_MIN((uint64_t)len, dev->g.zone_size - pos);
		uint64_t limit;
		int err;

		pthread_rwlock_rdlock(&z->lock);
		if (z->cond == ZVD_COND_OFFLINE) {
			pthread_rwlock_unlock(&z->lock);
			return dev_fail(dev, ZVD_OFFLINE, zi, off, n, 0, 0);
		}
		limit = zone_is_conv(dev, zi) ? dev->g.zone_size : z->wp;
		err = zone_read_data(dev, z, p, n, pos, limit);
		pthread_rwlock_unlock(&z->lock);
		if (err)
			return dev_io_fail(dev, err, zi, off, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* ---- write and append ---- */

static int conv_write(struct zvd_dev *dev, const uint8_t *buf, uint64_t len,
		      uint64_t off)
{
	uint32_t last = dev_zone_of(dev, off + len - 1);

	if (!zone_is_conv(dev, last))
		return dev_fail(dev, ZVD_BOUNDARY, dev_zone_of(dev, off), off,
				len, 0,
				(uint64_t)dev->g.nr_conv_zones * dev->g.zone_size);
	while (len) {
		uint32_t zi = dev_zone_of(dev, off);
		struct zone *z = &dev->zones[zi];
		uint64_t pos = off - zone_start(dev, zi);
		uint64_t n = ZVD_MIN(len, dev->g.zone_size - pos);
		int err;

		pthread_rwlock_rdlock(&dev->state_lock);
		pthread_rwlock_wrlock(&z->lock);
		err = zone_write_data(dev, z, buf, n, pos);
		if (!err)
			z->writes++;
		mark_dirty(dev, zi); /* a new chunk may be mapped even on error */
		pthread_rwlock_unlock(&z->lock);
		pthread_rwlock_unlock(&dev->state_lock);
		if (err)
			return dev_io_fail(dev, err, zi, off, n);
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Checks that need the zone's state, in the order docs/ZONED.md gives.
 * For an append, *pos is set to the write pointer. */
static int seq_check(struct zvd_dev *dev, uint32_t zi, uint64_t len,
		     uint64_t *pos, int append)
{
	struct zone *z = &dev->zones[zi];
	uint64_t start = zone_start(dev, zi);
	uint64_t cap = zone_cap(dev, zi);

	switch (z->cond) {
	case ZVD_COND_FULL:
		return dev_fail(dev, ZVD_ZONE_FULL, zi, start + *pos, len,
				start + z->wp, cap);
	case ZVD_COND_READ_ONLY:
		return dev_fail(dev, ZVD_READ_ONLY, zi, start + *pos, len, 0, 0);
	case ZVD_COND_OFFLINE:
		return dev_fail(dev, ZVD_OFFLINE, zi, start + *pos, len, 0, 0);
	}
	if (append)
		*pos = z->wp;
	else if (*pos != z->wp)
		return dev_fail(dev, ZVD_INVALID_WRITE, zi, start + *pos, len,
				start + z->wp, 0);
	if (*pos + len > cap)
		return dev_fail(dev, ZVD_BOUNDARY, zi, start + *pos, len,
				start + z->wp, start + cap);
	return 0;
}

/* Write at the write pointer of sequential zone @zi (an append when
 * @append, which stores where the data landed in *where). */
static int seq_write(struct zvd_dev *dev, uint32_t zi, const uint8_t *buf,
		     uint64_t len, uint64_t pos, int append, uint64_t *where)
{
	struct zone *z = &dev->zones[zi];
	int err;

	for (;;) {
		pthread_rwlock_rdlock(&dev->state_lock);
		pthread_rwlock_wrlock(&z->lock);
		err = seq_check(dev, zi, len, &pos, append);
		if (!err && (z->cond == ZVD_COND_EMPTY ||
			     z->cond == ZVD_COND_CLOSED))
			err = zone_open_resources(dev, zi, ZVD_COND_IMP_OPEN);
		if (err != -EAGAIN)
			break;
		pthread_rwlock_unlock(&z->lock);
		pthread_rwlock_unlock(&dev->state_lock);
		sched_yield();
	}
	if (!err) {
		err = zone_write_data(dev, z, buf, len, pos);
		if (!err) {
			z->wp = pos + len;
			z->writes++;
			if (z->wp == zone_cap(dev, zi)) {
				pthread_mutex_lock(&dev->res_lock);
				zone_set_cond(dev, zi, ZVD_COND_FULL);
				pthread_mutex_unlock(&dev->res_lock);
			}
			if (where)
				*where = zone_start(dev, zi) + pos;
		} else {
			err = dev_io_fail(dev, err, zi, zone_start(dev, zi) + pos,
					  len);
		}
		/* an opened zone or a new chunk is state even on error */
		mark_dirty(dev, zi);
	}
	pthread_rwlock_unlock(&z->lock);
	pthread_rwlock_unlock(&dev->state_lock);
	return err;
}

int zvd_write(struct zvd_dev *dev, const void *buf, size_t len, uint64_t off,
	      unsigned flags)
{
	uint32_t zi;
	uint64_t pos;
	int err;

	if (!buf || bad_range(dev, off, len) || (flags & ~ZVD_WRITE_FUA))
		return dev_fail(dev, ZVD_INVALID_FIELD, dev_zone_of(dev, off),
				off, len, 0, dev->g.size);
	if (dev->readonly)
		return dev_io_fail(dev, -EROFS, dev_zone_of(dev, off), off, len);
	zi = dev_zone_of(dev, off);
	pos = off - zone_start(dev, zi);
	if (zone_is_conv(dev, zi)) {
		err = conv_write(dev, buf, len, off);
	} else {
		/* a write past the zone end fails the boundary check */
		err = seq_write(dev, zi, buf, len, pos, 0, NULL);
	}
	if (!err && (flags & ZVD_WRITE_FUA)) {
		err = dev_flush(dev, 0);
		if (err)
			err = dev_io_fail(dev, err, zi, off, len);
	}
	return err;
}

int zvd_append(struct zvd_dev *dev, uint32_t zone, const void *buf,
	       size_t len, unsigned flags, uint64_t *where)
{
	uint64_t max;
	int err;

	if (zone >= dev->nr_zones || zone_is_conv(dev, zone) || !buf ||
	    !where || !len || len % dev->g.block_size ||
	    (flags & ~ZVD_WRITE_FUA))
		return dev_fail(dev, ZVD_INVALID_FIELD,
				zone < dev->nr_zones ? zone : ZONE_NONE,
				zone < dev->nr_zones ? zone_start(dev, zone) : 0,
				len, 0, 0);
	max = dev->g.max_append ? ZVD_MIN(dev->g.max_append, dev->g.zone_capacity)
				: dev->g.zone_capacity;
	if (len > max)
		return dev_fail(dev, ZVD_INVALID_FIELD, zone,
				zone_start(dev, zone), len, 0, max);
	if (dev->readonly)
		return dev_io_fail(dev, -EROFS, zone, zone_start(dev, zone), len);
	err = seq_write(dev, zone, buf, len, 0, 1, where);
	if (!err && (flags & ZVD_WRITE_FUA)) {
		err = dev_flush(dev, 0);
		if (err)
			err = dev_io_fail(dev, err, zone, *where, len);
	}
	return err;
}
