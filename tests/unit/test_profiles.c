// SPDX-License-Identifier: MIT
/*
 * test_profiles.c - each rule on which the zns and null_blk profiles
 * differ (lib/zoned/profile.c, docs/PROFILES.md), tested through the
 * library, where no block layer filters requests first. Each case runs the
 * same requests under both profiles and checks each one's answer.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "zvd.h"

#define ZS (64u << 10) /* zone size */
#define CAP (48u << 10)

/* 8 zones of 64 KiB (48 KiB capacity), zone 0 conventional, limits as given. */
static struct zvd_dev *mkdev(uint32_t profile, uint32_t max_open,
			     uint32_t max_active)
{
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev;

	zvd_geometry_default(&g);
	g.size = 8 * ZS;
	g.zone_size = ZS;
	g.zone_capacity = CAP;
	g.nr_conv_zones = 1;
	g.max_open = max_open;
	g.max_active = max_active;
	g.max_append = 0;
	g.profile = profile;
	if (zvd_backend_mem_create(&be))
		return NULL;
	if (zvd_create(be, &g, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	return dev;
}

static int wr(struct zvd_dev *dev, uint32_t zone, uint64_t in, uint32_t len)
{
	static uint8_t buf[CAP];

	memset(buf, 0x5a, len);
	return zvd_write(dev, buf, len, (uint64_t)zone * ZS + in, 0);
}

static int cond(struct zvd_dev *dev, uint32_t zone)
{
	struct zvd_zone z;

	return zvd_report(dev, zone, ZVD_REPORT_ALL, &z, 1) == 1 ? z.cond : -1;
}

static uint64_t rwp(struct zvd_dev *dev, uint32_t zone)
{
	struct zvd_zone z;

	return zvd_report(dev, zone, ZVD_REPORT_ALL, &z, 1) == 1 ? z.wp : 0;
}

/* Closing an open zone with nothing written: closed (zns), empty (null_blk). */
static void close_unwritten(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 0, 0);

		CHECK(dev);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_OPEN, 2), 0);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 2), 0);
		CHECK_EQ(cond(dev, 2), p == ZVD_PROFILE_ZNS ? ZVD_COND_CLOSED
							    : ZVD_COND_EMPTY);
		/* with data, both close it */
		CHECK_EQ(wr(dev, 3, 0, 4096), 0);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 3), 0);
		CHECK_EQ(cond(dev, 3), ZVD_COND_CLOSED);
		zvd_close(dev);
	}
}

/* Finishing an empty zone at the active limit: zns needs no resources,
 * null_blk refuses with too-many-active. */
static void finish_empty_at_active_limit(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 2, 2);
		struct zvd_error e;
		int ret;

		CHECK(dev);
		CHECK_EQ(wr(dev, 1, 0, 4096), 0);
		CHECK_EQ(wr(dev, 2, 0, 4096), 0);
		ret = zvd_zone_mgmt(dev, ZVD_OP_FINISH, 4);
		if (p == ZVD_PROFILE_ZNS) {
			CHECK_EQ(ret, 0);
			CHECK_EQ(cond(dev, 4), ZVD_COND_FULL);
		} else {
			CHECK_EQ(ret, -EOVERFLOW);
			zvd_last_error(dev, &e);
			CHECK_EQ(e.status, ZVD_TOO_MANY_ACTIVE);
			CHECK_EQ(cond(dev, 4), ZVD_COND_EMPTY);
		}
		zvd_close(dev);
	}
}

/* Finishing a closed zone at the open limit: null_blk implicitly closes an
 * open zone (although the finish then frees a slot itself). */
static void finish_closed_at_open_limit(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 2, 4);

		CHECK(dev);
		CHECK_EQ(wr(dev, 1, 0, 4096), 0);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 1), 0);
		CHECK_EQ(wr(dev, 2, 0, 4096), 0);
		CHECK_EQ(wr(dev, 3, 0, 4096), 0);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 1), 0);
		CHECK_EQ(cond(dev, 1), ZVD_COND_FULL);
		CHECK_EQ(cond(dev, 2), p == ZVD_PROFILE_ZNS
					       ? ZVD_COND_IMP_OPEN
					       : ZVD_COND_CLOSED);
		CHECK_EQ(cond(dev, 3), ZVD_COND_IMP_OPEN);
		zvd_close(dev);
	}
}

/* The implicit-close victim: the zone opened longest ago (zns), the next
 * from a round-robin cursor starting at the first sequential zone
 * (null_blk). */
static void victim_choice(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 2, 0);

		CHECK(dev);
		CHECK_EQ(wr(dev, 3, 0, 4096), 0); /* opened first */
		CHECK_EQ(wr(dev, 1, 0, 4096), 0);
		CHECK_EQ(wr(dev, 5, 0, 4096), 0);
		if (p == ZVD_PROFILE_ZNS) {
			CHECK_EQ(cond(dev, 3), ZVD_COND_CLOSED);
			CHECK_EQ(cond(dev, 1), ZVD_COND_IMP_OPEN);
		} else {
			CHECK_EQ(cond(dev, 1), ZVD_COND_CLOSED);
			CHECK_EQ(cond(dev, 3), ZVD_COND_IMP_OPEN);
			/* the cursor moved past zone 1: zone 3 goes next */
			CHECK_EQ(wr(dev, 6, 0, 4096), 0);
			CHECK_EQ(cond(dev, 3), ZVD_COND_CLOSED);
			CHECK_EQ(cond(dev, 5), ZVD_COND_IMP_OPEN);
		}
		zvd_close(dev);
	}
}

/* An unwritten victim: closed (zns), empty (null_blk). A zone is
 * implicitly open with nothing written after a write that failed in the
 * backend. */
static void victim_unwritten(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_geometry g;
		struct zvd_backend *be;
		struct zvd_dev *dev;
		struct zvd_space sp;

		zvd_geometry_default(&g);
		g.size = 8 * ZS;
		g.zone_size = ZS;
		g.zone_capacity = CAP;
		g.max_open = 1;
		g.max_active = 0;
		g.profile = p;
		CHECK_EQ(zvd_backend_mem_create(&be), 0);
		CHECK_EQ(zvd_create(be, &g, &dev), 0);
		CHECK_EQ(zvd_backend_inject_write_error(be, 1, -EIO, 0), 0);
		CHECK_EQ(wr(dev, 2, 0, 4096), -EIO);
		CHECK_EQ(cond(dev, 2), ZVD_COND_IMP_OPEN);
		CHECK_EQ(rwp(dev, 2), 2 * ZS);
		CHECK_EQ(wr(dev, 3, 0, 4096), 0);
		CHECK_EQ(cond(dev, 2), p == ZVD_PROFILE_ZNS ? ZVD_COND_CLOSED
							    : ZVD_COND_EMPTY);
		CHECK_EQ(zvd_get_space(dev, &sp), 0);
		CHECK_EQ(sp.active_zones, p == ZVD_PROFILE_ZNS ? 2 : 1);
		zvd_close(dev);
	}
}

/* Reopening a closed zone at the open limit while the active limit is
 * full: zns closes a victim (the closed zone is active already), null_blk
 * refuses with too-many-open. */
static void reopen_closed_active_full(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 2, 3);
		int ret;

		CHECK(dev);
		CHECK_EQ(wr(dev, 1, 0, 4096), 0);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 1), 0);
		CHECK_EQ(wr(dev, 2, 0, 4096), 0);
		CHECK_EQ(wr(dev, 3, 0, 4096), 0);
		ret = wr(dev, 1, 4096, 4096);
		if (p == ZVD_PROFILE_ZNS) {
			CHECK_EQ(ret, 0);
			CHECK_EQ(cond(dev, 1), ZVD_COND_IMP_OPEN);
			CHECK_EQ(cond(dev, 2), ZVD_COND_CLOSED);
		} else {
			CHECK_EQ(ret, -ETOOMANYREFS);
			CHECK_EQ(cond(dev, 1), ZVD_COND_CLOSED);
			CHECK_EQ(cond(dev, 2), ZVD_COND_IMP_OPEN);
		}
		zvd_close(dev);
	}
}

/* Reads at and past the write pointer: zeros (zns), 0xff (null_blk); a
 * finished zone reads zeros to its end under both. */
static void read_past_wp(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 0, 0);
		uint8_t buf[8192], want = p == ZVD_PROFILE_ZNS ? 0 : 0xff;

		CHECK(dev);
		CHECK_EQ(wr(dev, 2, 0, 4096), 0);
		CHECK_EQ(zvd_read(dev, buf, sizeof(buf), 2 * ZS), 0);
		CHECK_EQ(buf[0], 0x5a);
		CHECK_EQ(buf[4096], want);
		CHECK_EQ(buf[8191], want);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 2), 0);
		CHECK_EQ(zvd_read(dev, buf, sizeof(buf), 2 * ZS), 0);
		CHECK_EQ(buf[4096], 0);
		/* a zone filled by writes: past its capacity */
		CHECK_EQ(wr(dev, 3, 0, CAP), 0);
		CHECK_EQ(zvd_read(dev, buf, 4096, 3 * ZS + CAP), 0);
		CHECK_EQ(buf[0], want);
		zvd_close(dev);
	}
}

/* The write pointer a full zone reports: start+length (zns, as Linux shows
 * NVMe), start+capacity when writes filled it (null_blk). */
static void full_wp(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 0, 0);

		CHECK(dev);
		CHECK_EQ(wr(dev, 2, 0, CAP), 0);
		CHECK_EQ(cond(dev, 2), ZVD_COND_FULL);
		CHECK_EQ(rwp(dev, 2), 2 * ZS + (p == ZVD_PROFILE_ZNS ? ZS : CAP));
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 3), 0);
		CHECK_EQ(rwp(dev, 3), 4 * ZS);
		/* null_blk without limits moves a full zone's pointer to the
		 * end when it is finished again */
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 2), 0);
		CHECK_EQ(rwp(dev, 2), 3 * ZS);
		zvd_close(dev);
	}
}

/* Failing a zone into the condition it is in: no change (zns), empties it
 * (null_blk, as its configfs does). */
static void fail_again(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 0, 0);

		CHECK(dev);
		CHECK_EQ(wr(dev, 2, 0, 4096), 0);
		CHECK_EQ(zvd_zone_fail(dev, 2, ZVD_COND_READ_ONLY), 0);
		CHECK_EQ(zvd_zone_fail(dev, 2, ZVD_COND_READ_ONLY), 0);
		CHECK_EQ(cond(dev, 2), p == ZVD_PROFILE_ZNS
					       ? ZVD_COND_READ_ONLY
					       : ZVD_COND_EMPTY);
		zvd_close(dev);
	}
}

/* What the zone's type does not support: -EINVAL (zns), -EIO (null_blk). */
static void type_errors(void)
{
	for (uint32_t p = 0; p < ZVD_PROFILE_COUNT; p++) {
		struct zvd_dev *dev = mkdev(p, 0, 0);
		int want = p == ZVD_PROFILE_ZNS ? -EINVAL : -EIO;
		uint8_t buf[4096] = { 0 };
		uint64_t where;

		CHECK(dev);
		CHECK_EQ(zvd_append(dev, 0, buf, 4096, 0, &where), want);
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_OPEN, 0), want);
		zvd_close(dev);
	}
}

/* The profile is stored in the image, and can be changed. */
static void profile_persists(void)
{
	struct zvd_backend *mem, *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;

	CHECK_EQ(zvd_backend_mem_create(&mem), 0);
	CHECK_EQ(zvd_backend_crash_create(mem, 1, &be), 0);
	zvd_geometry_default(&g);
	g.profile = ZVD_PROFILE_NULL_BLK;
	CHECK_EQ(zvd_create(be, &g, &dev), 0);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(zvd_backend_crash_create(mem, 1, &be), 0);
	CHECK_EQ(zvd_open(be, 0, &dev), 0);
	zvd_get_geometry(dev, &g);
	CHECK_EQ(g.profile, ZVD_PROFILE_NULL_BLK);
	CHECK_EQ(zvd_set_profile(dev, ZVD_PROFILE_ZNS), 0);
	CHECK_EQ(zvd_set_profile(dev, 7), -EINVAL);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(zvd_backend_crash_create(mem, 1, &be), 0);
	CHECK_EQ(zvd_open(be, 0, &dev), 0);
	zvd_get_geometry(dev, &g);
	CHECK_EQ(g.profile, ZVD_PROFILE_ZNS);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(zvd_profile_parse("null_blk"), ZVD_PROFILE_NULL_BLK);
	CHECK_EQ(zvd_profile_parse("nope"), -EINVAL);
	CHECK(!strcmp(zvd_profile_name(ZVD_PROFILE_ZNS), "zns"));
	zvd_backend_close(mem);
}

int main(void)
{
	RUN(close_unwritten);
	RUN(finish_empty_at_active_limit);
	RUN(finish_closed_at_open_limit);
	RUN(victim_choice);
	RUN(victim_unwritten);
	RUN(reopen_closed_active_full);
	RUN(read_past_wp);
	RUN(full_wp);
	RUN(fail_again);
	RUN(type_errors);
	RUN(profile_persists);
	HARNESS_EXIT();
}
