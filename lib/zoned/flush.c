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

/*
 * Step 2, with every state change excluded: apply @op's change (if any),
 * take the chunks freed so far and the zones changed since the last commit,
 * and record them. Caller holds flush_lock. Sets *full when the changes are
 * too many for one transaction and the whole state was recorded instead.
 */
static int capture(struct zvd_dev *dev, struct flush_op *op, int *full,
		   uint32_t *nr_taken, struct img_frees *frees)
{
	int err = 0;

	img_recs_reset(&dev->recs);
	dev->nr_emitted = 0;
	*nr_taken = 0;
	pthread_rwlock_wrlock(&dev->state_lock);
	if (op && op->apply)
		err = op->apply(dev, &dev->recs, op->arg);
	img_take_frees(dev->img, frees);
	pthread_mutex_lock(&dev->dirty_lock);
	*nr_taken = dev->nr_dirty;
	memcpy(dev->taken, dev->dirty, dev->nr_dirty * sizeof(*dev->taken));
	dev->nr_dirty = 0;
	pthread_mutex_unlock(&dev->dirty_lock);
	for (uint32_t i = 0; i < *nr_taken; i++)
		atomic_store(&dev->zones[dev->taken[i]].dirty, 0);
	for (uint32_t i = 0; i < *nr_taken && !err && !*full; i++) {
		uint32_t zi = dev->taken[i];

		err = snap_emit_dirty(dev, zi, &dev->recs);
		if (!err)
			err = zview_encode(dev, REC_ZONE, 0, zi,
					   &dev->zones[zi].st, &dev->recs);
	}
	if (!err && (*full || dev->recs.len > img_max_txn(dev->img))) {
		*full = 1;
		err = dev_encode_all(dev, &dev->recs);
	}
	pthread_rwlock_unlock(&dev->state_lock);
	return err;
}

/* Steps 1-5. Caller holds flush_lock. */
static int flush_once(struct zvd_dev *dev, struct flush_op *op, int full)
{
	struct img_frees frees = { 0 };
	uint32_t nr_taken;
	int err, applied;

	err = capture(dev, op, &full, &nr_taken, &frees);
	applied = op && op->apply && err != -EEXIST && err != -ENOENT &&
		  err != -EBUSY && err != -EINVAL;
	if (!err)
		err = be_flush(dev->be);
	if (!err && (full || dev->recs.len))
		err = full ? img_checkpoint(dev->img, &dev->recs)
			   : img_commit(dev->img, &dev->recs);
	snap_mark_persisted(dev, !err);
	if (err) {
		for (uint32_t i = 0; i < nr_taken; i++)
			mark_dirty(dev, dev->taken[i]);
		img_return_frees(dev->img, &frees);
		/* a change applied in memory but not committed cannot be
		 * undone safely: refuse further changes until reopened */
		if (applied)
			img_set_broken(dev->img);
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
	err = flush_once(dev, NULL, checkpoint);
	if (!err && !checkpoint && img_needs_checkpoint(dev->img))
		err = flush_once(dev, NULL, 1);
	if (!err)
		dev->flush_ok = mine;
	pthread_mutex_unlock(&dev->flush_lock);
	return err;
}

/* Apply @op and commit it, with everything written before, atomically. */
int dev_flush_op(struct zvd_dev *dev, struct flush_op *op)
{
	uint64_t mine;
	int err;

	if (dev->readonly)
		return -EROFS;
	pthread_mutex_lock(&dev->flush_lock);
	mine = atomic_fetch_add(&dev->flush_started, 1) + 1;
	err = flush_once(dev, op, op->full);
	if (!err && img_needs_checkpoint(dev->img))
		err = flush_once(dev, NULL, 1);
	if (!err)
		dev->flush_ok = mine;
	pthread_mutex_unlock(&dev->flush_lock);
	return err;
}

int zvd_flush(struct zvd_dev *dev)
{
	int err;

	if (dev->vol)
		return vol_flush(dev);
	err = dev_flush(dev, 0);

	return err ? dev_io_fail(dev, err, ZONE_NONE, 0, 0) : 0;
}
