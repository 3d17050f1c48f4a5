// SPDX-License-Identifier: MIT
/*
 * test_ublk_compat.c - the values src/ublk/ublk_compat.h supplies (or
 * takes from the system header) are the Linux 6.12 UAPI's, as recorded in
 * /work/shared/notes/ublk-zoned.md: command encodings, feature bits, zoned
 * opcodes, USER_COPY offsets and the parameter block's layout. Runs on any
 * host; the kernel itself is exercised by tests/vm/ublk_*.sh.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/blkzoned.h>

#include "harness.h"
#include "../src/ublk/ublk_compat.h"

static void control_commands(void)
{
	/* _IOWR('u', NN, 32-byte struct) = 0xc02075NN; _IOR: 0x802075NN */
	CHECK_EQ(UBLK_U_CMD_ADD_DEV, 0xc0207504u);
	CHECK_EQ(UBLK_U_CMD_DEL_DEV, 0xc0207505u);
	CHECK_EQ(UBLK_U_CMD_START_DEV, 0xc0207506u);
	CHECK_EQ(UBLK_U_CMD_STOP_DEV, 0xc0207507u);
	CHECK_EQ(UBLK_U_CMD_SET_PARAMS, 0xc0207508u);
	CHECK_EQ(UBLK_U_CMD_GET_DEV_INFO, 0x80207502u);
	CHECK_EQ(UBLK_U_CMD_GET_PARAMS, 0x80207509u);
	CHECK_EQ(UBLK_U_CMD_GET_FEATURES, 0x80207513u);
	CHECK_EQ(UBLK_U_CMD_DEL_DEV_ASYNC, 0x80207514u);
}

static void io_commands(void)
{
	CHECK_EQ(UBLK_U_IO_FETCH_REQ, 0xc0107520u);
	CHECK_EQ(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0xc0107521u);
	CHECK_EQ(UBLK_U_IO_NEED_GET_DATA, 0xc0107522u);
	CHECK_EQ(UBLK_IO_RES_ABORT, -ENODEV);
}

static void feature_flags(void)
{
	CHECK_EQ(UBLK_F_UNPRIVILEGED_DEV, 1ull << 5);
	CHECK_EQ(UBLK_F_CMD_IOCTL_ENCODE, 1ull << 6);
	CHECK_EQ(UBLK_F_USER_COPY, 1ull << 7);
	CHECK_EQ(UBLK_F_ZONED, 1ull << 8);
	CHECK_EQ(UBLK_S_DEV_DEAD, 0);
	CHECK_EQ(UBLK_S_DEV_LIVE, 1);
}

static void zoned_opcodes(void)
{
	CHECK_EQ(UBLK_IO_OP_READ, 0);
	CHECK_EQ(UBLK_IO_OP_WRITE, 1);
	CHECK_EQ(UBLK_IO_OP_FLUSH, 2);
	CHECK_EQ(UBLK_IO_OP_ZONE_OPEN, 10);
	CHECK_EQ(UBLK_IO_OP_ZONE_CLOSE, 11);
	CHECK_EQ(UBLK_IO_OP_ZONE_FINISH, 12);
	CHECK_EQ(UBLK_IO_OP_ZONE_APPEND, 13);
	CHECK_EQ(UBLK_IO_OP_ZONE_RESET_ALL, 14);
	CHECK_EQ(UBLK_IO_OP_ZONE_RESET, 15);
	CHECK_EQ(UBLK_IO_OP_REPORT_ZONES, 18);
	CHECK_EQ(UBLK_IO_F_FUA, 1u << 13);
}

static void user_copy_offsets(void)
{
	/* 0x80000000 + (q << 41) + (tag << 25) + offset */
	CHECK_EQ(UBLKSRV_IO_BUF_OFFSET, 0x80000000u);
	CHECK_EQ(UBLK_TAG_OFF, 25);
	CHECK_EQ(UBLK_QID_OFF, 41);
	CHECK_EQ(UBLKC_MAX_IO_BYTES, 32u << 20);
	CHECK_EQ(UBLK_MAX_QUEUE_DEPTH, 4096);
}

static void parameters(void)
{
	CHECK_EQ(UBLK_PARAM_TYPE_BASIC, 1);
	CHECK_EQ(UBLK_PARAM_TYPE_DISCARD, 2);
	CHECK_EQ(UBLK_PARAM_TYPE_DEVT, 4);
	CHECK_EQ(UBLK_PARAM_TYPE_ZONED, 8);
	CHECK_EQ(UBLK_ATTR_VOLATILE_CACHE, 4);
	CHECK_EQ(UBLK_ATTR_FUA, 8);
	CHECK_EQ(sizeof(struct ublkc_params), 112);
	CHECK_EQ(offsetof(struct ublkc_params, basic), 8);
	CHECK_EQ(offsetof(struct ublkc_params, discard), 40);
	CHECK_EQ(offsetof(struct ublkc_params, devt), 60);
	CHECK_EQ(offsetof(struct ublkc_params, zoned), 76);
	CHECK_EQ(offsetof(struct ublkc_params, zoned.max_zone_append_sectors),
		 84);
	CHECK_EQ(offsetof(struct ublk_param_basic, chunk_sectors), 12);
	CHECK_EQ(offsetof(struct ublk_param_basic, dev_sectors), 16);
}

static void structures(void)
{
	CHECK_EQ(sizeof(struct ublksrv_ctrl_cmd), 32);
	CHECK_EQ(sizeof(struct ublksrv_ctrl_dev_info), 64);
	CHECK_EQ(sizeof(struct ublksrv_io_desc), 24);
	CHECK_EQ(sizeof(struct ublksrv_io_cmd), 16);
	CHECK_EQ(sizeof(struct blk_zone), 64);
	CHECK_EQ(offsetof(struct blk_zone, capacity), 32);
	CHECK_EQ(BLK_ZONE_COND_READONLY, 0xd);
	CHECK_EQ(BLK_ZONE_COND_FULL, 0xe);
	CHECK_EQ(BLK_ZONE_COND_OFFLINE, 0xf);
}

int main(void)
{
	harness_run("ublk_control_commands", control_commands);
	harness_run("ublk_io_commands", io_commands);
	harness_run("ublk_feature_flags", feature_flags);
	harness_run("ublk_zoned_opcodes", zoned_opcodes);
	harness_run("ublk_user_copy_offsets", user_copy_offsets);
	harness_run("ublk_parameters", parameters);
	harness_run("ublk_structures", structures);
	HARNESS_EXIT();
}
