// SPDX-License-Identifier: MIT
/*
 * fuzz_image.c - libFuzzer target for image metadata on open and check.
 *
 * Two ways in, chosen by the first byte:
 *   even: the rest is a transaction payload (length-framed records) that
 *         is committed, with valid checksums, to the journal of a small
 *         fresh image, so the record decoders (zones, snapshots, clones,
 *         the backing image) see arbitrary contents;
 *   odd:  the rest overwrites the start of such an image's bytes (the
 *         superblocks and the head of the journal), checksums and all.
 * Then the image is checked and opened; what opens is reported and read.
 * A corrupt image must be reported, never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backend/backend.h"
#include "image/image.h"
#include "zoned/zoned.h"
#include "zvd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zvd_backend *fresh_image(void)
{
	struct zvd_backend *mem, *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;

	if (zvd_backend_mem_create(&mem))
		return NULL;
	zvd_geometry_default(&g);
	g.size = 8 << 20;
	g.zone_size = 1 << 20;
	g.zone_capacity = 768 << 10;
	g.nr_conv_zones = 1;
	g.max_open = 2;
	g.max_active = 3;
	if (zvd_backend_crash_create(mem, 1, &be) || zvd_create(be, &g, &dev)) {
		zvd_backend_close(mem);
		return NULL;
	}
	zvd_close(dev);
	return mem;
}

/* Commit @payload as one transaction of the image on @mem. */
static void commit_raw(struct zvd_backend *mem, const uint8_t *p, size_t n)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	struct img_recs recs = { .buf = (uint8_t *)p, .len = n, .cap = n };

	if (zvd_backend_crash_create(mem, 1, &be))
		return;
	if (zvd_open(be, 0, &dev)) {
		zvd_backend_close(be);
		return;
	}
	if (n && n <= img_max_txn(dev->img))
		img_commit(dev->img, &recs);
	/* drop the handle without its own flush: the payload is the state */
	dev->readonly = 1;
	zvd_close(dev);
}

static void exercise(struct zvd_backend *mem)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	struct zvd_zone z[8];
	static uint8_t buf[1 << 20];

	zvd_check(mem, NULL, NULL);
	if (zvd_backend_crash_create(mem, 2, &be))
		return;
	if (zvd_open(be, ZVD_OPEN_READONLY, &dev)) {
		zvd_backend_close(be);
		return;
	}
	zvd_report(dev, 0, ZVD_REPORT_ALL, z, 8);
	for (uint32_t zi = 0; zi < zvd_nr_zones(dev); zi++)
		zvd_read(dev, buf, sizeof(buf), (uint64_t)zi << 20);
	zvd_snapshot_list(dev, NULL, 0);
	zvd_close(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zvd_backend *mem;

	if (!size)
		return 0;
	mem = fresh_image();
	if (!mem)
		return 0;
	if (data[0] & 1)
		be_write(mem, data + 1, size - 1, 0);
	else
		commit_raw(mem, data + 1, size - 1);
	exercise(mem);
	zvd_backend_close(mem);
	return 0;
}
