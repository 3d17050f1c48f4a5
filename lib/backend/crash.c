// SPDX-License-Identifier: MIT
/*
 * crash.c - the crash-simulating backend (a test tool, in the spirit of
 * SQLite's test6.c). Writes and zeroes are held in memory, in order, until
 * flush; reads see them. A power cut - now (zvd_crash_cut) or just before
 * the n-th next write, zero or flush (zvd_crash_arm) - settles each held
 * operation as a disk with a volatile cache might: kept, dropped, or torn
 * (a random subset of its 512-byte sectors reaches the inner backend).
 * After the cut every operation fails with -EIO.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "util/util.h"

#define CRASH_SECTOR 512

struct held_op {
	uint64_t off;
	uint64_t len;
	uint8_t *data; /* NULL for a zero */
};

struct crash_backend {
	struct zvd_backend be;
	struct zvd_backend *inner; /* not owned */
	pthread_mutex_t lock;
	struct held_op *ops;
	size_t nr_ops, cap_ops;
	uint64_t rng;
	uint64_t armed; /* cut before this many more ops; 0 = disarmed */
	int cut;
};

static struct crash_backend *to_crash(struct zvd_backend *be)
{
	return (struct crash_backend *)be;
}

static uint64_t crash_rand(struct crash_backend *c)
{
	/* xorshift64*: repeatable from the seed */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545F4914F6CDD1Dull;
}

static int apply_op(struct crash_backend *c, const struct held_op *op)
{
	if (op->data)
		return be_write(c->inner, op->data, op->len, op->off);
	return be_zero(c->inner, op->off, op->len);
}

/* Apply the sectors of @op chosen at random, each with probability 1/2. */
static int tear_op(struct crash_backend *c, const struct held_op *op)
{
	static const uint8_t zeros[CRASH_SECTOR];

	for (uint64_t s = 0; s < op->len; s += CRASH_SECTOR) {
		uint64_t n = ZVD_MIN((uint64_t)CRASH_SECTOR, op->len - s);
		int err;

		if (crash_rand(c) & 1)
			continue;
		err = be_write(c->inner, op->data ? op->data + s : zeros, n,
			       op->off + s);
		if (err)
			return err;
	}
	return 0;
}

static void drop_held(struct crash_backend *c)
{
	for (size_t i = 0; i < c->nr_ops; i++)
		free(c->ops[i].data);
	c->nr_ops = 0;
}

/* The power cut. Caller holds the lock. */
static void power_cut(struct crash_backend *c)
{
	for (size_t i = 0; i < c->nr_ops; i++) {
		switch (crash_rand(c) % 3) {
		case 0:
			apply_op(c, &c->ops[i]);
			break;
		case 1:
			break;
		default:
			tear_op(c, &c->ops[i]);
			break;
		}
	}
	drop_held(c);
	be_flush(c->inner);
	c->cut = 1;
	c->armed = 0;
}

/* Count one write, zero or flush against the armed cut. Caller holds the
 * lock. Returns -EIO when the power is (now) off. */
static int crash_tick(struct crash_backend *c)
{
	if (c->cut)
		return -EIO;
	if (c->armed && --c->armed == 0) {
		power_cut(c);
		return -EIO;
	}
	return 0;
}

static int hold(struct crash_backend *c, const void *buf, uint64_t len,
		uint64_t off)
{
	struct held_op *op;
	int err;

	pthread_mutex_lock(&c->lock);
	err = crash_tick(c);
	if (err)
		goto out;
	if (c->nr_ops == c->cap_ops) {
		size_t n = c->cap_ops ? c->cap_ops * 2 : 64;
		struct held_op *p = realloc(c->ops, n * sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		c->ops = p;
		c->cap_ops = n;
	}
	op = &c->ops[c->nr_ops];
	op->off = off;
	op->len = len;
	op->data = NULL;
	if (buf) {
		op->data = malloc(len ? len : 1);
		if (!op->data) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(op->data, buf, len);
	}
	c->nr_ops++;
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int crash_write(struct zvd_backend *be, const void *buf, size_t len,
		       uint64_t off)
{
	return hold(to_crash(be), buf, len, off);
}

static int crash_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	return hold(to_crash(be), NULL, len, off);
}

static int crash_read(struct zvd_backend *be, void *buf, size_t len,
		      uint64_t off)
{
	struct crash_backend *c = to_crash(be);
	uint8_t *p = buf;
	int err;

	pthread_mutex_lock(&c->lock);
	err = c->cut ? -EIO : be_read(c->inner, buf, len, off);
	for (size_t i = 0; !err && i < c->nr_ops; i++) {
		const struct held_op *op = &c->ops[i];
		uint64_t lo = ZVD_MAX(off, op->off);
		uint64_t hi = ZVD_MIN(off + len, op->off + op->len);

		if (lo >= hi)
			continue;
		if (op->data)
			memcpy(p + (lo - off), op->data + (lo - op->off), hi - lo);
		else
			memset(p + (lo - off), 0, hi - lo);
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int crash_flush(struct zvd_backend *be)
{
	struct crash_backend *c = to_crash(be);
	int err;

	pthread_mutex_lock(&c->lock);
	err = crash_tick(c);
	for (size_t i = 0; !err && i < c->nr_ops; i++)
		err = apply_op(c, &c->ops[i]);
	if (!err) {
		drop_held(c);
		err = be_flush(c->inner);
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int crash_size(struct zvd_backend *be, uint64_t *size)
{
	struct crash_backend *c = to_crash(be);
	int err;

	pthread_mutex_lock(&c->lock);
	err = c->cut ? -EIO : be_size(c->inner, size);
	for (size_t i = 0; !err && i < c->nr_ops; i++)
		if (c->ops[i].data)
			*size = ZVD_MAX(*size, c->ops[i].off + c->ops[i].len);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static void crash_destroy(struct zvd_backend *be)
{
	struct crash_backend *c = to_crash(be);

	drop_held(c);
	free(c->ops);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const struct zvd_backend_ops crash_ops = {
	.name = "crash",
	.read = crash_read,
	.write = crash_write,
	.flush = crash_flush,
	.zero = crash_zero,
	.size = crash_size,
	.destroy = crash_destroy,
};

int zvd_backend_crash_create(struct zvd_backend *inner, uint64_t seed,
			     struct zvd_backend **out)
{
	struct crash_backend *c;

	if (!inner || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	be_init(&c->be, &crash_ops);
	pthread_mutex_init(&c->lock, NULL);
	c->inner = inner;
	c->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	*out = &c->be;
	return 0;
}

static int is_crash(const struct zvd_backend *be)
{
	return be && be->ops == &crash_ops;
}

int zvd_crash_cut(struct zvd_backend *be)
{
	struct crash_backend *c;

	if (!is_crash(be))
		return -EINVAL;
	c = to_crash(be);
	pthread_mutex_lock(&c->lock);
	if (!c->cut)
		power_cut(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int zvd_crash_arm(struct zvd_backend *be, uint64_t n)
{
	struct crash_backend *c;

	if (!is_crash(be))
		return -EINVAL;
	c = to_crash(be);
	pthread_mutex_lock(&c->lock);
	c->armed = n;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int zvd_crash_is_cut(const struct zvd_backend *be)
{
	return is_crash(be) && to_crash((struct zvd_backend *)be)->cut;
}
