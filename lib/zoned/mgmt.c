// SPDX-License-Identifier: MIT
/*
 * mgmt.c - zone conditions and the operations that change them: the open
 * and active resources (with the implicit close of the oldest implicitly
 * opened zone), open/close/finish/reset of one zone or all, fault
 * injection, and the zone report. docs/ZONED.md states the rules.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "util/util.h"
#include "zoned/zoned.h"

static int cond_is_open(uint8_t c)
{
	return c == ZVD_COND_IMP_OPEN || c == ZVD_COND_EXP_OPEN;
}

static int cond_is_active(uint8_t c)
{
	return cond_is_open(c) || c == ZVD_COND_CLOSED;
}

/* ---- the implicit-open list (oldest first), under res_lock ---- */

static void io_unlink(struct zvd_dev *dev, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];

	if (z->io_prev != ZONE_NONE)
		dev->zones[z->io_prev].io_next = z->io_next;
	else
		dev->io_head = z->io_next;
	if (z->io_next != ZONE_NONE)
		dev->zones[z->io_next].io_prev = z->io_prev;
	else
		dev->io_tail = z->io_prev;
	z->io_prev = z->io_next = ZONE_NONE;
}

static void io_append(struct zvd_dev *dev, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];

	z->io_prev = dev->io_tail;
	z->io_next = ZONE_NONE;
	if (dev->io_tail != ZONE_NONE)
		dev->zones[dev->io_tail].io_next = zi;
	else
		dev->io_head = zi;
	dev->io_tail = zi;
}

/* Change a zone's condition and the counts that follow from it. Caller
 * holds the zone exclusively and res_lock. */
void zone_set_cond(struct zvd_dev *dev, uint32_t zi, uint8_t cond)
{
	struct zone *z = &dev->zones[zi];
	uint8_t old = z->st.cond;

	if (old == cond)
		return;
	dev->nr_open += (uint32_t)cond_is_open(cond) - (uint32_t)cond_is_open(old);
	dev->nr_active += (uint32_t)cond_is_active(cond) -
			  (uint32_t)cond_is_active(old);
	if (old == ZVD_COND_IMP_OPEN)
		io_unlink(dev, zi);
	if (cond == ZVD_COND_IMP_OPEN) {
		z->st.io_stamp = ++dev->io_clock;
		io_append(dev, zi);
	}
	z->st.cond = cond;
}

static int by_io_stamp(const void *a, const void *b, void *arg)
{
	const struct zvd_dev *dev = arg;
	uint64_t sa = dev->zones[*(const uint32_t *)a].st.io_stamp;
	uint64_t sb = dev->zones[*(const uint32_t *)b].st.io_stamp;

	return sa < sb ? -1 : sa > sb;
}

/* Recount after a replay, rebuilding the implicit-open list in the order
 * the zones were opened (their stamps are in the zone records). */
int dev_rebuild_resources(struct zvd_dev *dev)
{
	uint32_t *io = malloc(dev->nr_zones * sizeof(*io));
	uint32_t nr_io = 0;

	if (!io)
		return -ENOMEM;
	pthread_mutex_lock(&dev->res_lock);
	dev->nr_open = dev->nr_active = 0;
	dev->io_head = dev->io_tail = ZONE_NONE;
	dev->io_clock = 0;
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++) {
		struct zone *z = &dev->zones[zi];

		dev->io_clock = ZVD_MAX(dev->io_clock, z->st.io_stamp);
		dev->nr_open += (uint32_t)cond_is_open(z->st.cond);
		dev->nr_active += (uint32_t)cond_is_active(z->st.cond);
		z->io_prev = z->io_next = ZONE_NONE;
		if (z->st.cond == ZVD_COND_IMP_OPEN)
			io[nr_io++] = zi;
	}
	qsort_r(io, nr_io, sizeof(*io), by_io_stamp, dev);
	for (uint32_t i = 0; i < nr_io; i++)
		io_append(dev, io[i]);
	pthread_mutex_unlock(&dev->res_lock);
	free(io);
	return 0;
}

void mark_dirty(struct zvd_dev *dev, uint32_t zi)
{
	if (atomic_exchange(&dev->zones[zi].dirty, 1))
		return;
	pthread_mutex_lock(&dev->dirty_lock);
	dev->dirty[dev->nr_dirty++] = zi;
	pthread_mutex_unlock(&dev->dirty_lock);
}

/* ---- resources ---- */

/* Where closing an open zone leaves it. */
static uint8_t close_target(const struct zvd_dev *dev, const struct zone *z)
{
	return dev->prof->close_empty_to_empty && !z->st.wp ? ZVD_COND_EMPTY
							   : ZVD_COND_CLOSED;
}

/* The implicitly open zone to close at the open limit: the one opened
 * longest ago, or the next from the round-robin cursor. res_lock held. */
static uint32_t pick_victim(struct zvd_dev *dev)
{
	uint32_t first = dev->g.nr_conv_zones, n = dev->nr_zones - first;
	uint32_t zi = dev->rr_cursor;

	if (!dev->prof->victim_round_robin)
		return dev->io_head;
	for (uint32_t i = 0; i < n; i++, zi++) {
		if (zi >= dev->nr_zones)
			zi = first;
		if (dev->zones[zi].st.cond == ZVD_COND_IMP_OPEN)
			return zi;
	}
	return ZONE_NONE;
}

/* Close victim @vi (held exclusively) to free an open slot. res_lock
 * held. */
static int close_victim(struct zvd_dev *dev, uint32_t vi)
{
	struct zone *v = &dev->zones[vi];
	int err = zone_preserve(dev, vi);

	if (err)
		return err;
	zone_set_cond(dev, vi, close_target(dev, v));
	if (dev->prof->victim_round_robin)
		dev->rr_cursor = vi + 1 < dev->nr_zones ? vi + 1
							: dev->g.nr_conv_zones;
	mark_dirty(dev, vi);
	return 0;
}

/*
 * The resource rules for zone @zi (E or C) going open, res_lock held:
 * a status to refuse, or ZVD_OK to grant - after closing *victim first if
 * it is not ZONE_NONE. null_blk checks the active limit first and closes a
 * victim only when the request then succeeds, and only while the active
 * limit has room, even to reopen a closed zone (which needs none). QEMU
 * (the zns profile) closes the victim at the open limit first and checks
 * the limits after, so a request refused for the active limit may still
 * have closed a zone.
 */
static enum zvd_status resource_verdict(struct zvd_dev *dev, uint32_t zi,
					uint32_t *victim)
{
	const struct zvd_geometry *g = &dev->g;
	int need_active = dev->zones[zi].st.cond == ZVD_COND_EMPTY;
	int at_open_limit = g->max_open && dev->nr_open >= g->max_open;
	int active_full = g->max_active && dev->nr_active >= g->max_active;

	*victim = ZONE_NONE;
	if (dev->prof->close_victim_first && at_open_limit) {
		/* QEMU: make room first, then check both limits */
		*victim = pick_victim(dev);
		if (*victim != ZONE_NONE)
			return ZVD_OK;
	}
	if (need_active && active_full)
		return ZVD_TOO_MANY_ACTIVE;
	if (!at_open_limit)
		return ZVD_OK;
	if (!(active_full && dev->prof->victim_needs_active_room))
		*victim = pick_victim(dev);
	return *victim != ZONE_NONE ? ZVD_OK : ZVD_TOO_MANY_OPEN;
}

/*
 * Take zone @zi (E or C) to @target (IMP_OPEN or EXP_OPEN), claiming the
 * slots it needs and closing a victim at the open limit as the rules say. With @target FULL (a null_blk finish) the slots are only checked.
 * Caller holds state_lock shared and the zone exclusively. Returns 0, a
 * zone status error, or -EAGAIN when the caller must drop the zone's lock
 * and start over (a victim zone was busy).
 */
int zone_open_resources(struct zvd_dev *dev, uint32_t zi, uint8_t target)
{
	struct zone *z = &dev->zones[zi];

	for (;;) {
		enum zvd_status st;
		uint32_t vi;
		struct zone *v;
		int err;

		pthread_mutex_lock(&dev->res_lock);
		st = resource_verdict(dev, zi, &vi);
		if (st || vi == ZONE_NONE) {
			if (!st && target != ZVD_COND_FULL)
				zone_set_cond(dev, zi, target);
			pthread_mutex_unlock(&dev->res_lock);
			if (!st)
				return 0;
			return dev_fail(dev, st, zi, zone_start(dev, zi), 0,
					zone_start(dev, zi) + z->st.wp,
					st == ZVD_TOO_MANY_OPEN ? dev->g.max_open
								: dev->g.max_active);
		}
		pthread_mutex_unlock(&dev->res_lock);

		/* lock the victim: blocking only upward, so no cycle forms */
		v = &dev->zones[vi];
		if (vi > zi)
			pthread_rwlock_wrlock(&v->lock);
		else if (pthread_rwlock_trywrlock(&v->lock))
			return -EAGAIN;
		pthread_mutex_lock(&dev->res_lock);
		/* decide again with the victim held: things may have moved */
		st = resource_verdict(dev, zi, &vi);
		err = 0;
		if (!st && v == &dev->zones[vi]) {
			err = close_victim(dev, vi);
			/* QEMU checks the limits again; null_blk grants */
			if (!err && !dev->prof->close_victim_first &&
			    target != ZVD_COND_FULL)
				zone_set_cond(dev, zi, target);
		}
		pthread_mutex_unlock(&dev->res_lock);
		pthread_rwlock_unlock(&v->lock);
		if (err)
			return dev_io_fail(dev, err, zi, 0, 0);
		if (!st && v == &dev->zones[vi] && !dev->prof->close_victim_first)
			return 0;
	}
}

/* ---- one zone ---- */

static void set_cond_locked(struct zvd_dev *dev, uint32_t zi, uint8_t cond)
{
	pthread_mutex_lock(&dev->res_lock);
	zone_set_cond(dev, zi, cond);
	pthread_mutex_unlock(&dev->res_lock);
}

static int invalid_transition(struct zvd_dev *dev, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];

	return dev_fail(dev, ZVD_INVALID_TRANSITION, zi, zone_start(dev, zi), 0,
			zone_start(dev, zi) + z->st.wp, 0);
}

static void do_reset(struct zvd_dev *dev, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];

	zview_drop_chunks(dev, &z->st);
	z->st.wp = 0;
	z->st.base_len = 0; /* a reset zone no longer reads the backing */
	z->st.finished = 0;
	z->st.resets++;
	set_cond_locked(dev, zi, ZVD_COND_EMPTY);
}

static void do_finish(struct zvd_dev *dev, uint32_t zi)
{
	dev->zones[zi].st.finishes++;
	dev->zones[zi].st.finished = 1;
	set_cond_locked(dev, zi, ZVD_COND_FULL);
}

/* Apply @op to one zone. Caller holds state_lock shared and the zone
 * exclusively. Returns 0, a status error, or -EAGAIN (start over). */
static int zone_op_locked(struct zvd_dev *dev, enum zvd_zone_op op,
			  uint32_t zi)
{
	struct zone *z = &dev->zones[zi];
	uint8_t c = z->st.cond;
	int err = zone_preserve(dev, zi);

	if (err)
		return dev_io_fail(dev, err, zi, zone_start(dev, zi), 0);

	switch (op) {
	case ZVD_OP_OPEN:
		if (c == ZVD_COND_EMPTY || c == ZVD_COND_CLOSED)
			return zone_open_resources(dev, zi, ZVD_COND_EXP_OPEN);
		if (c == ZVD_COND_IMP_OPEN)
			set_cond_locked(dev, zi, ZVD_COND_EXP_OPEN);
		else if (c != ZVD_COND_EXP_OPEN)
			return invalid_transition(dev, zi);
		return 0;
	case ZVD_OP_CLOSE:
		if (cond_is_open(c))
			set_cond_locked(dev, zi, close_target(dev, z));
		else if (c != ZVD_COND_CLOSED)
			return invalid_transition(dev, zi);
		return 0;
	case ZVD_OP_FINISH:
		if ((c == ZVD_COND_EMPTY || c == ZVD_COND_CLOSED) &&
		    dev->prof->finish_checks_resources) {
			err = zone_open_resources(dev, zi, ZVD_COND_FULL);
			if (err)
				return err;
		}
		if (c == ZVD_COND_EMPTY || cond_is_active(c))
			do_finish(dev, zi);
		else if (c == ZVD_COND_FULL && dev->prof->null_wp &&
			 !dev->g.max_open && !dev->g.max_active)
			dev->zones[zi].st.finished = 1; /* wp back to the end */
		else if (c != ZVD_COND_FULL)
			return invalid_transition(dev, zi);
		return 0;
	case ZVD_OP_RESET:
		if (cond_is_active(c) || c == ZVD_COND_FULL)
			do_reset(dev, zi);
		else if (c != ZVD_COND_EMPTY)
			return invalid_transition(dev, zi);
		return 0;
	}
	return dev_fail(dev, ZVD_INVALID_FIELD, zi, 0, 0, 0, 0);
}

static int zone_op_one(struct zvd_dev *dev, enum zvd_zone_op op, uint32_t zi)
{
	struct zone *z = &dev->zones[zi];
	int err;

	if (zone_is_conv(dev, zi))
		return type_error(dev, zi, zone_start(dev, zi), 0);
	for (;;) {
		pthread_rwlock_rdlock(&dev->state_lock);
		pthread_rwlock_wrlock(&z->lock);
		err = zone_op_locked(dev, op, zi);
		if (!err)
			mark_dirty(dev, zi);
		pthread_rwlock_unlock(&z->lock);
		pthread_rwlock_unlock(&dev->state_lock);
		if (err != -EAGAIN)
			return err;
		sched_yield();
	}
}

/* ---- all zones ---- */

/* Does @op on all zones act on a zone in condition @c? */
static int all_selects(enum zvd_zone_op op, uint8_t c)
{
	switch (op) {
	case ZVD_OP_OPEN:
		return c == ZVD_COND_CLOSED;
	case ZVD_OP_CLOSE:
		return cond_is_open(c);
	case ZVD_OP_FINISH:
		return cond_is_active(c);
	case ZVD_OP_RESET:
		return cond_is_active(c) || c == ZVD_COND_FULL;
	}
	return 0;
}

/* All or nothing: with state_lock exclusive no other request runs, so the
 * check and the changes see one state. */
static int zone_op_all(struct zvd_dev *dev, enum zvd_zone_op op)
{
	uint32_t first = dev->g.nr_conv_zones, selected = 0;
	int err = 0;

	pthread_rwlock_wrlock(&dev->state_lock);
	for (uint32_t zi = first; zi < dev->nr_zones; zi++)
		selected += (uint32_t)all_selects(op, dev->zones[zi].st.cond);
	if (op == ZVD_OP_OPEN && dev->g.max_open &&
	    dev->nr_open + selected > dev->g.max_open) {
		err = dev_fail(dev, ZVD_TOO_MANY_OPEN, ZONE_NONE, 0, 0, 0,
			       dev->g.max_open);
		goto out;
	}
	for (uint32_t zi = first; zi < dev->nr_zones; zi++) {
		struct zone *z = &dev->zones[zi];

		if (!all_selects(op, z->st.cond))
			continue;
		/* readers may still hold the zone: exclude them */
		pthread_rwlock_wrlock(&z->lock);
		err = zone_preserve(dev, zi);
		if (err) {
			pthread_rwlock_unlock(&z->lock);
			break;
		}
		/* each selected zone's change needs no resources and cannot
		 * fail: apply it directly */
		if (op == ZVD_OP_OPEN)
			set_cond_locked(dev, zi, ZVD_COND_EXP_OPEN);
		else if (op == ZVD_OP_CLOSE)
			set_cond_locked(dev, zi, close_target(dev, z));
		else if (op == ZVD_OP_FINISH)
			do_finish(dev, zi);
		else
			do_reset(dev, zi);
		mark_dirty(dev, zi);
		pthread_rwlock_unlock(&z->lock);
	}
out:
	pthread_rwlock_unlock(&dev->state_lock);
	return err;
}

int zvd_zone_mgmt(struct zvd_dev *dev, enum zvd_zone_op op, uint32_t zone)
{
	int err;

	if (dev->vol)
		return dev_fail_msg(dev, -EINVAL, "a volume has no zones to manage");
	if (op < ZVD_OP_OPEN || op > ZVD_OP_RESET ||
	    (zone != ZVD_ALL_ZONES && zone >= dev->nr_zones))
		return dev_fail(dev, ZVD_INVALID_FIELD,
				zone == ZVD_ALL_ZONES ? ZONE_NONE : zone, 0, 0,
				0, dev->nr_zones);
	if (dev->readonly)
		return dev_io_fail(dev, -EROFS, zone, 0, 0);
	err = zone == ZVD_ALL_ZONES ? zone_op_all(dev, op)
				    : zone_op_one(dev, op, zone);
	if (err)
		return err;
	/* zone management is durable before it completes */
	err = dev_flush(dev, 0);
	return err ? dev_io_fail(dev, err, zone, 0, 0) : 0;
}

/* ---- fault injection ---- */

/* Move zone @zi into fault condition @cond. Caller holds state_lock
 * shared and the zone exclusively. Returns 0, a status, or -EAGAIN. */
static int zone_fail_locked(struct zvd_dev *dev, uint32_t zi, uint8_t cond)
{
	struct zone *z = &dev->zones[zi];
	uint8_t c = z->st.cond;
	int err;

	if (c == cond && !dev->prof->fail_again_empties)
		return 0;
	if (c == ZVD_COND_OFFLINE && !dev->prof->fail_again_empties)
		return invalid_transition(dev, zi);
	err = zone_preserve(dev, zi);
	if (err)
		return dev_io_fail(dev, err, zi, 0, 0);
	/* null_blk finishes the zone first, which checks resources (and may
	 * close a victim) for an empty or closed zone; its verdict is
	 * ignored */
	if ((c == ZVD_COND_EMPTY || c == ZVD_COND_CLOSED) &&
	    dev->prof->finish_checks_resources &&
	    zone_open_resources(dev, zi, ZVD_COND_FULL) == -EAGAIN)
		return -EAGAIN;
	if (c == cond || cond == ZVD_COND_OFFLINE) {
		/* again into the same condition: null_blk empties the zone */
		zview_drop_chunks(dev, &z->st);
		z->st.wp = 0;
		z->st.base_len = 0;
		z->st.finished = 0;
	}
	set_cond_locked(dev, zi, c == cond ? ZVD_COND_EMPTY : cond);
	mark_dirty(dev, zi);
	return 0;
}

int zvd_zone_fail(struct zvd_dev *dev, uint32_t zi, enum zvd_zone_cond cond)
{
	struct zone *z;
	int err;

	if (dev->vol)
		return dev_fail_msg(dev, -EINVAL, "a volume has no zones to fail");
	if (zi >= dev->nr_zones || zone_is_conv(dev, zi) ||
	    (cond != ZVD_COND_READ_ONLY && cond != ZVD_COND_OFFLINE))
		return dev_fail(dev, ZVD_INVALID_FIELD, zi, 0, 0, 0, 0);
	if (dev->readonly)
		return dev_io_fail(dev, -EROFS, zi, 0, 0);
	z = &dev->zones[zi];
	do {
		pthread_rwlock_rdlock(&dev->state_lock);
		pthread_rwlock_wrlock(&z->lock);
		err = zone_fail_locked(dev, zi, (uint8_t)cond);
		pthread_rwlock_unlock(&z->lock);
		pthread_rwlock_unlock(&dev->state_lock);
	} while (err == -EAGAIN && !sched_yield());
	if (!err)
		err = dev_flush(dev, 0);
	return err;
}

/* ---- report ---- */

static int filter_match(enum zvd_report_filter f, uint8_t c)
{
	static const int8_t want[] = {
		[ZVD_REPORT_EMPTY] = ZVD_COND_EMPTY,
		[ZVD_REPORT_IMP_OPEN] = ZVD_COND_IMP_OPEN,
		[ZVD_REPORT_EXP_OPEN] = ZVD_COND_EXP_OPEN,
		[ZVD_REPORT_CLOSED] = ZVD_COND_CLOSED,
		[ZVD_REPORT_FULL] = ZVD_COND_FULL,
		[ZVD_REPORT_READ_ONLY] = ZVD_COND_READ_ONLY,
		[ZVD_REPORT_OFFLINE] = ZVD_COND_OFFLINE,
		[ZVD_REPORT_NOT_WP] = ZVD_COND_NOT_WP,
	};

	if (f == ZVD_REPORT_ALL)
		return 1;
	return want[f] == c;
}

static void zone_describe(struct zvd_dev *dev, uint32_t zi, struct zvd_zone *d)
{
	struct zone *z = &dev->zones[zi];

	memset(d, 0, sizeof(*d));
	d->start = zone_start(dev, zi);
	d->len = dev->g.zone_size;
	d->capacity = zone_cap(dev, zi);
	d->type = z->type;
	d->cond = z->st.cond;
	d->written = z->st.wp;
	d->writes = z->st.writes;
	d->resets = z->st.resets;
	d->finishes = z->st.finishes;
	d->wp = zone_report_wp(dev, zi, &z->st);
}

/* The write pointer a zone reports (bytes): as Linux shows an NVMe zone
 * (full: start+length), or as null_blk keeps it. */
uint64_t zone_report_wp(const struct zvd_dev *dev, uint32_t zi,
			const struct zview *v)
{
	uint64_t start = zone_start(dev, zi);

	switch (v->cond) {
	case ZVD_COND_NOT_WP:
		return start + dev->g.zone_size;
	case ZVD_COND_FULL:
		if (dev->prof->null_wp && !v->finished)
			return start + zone_cap(dev, zi);
		return start + dev->g.zone_size;
	case ZVD_COND_READ_ONLY:
	case ZVD_COND_OFFLINE:
		return ZVD_WP_INVALID;
	default:
		return start + v->wp;
	}
}

/* An operation the zone's type does not support. */
int type_error(struct zvd_dev *dev, uint32_t zi, uint64_t off, uint64_t len)
{
	int err = dev_fail(dev, ZVD_INVALID_FIELD, zi, off, len, 0, 0);

	if (!dev->prof->type_error_is_io)
		return err;
	pthread_mutex_lock(&dev->err_lock);
	dev->last.err = -EIO;
	pthread_mutex_unlock(&dev->err_lock);
	return -EIO;
}

int zvd_report(struct zvd_dev *dev, uint32_t first,
	       enum zvd_report_filter filter, struct zvd_zone *zones,
	       uint32_t max)
{
	if (dev->vol && (filter == ZVD_REPORT_ALL || filter == ZVD_REPORT_NOT_WP))
		return vol_report(dev, first, zones, max);
	if (dev->vol)
		return 0;
	uint32_t n = 0;

	if ((unsigned)filter > ZVD_REPORT_NOT_WP || (max && !zones))
		return dev_fail(dev, ZVD_INVALID_FIELD, first, 0, 0, 0, 0);
	for (uint32_t zi = first; zi < dev->nr_zones && n < max; zi++) {
		struct zone *z = &dev->zones[zi];

		pthread_rwlock_rdlock(&z->lock);
		if (filter_match(filter, z->st.cond))
			zone_describe(dev, zi, &zones[n++]);
		pthread_rwlock_unlock(&z->lock);
	}
	return (int)n;
}
