/* SPDX-License-Identifier: MIT */
/*
 * vol_int.h - a volume's internals, shared by the files of lib/volume/.
 *
 * A volume is a log: every write appends whole 4 KiB blocks at the head
 * segment (a chunk of the image's pool) and points the block map at them.
 * A location (loc) is chunk << bps_shift | block-in-chunk; locations 0 and
 * 1 are never data (chunk 0 holds the superblocks), so they mean "never
 * written" (read through to the backing image, else zeros) and "zeroed".
 *
 * Maps are two-level: an array of leaves of LEAF_N entries, a missing leaf
 * being all LOC_NONE. Snapshots share leaves with the live map and with
 * each other (refs counts the maps holding a leaf); a leaf is copied
 * before a change if shared. A segment's live count is the number of
 * entries pointing into it over all distinct leaves; a segment with none
 * left (and not the head) goes back to the image's pool.
 *
 * Locking: flush_lock (one commit at a time) > lock (rwlock: reads hold it
 * shared while they read data, every change holds it exclusive) > the
 * zvd_dev's err_lock.
 */
#ifndef ZVD_VOL_INT_H
#define ZVD_VOL_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"
#include "image/image.h"
#include "volume/volume.h"
#include "zoned/zoned.h"

#define VBLK ZVD_VOLUME_BLOCK
#define VBLK_SHIFT 12
#define LEAF_SHIFT 10
#define LEAF_N (1u << LEAF_SHIFT)
#define LOC_NONE 0u
#define LOC_ZERO 1u
#define VOL_SEGMENT (1u << 20) /* chunk size of a volume image */
#define COMMIT_FREES 64u	/* commit once this many segments wait */

/* Record types (first byte of each journal record). */
#define VR_EXT 16u	/* map id, lba, n, loc: a run of entries */
#define VR_SNAP 17u	/* id, time, name; from the live map or empty */
#define VR_SNAP_DEL 18u
#define VR_ROLLBACK 19u
#define VR_STATS 20u
#define VR_BACKING 21u
#define VR_CLONE 22u	/* a clone of a snapshot registered / dropped */

struct leaf {
	uint32_t refs;
	uint32_t mark; /* walk stamp: count each distinct leaf once */
	uint32_t e[LEAF_N];
};

struct vmap {
	struct leaf **l; /* nleaves entries */
};

struct vclone {
	uint8_t uuid[16];
	char *path;
};

struct vsnap {
	uint32_t id;
	uint64_t created;
	char name[ZVD_NAME_MAX + 1];
	struct vmap map;
	struct vclone *clones;
	uint32_t nr_clones;
	uint32_t views; /* open zvd_open_snapshot_of views (under v->lock) */
};

struct seg {
	uint32_t live;	/* blocks with ref > 0 */
	uint32_t *rev;	/* lba of each block, as written */
	uint32_t *ref;	/* distinct leaves pointing at each block */
	uint32_t inflight; /* writes whose data is going in, map not yet */
	uint8_t pinned;	/* holds a block a snapshot uses: never collected */
};

struct vol {
	struct img *img;
	struct zvd_backend *be;
	uint64_t size, nblocks;
	uint32_t nleaves;
	uint32_t seg_shift, bps, bps_shift;
	pthread_rwlock_t lock;
	pthread_mutex_t flush_lock;

	struct vmap live;
	const struct vmap *rmap; /* what reads see: live, or a snapshot */
	struct vsnap **snaps;	 /* oldest first */
	uint32_t nr_snaps, next_snap_id;

	struct seg *segs; /* indexed by chunk */
	uint32_t nr_segs;
	uint32_t max_chunk; /* chunk numbers past it are corruption (at open) */
	uint32_t head, head_pos; /* head segment (0: none) and its next block */

	struct img_recs pend; /* records since the last commit */
	int counting;	      /* segments freed when dead (off while opening) */
	int need_full;	      /* a failed checkpoint: the next commit is one */
	uint32_t walk;

	/* statistics, in blocks */
	uint64_t user_blocks, gc_blocks, gc_runs, checkpoints;
	uint64_t live_blocks, data_segs;

	/* backing image: unwritten blocks read through to it */
	struct zvd_dev *base;
	char *base_path;
	char base_snap[ZVD_NAME_MAX + 1];
	uint8_t base_uuid[16];
	int has_base;

	/* background garbage collection */
	pthread_t gc_thread;
	pthread_mutex_t gc_mx;
	pthread_cond_t gc_cv;
	int gc_kick, gc_inline, gc_started;
	atomic_int gc_running;
	atomic_int gc_stop;
	uint8_t *gc_buf;
	uint32_t *gc_idx;
	pthread_mutex_t gc_one; /* one collection step at a time */
};

static inline uint32_t loc_chunk(const struct vol *v, uint32_t loc)
{
	return loc >> v->bps_shift;
}
static inline uint64_t loc_off(const struct vol *v, uint32_t loc)
{
	return ((uint64_t)loc_chunk(v, loc) << v->seg_shift) +
	       ((uint64_t)(loc & (v->bps - 1)) << VBLK_SHIFT);
}

/* map.c */
uint32_t map_get(const struct vol *v, const struct vmap *m, uint64_t lba);
int map_set(struct vol *v, struct vmap *m, uint64_t lba, uint32_t loc);
int map_share(struct vol *v, struct vmap *dst, const struct vmap *src);
void map_drop(struct vol *v, struct vmap *m);
int map_init(struct vol *v, struct vmap *m);
void seg_inc(struct vol *v, uint32_t loc, uint64_t lba);
void seg_dec(struct vol *v, uint32_t loc);
int seg_prepare(struct vol *v, uint32_t chunk);
void seg_retire_if_dead(struct vol *v, uint32_t chunk);
int map_count_all(struct vol *v);
void map_dedupe(struct vol *v);
int map_encode(struct vol *v, const struct vmap *m, uint32_t map_id,
	       struct img_recs *r);
int rec_ext(struct vol *v, uint32_t map_id, uint64_t lba, uint32_t n,
	    uint32_t loc, struct img_recs *r);

/* vol.c */
int map_init_raw(struct vol *v, uint64_t size);
struct vmap *vol_map_by_id(struct vol *v, uint32_t id);
/* Room for up to @want blocks at the head (caller holds v->lock). */
int head_room(struct zvd_dev *dev, uint64_t want, uint32_t *loc);
int vol_commit(struct zvd_dev *dev, int checkpoint);
int vol_pend_big(struct vol *v);
/* 0, or -EROFS / -EIO (an earlier metadata write failed) with a reason. */
int vol_writable(struct zvd_dev *dev);
int vol_encode_all(struct zvd_dev *dev, struct img_recs *r);

/* gc.c */
int gc_start(struct zvd_dev *dev);
int gc_wanted(const struct vol *v);
void gc_kick(struct zvd_dev *dev);
int gc_step(struct zvd_dev *dev, int force);
void gc_unpin_all(struct vol *v);

/* vsnap.c */
struct vsnap *vsnap_find(struct vol *v, const char *name);
int vsnap_replay(struct zvd_dev *dev, const uint8_t *p, size_t len);
int vsnap_encode_all(struct zvd_dev *dev, struct img_recs *r);
void vsnaps_free(struct vol *v);
int vbacking_open(struct zvd_dev *dev);
int vbacking_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off);

#endif
