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
	uint64_t mask = dev->g.block_size - 1; /* 512 or 4096 */

	return !len || ((off | len) & mask) || off > dev->g.size ||
	       len > dev->g.size - off;
}

/* ---- chunk I/O within one zone ---- */

static int cow_bit(const struct cow *c, uint64_t b)
{
	return (c->bits[b / 64] >> (b % 64)) & 1;
}

/* Read @len bytes at @in of slot @slot, which is redirected on write:
 * each run of blocks comes from the slot's own chunk or from the base. */
static int cow_read(struct zvd_dev *dev, const struct zview *v, uint32_t slot,
		    uint8_t *buf, uint64_t len, uint64_t in)
{
	const struct cow *c = v->cow[slot];
	uint32_t bs = dev->g.block_size;

	while (len) {
		uint64_t b = in / bs, run = 1;
		int own = cow_bit(c, b);
		int err;

		while ((run + b) * bs < in + len && cow_bit(c, b + run) == own)
			run++;
		run = ZVD_MIN(run * bs - (in - b * bs), len);
		err = be_read(dev->be, buf, run,
			      img_chunk_off(dev->chunk_shift,
					    own ? v->map[slot] : c->base) + in);
		if (err)
			return err;
		buf += run;
		in += run;
		len -= run;
	}
	return 0;
}

/*
 * Before a conventional zone writes [in, in+n) of slot @slot whose chunk a
 * snapshot shares: point the slot at a new chunk and keep reading the
 * blocks not written yet from the old one (or, if the slot is redirected
 * already, from its base, carrying over the blocks the shared chunk
 * holds). Only what this state wrote since the last snapshot is copied.
 */
static int cow_split(struct zvd_dev *dev, struct zone *z, uint32_t slot)
{
	uint32_t old = z->st.map[slot], fresh;
	struct cow *c;
	uint8_t *buf = NULL;
	uint32_t bs = dev->g.block_size, blocks = (1u << dev->chunk_shift) / bs;
	int err;

	if (!z->st.cow) {
		z->st.cow = calloc(dev->slots, sizeof(*z->st.cow));
		if (!z->st.cow)
			return -ENOMEM;
	}
	c = z->st.cow[slot];
	if (!c) {
		c = calloc(1, cow_size(dev));
		if (!c)
			return -ENOMEM;
	}
	err = img_alloc(dev->img, &fresh);
	for (uint32_t b = 0; !err && z->st.cow[slot] && b < blocks; b++) {
		if (!cow_bit(c, b))
			continue;
		if (!buf && !(buf = malloc(bs)))
			err = -ENOMEM;
		if (!err)
			err = be_read(dev->be, buf, bs,
				      img_chunk_off(dev->chunk_shift, old) +
					      (uint64_t)b * bs);
		if (!err)
			err = be_write(dev->be, buf, bs,
				       img_chunk_off(dev->chunk_shift, fresh) +
					       (uint64_t)b * bs);
	}
	free(buf);
	if (err) {
		if (!z->st.cow[slot])
			free(c);
		return err;
	}
	if (z->st.cow[slot])
		img_unref(dev->img, old); /* the base stays */
	else
		c->base = old; /* the slot's reference moves to the base */
	z->st.cow[slot] = c;
	z->st.map[slot] = fresh;
	return 0;
}

/* Mark blocks [in, in+n) of a redirected slot as its own; once all are,
 * the base is no longer needed. */
static void cow_written(struct zvd_dev *dev, struct zone *z, uint32_t slot,
			uint64_t in, uint64_t n)
{
	struct cow *c = z->st.cow[slot];
	uint32_t bs = dev->g.block_size, blocks = (1u << dev->chunk_shift) / bs;
	uint32_t b;

	for (b = (uint32_t)(in / bs); b < (in + n) / bs; b++)
		c->bits[b / 64] |= 1ull << (b % 64);
	for (b = 0; b < blocks && cow_bit(c, b); b++)
		;
	if (b == blocks) {
		img_unref(dev->img, c->base);
		free(c);
		z->st.cow[slot] = NULL;
	}
}

/* Read [pos, pos+len) of zone @zi (zone-relative) as state @v has it;
 * bytes at or past @limit, or in chunks never written, read as zeros, or
 * through to the backing image below v->base_len. Caller holds the zone. */
static int zone_read_data(struct zvd_dev *dev, uint32_t zi,
			  const struct zview *v, uint8_t *buf, uint64_t len,
			  uint64_t pos, uint64_t limit)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	while (len) {
		uint32_t slot = (uint32_t)(pos >> dev->chunk_shift);
		uint64_t in = pos & (chunk - 1);
		uint64_t n = ZVD_MIN(len, chunk - in);
		uint64_t have = pos < limit ? ZVD_MIN(n, limit - pos) : 0;
		int err = 0;

		if (have && v->map && v->map[slot] && v->cow && v->cow[slot]) {
			err = cow_read(dev, v, slot, buf, have, in);
		} else if (have && v->map && v->map[slot]) {
			err = be_read(dev->be, buf, have,
				      img_chunk_off(dev->chunk_shift,
						    v->map[slot]) + in);
		} else if (have && pos < v->base_len) {
			have = ZVD_MIN(have, v->base_len - pos);
			err = backing_read(dev, buf, have,
					   zone_start(dev, zi) + pos);
		} else {
			have = 0;
		}
		if (err)
			return err;
		if (have < n)
			memset(buf + have, 0, n - have);
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/*
 * Make map slot @slot of zone @zi the zone's own before it is written: a
 * chunk that a snapshot maps too, or data that reads through to the
 * backing image, is copied into a new chunk first - the bytes of the slot
 * below @keep_end (zone-relative) that the write will not replace.
 */
static int slot_private(struct zvd_dev *dev, uint32_t zi, struct zone *z,
			uint32_t slot, uint64_t keep_end)
{
	uint64_t chunk = 1ull << dev->chunk_shift;
	uint64_t start = (uint64_t)slot << dev->chunk_shift;
	uint64_t keep = keep_end > start ? ZVD_MIN(keep_end - start, chunk) : 0;
	uint32_t old = z->st.map[slot], fresh;
	uint8_t *buf;
	int err;

	if (old && (!dev->nr_snaps || img_refcount(dev->img, old) <= 1))
		return 0;
	if (!old && start >= z->st.base_len)
		keep = 0;
	err = img_alloc(dev->img, &fresh);
	if (err || !keep) {
		if (!err) {
			z->st.map[slot] = fresh;
			if (old)
				img_unref(dev->img, old);
		}
		return err;
	}
	buf = malloc(keep);
	if (!buf) {
		img_unref(dev->img, fresh);
		return -ENOMEM;
	}
	err = zone_read_data(dev, zi, &z->st, buf, keep, start,
			     zone_is_conv(dev, zi) ? chunk + start : z->st.wp);
	if (!err)
		err = be_write(dev->be, buf, keep,
			       img_chunk_off(dev->chunk_shift, fresh));
	free(buf);
	if (err) {
		img_unref(dev->img, fresh);
		return err;
	}
	z->st.map[slot] = fresh;
	if (old)
		img_unref(dev->img, old);
	return 0;
}

/* Write [pos, pos+len) of zone @zi, taking chunks as needed. Caller holds
 * the zone exclusively. */
static int zone_write_data(struct zvd_dev *dev, uint32_t zi, struct zone *z,
			   const uint8_t *buf, uint64_t len, uint64_t pos)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	while (len) {
		uint32_t slot = (uint32_t)(pos >> dev->chunk_shift);
		uint64_t in = pos & (chunk - 1);
		uint64_t n = ZVD_MIN(len, chunk - in);
		uint64_t keep_end;
		int err;

		if (!z->st.map) {
			z->st.map = calloc(dev->slots, sizeof(*z->st.map));
			if (!z->st.map)
				return -ENOMEM;
		}
		/* a sequential zone keeps what lies below the write; a
		 * conventional one redirects a chunk a snapshot shares, and
		 * copies in what reads through to a backing image */
		if (zone_is_conv(dev, zi) && z->st.map[slot] && n < chunk) {
			if (dev->nr_snaps &&
			    img_refcount(dev->img, z->st.map[slot]) > 1)
				err = cow_split(dev, z, slot);
			else
				err = 0;
		} else {
			keep_end = zone_is_conv(dev, zi) && n < chunk
					   ? pos - in + chunk : pos;
			err = slot_private(dev, zi, z, slot, keep_end);
			if (!err && z->st.cow && z->st.cow[slot]) {
				/* the whole chunk is rewritten */
				img_unref(dev->img, z->st.cow[slot]->base);
				free(z->st.cow[slot]);
				z->st.cow[slot] = NULL;
			}
		}
		if (err)
			return err;
		err = be_write(dev->be, buf, n,
			       img_chunk_off(dev->chunk_shift, z->st.map[slot]) + in);
		if (err)
			return err;
		if (z->st.cow && z->st.cow[slot])
			cow_written(dev, z, slot, in, n);
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* The profile's fill for what a read finds at and past the write pointer
 * (null_blk: 0xff; a full zone's pointer is at its capacity if writes
 * filled it, at its end after a finish; a read-only one has none). */
static void fill_past_wp(struct zvd_dev *dev, uint32_t zi,
			 const struct zview *v, uint8_t *buf, uint64_t n,
			 uint64_t pos)
{
	uint64_t wp = v->wp;

	if (v->cond == ZVD_COND_READ_ONLY)
		return;
	if (v->cond == ZVD_COND_FULL)
		wp = v->finished ? dev->g.zone_size : zone_cap(dev, zi);
	if (pos + n > wp) {
		uint64_t from = ZVD_MAX(pos, wp);
		memset(buf + (from - pos), dev->prof->past_wp_fill,
		       pos + n - from);
	}
}

/* ---- read ---- */

int zvd_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	if (dev->vol)
		return vol_read(dev, buf, len, off);
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
		if (z->st.cond == ZVD_COND_OFFLINE) {
			pthread_rwlock_unlock(&z->lock);
			return dev_fail(dev, ZVD_OFFLINE, zi, off, n, 0, 0);
		}
		limit = zone_is_conv(dev, zi) ? dev->g.zone_size : z->st.wp;
		err = zone_read_data(dev, zi, &z->st, p, n, pos, limit);
		if (!err && dev->prof->past_wp_fill && !zone_is_conv(dev, zi))
			fill_past_wp(dev, zi, &z->st, p, n, pos);
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
		err = zone_preserve(dev, zi);
		if (!err)
			err = zone_write_data(dev, zi, z, buf, n, pos);
		if (!err)
			z->st.writes++;
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

	switch (z->st.cond) {
	case ZVD_COND_FULL:
		return dev_fail(dev, ZVD_ZONE_FULL, zi, start + *pos, len,
				start + z->st.wp, cap);
	case ZVD_COND_READ_ONLY:
		return dev_fail(dev, ZVD_READ_ONLY, zi, start + *pos, len, 0, 0);
	case ZVD_COND_OFFLINE:
		return dev_fail(dev, ZVD_OFFLINE, zi, start + *pos, len, 0, 0);
	}
	if (append)
		*pos = z->st.wp;
	else if (*pos != z->st.wp)
		return dev_fail(dev, ZVD_INVALID_WRITE, zi, start + *pos, len,
				start + z->st.wp, 0);
	if (*pos + len > cap)
		return dev_fail(dev, ZVD_BOUNDARY, zi, start + *pos, len,
				start + z->st.wp, start + cap);
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
		if (!err)
			err = zone_preserve(dev, zi);
		if (!err && (z->st.cond == ZVD_COND_EMPTY ||
			     z->st.cond == ZVD_COND_CLOSED))
			err = zone_open_resources(dev, zi, ZVD_COND_IMP_OPEN);
		if (err != -EAGAIN)
			break;
		pthread_rwlock_unlock(&z->lock);
		pthread_rwlock_unlock(&dev->state_lock);
		sched_yield();
	}
	if (!err) {
		err = zone_write_data(dev, zi, z, buf, len, pos);
		if (!err) {
			z->st.wp = pos + len;
			z->st.writes++;
			if (z->st.wp == zone_cap(dev, zi)) {
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

	if (dev->vol)
		return vol_write(dev, buf, len, off, flags);
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

	if (dev->vol)
		return dev_fail_msg(dev, -EINVAL, "a volume has no zones to append to");
	if (zone < dev->nr_zones && zone_is_conv(dev, zone))
		return type_error(dev, zone, zone_start(dev, zone), len);
	if (zone >= dev->nr_zones || !buf || !where || !len ||
	    len % dev->g.block_size || (flags & ~ZVD_WRITE_FUA))
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
