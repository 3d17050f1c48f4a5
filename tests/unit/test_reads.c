// SPDX-License-Identifier: MIT
/*
 * test_reads.c - the read rules of docs/ZONED.md ("Reads"): what reads as
 * data and what as zeros (past the write pointer, never-written
 * conventional blocks, the gap a finish leaves, a reset zone, the space
 * between capacity and zone size), reads that span zones, read-only and
 * offline zones, and the range and alignment errors. Each case runs on
 * 512- and 4096-byte blocks where the block size matters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zvd.h"

/* ---- helpers ----------------------------------------------------------- */

/*
 * A device on a mem backend: @bs-byte blocks, zones of 32 blocks with a
 * capacity of 24, @nz zones of which @nconv are conventional.
 */
static struct zvd_dev *mkdev(uint32_t bs, uint32_t nz, uint32_t nconv)
{
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev;

	memset(&g, 0, sizeof(g));
	g.block_size = bs;
	g.zone_size = 32ull * bs;
	g.zone_capacity = 24ull * bs;
	g.size = g.zone_size * nz;
	g.nr_conv_zones = nconv;
	if (zvd_backend_mem_create(&be))
		return NULL;
	if (zvd_create(be, &g, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	return dev;
}

static void pat(uint8_t *b, size_t len, uint64_t off, uint64_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t v = (off + i) * 0x9E3779B97F4A7C15ull ^
			     (seed * 0xC2B2AE3D27D4EB4Full);
		b[i] = (uint8_t)((v >> 56) | 1);
	}
}

/*
 * The expected contents of a device, kept beside it: every successful
 * write goes to both.
 */
struct model {
	struct zvd_dev *dev;
	uint32_t bs;
	uint64_t zs, size;
	uint8_t *data;
};

static int model_init(struct model *m, uint32_t bs, uint32_t nz,
		      uint32_t nconv)
{
	memset(m, 0, sizeof(*m));
	m->dev = mkdev(bs, nz, nconv);
	m->bs = bs;
	m->zs = 32ull * bs;
	m->size = m->zs * nz;
	m->data = calloc(1, m->size);
	return m->dev && m->data ? 0 : -1;
}

static void model_free(struct model *m)
{
	zvd_close(m->dev);
	free(m->data);
}

static int mwrite(struct model *m, uint64_t off, size_t len, uint64_t seed)
{
	int ret;

	pat(m->data + off, len, off, seed);
	ret = zvd_write(m->dev, m->data + off, len, off, 0);
	if (ret < 0)
		memset(m->data + off, 0, len);
	return ret;
}

static int mappend(struct model *m, uint32_t zi, size_t len, uint64_t seed)
{
	uint64_t where = 0;
	uint8_t *b = malloc(len);
	int ret;

	if (!b)
		return -ENOMEM;
	pat(b, len, zi, seed);
	ret = zvd_append(m->dev, zi, b, len, 0, &where);
	if (ret >= 0) {
		if (where + len > m->size)
			ret = -ERANGE;
		else
			memcpy(m->data + where, b, len);
	}
	free(b);
	return ret;
}

static void mzero(struct model *m, uint64_t off, uint64_t len)
{
	memset(m->data + off, 0, len);
}

/* 1 if [off, off+len) of the device reads as the model says. */
static int mmatch(struct model *m, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len);
	int ok;

	if (!b)
		return 0;
	memset(b, 0x5a, len);
	ok = zvd_read(m->dev, b, len, off) == 0 &&
	     memcmp(b, m->data + off, len) == 0;
	free(b);
	return ok;
}

/* 1 if the whole device reads as the model says, one zone at a time and
 * all at once. */
static int mmatch_all(struct model *m)
{
	for (uint64_t off = 0; off < m->size; off += m->zs)
		if (!mmatch(m, off, m->zs))
			return 0;
	return mmatch(m, 0, m->size);
}

static enum zvd_status last_status(struct zvd_dev *dev)
{
	struct zvd_error e;

	zvd_last_error(dev, &e);
	return e.status;
}

static const uint32_t bss[] = { 512, 4096 };

/* ---- cases ------------------------------------------------------------- */

/* Blocks at or past the write pointer read as zeros. */
static void zeros_past_wp(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];

		CHECK_EQ(model_init(&m, bs, 4, 0), 0);
		CHECK(mwrite(&m, m.zs, 3 * bs, 1) >= 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		CHECK(mmatch(&m, m.zs + 3 * bs, bs));
		CHECK(mmatch(&m, m.zs + 2 * bs, 2 * bs));
		CHECK(mmatch(&m, m.zs + 24 * bs, 8 * bs)); /* past capacity */
		CHECK(mappend(&m, 1, 2 * bs, 2) >= 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		/* a fresh device is all zeros */
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

/* Never-written blocks of conventional zones read as zeros. */
static void zeros_conventional(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];

		CHECK_EQ(model_init(&m, bs, 4, 2), 0);
		CHECK(mmatch_all(&m));
		CHECK(mwrite(&m, 5 * bs, bs, 1) >= 0);
		CHECK(mwrite(&m, m.zs + 17 * bs, 2 * bs, 2) >= 0);
		CHECK(mwrite(&m, 31 * bs, 2 * bs, 3) >= 0); /* spans 0 and 1 */
		CHECK(mmatch_all(&m));
		CHECK(mmatch(&m, 4 * bs, 3 * bs));
		CHECK(mmatch(&m, 6 * bs, bs));
		model_free(&m);
	}
}

/* Reads may span zones of every kind. */
static void reads_span_zones(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];
		uint64_t zs;

		CHECK_EQ(model_init(&m, bs, 6, 2), 0);
		zs = m.zs;
		CHECK(mwrite(&m, zs - 4 * bs, 8 * bs, 1) >= 0);
		CHECK(mwrite(&m, 2 * zs, 24 * bs, 2) >= 0); /* full */
		CHECK(mwrite(&m, 3 * zs, 5 * bs, 3) >= 0);
		CHECK(mappend(&m, 4, 7 * bs, 4) >= 0);
		CHECK(mmatch(&m, zs - 2 * bs, 4 * bs));		/* conv-conv */
		CHECK(mmatch(&m, 2 * zs - bs, 2 * bs));		/* conv-seq */
		CHECK(mmatch(&m, 3 * zs - 9 * bs, 11 * bs));	/* seq-seq */
		CHECK(mmatch(&m, zs + bs, 4 * zs - 2 * bs));	/* many */
		CHECK(mmatch(&m, 5 * zs - bs, zs + bs));	/* to the end */
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

/* After a finish the blocks between the old write pointer and the end
 * read as zeros, and keep reading so. */
static void finish_gap_reads_zeros(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];

		CHECK_EQ(model_init(&m, bs, 4, 0), 0);
		CHECK(mwrite(&m, m.zs, 5 * bs, 1) >= 0);
		CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_FINISH, 1), 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		CHECK(mmatch(&m, m.zs + 5 * bs, bs));
		CHECK(mmatch(&m, m.zs + 23 * bs, 2 * bs));
		/* an empty zone finished reads all zeros */
		CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_FINISH, 2), 0);
		CHECK(mmatch(&m, 2 * m.zs, m.zs));
		CHECK_EQ(zvd_flush(m.dev), 0);
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

/* A reset zone reads zeros, and old data does not come back when the zone
 * is written again, shorter. */
static void reset_reads_zeros(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];

		CHECK_EQ(model_init(&m, bs, 4, 0), 0);
		CHECK(mwrite(&m, m.zs, 20 * bs, 1) >= 0);
		CHECK_EQ(zvd_flush(m.dev), 0);
		CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_RESET, 1), 0);
		mzero(&m, m.zs, m.zs);
		CHECK(mmatch(&m, m.zs, m.zs));
		CHECK(mwrite(&m, m.zs, 3 * bs, 2) >= 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_FINISH, 1), 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		/* reset of a full zone too */
		CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_RESET, 1), 0);
		mzero(&m, m.zs, m.zs);
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

/* Blocks written and read at every position of a zone, one by one. */
static void block_by_block(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];

		CHECK_EQ(model_init(&m, bs, 3, 1), 0);
		for (uint32_t b = 0; b < 24; b++) {
			CHECK(mwrite(&m, m.zs + b * bs, bs, b) >= 0);
			CHECK(mmatch(&m, m.zs, m.zs));
			CHECK(mmatch(&m, m.zs + b * bs, bs));
		}
		for (uint32_t b = 0; b < 32; b += 3)
			CHECK(mwrite(&m, b * bs, bs, b + 100) >= 0);
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

/* A read-only zone reads as it was; an offline zone cannot be read, nor
 * any read that touches it. */
static void read_only_and_offline(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];
		uint8_t *b;

		CHECK_EQ(model_init(&m, bs, 5, 1), 0);
		b = malloc(m.size);
		CHECK(b);
		CHECK(mwrite(&m, m.zs, 7 * bs, 1) >= 0);
		CHECK(mwrite(&m, 2 * m.zs, 9 * bs, 2) >= 0);
		CHECK_EQ(zvd_zone_fail(m.dev, 1, ZVD_COND_READ_ONLY), 0);
		CHECK(mmatch(&m, m.zs, m.zs));
		CHECK(mmatch(&m, 0, 3 * m.zs));
		CHECK_EQ(zvd_zone_fail(m.dev, 2, ZVD_COND_OFFLINE), 0);
		CHECK_EQ(zvd_read(m.dev, b, bs, 2 * m.zs), -EIO);
		CHECK_EQ(last_status(m.dev), ZVD_OFFLINE);
		CHECK_EQ(zvd_read(m.dev, b, m.zs, 2 * m.zs), -EIO);
		CHECK_EQ(zvd_read(m.dev, b, 2 * bs, 2 * m.zs - bs), -EIO);
		CHECK_EQ(zvd_read(m.dev, b, 2 * bs, 3 * m.zs - bs), -EIO);
		CHECK_EQ(zvd_read(m.dev, b, m.size, 0), -EIO);
		CHECK_EQ(last_status(m.dev), ZVD_OFFLINE);
		/* the neighbours still read */
		CHECK(mmatch(&m, 0, 2 * m.zs));
		CHECK(mmatch(&m, 3 * m.zs, 2 * m.zs));
		/* read-only then offline */
		CHECK_EQ(zvd_zone_fail(m.dev, 1, ZVD_COND_OFFLINE), 0);
		CHECK_EQ(zvd_read(m.dev, b, bs, m.zs), -EIO);
		CHECK_EQ(last_status(m.dev), ZVD_OFFLINE);
		free(b);
		model_free(&m);
	}
}

/* A refused write leaves the data as it was. */
static void refused_write_changes_no_data(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];
		uint8_t *b;

		CHECK_EQ(model_init(&m, bs, 4, 1), 0);
		b = malloc(32 * bs);
		CHECK(b);
		memset(b, 0xee, 32 * bs);
		CHECK(mwrite(&m, m.zs, 4 * bs, 1) >= 0);
		/* not at the wp, crossing capacity, into the next zone */
		CHECK_EQ(zvd_write(m.dev, b, bs, m.zs + 6 * bs, 0), -EIO);
		CHECK_EQ(zvd_write(m.dev, b, 21 * bs, m.zs + 4 * bs, 0), -EIO);
		CHECK_EQ(zvd_write(m.dev, b, 2 * bs, m.zs - bs, 0), -EIO);
		CHECK(mmatch_all(&m));
		free(b);
		model_free(&m);
	}
}

/* Misaligned and out-of-range reads fail with -EINVAL. */
static void read_range_errors(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];
		uint8_t *b;

		CHECK_EQ(model_init(&m, bs, 4, 1), 0);
		b = malloc(m.size + 2 * bs);
		CHECK(b);
		CHECK_EQ(zvd_read(m.dev, b, bs, m.size), -EINVAL);
		CHECK_EQ(last_status(m.dev), ZVD_INVALID_FIELD);
		CHECK_EQ(zvd_read(m.dev, b, 2 * bs, m.size - bs), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, m.size + bs, 0), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, bs, UINT64_MAX - bs + 1), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, 2 * bs, UINT64_MAX - bs + 1),
			 -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, 0, 0), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, bs, 256), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, bs, m.zs + 1), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, bs - 256, 0), -EINVAL);
		CHECK_EQ(zvd_read(m.dev, b, bs + 1, m.zs), -EINVAL);
		CHECK_EQ(last_status(m.dev), ZVD_INVALID_FIELD);
		if (bs == 4096) {
			/* 512-aligned is not 4096-aligned */
			CHECK_EQ(zvd_read(m.dev, b, 4096, 512), -EINVAL);
			CHECK_EQ(zvd_read(m.dev, b, 512, 0), -EINVAL);
		}
		/* the last block is fine */
		CHECK_EQ(zvd_read(m.dev, b, bs, m.size - bs), 0);
		CHECK_EQ(zvd_read(m.dev, b, m.size, 0), 0);
		free(b);
		model_free(&m);
	}
}

/* A mixed workload over many zones, checked against the model. */
static void mixed_workload(void)
{
	for (int i = 0; i < 2; i++) {
		struct model m;
		uint32_t bs = bss[i];
		uint64_t wp[12] = { 0 };
		uint64_t seed = 1;

		CHECK_EQ(model_init(&m, bs, 12, 2), 0);
		for (int round = 0; round < 200; round++) {
			uint32_t zi = 2 + (uint32_t)(seed % 10);
			uint32_t nb = 1 + (uint32_t)((seed >> 8) % 4);
			uint64_t start = zi * m.zs;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			if (round % 17 == 16) {
				CHECK_EQ(zvd_zone_mgmt(m.dev, ZVD_OP_RESET, zi),
					 0);
				mzero(&m, start, m.zs);
				wp[zi] = 0;
				continue;
			}
			if (wp[zi] + nb * bs > 24ull * bs)
				continue;
			if (round % 2)
				CHECK(mappend(&m, zi, nb * bs, seed) >= 0);
			else
				CHECK(mwrite(&m, start + wp[zi], nb * bs,
					     seed) >= 0);
			wp[zi] += nb * bs;
			/* and a conventional block now and then */
			CHECK(mwrite(&m, (seed % 64) * bs, bs, seed + 7) >= 0);
		}
		CHECK(mmatch_all(&m));
		model_free(&m);
	}
}

int main(void)
{
	RUN(zeros_past_wp);
	RUN(zeros_conventional);
	RUN(reads_span_zones);
	RUN(finish_gap_reads_zeros);
	RUN(reset_reads_zeros);
	RUN(block_by_block);
	RUN(read_only_and_offline);
	RUN(refused_write_changes_no_data);
	RUN(read_range_errors);
	RUN(mixed_workload);
	HARNESS_EXIT();
}
