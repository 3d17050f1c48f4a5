/* SPDX-License-Identifier: MIT */
/*
 * zoned.h - the zoned device model's internals, shared by the files of
 * lib/zoned/:
 *   geometry.c  geometry rules and their on-disk encoding
 *   status.c    status names, errnos and the last-error record
 *   dev.c       create, open (replay), close
 *   state.c     zone states: copies, references, journal records
 *   snap.c      snapshots: create, delete, list, rollback, views
 *   layer.c     backing images and clones: open, create, rebase, delete
 *   io.c        read, write, append
 *   mgmt.c      conditions, open/active resources, zone management, report
 *   flush.c     group commit and checkpoints
 *   check.c     zvd_check
 *
 * Locking, outermost first:
 *   flush_lock  one flush or checkpoint at a time
 *   state_lock  rwlock: every request that may change a zone takes it
 *               shared; capturing the state for a commit, and operations on
 *               all zones, take it exclusive. So a commit always records a
 *               state that existed as a whole (open/active counts agree).
 *   zone->lock  rwlock per zone: readers shared, writers exclusive. A
 *               request holds one, or two in the implicit-close case (the
 *               second taken blocking only upward in index, else trylock).
 *   res_lock    conditions, open/active counts, the implicit-open list
 *   dirty_lock, err_lock, and the image's alloc_lock: leaves.
 */
#ifndef ZVD_ZONED_H
#define ZVD_ZONED_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"
#include "image/image.h"
#include "volume/volume.h"
#include "zvd.h"

#define ZONE_NONE UINT32_MAX

/*
 * A conventional zone's chunk that a snapshot shares is not copied when
 * written: the write goes to a new chunk, and the blocks not written yet
 * are still read from the old one, the base (redirect-on-write).
 */
struct cow {
	uint32_t base;	  /* chunk holding the blocks not rewritten */
	uint64_t bits[];  /* bit set: the block is in the slot's own chunk */
};

/*
 * One zone's state: the live zone's, or a snapshot's frozen copy of it.
 * Every chunk a state maps holds one reference in the image's pool.
 */
struct zview {
	uint64_t wp;	   /* bytes of data held from the zone start */
	uint64_t base_len; /* bytes from the zone start that read through to
			    * the backing image where no chunk is mapped */
	uint64_t writes, resets, finishes;
	uint64_t io_stamp; /* when it last became implicitly open */
	uint32_t *map;	   /* chunk of each chunk-sized slot, 0 = none */
	struct cow **cow;  /* per slot, or NULL: redirect-on-write state */
	uint8_t cond;	   /* enum zvd_zone_cond */
	uint8_t persisted; /* (snapshot copies) recorded in the journal */
	uint8_t finished;  /* full through a finish, not by writes */
};

/* The rules on which the reference devices differ (profile.c). */
struct zprofile {
	const char *name;
	/* at the open limit the victim is closed first, and the limits are
	 * checked after: a request then refused for the active limit has
	 * still closed a zone (QEMU's nvme_zrm_auto_transition_zone) */
	uint8_t close_victim_first;
	/* a victim is closed only while the active limit has room, even to
	 * reopen a closed zone, which needs none (null_blk) */
	uint8_t victim_needs_active_room;
	/* closing an open zone whose write pointer is at its start empties
	 * it (null_blk); otherwise it becomes closed */
	uint8_t close_empty_to_empty;
	/* finish of an empty or closed zone checks (without claiming) the
	 * open/active resources, which may close a victim (null_blk) */
	uint8_t finish_checks_resources;
	/* the victim is the next implicitly open zone from a round-robin
	 * cursor (null_blk), not the one opened longest ago */
	uint8_t victim_round_robin;
	/* byte that reads at and past the write pointer (0: zeros) */
	uint8_t past_wp_fill;
	/* null_blk's write pointers: start+capacity for a zone filled by
	 * writes, start+length after a finish, and the whole zone readable
	 * when read-only */
	uint8_t null_wp;
	/* failing a zone into the condition it is in empties it */
	uint8_t fail_again_empties;
	/* an operation the zone's type does not support is an I/O error
	 * (not an invalid field) */
	uint8_t type_error_is_io;
};
const struct zprofile *zprofile_get(uint32_t profile);

struct zone {
	pthread_rwlock_t lock;
	struct zview st; /* st.cond changes under res_lock too */
	uint8_t type;
	atomic_uchar dirty; /* set when on the dirty list */
	uint32_t io_prev, io_next; /* implicit-open list, oldest first */
	uint32_t saved_upto; /* newest snapshot holding this zone's state as
			      * it was when the snapshot was taken */
};

/*
 * A snapshot: saved[zi] is zone zi as it was when the snapshot was taken,
 * kept only once the zone changed afterwards; a zone without one reads as
 * the next newer snapshot's copy, or as the live zone.
 */
struct clone_ref {
	uint8_t uuid[16];
	char *path;
};

struct snap {
	uint32_t id;
	uint64_t created;
	char name[ZVD_NAME_MAX + 1];
	struct zview **saved; /* nr_zones entries, allocated on first use */
	struct clone_ref *clones;
	uint32_t nr_clones;
	uint32_t views; /* open zvd_open_snapshot_of views (under snap_lock) */
};

/* The image this one reads through to, if any. */
struct backing {
	int present;
	uint32_t snap_id;   /* 0: the base image as a whole */
	uint8_t uuid[16];   /* the base image's */
	char snap[ZVD_NAME_MAX + 1];
	char *path;	    /* the base image file, absolute */
	struct zvd_dev *dev; /* opened read-only */
};

struct zvd_dev {
	struct zvd_backend *be;
	struct img *img;
	struct zvd_geometry g;
	const struct zprofile *prof;
	uint32_t rr_cursor; /* null_blk's round-robin victim cursor */
	int readonly;
	uint32_t nr_zones;
	uint32_t chunk_shift;
	uint32_t slots; /* chunk slots per zone */
	uint32_t cow_words; /* u64 words of a slot's block bitmap */
	int zone_shift; /* log2(zone_size), or -1 if not a power of two */
	struct zone *zones;

	pthread_rwlock_t state_lock;

	pthread_mutex_t res_lock;
	uint32_t nr_open, nr_active;
	uint32_t io_head, io_tail;
	uint64_t io_clock; /* stamps implicit opens, kept across restarts */

	pthread_mutex_t dirty_lock;
	uint32_t *dirty;
	uint32_t nr_dirty;
	uint32_t *taken; /* the dirty list a flush took (under flush_lock) */

	pthread_mutex_t flush_lock;
	atomic_uint_fast64_t flush_started;
	uint64_t flush_ok; /* number of the last flush that succeeded */
	struct img_recs recs;

	pthread_mutex_t err_lock;
	struct zvd_error last;
	char detail[512]; /* the last failure in words, when numbers don't say it */

	/* snapshots, oldest first; the array changes under state_lock held
	 * exclusively, a snapshot's saved[] under snap_lock */
	struct snap **snaps;
	uint32_t nr_snaps;
	uint32_t next_snap_id;
	pthread_mutex_t snap_lock;
	struct backing bk;
	struct zview **emitted; /* snapshot copies the running commit records */
	uint32_t nr_emitted, cap_emitted;
	struct vol *vol; /* set for a volume: lib/volume/ answers */
	struct zvd_dev *view_of; /* a zvd_open_snapshot_of view: its image */
	uint32_t view_snap;	 /* and the snapshot's id */
};

/* geometry.c */
#define GEO_BLOB_LEN 48u
void geo_encode(const struct zvd_geometry *g, uint8_t *b);
int geo_decode(struct zvd_geometry *g, const uint8_t *b, size_t len);
uint32_t geo_chunk_size(const struct zvd_geometry *g);

/* status.c: record a failure and return its errno */
int dev_fail(struct zvd_dev *dev, enum zvd_status st, uint32_t zone,
	     uint64_t off, uint64_t len, uint64_t wp, uint64_t limit);
int dev_io_fail(struct zvd_dev *dev, int err, uint32_t zone, uint64_t off,
		uint64_t len);
int dev_fail_msg(struct zvd_dev *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* dev.c */
static inline uint64_t zone_start(const struct zvd_dev *dev, uint32_t zi)
{
	return (uint64_t)zi * dev->g.zone_size;
}
static inline uint64_t zone_cap(const struct zvd_dev *dev, uint32_t zi)
{
	return zi < dev->g.nr_conv_zones ? dev->g.zone_size
					 : dev->g.zone_capacity;
}
static inline int zone_is_conv(const struct zvd_dev *dev, uint32_t zi)
{
	return zi < dev->g.nr_conv_zones;
}
uint32_t dev_zone_of(const struct zvd_dev *dev, uint64_t off);
int zone_pristine(const struct zvd_dev *dev, const struct zone *z,
		  uint32_t zi);
int dev_load(struct zvd_dev *dev, int all_zones, char *why, size_t len,
	     uint32_t *bad_zone);
const char *zone_problem(struct zvd_dev *dev, uint32_t zi,
			 const struct zview *v, uint64_t be_size, char *buf,
			 size_t len);
int dev_open_image(struct zvd_backend *be, int readonly, struct zvd_dev **out,
		   const char **why);
struct zvd_dev *dev_new(struct zvd_backend *be, const struct zvd_geometry *g,
			int readonly);
void dev_free(struct zvd_dev *dev);
int dev_create(struct zvd_backend *be, const struct zvd_geometry *g,
	       const uint8_t *uuid, struct zvd_dev **out);

/* state.c: zone states and their records */
#define REC_ZONE 1u
#define REC_SNAP_CREATE 2u
#define REC_SNAP_ZONE 3u
#define REC_SNAP_DELETE 4u
#define REC_CLONE_REF 5u
#define REC_CLONE_UNREF 6u
#define REC_BACKING 7u
struct zview *zview_dup(struct zvd_dev *dev, const struct zview *v);
void zview_free(struct zvd_dev *dev, struct zview *v);
void zview_free_raw(struct zvd_dev *dev, struct zview *v);
size_t cow_size(const struct zvd_dev *dev);
void zview_drop_chunks(struct zvd_dev *dev, struct zview *v);
int zview_ref_chunks(struct zvd_dev *dev, const struct zview *v);
int zview_encode(struct zvd_dev *dev, uint8_t type, uint32_t snap_id,
		 uint32_t zi, const struct zview *v, struct img_recs *recs);
int zview_decode(struct zvd_dev *dev, const uint8_t *p, size_t len,
		 uint32_t *zi, uint32_t *snap_id, struct zview *v,
		 const char **why);
int zview_replace(struct zvd_dev *dev, struct zview *dst,
		  const struct zview *src);
int zone_preserve(struct zvd_dev *dev, uint32_t zi);
int dev_encode_all(struct zvd_dev *dev, struct img_recs *recs);

/* snap.c */
struct snap *snap_find(struct zvd_dev *dev, const char *name);
const struct zview *snap_view(struct zvd_dev *dev, uint32_t idx, uint32_t zi);
int snap_replay(struct zvd_dev *dev, const uint8_t *p, size_t len,
		const char **why);
void snaps_after_load(struct zvd_dev *dev);
void snaps_free(struct zvd_dev *dev);
int snap_encode_all(struct zvd_dev *dev, struct img_recs *recs);
int snap_emit_dirty(struct zvd_dev *dev, uint32_t zi, struct img_recs *recs);
void snap_mark_persisted(struct zvd_dev *dev, int all);
int snaps_ref_chunks(struct zvd_dev *dev, uint32_t *bad_zone);
int dev_apply_snapshot(struct zvd_dev *dev, const char *name,
		       uint32_t want_id);
int snap_views(struct zvd_dev *dev, const char *name, int delta,
	       uint32_t *id);
int snap_encode_clone(uint8_t type, uint32_t snap_id, const uint8_t *uuid,
		      const char *path, struct img_recs *recs);
struct clone_args {
	uint32_t snap_id;
	const uint8_t *uuid;
	const char *path;
	int add;
};
int snap_clone_apply(struct zvd_dev *dev, struct img_recs *recs, void *arg);

/* layer.c */
int backing_replay(struct zvd_dev *dev, const uint8_t *p, size_t len);
int backing_encode(struct zvd_dev *dev, struct img_recs *recs);
int backing_open(struct zvd_dev *dev);
void backing_close(struct zvd_dev *dev);
int backing_read(struct zvd_dev *dev, void *buf, uint64_t len, uint64_t off);
int clones_find_stale(struct zvd_dev *dev, const char *snap,
		      uint8_t (**stale)[16], uint32_t *nr);

/* mgmt.c */
int type_error(struct zvd_dev *dev, uint32_t zi, uint64_t off, uint64_t len);
uint64_t zone_report_wp(const struct zvd_dev *dev, uint32_t zi,
			const struct zview *v);
void zone_set_cond(struct zvd_dev *dev, uint32_t zi, uint8_t cond);
int zone_open_resources(struct zvd_dev *dev, uint32_t zi, uint8_t target);
void mark_dirty(struct zvd_dev *dev, uint32_t zi);
int dev_rebuild_resources(struct zvd_dev *dev);

/* flush.c: an operation that commits together with a flush applies its
 * in-memory change in @apply (called with state_lock held exclusively,
 * before the changed zones are recorded) and may add records of its own */
struct flush_op {
	int (*apply)(struct zvd_dev *dev, struct img_recs *recs, void *arg);
	void *arg;
	int full; /* record the whole state (a checkpoint) */
};
int dev_flush(struct zvd_dev *dev, int checkpoint);
int dev_flush_op(struct zvd_dev *dev, struct flush_op *op);

#endif
