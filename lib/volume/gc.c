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

#define GC_READ_GAP 16u /* dead blocks read through between live runs */

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

		if (c == v->head || !s->live || s->pinned || s->inflight ||
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

/* Point every map that held block @b of segment @chunk at its copy at
 * @loc, and record that. Caller holds v->lock exclusive. */
static int relink(struct vol *v, uint32_t chunk, uint32_t b, uint32_t loc)
{
	uint32_t old = (chunk << v->bps_shift) | b;
	uint64_t lba = v->segs[chunk].rev[b];
	uint32_t li = (uint32_t)(lba >> LEAF_SHIFT), i = lba & (LEAF_N - 1);
	int err = 0;

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
	v->gc_blocks++;
	return err;
}

/* Copy the blocks of @victim (its data read into v->gc_buf) that are still
 * live to the head, in runs, and relink them. Caller holds v->lock. */
static int move_live(struct zvd_dev *dev, uint32_t victim)
{
	struct vol *v = dev->vol;
	struct seg *s = &v->segs[victim];
	uint32_t n = 0, done = 0;
	int err = 0;

	for (uint32_t b = 0; b < v->bps; b++) {
		if (!s->ref[b])
			continue;
		if (n != b)
			memcpy(v->gc_buf + ((uint64_t)n << VBLK_SHIFT),
			       v->gc_buf + ((uint64_t)b << VBLK_SHIFT), VBLK);
		v->gc_idx[n++] = b;
	}
	while (done < n && !err) {
		uint32_t loc;
		int k = head_room(dev, n - done, &loc);

		if (k < 0)
			return k;
		err = be_write(dev->be, v->gc_buf + ((uint64_t)done << VBLK_SHIFT),
			       (uint64_t)k << VBLK_SHIFT, loc_off(v, loc));
		if (err)
			return err;
		v->head_pos += (uint32_t)k;
		for (int j = 0; j < k && !err; j++)
			err = relink(v, victim, v->gc_idx[done + j], loc + j);
		if (err)
			img_set_broken(v->img);
		done += (uint32_t)k;
	}
	return err;
}

/* Read the runs of @victim's blocks marked in @live into v->gc_buf at
 * their places, a gap of up to GC_READ_GAP dead blocks read through
 * (fewer, larger reads: on RADOS each is an operation). */
static int read_live(struct zvd_dev *dev, uint32_t victim, const uint8_t *live)
{
	struct vol *v = dev->vol;
	uint64_t base = (uint64_t)victim << v->seg_shift;
	uint32_t b = 0;

	while (b < v->bps) {
		uint32_t start, end, gap = 0;
		int err;

		while (b < v->bps && !live[b])
			b++;
		if (b == v->bps)
			break;
		start = end = b;
		for (; b < v->bps && gap <= GC_READ_GAP; b++) {
			if (live[b]) {
				end = b + 1;
				gap = 0;
			} else {
				gap++;
			}
		}
		b = end;
		err = be_read(dev->be, v->gc_buf + ((uint64_t)start << VBLK_SHIFT),
			      (uint64_t)(end - start) << VBLK_SHIFT,
			      base + ((uint64_t)start << VBLK_SHIFT));
		if (err)
			return err;
	}
	return 0;
}

/*
 * Collect one segment: background (@force 0) only one worth it, @force
 * any with garbage. The victim's data is read without the lock (a segment
 * other than the head never changes, and counting the collection as a
 * write in flight keeps it from being freed meanwhile); only the copying
 * of its live blocks holds the lock. Returns 1 if a segment was
 * collected, 0 if none qualified, or -errno.
 */
int gc_step(struct zvd_dev *dev, int force)
{
	struct vol *v = dev->vol;
	uint32_t victim, limit = force ? v->bps : v->bps / 2;
	uint8_t live[VOL_SEGMENT >> VBLK_SHIFT];
	int err = 0;

	if (dev->readonly || img_is_broken(v->img))
		return 0;
	pthread_mutex_lock(&v->gc_one);
	if (!v->gc_buf) {
		v->gc_buf = malloc(VOL_SEGMENT);
		v->gc_idx = malloc(v->bps * sizeof(*v->gc_idx));
		if (!v->gc_buf || !v->gc_idx) {
			pthread_mutex_unlock(&v->gc_one);
			return -ENOMEM;
		}
	}
	pthread_rwlock_wrlock(&v->lock);
	if (!force && !needs_gc(v, 0) && !(v->gc_running && needs_gc(v, 1)))
		victim = 0;
	else
		victim = pick_victim(v, limit);
	while (victim && snapshot_holds(v, victim)) {
		v->segs[victim].pinned = 1;
		victim = pick_victim(v, limit);
	}
	if (victim) {
		v->segs[victim].inflight++;
		/* blocks only die in a segment that is not the head: what
		 * is live now is all move_live can want */
		for (uint32_t b = 0; b < v->bps && b < sizeof(live); b++)
			live[b] = v->segs[victim].ref[b] != 0;
	}
	pthread_rwlock_unlock(&v->lock);
	if (!victim) {
		pthread_mutex_unlock(&v->gc_one);
		return 0;
	}

	err = v->bps <= sizeof(live)
		      ? read_live(dev, victim, live)
		      : be_read(dev->be, v->gc_buf, VOL_SEGMENT,
				(uint64_t)victim << v->seg_shift);

	pthread_rwlock_wrlock(&v->lock);
	if (!err && snapshot_holds(v, victim))
		v->segs[victim].pinned = 1; /* a snapshot was taken meanwhile */
	else if (!err)
		err = move_live(dev, victim);
	if (!err)
		v->gc_runs++;
	v->segs[victim].inflight--;
	seg_retire_if_dead(v, victim);
	pthread_rwlock_unlock(&v->lock);
	pthread_mutex_unlock(&v->gc_one);
	return err ? err : 1;
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

/* Has the garbage crossed the line? Caller holds v->lock. */
int gc_wanted(const struct vol *v)
{
	return needs_gc(v, 0);
}

/* Wake the collector (or, inline, collect now). */
void gc_kick(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;

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
	int64_t shrunk;
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
	err = img_zero_free(v->img); /* give free segments' space back */
	shrunk = err ? err : img_shrink(v->img);
	pthread_mutex_unlock(&v->flush_lock);
	return shrunk;
}
