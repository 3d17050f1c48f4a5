/* SPDX-License-Identifier: MIT */
/*
 * ublk_compat.h - the parts of the ublk UAPI (<linux/ublk_cmd.h>, Linux
 * 6.12) that a zoned server needs and that older system headers lack.
 * Debian 12 ships the 6.1 header, which has neither the zoned opcodes, nor
 * USER_COPY, nor the encoded control commands, nor the devt and zoned
 * parameters.
 *
 * Each value is defined only when the system header does not define it;
 * the numbers are the UAPI's (see /work/shared/notes/ublk-zoned.md).
 * Structures cannot be tested for with the preprocessor, so the 6.12
 * parameter block is declared under our own name (struct ublkc_params),
 * with its layout pinned by static assertions.
 *
 * Sections: 1. control commands  2. feature flags  3. I/O commands and
 * USER_COPY offsets  4. I/O opcodes  5. parameters.
 */
#ifndef ZVD_UBLK_COMPAT_H
#define ZVD_UBLK_COMPAT_H

#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/ublk_cmd.h>

/* ---- 1. control commands (encoded: _IOWR / _IOR, type 'u') ------------ */

#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_GET_QUEUE_AFFINITY _IOR('u', 0x01, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_DEV_INFO _IOR('u', 0x02, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_ADD_DEV _IOWR('u', 0x04, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV _IOWR('u', 0x05, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV _IOWR('u', 0x06, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV _IOWR('u', 0x07, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS _IOWR('u', 0x08, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_PARAMS _IOR('u', 0x09, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_GET_FEATURES
#define UBLK_U_CMD_GET_FEATURES _IOR('u', 0x13, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_DEL_DEV_ASYNC
#define UBLK_U_CMD_DEL_DEV_ASYNC _IOR('u', 0x14, struct ublksrv_ctrl_cmd)
#endif

/* ---- 2. feature flags --------------------------------------------------- */

#ifndef UBLK_F_UNPRIVILEGED_DEV
#define UBLK_F_UNPRIVILEGED_DEV (1ULL << 5)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif
#ifndef UBLK_F_USER_COPY
#define UBLK_F_USER_COPY (1ULL << 7)
#endif
#ifndef UBLK_F_ZONED
#define UBLK_F_ZONED (1ULL << 8)
#endif

/* ---- 3. I/O commands and USER_COPY offsets ------------------------------ */

#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ _IOWR('u', 0x20, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ _IOWR('u', 0x21, struct ublksrv_io_cmd)
#define UBLK_U_IO_NEED_GET_DATA _IOWR('u', 0x22, struct ublksrv_io_cmd)
#endif

/*
 * Under USER_COPY a request's data is read from / written to /dev/ublkcN
 * at UBLKSRV_IO_BUF_OFFSET + (q_id << UBLK_QID_OFF) + (tag << UBLK_TAG_OFF)
 * + offset within the request.
 */
#ifndef UBLK_IO_BUF_BITS
#define UBLK_IO_BUF_BITS 25
#define UBLK_IO_BUF_BITS_MASK ((1ULL << UBLK_IO_BUF_BITS) - 1)
#endif
#ifndef UBLK_TAG_OFF
#define UBLK_TAG_OFF UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS 16
#endif
#ifndef UBLK_QID_OFF
#define UBLK_QID_OFF (UBLK_TAG_OFF + UBLK_TAG_BITS)
#define UBLK_QID_BITS 12
#endif

/* Largest request under USER_COPY: the offset field has 25 bits. */
#define UBLKC_MAX_IO_BYTES (1u << UBLK_IO_BUF_BITS)

/* ---- 4. I/O opcodes (bits 0-7 of ublksrv_io_desc.op_flags) --------------- */

#ifndef UBLK_IO_OP_ZONE_OPEN
#define UBLK_IO_OP_ZONE_OPEN 10
#define UBLK_IO_OP_ZONE_CLOSE 11
#define UBLK_IO_OP_ZONE_FINISH 12
#define UBLK_IO_OP_ZONE_APPEND 13
#define UBLK_IO_OP_ZONE_RESET_ALL 14
#define UBLK_IO_OP_ZONE_RESET 15
#define UBLK_IO_OP_REPORT_ZONES 18
#endif

/* ---- 5. parameters ------------------------------------------------------ */

#ifndef UBLK_PARAM_TYPE_DEVT
#define UBLK_PARAM_TYPE_DEVT (1 << 2)
struct ublk_param_devt {
	__u32 char_major;
	__u32 char_minor;
	__u32 disk_major;
	__u32 disk_minor;
};
#endif

#ifndef UBLK_PARAM_TYPE_ZONED
#define UBLK_PARAM_TYPE_ZONED (1 << 3)
struct ublk_param_zoned {
	__u32 max_open_zones;
	__u32 max_active_zones;
	__u32 max_zone_append_sectors;
	__u8 reserved[20];
};
#endif

/*
 * The 6.12 struct ublk_params. The 6.1 header's struct of that name stops
 * after the discard parameters; this one is what SET_PARAMS of a zoned
 * device needs. `len` says how much of it the kernel reads.
 */
struct ublkc_params {
	__u32 len;
	__u32 types;
	struct ublk_param_basic basic;
	struct ublk_param_discard discard;
	struct ublk_param_devt devt;
	struct ublk_param_zoned zoned;
};

_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "ublksrv_ctrl_cmd");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "dev_info");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "ublksrv_io_desc");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "ublksrv_io_cmd");
_Static_assert(sizeof(struct ublk_param_basic) == 32, "basic params");
_Static_assert(sizeof(struct ublk_param_zoned) == 32, "zoned params");
_Static_assert(offsetof(struct ublkc_params, basic) == 8, "basic @8");
_Static_assert(offsetof(struct ublkc_params, discard) == 40, "discard @40");
_Static_assert(offsetof(struct ublkc_params, devt) == 60, "devt @60");
_Static_assert(offsetof(struct ublkc_params, zoned) == 76, "zoned @76");
_Static_assert(sizeof(struct ublkc_params) == 112, "ublk_params is 112 B");

/* The append LBA travels in the io command's `addr` (a union with
 * zone_append_lba in 6.12's header; 6.1 names only addr). */
_Static_assert(offsetof(struct ublksrv_io_cmd, addr) == 8, "io_cmd addr @8");

#endif /* ZVD_UBLK_COMPAT_H */
