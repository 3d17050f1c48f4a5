// SPDX-License-Identifier: MIT
/*
 * flush.c - making the device durable: group commit and checkpoints.
 *
 * A flush (1) takes the chunks freed since the last commit, (2) with every
 * state change excluded, records the zones changed since the last commit,
 * (3) syncs the backend so the data those records point at is durable,
 * (4) appends the records to the journal as one transaction and syncs it,
 * and only then (5) lets the freed chunks be reused. Callers that arrive
 * while a flush runs share the next one. A checkpoint is the same with
 * every non-empty zone recorded, into a new journal chain.
 */
#include <errno.h>

#include "util/util.h"
#include "zoned/zoned.h"

static int encode_all(struct zvd_dev *dev)
{
	int err = 0;

	img_recs_reset(&dev->recs);
	for (uint32_t zi = 0; zi < dev->nr_zones && !err; zi++)
		if (!zone_pristine(dev, &dev->zones[zi], zi))
			err = zone_encode(dev, zi, &dev->recs);
	return err;
}

/* Step 2. Caller holds flush_lock. Sets *full when the changes are too
 * many for one transaction and the whole state was recorded instead. */
static int capture(struct zvd_dev *dev, int *full, uint32_t *nr_taken)
{
	int err = 0;

	img_recs_reset(&dev->recs);
	pthread_rwlock_wrlock(&dev->state_lock);
	pthread_mutex_lock(&dev->dirty_lock);
	*nr_taken = dev->nr_dirty;
	memcpy(dev->taken, dev->dirty, dev->nr_dirty * sizeof(*dev->taken));
	dev->nr_dirty = 0;
	pthread_mutex_unlock(&dev->dirty_lock);
	for (uint32_t i = 0; i < *nr_taken; i++)
		atomic_store(&dev->zones[dev->taken[i]].dirty, 0);
	for (uint32_t i = 0; i < *nr_taken && !err && !*full; i++)
		err = zone_encode(dev, dev->taken[i], &dev->recs);
	if (!err && (*full || dev->recs.len > img_max_txn(dev->img))) {
		*full = 1;
		err = encode_all(dev);
	}
	pthread_rwlock_unlock(&dev->state_lock);
	return err;
}

/* Steps 1-5. Caller holds flush_lock. */
static int flush_once(struct zvd_dev *dev, int full)
{
	struct img_frees frees;
	uint32_t nr_taken;
	int err;

	img_take_frees(dev->img, &frees);
	err = capture(dev, &full, &nr_taken);
	if (!err)
		err = be_flush(dev->be);
	if (!err && (full || dev->recs.len))
		err = full ? img_checkpoint(dev->img, &dev->recs)
			   : img_commit(dev->img, &dev->recs);
	if (err) {
		for (uint32_t i = 0; i < nr_taken; i++)
			mark_dirty(dev, dev->taken[i]);
		img_return_frees(dev->img, &frees);
		return err;
	}
	img_release_frees(dev->img, &frees);
	return 0;
}

int dev_flush(struct zvd_dev *dev, int checkpoint)
{
	uint64_t seen, mine;
	int err;

	if (dev->readonly)
		return 0;
	seen = atomic_load(&dev->flush_started);
	pthread_mutex_lock(&dev->flush_lock);
	if (!checkpoint && dev->flush_ok > seen) {
		/* a flush that began after this call has succeeded */
		pthread_mutex_unlock(&dev->flush_lock);
		return 0;
	}
	mine = atomic_fetch_add(&dev->flush_started, 1) + 1;
	err = flush_once(dev, checkpoint);
	if (!err && !checkpoint && img_needs_checkpoint(dev->img))
		err = flush_once(dev, 1);
	if (!err)
		dev->flush_ok = mine;
	pthread_mutex_unlock(&dev->flush_lock);
	return err;
}

int zvd_flush(struct zvd_dev *dev)
{
	int err = dev_flush(dev, 0);

	return err ? dev_io_fail(dev, err, ZONE_NONE, 0, 0) : 0;
}
