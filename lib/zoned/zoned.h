/* SPDX-License-Identifier: MIT */
/*
 * zoned.h - the zoned device model's internals, shared by the files of
 * lib/zoned/:
 *   geometry.c  geometry rules and their on-disk encoding
 *   status.c    status names, errnos and the last-error record
 *   dev.c       create, open (replay), close, zone records
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
#include "zvd.h"

#define ZONE_NONE UINT32_MAX

struct zone {
	pthread_rwlock_t lock;
	uint64_t wp;	 /* bytes of data held from the zone start */
	uint32_t *map;	 /* chunk of each chunk-sized slot, 0 = none */
	uint8_t cond;	 /* enum zvd_zone_cond; changes under res_lock too */
	uint8_t type;
	atomic_uchar dirty; /* set when on the dirty list */
	uint64_t writes, resets, finishes;
	uint32_t io_prev, io_next; /* implicit-open list, oldest first */
	uint64_t io_stamp;	   /* when it last became implicitly open */
};

struct zvd_dev {
	struct zvd_backend *be;
	struct img *img;
	struct zvd_geometry g;
	int readonly;
	uint32_t nr_zones;
	uint32_t chunk_shift;
	uint32_t slots; /* chunk slots per zone */
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
};

/* geometry.c */
#define GEO_BLOB_LEN 44u
void geo_encode(const struct zvd_geometry *g, uint8_t *b);
int geo_decode(struct zvd_geometry *g, const uint8_t *b, size_t len);
uint32_t geo_chunk_size(const struct zvd_geometry *g);

/* status.c: record a failure and return its errno */
int dev_fail(struct zvd_dev *dev, enum zvd_status st, uint32_t zone,
	     uint64_t off, uint64_t len, uint64_t wp, uint64_t limit);
int dev_io_fail(struct zvd_dev *dev, int err, uint32_t zone, uint64_t off,
		uint64_t len);

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
int zone_encode(struct zvd_dev *dev, uint32_t zi, struct img_recs *recs);
int zone_pristine(const struct zvd_dev *dev, const struct zone *z,
		  uint32_t zi);
void zone_free_chunks(struct zvd_dev *dev, struct zone *z);
int dev_load(struct zvd_dev *dev, int all_zones, char *why, size_t len,
	     uint32_t *bad_zone);
const char *zone_problem(struct zvd_dev *dev, uint32_t zi, uint64_t be_size,
			 char *buf, size_t len);
int dev_open_image(struct zvd_backend *be, int readonly, struct zvd_dev **out,
		   const char **why);
struct zvd_dev *dev_new(struct zvd_backend *be, const struct zvd_geometry *g,
			int readonly);
void dev_free(struct zvd_dev *dev);

/* mgmt.c */
void zone_set_cond(struct zvd_dev *dev, uint32_t zi, uint8_t cond);
int zone_open_resources(struct zvd_dev *dev, uint32_t zi, uint8_t target);
void mark_dirty(struct zvd_dev *dev, uint32_t zi);
int dev_rebuild_resources(struct zvd_dev *dev);

/* flush.c */
int dev_flush(struct zvd_dev *dev, int checkpoint);

#endif
