// SPDX-License-Identifier: MIT
/*
 * ublk_ctrl.c - the control path of the ublk server: /dev/ublk-control
 * takes IORING_OP_URING_CMD requests on a ring of 128-byte SQEs, one
 * command at a time (the driver runs each in io-wq and START_DEV blocks
 * until every queue has fetched its tags, so nothing is gained by more).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ublk.h"

/* Run "modprobe ublk_drv" quietly; 0 if it succeeded. */
static int load_driver(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("modprobe", "modprobe", "ublk_drv", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ENOENT;
}

int ublk_ctrl_open(char *why, size_t len)
{
	int fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	int i;

	if (fd < 0 && errno == ENOENT && load_driver() == 0) {
		/* the node appears when the module registers its misc device */
		for (i = 0; i < 50 && fd < 0 && errno == ENOENT; i++) {
			usleep(20000);
			fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
		}
	}
	if (fd >= 0)
		return fd;
	fd = -errno;
	if (fd == -ENOENT)
		snprintf(why, len,
			 "this kernel has no ublk driver: %s is missing and "
			 "'modprobe ublk_drv' did not load one (a zoned ublk "
			 "device needs Linux 6.6 or later built with "
			 "CONFIG_BLK_DEV_UBLK and CONFIG_BLK_DEV_ZONED)",
			 UBLK_CONTROL_PATH);
	else if (fd == -EACCES || fd == -EPERM)
		snprintf(why, len,
			 "%s: %s (a zoned ublk device needs root: the kernel "
			 "allows zoned devices only as privileged ones)",
			 UBLK_CONTROL_PATH, strerror(-fd));
	else
		snprintf(why, len, "%s: %s", UBLK_CONTROL_PATH, strerror(-fd));
	return fd;
}

int ublk_ctrl_init(struct ublk_srv *s)
{
	int rc = io_uring_queue_init(4, &s->ctrl_ring, IORING_SETUP_SQE128);

	if (rc < 0)
		return rc;
	s->ctrl_ring_ok = true;
	return 0;
}

void ublk_ctrl_exit(struct ublk_srv *s)
{
	if (s->ctrl_ring_ok)
		io_uring_queue_exit(&s->ctrl_ring);
	s->ctrl_ring_ok = false;
}

/* Send one control command and wait for its result (cqe->res). */
static int ctrl_cmd(struct ublk_srv *s, unsigned op, int32_t dev_id,
		    void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ctrl_ring);
	struct ublksrv_ctrl_cmd *c;
	struct io_uring_cqe *cqe;
	int rc;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* an SQE128 slot */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = s->ctrl_fd;
	sqe->cmd_op = op;
	c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = (uint32_t)dev_id;
	c->queue_id = (uint16_t)-1;
	c->addr = (uint64_t)(uintptr_t)buf;
	c->len = len;
	c->data[0] = data0;
	rc = io_uring_submit(&s->ctrl_ring);
	if (rc < 0)
		return rc;
	do
		rc = io_uring_wait_cqe(&s->ctrl_ring, &cqe);
	while (rc == -EINTR);
	if (rc < 0)
		return rc;
	rc = cqe->res;
	io_uring_cqe_seen(&s->ctrl_ring, cqe);
	return rc;
}

int ublk_ctrl_get_features(struct ublk_srv *s, uint64_t *features)
{
	uint64_t f = 0;
	int rc = ctrl_cmd(s, UBLK_U_CMD_GET_FEATURES, 0, &f, sizeof(f), 0);

	if (rc < 0)
		return rc;
	*features = f;
	return 0;
}

int ublk_ctrl_add(struct ublk_srv *s)
{
	int rc = ctrl_cmd(s, UBLK_U_CMD_ADD_DEV, (int32_t)s->info.dev_id,
			  &s->info, sizeof(s->info), 0);

	if (rc < 0)
		return rc;
	s->dev_id = (int32_t)s->info.dev_id;
	return 0;
}

int ublk_ctrl_set_params(struct ublk_srv *s, const struct ublkc_params *p)
{
	struct ublkc_params copy = *p;

	return ctrl_cmd(s, UBLK_U_CMD_SET_PARAMS, s->dev_id, &copy,
			sizeof(copy), 0);
}

int ublk_ctrl_get_info(struct ublk_srv *s, int32_t dev_id,
		       struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	return ctrl_cmd(s, UBLK_U_CMD_GET_DEV_INFO, dev_id, info,
			sizeof(*info), 0);
}

int ublk_ctrl_start(struct ublk_srv *s, int pid)
{
	return ctrl_cmd(s, UBLK_U_CMD_START_DEV, s->dev_id, NULL, 0,
			(uint64_t)pid);
}

int ublk_ctrl_stop(struct ublk_srv *s)
{
	return ctrl_cmd(s, UBLK_U_CMD_STOP_DEV, s->dev_id, NULL, 0, 0);
}

int ublk_ctrl_del(struct ublk_srv *s, int32_t dev_id, bool async)
{
	return ctrl_cmd(s, async ? UBLK_U_CMD_DEL_DEV_ASYNC : UBLK_U_CMD_DEL_DEV,
			dev_id, NULL, 0, 0);
}
