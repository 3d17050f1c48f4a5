/* SPDX-License-Identifier: MIT */
/*
 * ublk.h - the ublk server: presents a zvd device as /dev/ublkbN, a
 * host-managed zoned block device for a zoned image, an ordinary block
 * device (with discard and write-zeroes) for a volume. Protocol code only;
 * every zone rule and every block of the log is the library's.
 *
 *   ublk_ctrl.c   /dev/ublk-control: the SQE128 ring and the control
 *                 commands (ADD, SET_PARAMS, START, STOP, DEL, ...)
 *   ublk_io.c     one request: an I/O descriptor becomes library calls;
 *                 the parameters and the geometry checks
 *   ublk_queue.c  one queue: a thread with its own io_uring that fetches
 *                 requests, serves them and commits the results
 *   ublk_srv.c    the life of a device: add, start, wait for a signal,
 *                 stop, delete
 */
#ifndef ZVD_UBLK_H
#define ZVD_UBLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>
#include <zvd.h>

#include "ublk_compat.h"

#define UBLK_CONTROL_PATH "/dev/ublk-control"

/* Defaults and bounds of the command line (the kernel allows 1..4096). */
#define UBLK_SRV_MAX_QUEUES 64
#define UBLK_SRV_MAX_DEPTH 4096
#define UBLK_SRV_DEF_DEPTH 64
#define UBLK_SRV_DEF_QUEUES 4

/* What the user asked for. */
struct ublk_srv_opts {
	const char *cmd;     /* command name for messages ("serve", "up") */
	uint16_t nr_queues;  /* 0: min(CPUs, UBLK_SRV_DEF_QUEUES) */
	uint16_t depth;      /* 0: UBLK_SRV_DEF_DEPTH */
	int32_t dev_id;      /* -1: let the kernel choose */
};

struct ublk_srv;

/* One hardware queue: its descriptors, its thread, its buffer. */
struct ublk_queue {
	struct ublk_srv *srv;
	uint16_t q_id;
	const struct ublksrv_io_desc *iods; /* read-only shared mapping */
	size_t map_len;
	pthread_t thread;
	bool thread_started;
	void *buf;		/* max_io_bytes, page aligned */
	struct zvd_zone *zones; /* scratch for REPORT_ZONES */
	uint32_t nr_zone_slots;
	int err;		/* why the thread stopped, if not -ENODEV */
	uint64_t served;	/* requests completed */
	uint64_t by_op[32];	/* requests completed, by UBLK_IO_OP_* */
	uint64_t failed;	/* of which failed */
};

/* One served device. */
struct ublk_srv {
	struct zvd_dev *dev;
	bool volume;		/* a volume: no zones, discard, write-zeroes */
	uint64_t size;		/* bytes the device presents */
	struct zvd_geometry geo; /* zoned images only */
	uint32_t nr_zones;
	uint32_t max_io_bytes;	/* per request, = max_sectors * 512 */
	uint32_t append_bytes;	/* advertised zone append limit */
	const char *cmd;

	/* control */
	int ctrl_fd;
	struct io_uring ctrl_ring;
	bool ctrl_ring_ok;
	struct ublksrv_ctrl_dev_info info; /* as the kernel adjusted it */
	int32_t dev_id;

	/* data */
	int cdev_fd; /* /dev/ublkcN, opened once */
	uint16_t nr_queues;
	uint16_t depth;
	struct ublk_queue *queues;
	atomic_bool stop_threads; /* give up waiting for the kernel */
	atomic_int threads_running;
};

/* ---- ublk_ctrl.c -------------------------------------------------------- */

/*
 * Open /dev/ublk-control, loading ublk_drv first if it is missing.
 * Returns the descriptor, or -errno with a sentence in @why.
 */
int ublk_ctrl_open(char *why, size_t len);

/* Set up the control ring on s->ctrl_fd. Returns 0 or -errno. */
int ublk_ctrl_init(struct ublk_srv *s);
void ublk_ctrl_exit(struct ublk_srv *s);

/* The features this kernel's ublk supports (UBLK_F_*), or -errno. */
int ublk_ctrl_get_features(struct ublk_srv *s, uint64_t *features);

/* ADD_DEV with s->info; on success s->info and s->dev_id are the
 * kernel's. */
int ublk_ctrl_add(struct ublk_srv *s);
int ublk_ctrl_set_params(struct ublk_srv *s, const struct ublkc_params *p);
int ublk_ctrl_get_info(struct ublk_srv *s, int32_t dev_id,
		       struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_start(struct ublk_srv *s, int pid);
int ublk_ctrl_stop(struct ublk_srv *s);
/* DEL_DEV of @dev_id; @async: DEL_DEV_ASYNC (does not wait). */
int ublk_ctrl_del(struct ublk_srv *s, int32_t dev_id, bool async);

/* ---- ublk_io.c ---------------------------------------------------------- */

/*
 * Whether a geometry can be served as a zoned ublk device. Returns 0, or
 * -EINVAL with the reason in @why.
 */
int ublk_geometry_check(const struct zvd_geometry *g, char *why, size_t len);

/*
 * Whether @dev can be served at all: a volume always can (its size is a
 * multiple of 4 KiB), a zoned image if its geometry can. Returns 0, or
 * -EINVAL with the reason in @why.
 */
int ublk_image_check(struct zvd_dev *dev, char *why, size_t len);

/* Request size of a volume's device. */
#define UBLK_VOLUME_IO_BYTES (1u << 20)
/* Largest discard or write-zeroes request of a volume's device. */
#define UBLK_VOLUME_DISCARD_BYTES (1u << 30)

/* Request size and append limit for @g (after ublk_geometry_check). */
uint32_t ublk_max_io_bytes(const struct zvd_geometry *g);
uint32_t ublk_append_bytes(const struct zvd_geometry *g, uint32_t max_io);

/* The SET_PARAMS block of a server. */
void ublk_build_params(const struct ublk_srv *s, struct ublkc_params *p);

/*
 * Serve the request in @iod on queue @q, tag @tag. Returns what goes in
 * the commit's result (bytes, 0, or -errno the block layer understands)
 * and, for a zone append, the sector where the data landed in *lba.
 */
int ublk_handle_io(struct ublk_queue *q, uint16_t tag,
		   const struct ublksrv_io_desc *iod, uint64_t *lba);

/* The errno the block layer should see for a library failure @rc. */
int ublk_blk_errno(int rc);

/* ---- ublk_queue.c ------------------------------------------------------- */

/* Map the descriptors and allocate the buffers of queue @q_id. */
int ublk_queue_init(struct ublk_srv *s, struct ublk_queue *q, uint16_t q_id);
void ublk_queue_exit(struct ublk_queue *q);

/* The thread of a queue: arg is the struct ublk_queue. */
void *ublk_queue_thread(void *arg);

/* ---- ublk_srv.c --------------------------------------------------------- */

/*
 * Present @dev (a zoned image or a volume) as /dev/ublkbN until SIGINT,
 * SIGTERM or SIGHUP (or the kernel stops the device), then stop and
 * delete it. Prints the device path on standard output once it is live,
 * messages on standard error.
 * @ctrl_fd (from ublk_ctrl_open) becomes the server's and is closed.
 * @dev stays the caller's (flush and close it afterwards). Returns 0 or an
 * exit code.
 */
int ublk_serve(struct zvd_dev *dev, const struct ublk_srv_opts *o,
	       int ctrl_fd);

#endif /* ZVD_UBLK_H */
