// SPDX-License-Identifier: MIT
/*
 * ublk_queue.c - one hardware queue of the ublk server. Its thread owns an
 * io_uring, FETCHes every tag (the kernel makes the task that fetches a
 * queue's tags its daemon, and delivers requests as task work to it),
 * then loops: each completion is a request in iod[tag]; serve it through
 * the library and COMMIT_AND_FETCH the result, which re-arms the tag.
 * A completion of -ENODEV means the device is stopping: the tag is not
 * re-armed, and the thread ends when no tag is left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ublk.h"

/* Zones asked of the library at a time for REPORT_ZONES. */
#define ZONE_SLOTS 256u

static size_t round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

int ublk_queue_init(struct ublk_srv *s, struct ublk_queue *q, uint16_t q_id)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t stride = round_up(UBLK_MAX_QUEUE_DEPTH *
					 sizeof(struct ublksrv_io_desc),
				 page);
	void *m;

	memset(q, 0, sizeof(*q));
	q->srv = s;
	q->q_id = q_id;
	q->map_len = round_up(s->depth * sizeof(struct ublksrv_io_desc), page);
	m = mmap(NULL, q->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		 s->cdev_fd, (off_t)(UBLKSRV_CMD_BUF_OFFSET + q_id * stride));
	if (m == MAP_FAILED)
		return -errno;
	q->iods = m;
	if (posix_memalign(&q->buf, page, s->max_io_bytes)) {
		q->buf = NULL;
		return -ENOMEM;
	}
	q->zones = calloc(ZONE_SLOTS, sizeof(*q->zones));
	if (!q->zones)
		return -ENOMEM;
	q->nr_zone_slots = ZONE_SLOTS;
	return 0;
}

void ublk_queue_exit(struct ublk_queue *q)
{
	if (q->iods)
		munmap((void *)q->iods, q->map_len);
	q->iods = NULL;
	free(q->buf);
	q->buf = NULL;
	free(q->zones);
	q->zones = NULL;
}

/* Queue a FETCH or COMMIT_AND_FETCH of @tag. Returns 0 or -errno. */
static int queue_cmd(struct io_uring *ring, struct ublk_queue *q,
		     unsigned op, uint16_t tag, int result, uint64_t addr)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ublksrv_io_cmd *c;
	int rc;

	if (!sqe) {
		rc = io_uring_submit(ring);
		if (rc < 0)
			return rc;
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->srv->cdev_fd;
	sqe->cmd_op = op;
	sqe->user_data = tag;
	c = (struct ublksrv_io_cmd *)sqe->cmd;
	c->q_id = q->q_id;
	c->tag = tag;
	c->result = result;
	c->addr = addr; /* zone_append_lba, or 0 under USER_COPY */
	return 0;
}

/* Serve the request behind one completion and re-arm its tag. */
static int serve_one(struct io_uring *ring, struct ublk_queue *q,
		     uint16_t tag)
{
	struct ublksrv_io_desc iod = q->iods[tag];
	uint64_t lba = 0;
	int result = ublk_handle_io(q, tag, &iod, &lba);

	if ((iod.op_flags & 0xff) != UBLK_IO_OP_ZONE_APPEND || result < 0)
		lba = 0;
	q->served++;
	q->by_op[iod.op_flags & 31]++;
	if (result < 0)
		q->failed++;
	return queue_cmd(ring, q, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, result,
			 lba);
}

/* Handle every completion ready on @ring; *armed counts live tags. */
static int reap(struct io_uring *ring, struct ublk_queue *q, unsigned *armed)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int rc = 0;

	io_uring_for_each_cqe(ring, head, cqe) {
		uint16_t tag = (uint16_t)cqe->user_data;

		seen++;
		if (rc)
			continue;
		if (cqe->res == UBLK_IO_RES_OK && tag < q->srv->depth) {
			rc = serve_one(ring, q, tag);
			continue;
		}
		(*armed)--;
		if (cqe->res != UBLK_IO_RES_ABORT && !q->err)
			q->err = cqe->res; /* a command the kernel refused */
	}
	io_uring_cq_advance(ring, seen);
	return rc;
}

static int run_queue(struct ublk_queue *q)
{
	struct ublk_srv *s = q->srv;
	struct io_uring ring;
	unsigned armed = 0;
	uint16_t tag;
	int rc;

	rc = io_uring_queue_init(s->depth, &ring, 0);
	if (rc < 0)
		return rc;
	for (tag = 0; tag < s->depth && !rc; tag++) {
		rc = queue_cmd(&ring, q, UBLK_U_IO_FETCH_REQ, tag, -1, 0);
		if (!rc)
			armed++;
	}
	while (!rc && armed > 0 && !atomic_load(&s->stop_threads)) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct io_uring_cqe *cqe;

		rc = io_uring_submit(&ring);
		if (rc < 0)
			break;
		rc = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (rc == -ETIME || rc == -EINTR) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		rc = reap(&ring, q, &armed);
	}
	/* hand in any commit still queued; leaving the ring then cancels
	 * whatever is still armed */
	io_uring_submit(&ring);
	io_uring_queue_exit(&ring);
	return rc;
}

void *ublk_queue_thread(void *arg)
{
	struct ublk_queue *q = arg;
	int rc = run_queue(q);

	if (rc && !q->err)
		q->err = rc;
	atomic_fetch_sub(&q->srv->threads_running, 1);
	return NULL;
}
