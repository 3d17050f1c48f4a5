// SPDX-License-Identifier: MIT
/*
 * extent.c - the calls every device answers whether zoned or a volume:
 * its size, whether it is read-only, and its allocation map. A volume's
 * handle carries dev->vol and is answered by lib/volume/.
 */
#include <errno.h>

#include "util/util.h"
#include "zoned/zoned.h"

uint64_t zvd_size(const struct zvd_dev *dev)
{
	return dev->g.size;
}

struct zvd_backend *zvd_backend_of(struct zvd_dev *dev)
{
	return dev ? dev->be : NULL;
}

int zvd_is_volume(const struct zvd_dev *dev)
{
	return dev->vol != NULL;
}

int zvd_is_readonly(const struct zvd_dev *dev)
{
	return dev->readonly;
}

int zvd_discard(struct zvd_dev *dev, uint64_t off, uint64_t len,
		unsigned flags)
{
	if (dev->vol)
		return vol_discard(dev, off, len, flags, 0);
	return dev_fail_msg(dev, -EOPNOTSUPP,
			    "discard needs a volume, not a zoned image");
}

int zvd_write_zeroes(struct zvd_dev *dev, uint64_t off, uint64_t len,
		     unsigned flags)
{
	if (dev->vol)
		return vol_discard(dev, off, len, flags, 1);
	return dev_fail_msg(dev, -EOPNOTSUPP,
			    "write-zeroes needs a volume, not a zoned image");
}

/* Flags of the piece of zone @zi at @pos: data below what it holds (or
 * what reads through to a backing image), a hole past it. */
static uint32_t zone_piece(struct zvd_dev *dev, uint32_t zi, uint64_t pos,
			   uint64_t *n)
{
	const struct zview *v = &dev->zones[zi].st;
	uint64_t chunk = 1ull << dev->chunk_shift;
	uint64_t end = zone_is_conv(dev, zi) ? dev->g.zone_size : v->wp;
	uint64_t slot_end = (pos / chunk + 1) * chunk;

	if (v->cond == ZVD_COND_OFFLINE || v->cond == ZVD_COND_READ_ONLY ||
	    v->cond == ZVD_COND_FULL) {
		*n = dev->g.zone_size - pos;
		return 0;
	}
	if (pos >= end) {
		*n = dev->g.zone_size - pos;
		return ZVD_EXTENT_HOLE | ZVD_EXTENT_ZERO;
	}
	*n = ZVD_MIN(slot_end, end) - pos;
	if (!v->map || !v->map[pos / chunk])
		return pos < v->base_len ? 0
					 : ZVD_EXTENT_HOLE | ZVD_EXTENT_ZERO;
	return 0;
}

int zvd_map(struct zvd_dev *dev, uint64_t off, uint64_t len,
	    struct zvd_extent *out, uint32_t max)
{
	uint32_t nr = 0;

	if (dev->vol)
		return vol_map(dev, off, len, out, max);
	if (!out || !max || off > dev->g.size || len > dev->g.size - off)
		return dev_fail(dev, ZVD_INVALID_FIELD, dev_zone_of(dev, off),
				off, len, 0, dev->g.size);
	while (len) {
		uint32_t zi = dev_zone_of(dev, off);
		struct zone *z = &dev->zones[zi];
		uint64_t n;
		uint32_t fl;

		pthread_rwlock_rdlock(&z->lock);
		fl = zone_piece(dev, zi, off - zone_start(dev, zi), &n);
		pthread_rwlock_unlock(&z->lock);
		n = ZVD_MIN(n, len);
		if (nr && out[nr - 1].flags == fl) {
			out[nr - 1].len += n;
		} else {
			if (nr == max)
				break;
			out[nr++] = (struct zvd_extent){ .off = off, .len = n,
							  .flags = fl };
		}
		off += n;
		len -= n;
	}
	return (int)nr;
}
