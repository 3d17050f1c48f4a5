// SPDX-License-Identifier: MIT
/*
 * gc.c - garbage collection of a volume's segments.
 *
 * Policy (greedy, as in LFS's simplest cleaner): the garbage is the blocks
 * of data segments no map points at any more. When it exceeds half of the
 * space the segments take (and at least two segments' worth), a background
 * thread takes the segment with the fewest live blocks and appends those
 * blocks at the head, pointing every map that held them at the copies; the
 * emptied segment returns to the pool once that change is committed. It
 * stops when the garbage is below three-eighths. A segment more than half
 * live is never moved in the background, so each block the collector
 * copies frees at least one: under uniform random overwrites the log takes
 * at most about twice the live data and the write amplification stays
 * near 2 or below (space traded for speed, as LSVD does);
 * zvd_gc moves every segment with any garbage. The cost shows as write
 * amplification: (user + gc) / user blocks written, in zvd_volume_stats.
 * A segment holding a block a snapshot uses is never collected (pinned
 * until snapshots are deleted): snapshot data stays where it was written.
 *
 * ZVD_GC=inline in the environment runs the same steps in the writing
 * thread instead (deterministic, for tests); ZVD_GC=off disables the
 * background collector (zvd_gc still works).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "volume/vol_int.h"

/* Dead blocks in data segments (the head's unwritten tail is not). */
static uint64_t garbage(const struct vol *v)
{
	uint64_t held = v->data_segs * v->bps;

	/* the head's unwritten blocks are not garbage */
	if (v->head && v->segs[v->head].live)
		held -= v->bps - v->head_pos;
	return held > v->live_blocks ? held - v->live_blocks : 0;
}

static int needs_gc(const struct vol *v, int below)
{
	uint64_t g = garbage(v), held = v->data_segs * v->bps;

	if (g < 2ull * v->bps)
		return 0;
	/* start at half the space dead, go on down to three-eighths */
	return below ? g * 8 > held * 3 : g * 2 > held;
}

/* The data segment with the fewest live blocks under @limit, or 0. */
static uint32_t pick_victim(const struct vol *v, uint32_t limit)
{
	uint32_t best = 0, best_live = limit;

	for (uint32_t c = 1; c < v->nr_segs; c++) {
		const struct seg *s = &v->segs[c];

		if (c == v->head || !s->live || s->pinned ||
		    s->live >= best_live)
			continue;
		best = c;
		best_live = s->live;
	}
	return best;
}

/*
 * Does a snapshot use a block of segment @chunk? Such a segment is pinned:
 * a snapshot's blocks never move, so a snapshot view or a clone opened by
 * another process (which reads the image without a lock: the snapshot never
 * changes) never sees its data moved away under it.
 */
static int snapshot_holds(struct vol *v, uint32_t chunk)
{
	const struct seg *s = &v->segs[chunk];

	for (uint32_t b = 0; b < v->bps; b++) {
		uint32_t loc = (chunk << v->bps_shift) | b;

		if (!s->ref[b])
			continue;
		for (uint32_t k = 0; k < v->nr_snaps; k++)
			if (map_get(v, &v->snaps[k]->map, s->rev[b]) == loc)
				return 1;
	}
	return 0;
}

/* Snapshots changed (deleted, or the live map rolled back): look again. */
void gc_unpin_all(struct vol *v)
{
	for (uint32_t c = 0; c < v->nr_segs; c++)
		v->segs[c].pinned = 0;
}

/* Move block @b of segment @chunk (data in @data) to the head. */
static int move_block(struct zvd_dev *dev, uint32_t chunk, uint32_t b,
		      const uint8_t *data)
{
	struct vol *v = dev->vol;
	uint32_t old = (chunk << v->bps_shift) | b, loc;
	uint64_t lba = v->segs[chunk].rev[b];
	uint32_t li = (uint32_t)(lba >> LEAF_SHIFT), i = lba & (LEAF_N - 1);
	int err = vol_append_block(dev, data, &loc);

	if (err)
		return err;
	v->walk++;
	for (uint32_t k = 0; k <= v->nr_snaps && !err; k++) {
		struct vmap *m = k < v->nr_snaps ? &v->snaps[k]->map : &v->live;
		uint32_t id = k < v->nr_snaps ? v->snaps[k]->id : 0;
		struct leaf *l = m->l[li];

		if (!l)
			continue;
		if (l->mark != v->walk && l->e[i] == old) {
			/* every map sharing this leaf moves with it */
			l->mark = v->walk;
			l->e[i] = loc;
			seg_inc(v, loc, lba);
			seg_dec(v, old);
		}
		if (l->e[i] == loc)
			err = rec_ext(v, id, lba, 1, loc, &v->pend);
	}
	if (err)
		img_set_broken(v->img);
	v->gc_blocks++;
	return err;
}

/*
 * Collect one segment: background (@force 0) only one worth it, @force
 * any with garbage. Returns 1 if a segment was collected, 0 if none
 * qualified, or -errno.
 */
int gc_step(struct zvd_dev *dev, int force)
{
	struct vol *v = dev->vol;
	uint32_t victim;
	int err = 0;

	if (dev->readonly || img_is_broken(v->img))
		return 0;
	if (!v->gc_buf) {
		v->gc_buf = malloc(VOL_SEGMENT);
		if (!v->gc_buf)
			return -ENOMEM;
	}
	pthread_rwlock_wrlock(&v->lock);
	if (!force && !needs_gc(v, 0) && !(v->gc_running && needs_gc(v, 1)))
		victim = 0;
	else
		victim = pick_victim(v, force ? v->bps : v->bps / 2);
	while (victim && snapshot_holds(v, victim)) {
		v->segs[victim].pinned = 1;
		victim = pick_victim(v, force ? v->bps : v->bps / 2);
	}
	if (victim) {
		err = be_read(dev->be, v->gc_buf, VOL_SEGMENT,
			      (uint64_t)victim << v->seg_shift);
		for (uint32_t b = 0; b < v->bps && !err && v->segs[victim].rev;
		     b++)
			if (v->segs[victim].ref[b])
				err = move_block(dev, victim, b,
						 v->gc_buf + ((uint64_t)b << VBLK_SHIFT));
		if (!err)
			v->gc_runs++;
	}
	pthread_rwlock_unlock(&v->lock);
	if (err)
		return err;
	return victim != 0;
}

static void *gc_main(void *arg)
{
	struct zvd_dev *dev = arg;
	struct vol *v = dev->vol;

	pthread_mutex_lock(&v->gc_mx);
	while (!v->gc_stop) {
		struct timespec ts;

		if (!v->gc_kick) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&v->gc_cv, &v->gc_mx, &ts);
		}
		v->gc_kick = 0;
		v->gc_running = 1;
		pthread_mutex_unlock(&v->gc_mx);
		while (!v->gc_stop && gc_step(dev, 0) > 0)
			if (vol_pend_big(v))
				vol_commit(dev, 0);
		pthread_mutex_lock(&v->gc_mx);
		v->gc_running = 0;
	}
	pthread_mutex_unlock(&v->gc_mx);
	return NULL;
}

int gc_start(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;
	const char *mode = getenv("ZVD_GC");

	if (mode && !strcmp(mode, "inline")) {
		v->gc_inline = 1;
		return 0;
	}
	if (mode && !strcmp(mode, "off"))
		return 0;
	if (pthread_create(&v->gc_thread, NULL, gc_main, dev))
		return -EAGAIN;
	v->gc_started = 1;
	return 0;
}

void gc_halt(struct zvd_dev *dev)
{
	gc_stop(dev);
}

void gc_stop(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;

	if (!v->gc_started)
		return;
	pthread_mutex_lock(&v->gc_mx);
	v->gc_stop = 1;
	pthread_cond_signal(&v->gc_cv);
	pthread_mutex_unlock(&v->gc_mx);
	pthread_join(v->gc_thread, NULL);
	v->gc_started = 0;
}

/* After a change: wake the collector if the garbage crossed the line. */
void gc_maybe_kick(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;
	int need;

	pthread_rwlock_rdlock(&v->lock);
	need = needs_gc(v, 0);
	pthread_rwlock_unlock(&v->lock);
	if (!need)
		return;
	if (v->gc_inline) {
		while (gc_step(dev, 0) > 0)
			if (vol_pend_big(v))
				vol_commit(dev, 0);
		return;
	}
	pthread_mutex_lock(&v->gc_mx);
	v->gc_kick = 1;
	pthread_cond_signal(&v->gc_cv);
	pthread_mutex_unlock(&v->gc_mx);
}

int64_t vol_gc(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;
	struct img_usage u;
	uint64_t size, end;
	uint32_t budget;
	int err = 0, r;

	if (dev->readonly)
		return -EROFS;
	/* one pass: at most as many victims as there are segments now */
	pthread_rwlock_rdlock(&v->lock);
	budget = (uint32_t)v->data_segs;
	pthread_rwlock_unlock(&v->lock);
	while (budget-- && (r = gc_step(dev, 1)) > 0)
		if (vol_pend_big(v))
			err = vol_commit(dev, 0);
	if (!err)
		err = vol_commit(dev, 1);
	if (err)
		return err;
	pthread_mutex_lock(&v->flush_lock);
	img_usage(v->img, &u);
	end = u.end_chunk << v->seg_shift;
	err = be_size(dev->be, &size);
	if (!err && end < size && dev->be->ops->truncate)
		err = dev->be->ops->truncate(dev->be, end);
	pthread_mutex_unlock(&v->flush_lock);
	if (err)
		return err;
	return end < size && dev->be->ops->truncate ? (int64_t)(size - end) : 0;
}
