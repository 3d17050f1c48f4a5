// SPDX-License-Identifier: MIT
/*
 * vol.c - a volume's lifetime and data path.
 *
 *   lifetime   create, open (replay the journal, count segments), close
 *   data path  read, write (appended at the head segment), discard and
 *              write-zeroes (map entries only)
 *   commits    a flush makes the data durable, then appends the records
 *              of every map change since the last commit as one
 *              transaction; records are in the order the changes were
 *              made, so any commit that survives a power cut is a prefix
 *   reporting  allocation map, statistics, space, the one-zone report
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "volume/vol_int.h"

#define VOL_BLOB_LEN 16u
#define VOL_MAX_SIZE (4ull << 40)

/* ---- records ---- */

static int rec_stats(struct vol *v, struct img_recs *r)
{
	uint8_t *p = img_recs_add(r, 32);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 8);
	p[0] = VR_STATS;
	put_le64(p + 8, v->user_blocks);
	put_le64(p + 16, v->gc_blocks);
	put_le64(p + 24, v->gc_runs);
	return 0;
}

struct vmap *vol_map_by_id(struct vol *v, uint32_t id)
{
	if (!id)
		return &v->live;
	for (uint32_t k = 0; k < v->nr_snaps; k++)
		if (v->snaps[k]->id == id)
			return &v->snaps[k]->map;
	return NULL;
}

static int replay_ext(struct vol *v, const uint8_t *p, size_t len)
{
	struct vmap *m;
	uint64_t lba;
	uint32_t n, loc;

	if (len != 24)
		return -EUCLEAN;
	m = vol_map_by_id(v, get_le32(p + 4));
	lba = get_le64(p + 8);
	n = get_le32(p + 16);
	loc = get_le32(p + 20);
	if (!m || lba > v->nblocks || n > v->nblocks - lba)
		return -EUCLEAN;
	if (loc >= 2 && (uint64_t)loc + n > UINT32_MAX)
		return -EUCLEAN;
	for (uint32_t k = 0; k < n; k++) {
		int err = map_set(v, m, lba + k, loc >= 2 ? loc + k : loc);
		if (err)
			return err;
	}
	return 0;
}

static int replay_rec(void *arg, const uint8_t *p, size_t len)
{
	struct zvd_dev *dev = arg;
	struct vol *v = dev->vol;

	if (len < 8)
		return -EUCLEAN;
	switch (p[0]) {
	case VR_EXT:
		return replay_ext(v, p, len);
	case VR_STATS:
		if (len != 32)
			return -EUCLEAN;
		v->user_blocks = get_le64(p + 8);
		v->gc_blocks = get_le64(p + 16);
		v->gc_runs = get_le64(p + 24);
		return 0;
	case VR_SNAP:
	case VR_SNAP_DEL:
	case VR_ROLLBACK:
	case VR_BACKING:
	case VR_CLONE:
		return vsnap_replay(dev, p, len);
	default:
		return -EUCLEAN;
	}
}

/* ---- lifetime ---- */

static struct zvd_dev *vol_dev_new(struct zvd_backend *be, uint64_t size,
				   int readonly)
{
	struct zvd_geometry g = {
		.size = size, .zone_size = size, .zone_capacity = size,
		.block_size = ZVD_VOLUME_SECTOR, .nr_conv_zones = 1,
	};
	struct zvd_dev *dev = dev_new(be, &g, readonly);
	struct vol *v;
	pthread_rwlockattr_t wpref;

	if (!dev)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v || map_init_raw(v, size)) {
		free(v);
		dev_free(dev);
		return NULL;
	}
	dev->vol = v;
	dev->chunk_shift = 20;
	v->be = be;
	v->seg_shift = 20;
	v->bps = VOL_SEGMENT / VBLK;
	v->bps_shift = 20 - VBLK_SHIFT;
	v->rmap = &v->live;
	v->next_snap_id = 1;
	v->max_chunk = UINT32_MAX >> v->bps_shift;
	pthread_rwlockattr_init(&wpref);
	pthread_rwlockattr_setkind_np(&wpref,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&v->lock, &wpref);
	pthread_rwlockattr_destroy(&wpref);
	pthread_mutex_init(&v->flush_lock, NULL);
	pthread_mutex_init(&v->gc_mx, NULL);
	pthread_mutex_init(&v->gc_one, NULL);
	pthread_cond_init(&v->gc_cv, NULL);
	return dev;
}

/* Size and leaf table of a new volume handle. */
int map_init_raw(struct vol *v, uint64_t size)
{
	v->size = size;
	v->nblocks = size / VBLK;
	v->nleaves = (uint32_t)((v->nblocks + LEAF_N - 1) >> LEAF_SHIFT);
	return map_init(v, &v->live);
}

void vol_free(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;

	if (!v)
		return;
	gc_halt(dev);
	v->counting = 0;
	vsnaps_free(v);
	map_drop(v, &v->live);
	for (uint32_t c = 0; c < v->nr_segs; c++) {
		free(v->segs[c].rev);
		free(v->segs[c].ref);
	}
	free(v->segs);
	img_recs_free(&v->pend);
	if (v->base)
		zvd_close(v->base);
	free(v->base_path);
	free(v->gc_buf);
	free(v->gc_idx);
	pthread_mutex_destroy(&v->gc_one);
	pthread_rwlock_destroy(&v->lock);
	pthread_mutex_destroy(&v->flush_lock);
	pthread_mutex_destroy(&v->gc_mx);
	pthread_cond_destroy(&v->gc_cv);
	free(v);
	dev->vol = NULL;
}

int vol_create(struct zvd_backend *be, uint64_t size, const uint8_t *uuid,
	       struct zvd_dev **out)
{
	uint8_t blob[VOL_BLOB_LEN] = { 0 };
	struct zvd_dev *dev;
	int err;

	if (!be || !out || !size || size % VBLK || size > VOL_MAX_SIZE)
		return -EINVAL;
	dev = vol_dev_new(be, size, 0);
	if (!dev)
		return -ENOMEM;
	put_le64(blob, size);
	put_le32(blob + 8, VBLK);
	err = img_create(be, IMG_KIND_VOLUME, VOL_SEGMENT, blob, sizeof(blob),
			 uuid, &dev->img);
	if (!err) {
		dev->vol->img = dev->img;
		img_keep_freed(dev->img);
		err = img_start(dev->img);
	}
	if (!err) {
		dev->vol->counting = 1;
		err = gc_start(dev);
	}
	if (err) {
		dev_free(dev);
		return err;
	}
	*out = dev;
	return 0;
}

int zvd_create_volume(struct zvd_backend *be, uint64_t size,
		      struct zvd_dev **out)
{
	return vol_create(be, size, NULL, out);
}

/* After replay: count the segments and give the pool their references. */
static int vol_account(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;
	uint64_t be_bytes;
	int err = be_size(dev->be, &be_bytes);

	if (err)
		return err;
	/* a corrupt map must not make the tables huge: chunks lie within
	 * the backend (with slack for a file shortened by a lost write) */
	v->max_chunk = (uint32_t)ZVD_MIN((be_bytes >> v->seg_shift) + 1024,
					 (uint64_t)UINT32_MAX >> v->bps_shift);
	map_dedupe(v);
	err = map_count_all(v);
	for (uint32_t c = 0; !err && c < v->nr_segs; c++)
		if (v->segs[c].live)
			err = img_ref(v->img, c);
	v->max_chunk = UINT32_MAX >> v->bps_shift; /* the pool bounds it now */
	return err;
}

int vol_open(struct zvd_backend *be, struct img *img, int readonly,
	     struct zvd_dev **out)
{
	size_t blen;
	const uint8_t *blob = img_blob(img, &blen);
	struct zvd_dev *dev;
	uint64_t size;
	int err;

	if (blen < VOL_BLOB_LEN || get_le32(blob + 8) != VBLK ||
	    img_chunk_size(img) != VOL_SEGMENT)
		goto bad;
	size = get_le64(blob);
	if (!size || size % VBLK || size > VOL_MAX_SIZE)
		goto bad;
	dev = vol_dev_new(be, size, readonly);
	if (!dev) {
		img_close(img);
		return -ENOMEM;
	}
	dev->img = dev->vol->img = img;
	/* a volume never reads a block it has not written since it took the
	 * segment: freed segments are reused as they are (overwriting space
	 * the file already has), and only zvd gc punches them */
	img_keep_freed(img);
	err = img_replay(img, replay_rec, dev);
	if (!err)
		err = vol_account(dev);
	if (!err)
		err = img_start(img);
	if (!err) {
		dev->vol->counting = 1;
		err = vbacking_open(dev);
	}
	if (!err && !readonly)
		err = gc_start(dev);
	if (err) {
		dev_free(dev);
		return err == -ENOMEM || err == -EIO ? err : -EUCLEAN;
	}
	*out = dev;
	return 0;
bad:
	img_close(img);
	return -EUCLEAN;
}

/* ---- reading ---- */

static int check_range(struct zvd_dev *dev, uint64_t off, uint64_t len)
{
	if (off % ZVD_VOLUME_SECTOR || len % ZVD_VOLUME_SECTOR ||
	    off > dev->vol->size || len > dev->vol->size - off)
		return dev_fail(dev, ZVD_INVALID_FIELD, 0, off, len, 0,
				dev->vol->size);
	return 0;
}

/*
 * Read [off, off+len) as map @m says. Runs of blocks at consecutive
 * locations are one backend read. Caller holds v->lock (shared at least).
 */
static int read_map(struct zvd_dev *dev, const struct vmap *m, uint8_t *buf,
		    uint64_t len, uint64_t off)
{
	struct vol *v = dev->vol;

	while (len) {
		uint64_t lba = off >> VBLK_SHIFT, in = off & (VBLK - 1);
		uint32_t loc = map_get(v, m, lba), k = 1;
		uint64_t n = ZVD_MIN(len, VBLK - in);
		int err = 0;

		/* extend over the blocks that continue the run */
		while (n < len) {
			uint32_t next = map_get(v, m, lba + k);

			if (loc >= 2 ? next != loc + k : next != loc)
				break;
			n += ZVD_MIN(len - n, VBLK);
			k++;
		}
		if (loc >= 2)
			err = be_read(dev->be, buf, n, loc_off(v, loc) + in);
		else if (loc == LOC_NONE && v->base)
			err = vbacking_read(dev, buf, n, off);
		else
			memset(buf, 0, n);
		if (err)
			return dev_io_fail(dev, err, 0, off, n);
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vol_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct vol *v = dev->vol;
	int err;

	if (!buf)
		return -EINVAL;
	err = check_range(dev, off, len);
	if (err)
		return err;
	pthread_rwlock_rdlock(&v->lock);
	err = read_map(dev, v->rmap, buf, len, off);
	pthread_rwlock_unlock(&v->lock);
	return err;
}

/* ---- the log ---- */

/*
 * Room for up to @want blocks at the head: sets *loc to the first and
 * returns how many fit (>= 1), or -errno. A full head is retired (and
 * freed at once if nothing lives in it). Caller holds v->lock exclusive.
 */
int head_room(struct zvd_dev *dev, uint64_t want, uint32_t *loc)
{
	struct vol *v = dev->vol;
	uint32_t chunk, old = v->head;
	int err;

	if (!v->head || v->head_pos == v->bps) {
		err = img_alloc(v->img, &chunk);
		if (err)
			return err;
		err = seg_prepare(v, chunk);
		if (err) {
			img_unref(v->img, chunk);
			return err;
		}
		v->head = chunk;
		v->head_pos = 0;
		if (old)
			seg_retire_if_dead(v, old);
	}
	*loc = (v->head << v->bps_shift) | v->head_pos;
	return (int)ZVD_MIN(want, (uint64_t)(v->bps - v->head_pos));
}

/* Point the live map's blocks [lba, lba+n) at the log from @loc on, and
 * record it. Caller holds v->lock exclusive. */
static int link_run(struct vol *v, uint64_t lba, uint32_t loc, uint32_t n)
{
	int err = 0;

	for (uint32_t j = 0; j < n && !err; j++)
		err = map_set(v, &v->live, lba + j, loc + j);
	return err ? err : rec_ext(v, 0, lba, n, loc, &v->pend);
}

/*
 * Append @nblk whole blocks from @src for the blocks from @lba of the live
 * map, and record the change. Caller holds v->lock exclusive.
 */
static int log_blocks(struct zvd_dev *dev, const uint8_t *src, uint64_t lba,
		      uint64_t nblk)
{
	struct vol *v = dev->vol;

	while (nblk) {
		uint32_t loc;
		int k = head_room(dev, nblk, &loc), err;

		if (k < 0)
			return k;
		err = be_write(dev->be, src, (uint64_t)k << VBLK_SHIFT,
			       loc_off(v, loc));
		if (err)
			return err;
		v->head_pos += (uint32_t)k;
		err = link_run(v, lba, loc, (uint32_t)k);
		if (err) {
			/* memory and records disagree now: stop changes */
			img_set_broken(v->img);
			return err;
		}
		src += (uint64_t)k << VBLK_SHIFT;
		lba += k;
		nblk -= k;
	}
	return 0;
}

int vol_writable(struct zvd_dev *dev)
{
	if (dev->readonly)
		return dev_fail_msg(dev, -EROFS, "the volume is open read-only");
	if (img_is_broken(dev->img))
		return dev_fail_msg(dev, -EIO,
				    "an earlier metadata write failed; reopen "
				    "the volume");
	return 0;
}

/* Have the pending records (or the segments freed since the last commit)
 * grown enough to commit them on their own? */
int vol_pend_big(struct vol *v)
{
	int big;

	pthread_rwlock_rdlock(&v->lock);
	big = v->pend.len > img_max_txn(v->img) / 2 ||
	      img_pending_frees(v->img) >= COMMIT_FREES;
	pthread_rwlock_unlock(&v->lock);
	return big;
}

/* What a change leaves to do once the lock is dropped. */
enum { DUE_COMMIT = 1, DUE_GC = 2 };

/* Read under the lock by the changing caller: are the records large
 * enough to commit on their own, or the segments freed since the last
 * commit many enough (they are reused only once one is durable: without
 * a commit the log would grow past the volume while they wait), is there
 * garbage to collect? */
static unsigned due_after(const struct vol *v)
{
	return (v->pend.len > img_max_txn(v->img) / 2 ||
				img_pending_frees(v->img) >= COMMIT_FREES
			? DUE_COMMIT
			: 0) |
	       (gc_wanted(v) ? DUE_GC : 0);
}

/* A change has been made: commit now if asked to (FUA) or due, and wake
 * the collector if due. */
static int after_change(struct zvd_dev *dev, unsigned flags, unsigned due)
{
	int err = 0;

	if ((flags & ZVD_WRITE_FUA) || (due & DUE_COMMIT))
		err = vol_commit(dev, 0);
	if (due & DUE_GC)
		gc_kick(dev);
	return err;
}

/* A piece of the log a write has reserved. */
struct span {
	uint32_t loc, n;
};

/*
 * Write whole blocks without holding the lock while the data goes in:
 * reserve the space at the head (the segments count the write in flight,
 * so none is retired or collected under it), write, then point the map at
 * it. Concurrent writes thus copy their data in parallel; the order in
 * which they enter the map (and the journal) is the order they complete.
 */
static int write_blocks(struct zvd_dev *dev, const uint8_t *src, uint64_t lba,
			uint64_t nblk, unsigned *due)
{
	struct vol *v = dev->vol;
	struct span one, *sp = &one;
	uint32_t nsp = 0, max = (uint32_t)(nblk / v->bps + 2);
	const uint8_t *p = src;
	uint64_t b = lba;
	int err = 0, data_err;

	if (max > 1 && !(sp = malloc(max * sizeof(*sp))))
		return -ENOMEM;
	pthread_rwlock_wrlock(&v->lock);
	for (uint64_t left = nblk; left && !err;) {
		uint32_t loc;
		int k = head_room(dev, left, &loc);

		if (k < 0) {
			err = k;
			break;
		}
		v->head_pos += (uint32_t)k;
		v->segs[loc_chunk(v, loc)].inflight++;
		sp[nsp++] = (struct span){ .loc = loc, .n = (uint32_t)k };
		left -= k;
	}
	pthread_rwlock_unlock(&v->lock);

	for (uint32_t i = 0; i < nsp && !err; i++) {
		err = be_write(dev->be, p, (uint64_t)sp[i].n << VBLK_SHIFT,
			       loc_off(v, sp[i].loc));
		p += (uint64_t)sp[i].n << VBLK_SHIFT;
	}
	data_err = err; /* nothing in the map changes: the write failed */

	pthread_rwlock_wrlock(&v->lock);
	for (uint32_t i = 0; i < nsp; i++) {
		uint32_t chunk = loc_chunk(v, sp[i].loc);

		if (!err)
			err = link_run(v, b, sp[i].loc, sp[i].n);
		b += sp[i].n;
		v->segs[chunk].inflight--;
		seg_retire_if_dead(v, chunk);
	}
	if (err && !data_err)
		img_set_broken(v->img); /* the map and the records disagree */
	if (!err)
		v->user_blocks += nblk;
	*due = due_after(v);
	pthread_rwlock_unlock(&v->lock);
	if (sp != &one)
		free(sp);
	return err;
}

int vol_write(struct zvd_dev *dev, const void *buf, size_t len, uint64_t off,
	      unsigned flags)
{
	struct vol *v = dev->vol;
	uint64_t start = off & ~(uint64_t)(VBLK - 1);
	uint64_t end = (off + len + VBLK - 1) & ~(uint64_t)(VBLK - 1);
	const uint8_t *src = buf;
	uint8_t *bounce = NULL;
	unsigned due;
	int err;

	if (!buf || (flags & ~ZVD_WRITE_FUA))
		return -EINVAL;
	err = check_range(dev, off, len);
	if (!err)
		err = vol_writable(dev);
	if (err || !len)
		return err;
	if (start == off && end == off + len) {
		err = write_blocks(dev, buf, off >> VBLK_SHIFT, len >> VBLK_SHIFT,
				   &due);
		if (err)
			return err == -ENOMEM ? err
					      : dev_io_fail(dev, err, 0, off, len);
		return after_change(dev, flags, due);
	}
	/* partial blocks: under the lock (so no other write slips in between
	 * the read and the write), read what stays, lay the data over it */
	pthread_rwlock_wrlock(&v->lock);
	bounce = malloc(end - start);
	err = bounce ? 0 : -ENOMEM;
	if (!err && start != off)
		err = read_map(dev, &v->live, bounce, VBLK, start);
	if (!err && end != off + len && (end - VBLK != start || start == off))
		err = read_map(dev, &v->live, bounce + (end - start) - VBLK,
			       VBLK, end - VBLK);
	if (!err)
		memcpy(bounce + (off - start), buf, len);
	src = bounce;
	if (!err)
		err = log_blocks(dev, src, start >> VBLK_SHIFT,
				 (end - start) >> VBLK_SHIFT);
	if (!err)
		v->user_blocks += (end - start) >> VBLK_SHIFT;
	due = due_after(v);
	pthread_rwlock_unlock(&v->lock);
	free(bounce);
	if (err)
		return err == -ENOMEM ? err : dev_io_fail(dev, err, 0, off, len);
	return after_change(dev, flags, due);
}

/* Point whole blocks [lba, lba+n) at @loc (LOC_NONE or LOC_ZERO). */
static int unmap_blocks(struct zvd_dev *dev, uint64_t lba, uint64_t n,
			uint32_t loc)
{
	struct vol *v = dev->vol;
	uint64_t cur = lba, end = lba + n;
	int err = 0;

	while (cur < end && !err) {
		uint32_t li = (uint32_t)(cur >> LEAF_SHIFT);
		struct leaf *l = v->live.l[li];

		if (loc == LOC_NONE && !(cur & (LEAF_N - 1)) &&
		    end - cur >= LEAF_N) {
			/* a whole leaf becomes "never written": drop it */
			if (l && --l->refs == 0) {
				for (uint32_t i = 0; i < LEAF_N; i++)
					if (l->e[i] >= 2)
						seg_dec(v, l->e[i]);
				free(l);
			}
			v->live.l[li] = NULL;
			cur += LEAF_N;
			continue;
		}
		if (!l && loc == LOC_NONE) {
			cur = ZVD_MIN(end, (uint64_t)(li + 1) << LEAF_SHIFT);
			continue;
		}
		err = map_set(v, &v->live, cur++, loc);
	}
	for (uint64_t k = 0; k < n && !err; k += UINT32_MAX)
		err = rec_ext(v, 0, lba + k, (uint32_t)ZVD_MIN(n - k, UINT32_MAX),
			      loc, &v->pend);
	if (err)
		img_set_broken(v->img);
	return err;
}

/* Zeros for the partial blocks of a write-zeroes (at most two blocks
 * without a whole one between them). */
static const uint8_t zero[2 * VBLK];

int vol_discard(struct zvd_dev *dev, uint64_t off, uint64_t len,
		unsigned flags, int zeroes)
{
	struct vol *v = dev->vol;
	uint64_t first = (off + VBLK - 1) >> VBLK_SHIFT;
	uint64_t last = (off + len) >> VBLK_SHIFT; /* one past */
	int err = check_range(dev, off, len);
	unsigned due;

	if (!err)
		err = vol_writable(dev);
	if (err || !len)
		return err;
	if (flags & ~ZVD_WRITE_FUA)
		return -EINVAL;
	if (first >= last) {
		/* no whole block: only write-zeroes has anything to do, but
		 * FUA still makes everything before it durable */
		if (zeroes)
			return vol_write(dev, zero, len, off, flags);
		return flags & ZVD_WRITE_FUA ? vol_flush(dev) : 0;
	}
	if (zeroes) {
		uint64_t head = (first << VBLK_SHIFT) - off;
		uint64_t tail = off + len - (last << VBLK_SHIFT);

		if (head)
			err = vol_write(dev, zero, head, off, 0);
		if (!err && tail)
			err = vol_write(dev, zero, tail, last << VBLK_SHIFT, 0);
		if (err)
			return err;
	}
	pthread_rwlock_wrlock(&v->lock);
	/* with a backing image, "never written" would read through to it */
	err = unmap_blocks(dev, first, last - first,
			   v->base ? LOC_ZERO : LOC_NONE);
	due = due_after(v);
	pthread_rwlock_unlock(&v->lock);
	if (err)
		return err;
	return after_change(dev, flags, due);
}

/* ---- commits ---- */

/* The whole state, for a checkpoint. Caller holds v->lock. */
int vol_encode_all(struct zvd_dev *dev, struct img_recs *r)
{
	struct vol *v = dev->vol;
	int err = vsnap_encode_all(dev, r);

	if (!err)
		err = map_encode(v, &v->live, 0, r);
	return err;
}

/* Put records that failed to commit back in front of the pending ones
 * (both are lists of framed records, so they concatenate). */
static int requeue(struct vol *v, struct img_recs *failed)
{
	uint8_t *p = malloc(failed->len + v->pend.len);

	if (!p)
		return -ENOMEM;
	if (failed->len)
		memcpy(p, failed->buf, failed->len);
	if (v->pend.len)
		memcpy(p + failed->len, v->pend.buf, v->pend.len);
	free(v->pend.buf);
	v->pend.buf = p;
	v->pend.len = v->pend.cap = failed->len + v->pend.len;
	return 0;
}

int vol_commit(struct zvd_dev *dev, int checkpoint)
{
	struct vol *v = dev->vol;
	struct img_recs out = { 0 };
	struct img_frees frees = { 0 };
	int err = 0, full;

	if (dev->readonly)
		return 0;
	pthread_mutex_lock(&v->flush_lock);
	pthread_rwlock_wrlock(&v->lock);
	full = checkpoint || v->need_full || img_needs_checkpoint(v->img) ||
	       v->pend.len + 64 > img_max_txn(v->img);
	if (!full && !v->pend.len) {
		/* nothing changed since the last commit */
		pthread_rwlock_unlock(&v->lock);
		pthread_mutex_unlock(&v->flush_lock);
		return 0;
	}
	if (full) {
		err = rec_stats(v, &out);
		if (!err)
			err = vol_encode_all(dev, &out);
		img_recs_reset(&v->pend);
	} else {
		out = v->pend;
		memset(&v->pend, 0, sizeof(v->pend));
		err = rec_stats(v, &out);
	}
	img_take_frees(v->img, &frees);
	pthread_rwlock_unlock(&v->lock);

	if (!err)
		err = be_flush(dev->be);
	if (!err)
		err = full ? img_checkpoint(v->img, &out)
			   : img_commit(v->img, &out);
	if (err) {
		img_return_frees(v->img, &frees);
		pthread_rwlock_wrlock(&v->lock);
		if (full)
			v->need_full = 1;
		else if (requeue(v, &out))
			v->need_full = 1;
		pthread_rwlock_unlock(&v->lock);
	} else {
		img_release_frees(v->img, &frees);
		if (full) {
			pthread_rwlock_wrlock(&v->lock);
			v->need_full = 0;
			v->checkpoints++;
			pthread_rwlock_unlock(&v->lock);
		}
	}
	img_recs_free(&out);
	free(frees.chunks);
	pthread_mutex_unlock(&v->flush_lock);
	return err ? dev_io_fail(dev, err, 0, 0, 0) : 0;
}

int vol_flush(struct zvd_dev *dev)
{
	return vol_commit(dev, 0);
}

/* ---- reporting ---- */

/* Flags of block @lba in map @m, or -1 when it reads through. */
static int blk_flags(struct vol *v, const struct vmap *m, uint64_t lba)
{
	uint32_t loc = map_get(v, m, lba);

	if (loc >= 2)
		return 0;
	if (loc == LOC_NONE && v->base)
		return -1;
	return ZVD_EXTENT_HOLE | ZVD_EXTENT_ZERO;
}

static int add_extent(struct zvd_extent *out, uint32_t *nr, uint32_t max,
		      uint64_t off, uint64_t len, uint32_t flags)
{
	if (*nr && out[*nr - 1].flags == flags &&
	    out[*nr - 1].off + out[*nr - 1].len == off) {
		out[*nr - 1].len += len;
		return 0;
	}
	if (*nr == max)
		return 1;
	out[(*nr)++] = (struct zvd_extent){ .off = off, .len = len,
					     .flags = flags };
	return 0;
}

/* Describe a run that reads through to the backing image. */
static int map_through(struct zvd_dev *dev, uint64_t off, uint64_t len,
		       struct zvd_extent *out, uint32_t *nr, uint32_t max)
{
	struct vol *v = dev->vol;
	uint64_t bsize = zvd_size(v->base);

	while (len) {
		struct zvd_extent e[16];
		int n;

		if (off >= bsize)
			return add_extent(out, nr, max, off, len,
					  ZVD_EXTENT_HOLE | ZVD_EXTENT_ZERO);
		n = zvd_map(v->base, off, ZVD_MIN(len, bsize - off), e, 16);
		if (n <= 0)
			return n < 0 ? n : add_extent(out, nr, max, off, len, 0);
		for (int i = 0; i < n; i++) {
			if (add_extent(out, nr, max, e[i].off, e[i].len,
				       e[i].flags))
				return 1;
			off += e[i].len;
			len -= e[i].len;
		}
	}
	return 0;
}

int vol_map(struct zvd_dev *dev, uint64_t off, uint64_t len,
	    struct zvd_extent *out, uint32_t max)
{
	struct vol *v = dev->vol;
	uint32_t nr = 0;
	int err;

	if (!out || !max)
		return -EINVAL;
	err = check_range(dev, off, len);
	if (err)
		return err;
	pthread_rwlock_rdlock(&v->lock);
	while (len && !err) {
		uint64_t lba = off >> VBLK_SHIFT;
		uint64_t n = ZVD_MIN(len, VBLK - (off & (VBLK - 1)));
		int fl = blk_flags(v, v->rmap, lba);

		if (!v->rmap->l[lba >> LEAF_SHIFT] && !v->base) {
			/* a whole missing leaf is one hole */
			uint64_t leaf_end = ((lba >> LEAF_SHIFT) + 1)
					    << (LEAF_SHIFT + VBLK_SHIFT);
			n = ZVD_MIN(len, leaf_end - off);
		} else {
			while (n < len && blk_flags(v, v->rmap, (off + n) >>
							VBLK_SHIFT) == fl)
				n += ZVD_MIN(len - n, VBLK);
		}
		if (fl < 0)
			err = map_through(dev, off, n, out, &nr, max);
		else
			err = add_extent(out, &nr, max, off, n, (uint32_t)fl);
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&v->lock);
	return err < 0 ? err : (int)nr;
}

int vol_stats(struct zvd_dev *dev, struct zvd_volume_stats *st)
{
	struct vol *v = dev->vol;

	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&v->lock);
	st->user_bytes = v->user_blocks << VBLK_SHIFT;
	st->gc_bytes = v->gc_blocks << VBLK_SHIFT;
	st->live_bytes = v->live_blocks << VBLK_SHIFT;
	st->segment_bytes = VOL_SEGMENT;
	st->segments = v->data_segs;
	st->gc_runs = v->gc_runs;
	st->checkpoints = v->checkpoints;
	pthread_rwlock_unlock(&v->lock);
	return 0;
}

int zvd_volume_stats(struct zvd_dev *dev, struct zvd_volume_stats *st)
{
	if (!dev->vol)
		return -EOPNOTSUPP;
	return vol_stats(dev, st);
}

int vol_space(struct zvd_dev *dev, struct zvd_space *sp)
{
	struct vol *v = dev->vol;
	struct img_usage u;

	memset(sp, 0, sizeof(*sp));
	img_usage(v->img, &u);
	sp->virtual_size = v->size;
	sp->chunk_size = VOL_SEGMENT;
	sp->data_bytes = u.data_chunks * VOL_SEGMENT;
	sp->meta_bytes = u.meta_chunks * VOL_SEGMENT + 2 * IMG_BLOCK;
	return be_size(dev->be, &sp->backend_bytes);
}

int vol_report(struct zvd_dev *dev, uint32_t first, struct zvd_zone *out,
	       uint32_t max)
{
	struct vol *v = dev->vol;

	if (first > 0 || !max)
		return 0;
	memset(out, 0, sizeof(*out));
	out->len = out->capacity = out->wp = v->size;
	out->type = ZVD_ZONE_CONVENTIONAL;
	out->cond = ZVD_COND_NOT_WP;
	out->written = v->live_blocks << VBLK_SHIFT;
	return 1;
}

/* ---- opening by kind, checking ---- */

int vol_try_open(struct zvd_backend *be, int readonly, struct zvd_dev **out)
{
	struct img *img;
	const char *why;

	if (img_open(be, readonly, &img, &why))
		return -EMEDIUMTYPE; /* the zoned path says what is wrong */
	if (img_kind(img) != IMG_KIND_VOLUME) {
		img_close(img);
		return -EMEDIUMTYPE;
	}
	return vol_open(be, img, readonly, out);
}

static void vproblem(zvd_check_fn report, void *arg, int *n,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void vproblem(zvd_check_fn report, void *arg, int *n,
		     const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(*n)++;
	if (report)
		report(arg, buf);
}

int vol_check_be(struct zvd_backend *be, zvd_check_fn report, void *arg)
{
	struct zvd_dev *dev;
	struct img *img;
	const char *why;
	uint64_t be_bytes = 0;
	int err, n = 0;

	if (img_open(be, 1, &img, &why))
		return -EMEDIUMTYPE;
	if (img_kind(img) != IMG_KIND_VOLUME) {
		img_close(img);
		return -EMEDIUMTYPE;
	}
	err = vol_open(be, img, 1, &dev);
	if (err) {
		vproblem(report, arg, &n, "volume: cannot be loaded: %s%s",
			 err == -EUCLEAN ? "the journal or a map is corrupt"
					 : strerror(-err),
			 err == -ESTALE ? " (the backing image was replaced)"
					: "");
		return n;
	}
	be_size(be, &be_bytes);
	for (uint32_t c = 1; c < dev->vol->nr_segs; c++) {
		struct seg *s = &dev->vol->segs[c];

		if (!s->live)
			continue;
		uint32_t top = dev->vol->bps;

		while (top && !s->ref[top - 1])
			top--;
		if (((uint64_t)c << dev->vol->seg_shift) +
		    ((uint64_t)top << VBLK_SHIFT) > be_bytes)
			vproblem(report, arg, &n,
				 "segment %u: past the end of the image file",
				 c);
		if (img_refcount(dev->img, c) != 1)
			vproblem(report, arg, &n,
				 "segment %u: %u references in the pool, "
				 "expected 1", c, img_refcount(dev->img, c));
	}
	dev_free(dev);
	return n;
}
