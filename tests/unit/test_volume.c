// SPDX-License-Identifier: MIT
/*
 * test_volume.c - log-structured volumes: data path, persistence, garbage
 * collection, discard, the allocation map, snapshots, clones and backing
 * images. Each case checks every byte against a model kept in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "zvd.h"

#define MiB (1ull << 20)

static char tmpdir[64];

static const char *tpath(const char *name)
{
	static char buf[4][128];
	static int k;

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/zvd-vol-XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

static struct zvd_dev *vol_new_mem(uint64_t size, struct zvd_backend **bep)
{
	struct zvd_backend *be;
	struct zvd_dev *dev = NULL;

	if (zvd_backend_mem_create(&be))
		return NULL;
	if (zvd_create_volume(be, size, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	if (bep)
		*bep = be;
	return dev;
}

static struct zvd_dev *vol_file(const char *path, uint64_t size)
{
	struct zvd_backend *be;
	struct zvd_dev *dev = NULL;

	unlink(path);
	if (zvd_backend_file_open(path, ZVD_FILE_CREATE, &be))
		return NULL;
	if (zvd_create_volume(be, size, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	return dev;
}

static struct zvd_dev *open_file(const char *path, unsigned flags)
{
	struct zvd_backend *be;
	struct zvd_dev *dev = NULL;

	if (zvd_backend_file_open(path, flags & ZVD_OPEN_READONLY ?
				  ZVD_FILE_READONLY : 0, &be))
		return NULL;
	if (zvd_open(be, flags, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	return dev;
}

static void print_problem(void *arg, const char *problem)
{
	(void)arg;
	printf("# check: %s\n", problem);
}

/* zvd_check of the image file at @path: the number of problems. */
static int zvd_check_path(const char *path)
{
	struct zvd_backend *be;
	int n;

	if (zvd_backend_file_open(path, ZVD_FILE_READONLY, &be))
		return -1;
	n = zvd_check(be, print_problem, NULL);
	zvd_backend_close(be);
	return n;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Does the whole device read as @model? */
static int same(struct zvd_dev *dev, const uint8_t *model, uint64_t size)
{
	uint8_t *buf = malloc(size);
	int ok = buf && !zvd_read(dev, buf, size, 0) &&
		 !memcmp(buf, model, size);

	free(buf);
	return ok;
}

static void test_rw_unaligned(void)
{
	uint64_t size = 8 * MiB;
	struct zvd_dev *dev = vol_new_mem(size, NULL);
	uint8_t *model = calloc(1, size), buf[20000];

	CHECK(dev && model);
	if (!dev || !model)
		return;
	CHECK(zvd_is_volume(dev));
	CHECK_EQ(zvd_size(dev), size);
	for (int i = 0; i < 300; i++) {
		uint64_t off = (uint64_t)(rand() % (int)(size / 512 - 40)) * 512;
		size_t len = (size_t)(1 + rand() % 39) * 512;

		fill(buf, len, (uint32_t)i);
		CHECK_EQ(zvd_write(dev, buf, len, off, 0), 0);
		memcpy(model + off, buf, len);
	}
	CHECK(same(dev, model, size));
	CHECK_EQ(zvd_write(dev, buf, 100, 0, 0), -EINVAL);
	CHECK_EQ(zvd_write(dev, buf, 4096, size, 0), -EINVAL);
	CHECK_EQ(zvd_read(dev, buf, 4096, size - 512), -EINVAL);
	CHECK_EQ(zvd_append(dev, 0, buf, 4096, 0, NULL), -EINVAL);
	zvd_close(dev);
	free(model);
}

/* Random 4 KiB overwrites of a small volume make garbage; the collector
 * must reclaim it without changing a byte, and the log must stay near the
 * live data's size. */
static void test_gc_keeps_data(void)
{
	uint64_t size = 16 * MiB;
	const char *path = tpath("gc.img");
	struct zvd_dev *dev = vol_file(path, size);
	struct zvd_volume_stats st;
	struct zvd_space sp;
	uint8_t *model = calloc(1, size), blk[4096];

	CHECK(dev && model);
	if (!dev || !model)
		return;
	for (int i = 0; i < 40000; i++) {
		uint64_t off = (uint64_t)(rand() % (int)(size / 4096)) * 4096;

		fill(blk, sizeof(blk), (uint32_t)i * 7u);
		CHECK_EQ(zvd_write(dev, blk, 4096, off, 0), 0);
		memcpy(model + off, blk, 4096);
		if (i % 5000 == 4999)
			CHECK_EQ(zvd_flush(dev), 0);
	}
	CHECK(same(dev, model, size));
	CHECK_EQ(zvd_gc(dev) >= 0, 1);
	CHECK(same(dev, model, size));
	CHECK_EQ(zvd_volume_stats(dev, &st), 0);
	CHECK(st.gc_bytes > 0);
	CHECK(st.gc_runs > 0);
	CHECK_EQ(zvd_get_space(dev, &sp), 0);
	/* everything was written: live is the whole volume, and the log holds
	 * little more than that after a full collection */
	CHECK(sp.data_bytes <= size + 4 * MiB);
	CHECK_EQ(zvd_close(dev), 0);
	dev = open_file(path, 0);
	CHECK(dev != NULL);
	if (dev) {
		CHECK(same(dev, model, size));
		CHECK_EQ(zvd_volume_stats(dev, &st), 0);
		CHECK(st.user_bytes == 40000ull * 4096);
		zvd_close(dev);
	}
	CHECK_EQ(zvd_check_path(path), 0);
	free(model);
}

static void test_discard_and_map(void)
{
	uint64_t size = 32 * MiB;
	struct zvd_dev *dev = vol_new_mem(size, NULL);
	struct zvd_extent e[16];
	struct zvd_volume_stats st;
	uint8_t *buf = malloc(4 * MiB), *zero = calloc(1, 4 * MiB);
	int n;

	CHECK(dev && buf && zero);
	if (!dev || !buf || !zero)
		return;
	fill(buf, 4 * MiB, 3);
	CHECK_EQ(zvd_write(dev, buf, 4 * MiB, 8 * MiB, 0), 0);
	n = zvd_map(dev, 0, size, e, 16);
	CHECK_EQ(n, 3);
	CHECK(e[0].off == 0 && e[0].len == 8 * MiB &&
	      e[0].flags == (ZVD_EXTENT_HOLE | ZVD_EXTENT_ZERO));
	CHECK(e[1].off == 8 * MiB && e[1].len == 4 * MiB && e[1].flags == 0);
	CHECK(e[2].off == 12 * MiB && e[2].len == 20 * MiB);
	/* discard the middle 2 MiB: it reads as zeros and is a hole */
	CHECK_EQ(zvd_discard(dev, 9 * MiB, 2 * MiB, 0), 0);
	CHECK_EQ(zvd_read(dev, buf, 2 * MiB, 9 * MiB), 0);
	CHECK(!memcmp(buf, zero, 2 * MiB));
	n = zvd_map(dev, 8 * MiB, 4 * MiB, e, 16);
	CHECK_EQ(n, 3);
	CHECK(e[1].off == 9 * MiB && e[1].len == 2 * MiB && e[1].flags != 0);
	/* a partial block keeps its data on discard, loses it to zeroes */
	fill(buf, 4096, 9);
	CHECK_EQ(zvd_write(dev, buf, 4096, 0, 0), 0);
	CHECK_EQ(zvd_discard(dev, 512, 1024, 0), 0);
	CHECK_EQ(zvd_read(dev, buf + 4096, 4096, 0), 0);
	CHECK(!memcmp(buf, buf + 4096, 4096));
	CHECK_EQ(zvd_write_zeroes(dev, 512, 1024, 0), 0);
	memset(buf + 512, 0, 1024);
	CHECK_EQ(zvd_read(dev, buf + 4096, 4096, 0), 0);
	CHECK(!memcmp(buf, buf + 4096, 4096));
	/* everything discarded: the segments go back */
	CHECK_EQ(zvd_discard(dev, 0, size, 0), 0);
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_volume_stats(dev, &st), 0);
	CHECK_EQ(st.live_bytes, 0);
	n = zvd_map(dev, 0, size, e, 16);
	CHECK_EQ(n, 1);
	zvd_close(dev);
	free(buf);
	free(zero);
}

static void test_snapshots(void)
{
	uint64_t size = 8 * MiB;
	const char *path = tpath("snap.img");
	struct zvd_dev *dev = vol_file(path, size), *view;
	struct zvd_backend *be;
	struct zvd_snapshot_info info[4];
	uint8_t *a = malloc(size), *b = malloc(size);

	CHECK(dev && a && b);
	if (!dev || !a || !b)
		return;
	fill(a, size, 1);
	CHECK_EQ(zvd_write(dev, a, size, 0, 0), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "one"), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "one"), -EEXIST);
	memcpy(b, a, size);
	fill(b + MiB, 4096 * 3, 2);
	CHECK_EQ(zvd_write(dev, b + MiB, 4096 * 3, MiB, 0), 0);
	CHECK_EQ(zvd_discard(dev, 4 * MiB, MiB, 0), 0);
	memset(b + 4 * MiB, 0, MiB);
	CHECK(same(dev, b, size));
	CHECK_EQ(zvd_snapshot_list(dev, info, 4), 1);
	CHECK(info[0].exclusive_bytes >= MiB);
	CHECK_EQ(zvd_close(dev), 0);

	/* the snapshot view reads as the volume did */
	CHECK_EQ(zvd_backend_file_open(path, ZVD_FILE_READONLY, &be), 0);
	CHECK_EQ(zvd_open_snapshot(be, "one", &view), 0);
	CHECK(same(view, a, size));
	CHECK_EQ(zvd_write(view, a, 4096, 0, 0), -EROFS);
	zvd_close(view);

	dev = open_file(path, 0);
	CHECK(dev != NULL);
	if (!dev)
		return;
	CHECK(same(dev, b, size));
	CHECK_EQ(zvd_rollback(dev, "one"), 0);
	CHECK(same(dev, a, size));
	CHECK_EQ(zvd_close(dev), 0);
	dev = open_file(path, 0);
	CHECK(dev && same(dev, a, size));
	CHECK_EQ(zvd_snapshot_delete(dev, "one"), 0);
	CHECK_EQ(zvd_snapshot_list(dev, info, 4), 0);
	CHECK(same(dev, a, size));
	zvd_close(dev);
	CHECK_EQ(zvd_check_path(path), 0);
	free(a);
	free(b);
}

static void test_clone_and_backing(void)
{
	uint64_t size = 8 * MiB;
	const char *origin = tpath("origin.img"), *clone = tpath("clone.img");
	const char *over = tpath("over.img");
	struct zvd_dev *dev = vol_file(origin, size), *c;
	struct zvd_volume_stats st;
	struct zvd_extent e[8];
	uint8_t *a = malloc(size), *b = malloc(size);

	CHECK(dev && a && b);
	if (!dev || !a || !b)
		return;
	unlink(clone);
	unlink(over);
	fill(a, size / 2, 5);
	memset(a + size / 2, 0, size / 2);
	CHECK_EQ(zvd_write(dev, a, size / 2, 0, 0), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "base"), 0);
	fill(b, 4096, 6);
	CHECK_EQ(zvd_write(dev, b, 4096, 0, 0), 0); /* after the snapshot */
	CHECK_EQ(zvd_close(dev), 0);

	CHECK_EQ(zvd_clone(origin, "base", clone), 0);
	c = open_file(clone, 0);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(same(c, a, size)); /* reads as the snapshot */
	CHECK_EQ(zvd_volume_stats(c, &st), 0);
	CHECK_EQ(st.live_bytes, 0); /* shares everything */
	/* the map describes the origin's data through the clone */
	CHECK(zvd_map(c, 0, size, e, 8) == 2 && e[0].flags == 0 &&
	      e[0].len == size / 2);
	memcpy(b, a, size);
	fill(b + 8192, 4096, 7);
	CHECK_EQ(zvd_write(c, b + 8192, 4096, 8192, 0), 0);
	CHECK_EQ(zvd_discard(c, MiB, MiB, 0), 0);
	memset(b + MiB, 0, MiB);
	CHECK(same(c, b, size));
	CHECK_EQ(zvd_close(c), 0);

	/* the origin's snapshot is held by the clone */
	dev = open_file(origin, 0);
	CHECK(dev && zvd_snapshot_delete(dev, "base") == -EBUSY);
	zvd_close(dev);

	/* flatten: the clone stands alone and the snapshot can go */
	c = open_file(clone, 0);
	CHECK(c && zvd_rebase(c, NULL, NULL, NULL) == 0);
	CHECK(c && same(c, b, size));
	CHECK(c && zvd_get_backing(c, NULL, 0, NULL, 0) == 0);
	zvd_close(c);
	dev = open_file(origin, 0);
	CHECK(dev && zvd_snapshot_delete(dev, "base") == 0);
	zvd_close(dev);

	/* a backing image: the whole origin, read-only */
	CHECK_EQ(zvd_create_backed(clone, over), 0);
	c = open_file(over, 0);
	CHECK(c && same(c, b, size));
	zvd_close(c);
	CHECK_EQ(zvd_delete_image(over), 0);
	CHECK_EQ(zvd_delete_image(clone), 0);
	CHECK_EQ(zvd_check_path(origin), 0);
	free(a);
	free(b);
}

/* A view of a snapshot of an image open for writing, zoned or a volume:
 * reads as the snapshot while the image changes, and holds the snapshot. */
static void test_snapshot_views(void)
{
	for (int kind = 0; kind < 2; kind++) {
		const char *path = tpath(kind ? "view-vol.img" : "view-zoned.img");
		struct zvd_dev *dev = NULL, *view = NULL;
		struct zvd_backend *be;
		uint8_t a[8192], b[8192];

		unlink(path);
		CHECK_EQ(zvd_backend_file_open(path, ZVD_FILE_CREATE, &be), 0);
		if (kind) {
			CHECK_EQ(zvd_create_volume(be, 8 * MiB, &dev), 0);
		} else {
			struct zvd_geometry g;

			zvd_geometry_default(&g);
			g.size = 16 * MiB;
			g.zone_size = g.zone_capacity = 4 * MiB;
			g.nr_conv_zones = 1;
			g.max_open = g.max_active = 0;
			CHECK_EQ(zvd_create(be, &g, &dev), 0);
		}
		if (!dev) {
			zvd_backend_close(be);
			return;
		}
		fill(a, sizeof(a), 11);
		fill(b, sizeof(b), 12);
		CHECK_EQ(zvd_write(dev, a, sizeof(a), 0, 0), 0);
		CHECK_EQ(zvd_snapshot_create(dev, "v"), 0);
		CHECK_EQ(zvd_open_snapshot_of(dev, "nope", &view), -ENOENT);
		CHECK_EQ(zvd_open_snapshot_of(dev, "v", &view), 0);
		if (!view)
			return;
		CHECK_EQ(zvd_write(dev, b, sizeof(b), 0, 0), 0);
		CHECK_EQ(zvd_flush(dev), 0);
		CHECK_EQ(zvd_read(view, b, sizeof(b), 0), 0);
		CHECK(!memcmp(a, b, sizeof(a)));
		CHECK_EQ(zvd_write(view, a, 4096, 0, 0) < 0, 1);
		CHECK_EQ(zvd_snapshot_delete(dev, "v"), -EBUSY);
		CHECK_EQ(zvd_close(view), 0);
		CHECK_EQ(zvd_snapshot_delete(dev, "v"), 0);
		CHECK_EQ(zvd_close(dev), 0);
	}
}

/*
 * The backend fails every write from the n-th on (ENOSPC, as a full host
 * disk does), for every n up to past the end of a workload. Requests get
 * the error; once the fault clears a flush makes every acknowledged write
 * durable (or, if a metadata write left the image's state unknown, the
 * handle refuses changes and a reopen finds a prefix that includes the
 * last successful flush); zvd_check stays clean throughout.
 */
#define EW_OPS 24
#define EW_SIZE (2 * MiB)

struct ew_op {
	uint64_t off;
	uint32_t len;
	int kind; /* 0 write, 1 discard, 2 flush */
	int ok;
};

/* The model after the first @k ops (only the acknowledged ones count). */
static void ew_model(const struct ew_op *ops, int k, uint8_t *m)
{
	memset(m, 0, EW_SIZE);
	for (int i = 0; i < k; i++) {
		if (!ops[i].ok)
			continue;
		if (ops[i].kind == 0)
			fill(m + ops[i].off, ops[i].len, (uint32_t)i + 100);
		else if (ops[i].kind == 1)
			memset(m + ops[i].off, 0, ops[i].len);
	}
}

static void test_write_errors(void)
{
	uint8_t *m = malloc(EW_SIZE), *buf = malloc(64 * 1024);
	int worst_n = 0;

	for (int n = 1; n <= 60 && m && buf; n++) {
		struct zvd_backend *inner, *be;
		struct zvd_dev *dev = NULL;
		struct ew_op ops[EW_OPS];
		int last_flush = 0, ok = 0;

		/* a crash backend over memory: the handle can be dropped as a
		 * power cut drops it, and the image reopened from @inner */
		CHECK_EQ(zvd_backend_mem_create(&inner), 0);
		CHECK_EQ(zvd_backend_crash_create(inner, (uint64_t)n, &be), 0);
		CHECK_EQ(zvd_create_volume(be, EW_SIZE, &dev), 0);
		if (!dev)
			return;
		srand((unsigned)n);
		CHECK_EQ(zvd_backend_inject_write_error(be, (uint64_t)n, -ENOSPC, 1), 0);
		for (int i = 0; i < EW_OPS; i++) {
			struct ew_op *o = &ops[i];

			o->kind = i % 6 == 5 ? 2 : (i % 7 == 3 ? 1 : 0);
			o->len = (uint32_t)(1 + rand() % 16) * 4096;
			o->off = (uint64_t)(rand() % (int)((EW_SIZE - o->len) / 4096)) * 4096;
			if (o->kind == 0) {
				fill(buf, o->len, (uint32_t)i + 100);
				o->ok = zvd_write(dev, buf, o->len, o->off, 0) == 0;
			} else if (o->kind == 1) {
				o->ok = zvd_discard(dev, o->off, o->len, 0) == 0;
			} else {
				o->ok = zvd_flush(dev) == 0;
				if (o->ok)
					last_flush = i + 1;
			}
		}
		CHECK_EQ(zvd_backend_inject_write_error(be, 0, 0, 0), 0);
		if (zvd_flush(dev) == 0) {
			/* recovered: everything acknowledged is there */
			ew_model(ops, EW_OPS, m);
			CHECK(same(dev, m, EW_SIZE));
			last_flush = EW_OPS;
		} else {
			worst_n = n;
		}
		/* what survives: cut the power, reopen from what reached
		 * memory */
		zvd_crash_cut(be);
		zvd_close(dev);
		CHECK_EQ(zvd_check(inner, print_problem, NULL), 0);
		CHECK_EQ(zvd_backend_crash_create(inner, 1, &be), 0);
		dev = NULL;
		CHECK_EQ(zvd_open(be, 0, &dev), 0);
		for (int k = EW_OPS; dev && k >= last_flush && !ok; k--) {
			ew_model(ops, k, m);
			ok = same(dev, m, EW_SIZE);
		}
		if (!ok)
			printf("# n=%d: no prefix from op %d on matches\n", n,
			       last_flush);
		CHECK(ok);
		zvd_close(dev);
		zvd_backend_close(inner);
	}
	if (worst_n)
		printf("# the last fault that left the handle refusing changes: "
		       "write %d\n", worst_n);
	free(m);
	free(buf);
}

int main(void)
{
	srand(42);
	setenv("ZVD_GC", "inline", 1);
	RUN(test_rw_unaligned);
	RUN(test_gc_keeps_data);
	RUN(test_discard_and_map);
	RUN(test_snapshots);
	RUN(test_clone_and_backing);
	RUN(test_snapshot_views);
	RUN(test_write_errors);
	HARNESS_EXIT();
}
