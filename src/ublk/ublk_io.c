// SPDX-License-Identifier: MIT
/*
 * ublk_io.c - one ublk request becomes library calls: READ, WRITE (FUA
 * too), FLUSH, DISCARD and WRITE_ZEROES (volumes), ZONE_APPEND, the zone
 * operations and REPORT_ZONES (zoned images). Data moves by USER_COPY
 * (pread/pwrite on /dev/ublkcN at the request's offset). Also here: which
 * images a ublk device can present, and the parameters the kernel is
 * given (zoned for a zoned image, plain with discard for a volume).
 *
 * The block layer has already split I/O at zone boundaries, rejected
 * misaligned appends and serialised writes per zone; the library enforces
 * every zone rule itself, so nothing here decides what is allowed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/blkzoned.h>

#include "../cli.h"
#include "ublk.h"

_Static_assert(sizeof(struct blk_zone) == 64, "struct blk_zone is 64 B");

/* ---- geometry and parameters ------------------------------------------- */

/* Smallest request buffer: 1 MiB, the default append limit. */
#define MIN_IO_BYTES (1u << 20)

static uint64_t pow2_below(uint64_t v)
{
	uint64_t p = 1;

	while (p <= v / 2)
		p <<= 1;
	return p;
}

/* @v as a command-line size: "8M", "1G", "12K" or plain bytes. */
static const char *size_arg(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
	return buf;
}

int ublk_geometry_check(const struct zvd_geometry *g, char *why, size_t len)
{
	uint64_t zs = g->zone_size, nr = g->size / g->zone_size;

	if (zs & (zs - 1)) {
		char s1[32], s2[32], s3[32];

		snprintf(why, len,
			 "the zone size (%s, %" PRIu64 " bytes) is not a power "
			 "of two, and the Linux block layer accepts zoned "
			 "devices only with power-of-two zone sizes; recreate "
			 "the image with --zone-size %s, for instance (with "
			 "--zone-capacity %s if that is the writable size you "
			 "need)",
			 cli_fmt_size(zs, s1, sizeof(s1)), zs,
			 size_arg(pow2_below(zs) * 2, s2, sizeof(s2)),
			 size_arg(g->zone_capacity, s3, sizeof(s3)));
		return -EINVAL;
	}
	if ((zs >> 9) > (1ull << 31)) {
		snprintf(why, len,
			 "the zone size (%" PRIu64 " bytes) is larger than the "
			 "kernel allows: a zone's length in 512-byte sectors "
			 "must fit 32 bits (at most 1 TiB)", zs);
		return -EINVAL;
	}
	if (nr * sizeof(struct blk_zone) > UBLKC_MAX_IO_BYTES) {
		snprintf(why, len,
			 "the image has %" PRIu64 " zones; a ublk server must "
			 "answer a whole zone report in one request of at most "
			 "%u bytes, which holds %zu zones (use larger zones)",
			 nr, UBLKC_MAX_IO_BYTES,
			 UBLKC_MAX_IO_BYTES / sizeof(struct blk_zone));
		return -EINVAL;
	}
	if (g->block_size != 512 && g->block_size != 4096) {
		snprintf(why, len, "block size %u is not 512 or 4096",
			 g->block_size);
		return -EINVAL;
	}
	return 0;
}

int ublk_image_check(struct zvd_dev *dev, char *why, size_t len)
{
	struct zvd_geometry g;
	uint64_t size;

	if (zvd_is_volume(dev) == 1) {
		size = zvd_size(dev);
		if (size == 0 || size % ZVD_VOLUME_BLOCK) {
			snprintf(why, len,
				 "the volume's size (%" PRIu64 " bytes) is not "
				 "a positive multiple of %u", size,
				 ZVD_VOLUME_BLOCK);
			return -EINVAL;
		}
		return 0;
	}
	zvd_get_geometry(dev, &g);
	return ublk_geometry_check(&g, why, len);
}

uint32_t ublk_max_io_bytes(const struct zvd_geometry *g)
{
	uint64_t report = (g->size / g->zone_size) * sizeof(struct blk_zone);
	uint64_t v = MIN_IO_BYTES;

	/* 6.12 mis-numbers the zones of a report split over requests, so a
	 * whole report must fit one request */
	report = (report + 4095) & ~4095ull;
	if (report > v)
		v = report;
	if (g->max_append > v)
		v = g->max_append;
	if (v > UBLKC_MAX_IO_BYTES)
		v = UBLKC_MAX_IO_BYTES;
	return (uint32_t)v;
}

uint32_t ublk_append_bytes(const struct zvd_geometry *g, uint32_t max_io)
{
	uint64_t a = g->max_append ? g->max_append : g->zone_capacity;

	if (a > max_io)
		a = max_io;
	return (uint32_t)(a & ~(uint64_t)(g->block_size - 1));
}

static uint8_t shift_of(uint32_t v)
{
	uint8_t s = 0;

	while ((1u << s) < v)
		s++;
	return s;
}

/*
 * A volume is an ordinary disk with 512-byte sectors over 4 KiB map
 * blocks: file systems that ask the physical block size write whole
 * blocks. Discard and write-zeroes free or zero map blocks, so their
 * granularity is a block; neither carries data, so their limit is not the
 * request buffer's.
 */
static void volume_params(const struct ublk_srv *s, struct ublkc_params *p)
{
	struct ublk_param_basic *b = &p->basic;
	struct ublk_param_discard *d = &p->discard;

	p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
	b->attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->logical_bs_shift = shift_of(ZVD_VOLUME_SECTOR);
	b->physical_bs_shift = shift_of(ZVD_VOLUME_BLOCK);
	b->io_min_shift = b->physical_bs_shift;
	b->max_sectors = s->max_io_bytes >> 9;
	b->dev_sectors = s->size >> 9;
	d->discard_granularity = ZVD_VOLUME_BLOCK;
	d->max_discard_sectors = UBLK_VOLUME_DISCARD_BYTES >> 9;
	d->max_write_zeroes_sectors = UBLK_VOLUME_DISCARD_BYTES >> 9;
	d->max_discard_segments = 1;
}

void ublk_build_params(const struct ublk_srv *s, struct ublkc_params *p)
{
	const struct zvd_geometry *g = &s->geo;
	struct ublk_param_basic *b = &p->basic;

	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	if (s->volume) {
		volume_params(s, p);
		return;
	}
	p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_ZONED;
	/* a volatile cache makes the kernel send FLUSH, FUA keeps FUA */
	b->attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->logical_bs_shift = shift_of(g->block_size);
	b->physical_bs_shift = b->logical_bs_shift;
	b->io_min_shift = b->logical_bs_shift;
	b->max_sectors = s->max_io_bytes >> 9;
	b->chunk_sectors = (uint32_t)(g->zone_size >> 9);
	b->dev_sectors = g->size >> 9;
	p->zoned.max_open_zones = g->max_open;
	p->zoned.max_active_zones = g->max_active;
	p->zoned.max_zone_append_sectors = s->append_bytes >> 9;
}

/* ---- errors -------------------------------------------------------------- */

int ublk_blk_errno(int rc)
{
	if (rc >= 0)
		return rc;
	switch (rc) {
	case -EIO:	    /* IOERR: invalid write, full, boundary, ... */
	case -EINVAL:	    /* INVAL: bad field */
	case -ETOOMANYREFS: /* ZONE_OPEN_RESOURCE */
	case -EOVERFLOW:    /* ZONE_ACTIVE_RESOURCE */
	case -ENOSPC:	    /* NOSPC: the backend is out of space */
	case -EOPNOTSUPP:   /* NOTSUPP */
		return rc;
	default:
		/* -EBUSY would be DEV_RESOURCE (a retry); anything the block
		 * layer does not know becomes IOERR anyway */
		return -EIO;
	}
}

/* ---- data movement (USER_COPY) ------------------------------------------- */

static off_t req_pos(const struct ublk_queue *q, uint16_t tag)
{
	return (off_t)(UBLKSRV_IO_BUF_OFFSET +
		       ((uint64_t)q->q_id << UBLK_QID_OFF) +
		       ((uint64_t)tag << UBLK_TAG_OFF));
}

/* Copy the request's data (WRITE, ZONE_APPEND) into q->buf. */
static int copy_from_req(struct ublk_queue *q, uint16_t tag, size_t len)
{
	off_t pos = req_pos(q, tag);
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(q->srv->cdev_fd, (char *)q->buf + done,
				  len - done, pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Copy @len bytes of q->buf into the request (READ, REPORT_ZONES). */
static int copy_to_req(struct ublk_queue *q, uint16_t tag, size_t len)
{
	off_t pos = req_pos(q, tag);
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(q->srv->cdev_fd, (char *)q->buf + done,
				   len - done, pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* ---- requests -------------------------------------------------------------- */

static uint8_t blk_cond(uint8_t cond)
{
	switch (cond) {
	case ZVD_COND_EMPTY:
		return BLK_ZONE_COND_EMPTY;
	case ZVD_COND_IMP_OPEN:
		return BLK_ZONE_COND_IMP_OPEN;
	case ZVD_COND_EXP_OPEN:
		return BLK_ZONE_COND_EXP_OPEN;
	case ZVD_COND_CLOSED:
		return BLK_ZONE_COND_CLOSED;
	case ZVD_COND_FULL:
		return BLK_ZONE_COND_FULL;
	case ZVD_COND_READ_ONLY:
		return BLK_ZONE_COND_READONLY;
	case ZVD_COND_OFFLINE:
		return BLK_ZONE_COND_OFFLINE;
	default:
		return BLK_ZONE_COND_NOT_WP;
	}
}

static void to_blk_zone(const struct zvd_zone *z, struct blk_zone *b)
{
	memset(b, 0, sizeof(*b));
	b->start = z->start >> 9;
	b->len = z->len >> 9;
	b->capacity = z->capacity >> 9;
	/* full and conventional zones: start + len, as the library reports;
	 * read-only and offline: all ones, as null_blk reports */
	b->wp = z->wp == ZVD_WP_INVALID ? UINT64_MAX : z->wp >> 9;
	b->type = z->type == ZVD_ZONE_CONVENTIONAL ?
			  BLK_ZONE_TYPE_CONVENTIONAL :
			  BLK_ZONE_TYPE_SEQWRITE_REQ;
	b->cond = blk_cond(z->cond);
}

/* REPORT_ZONES: up to iod->nr_zones zones from the zone holding
 * start_sector (which may be unaligned), as struct blk_zone. */
static int report_zones(struct ublk_queue *q, uint16_t tag,
			const struct ublksrv_io_desc *iod)
{
	struct zvd_dev *dev = q->srv->dev;
	struct blk_zone *out = q->buf;
	uint32_t first = zvd_zone_of(dev, iod->start_sector << 9);
	/* nr_zones shares its place with nr_sectors (6.12's union) */
	uint32_t want = iod->nr_sectors, done = 0, i;
	int n;

	if (first == UINT32_MAX)
		return -EINVAL;
	if (want > q->srv->max_io_bytes / sizeof(*out))
		want = q->srv->max_io_bytes / sizeof(*out);
	while (done < want) {
		uint32_t ask = want - done;

		if (ask > q->nr_zone_slots)
			ask = q->nr_zone_slots;
		n = zvd_report(dev, first + done, ZVD_REPORT_ALL, q->zones,
			       ask);
		if (n < 0)
			return ublk_blk_errno(n);
		for (i = 0; i < (uint32_t)n; i++)
			to_blk_zone(&q->zones[i], &out[done + i]);
		done += (uint32_t)n;
		if ((uint32_t)n < ask)
			break;
	}
	/* no zone for a valid start would make the kernel ask forever */
	if (!done)
		return -EIO;
	n = copy_to_req(q, tag, done * sizeof(*out));
	return n ? n : (int)(done * sizeof(*out));
}

static int zone_op(struct ublk_queue *q, enum zvd_zone_op op, uint64_t off)
{
	uint32_t zone = zvd_zone_of(q->srv->dev, off);

	if (zone == UINT32_MAX)
		return -EINVAL;
	return ublk_blk_errno(zvd_zone_mgmt(q->srv->dev, op, zone));
}

static int do_read(struct ublk_queue *q, uint16_t tag, uint64_t off,
		   size_t len)
{
	int rc = zvd_read(q->srv->dev, q->buf, len, off);

	if (rc < 0)
		return ublk_blk_errno(rc);
	rc = copy_to_req(q, tag, len);
	return rc ? rc : (int)len;
}

static int do_write(struct ublk_queue *q, uint16_t tag, uint64_t off,
		    size_t len, unsigned flags)
{
	int rc = copy_from_req(q, tag, len);

	if (rc)
		return rc;
	rc = zvd_write(q->srv->dev, q->buf, len, off, flags);
	return rc < 0 ? ublk_blk_errno(rc) : (int)len;
}

static int do_append(struct ublk_queue *q, uint16_t tag, uint64_t off,
		     size_t len, unsigned flags, uint64_t *lba)
{
	uint32_t zone = zvd_zone_of(q->srv->dev, off);
	uint64_t where = 0;
	int rc;

	if (zone == UINT32_MAX)
		return -EINVAL;
	rc = copy_from_req(q, tag, len);
	if (rc)
		return rc;
	rc = zvd_append(q->srv->dev, zone, q->buf, len, flags, &where);
	if (rc < 0)
		return ublk_blk_errno(rc);
	*lba = where >> 9;
	return (int)len;
}

/*
 * DISCARD and WRITE_ZEROES (volumes; a zoned image refuses them, and they
 * are not advertised for one). NOUNMAP is not needed: a volume records
 * zeroed blocks without storing them either way, and a later write to
 * them takes log space as any write does. A FUA request is made durable
 * by a flush.
 */
static int do_discard(struct ublk_queue *q, unsigned op, uint64_t off,
		      uint64_t len, bool fua)
{
	struct zvd_dev *dev = q->srv->dev;
	int rc;

	if (len == 0)
		return -EINVAL;
	rc = op == UBLK_IO_OP_DISCARD ? zvd_discard(dev, off, len, 0) :
					zvd_write_zeroes(dev, off, len, 0);
	if (rc >= 0 && fua)
		rc = zvd_flush(dev);
	return rc < 0 ? ublk_blk_errno(rc) : 0;
}

int ublk_handle_io(struct ublk_queue *q, uint16_t tag,
		   const struct ublksrv_io_desc *iod, uint64_t *lba)
{
	unsigned op = iod->op_flags & 0xff;
	unsigned flags = iod->op_flags & UBLK_IO_F_FUA ? ZVD_WRITE_FUA : 0;
	uint64_t off = iod->start_sector << 9;
	size_t len = (size_t)iod->nr_sectors << 9;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
	case UBLK_IO_OP_ZONE_APPEND:
		if (len == 0 || len > q->srv->max_io_bytes)
			return -EINVAL;
		break;
	default:
		break;
	}
	switch (op) {
	case UBLK_IO_OP_READ:
		return do_read(q, tag, off, len);
	case UBLK_IO_OP_WRITE:
		return do_write(q, tag, off, len, flags);
	case UBLK_IO_OP_ZONE_APPEND:
		return do_append(q, tag, off, len, flags, lba);
	case UBLK_IO_OP_FLUSH:
		return ublk_blk_errno(zvd_flush(q->srv->dev));
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		return do_discard(q, op, off, len, flags & ZVD_WRITE_FUA);
	case UBLK_IO_OP_ZONE_OPEN:
		return zone_op(q, ZVD_OP_OPEN, off);
	case UBLK_IO_OP_ZONE_CLOSE:
		return zone_op(q, ZVD_OP_CLOSE, off);
	case UBLK_IO_OP_ZONE_FINISH:
		return zone_op(q, ZVD_OP_FINISH, off);
	case UBLK_IO_OP_ZONE_RESET:
		return zone_op(q, ZVD_OP_RESET, off);
	case UBLK_IO_OP_ZONE_RESET_ALL:
		return ublk_blk_errno(zvd_zone_mgmt(q->srv->dev, ZVD_OP_RESET,
						    ZVD_ALL_ZONES));
	case UBLK_IO_OP_REPORT_ZONES:
		return report_zones(q, tag, iod);
	default:
		/* WRITE_SAME is never sent */
		return -EOPNOTSUPP;
	}
}
