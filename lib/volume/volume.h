/* SPDX-License-Identifier: MIT */
/*
 * volume.h - log-structured volumes, answering the public calls for a
 * handle whose dev->vol is set (the zoned files test it first):
 *   map.c    the block map (two-level, leaves shared copy-on-write
 *            between the live map and snapshots)
 *   vol.c    create, open (replay), close, read, write, discard, flush,
 *            checkpoints, the allocation map, statistics
 *   gc.c     segment accounting and garbage collection
 *   vsnap.c  snapshots, rollback, clones and backing images
 *   vcheck.c zvd_check for a volume
 */
#ifndef ZVD_VOLUME_H
#define ZVD_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "zvd.h"

#define IMG_KIND_VOLUME 2u

struct zvd_dev;
struct zvd_backend;
struct img;
struct vol;

int vol_create(struct zvd_backend *be, uint64_t size, const uint8_t *uuid,
	       struct zvd_dev **out);
/* Open the volume in @img (already read); takes ownership of @img. */
int vol_open(struct zvd_backend *be, struct img *img, int readonly,
	     struct zvd_dev **out);
void vol_free(struct zvd_dev *dev);
/* Open @be if it holds a volume; -EMEDIUMTYPE if it holds anything else
 * (or nothing readable), so the zoned path can look at it. */
int vol_try_open(struct zvd_backend *be, int readonly, struct zvd_dev **out);
/* zvd_check for a volume; -EMEDIUMTYPE if @be holds no volume. */
int vol_check_be(struct zvd_backend *be, zvd_check_fn report, void *arg);
/* Stop the background collector (before the final flush of a close). */
void gc_halt(struct zvd_dev *dev);
int vol_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off);
int vol_write(struct zvd_dev *dev, const void *buf, size_t len, uint64_t off,
	      unsigned flags);
int vol_discard(struct zvd_dev *dev, uint64_t off, uint64_t len,
		unsigned flags, int zeroes);
int vol_flush(struct zvd_dev *dev);
int vol_map(struct zvd_dev *dev, uint64_t off, uint64_t len,
	    struct zvd_extent *out, uint32_t max);
int vol_stats(struct zvd_dev *dev, struct zvd_volume_stats *st);
int vol_space(struct zvd_dev *dev, struct zvd_space *sp);
int64_t vol_gc(struct zvd_dev *dev);
int vol_report(struct zvd_dev *dev, uint32_t first, struct zvd_zone *out,
	       uint32_t max);

int vol_snapshot_create(struct zvd_dev *dev, const char *name);
int vol_snapshot_delete(struct zvd_dev *dev, const char *name);
int vol_snapshot_list(struct zvd_dev *dev, struct zvd_snapshot_info *out,
		      uint32_t max);
int vol_rollback(struct zvd_dev *dev, const char *name);
int vol_select_snapshot(struct zvd_dev *dev, const char *name);
int vol_get_backing(struct zvd_dev *dev, char *path, size_t path_len,
		    char *snap, size_t snap_len);
int vol_create_layer(struct zvd_dev *base, const char *base_abs,
		     const char *snap, const char *new_path,
		     const uint8_t *uuid);
int vol_register_clone(struct zvd_dev *o, const char *snap,
		       const uint8_t *uuid, const char *path, int add);
int vol_unregister_clone(struct zvd_dev *o, const uint8_t *uuid);
int vol_has_clones(struct zvd_dev *dev);
struct zvd_dev *vol_base(struct zvd_dev *dev);
/* Count a view of snapshot @name opening (+1, returns its id in *id, or
 * -ENOENT) or closing (-1, by *id). */
int vol_snapshot_view(struct zvd_dev *dev, const char *name, int delta,
		      uint32_t *id);
int vol_rebase(struct zvd_dev *dev, struct zvd_dev *nb, const char *nb_abs,
	       zvd_progress_fn progress, void *arg);

#endif
